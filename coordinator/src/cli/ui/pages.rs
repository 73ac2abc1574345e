//! The fleet and host pages: one gRPC call or a few per page, rendered to
//! HTML on the server. Errors from the coordinator (a bad selector, permission denied) are
//! shown on the page in the CLI's words (`connect::rpc_error`).

use std::fmt::Write as _;

use convoy_proto::MAX_ADMIN_MESSAGE_BYTES;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::monitor_client::MonitorClient;
use convoy_proto::v1::{
    AgentState, AgentSummary, GetAgentRequest, ListAgentsRequest, ListEventsRequest,
    ListJobsRequest, QueryMetricsRequest,
};
use hyper::{Response, StatusCode};
use tonic::transport::Channel;

use super::html::{Query, ago, bytes, encode, esc, now_ms, page, until};
use super::{Body, HTML, State, respond};
use crate::cli::connect::rpc_error;

pub(crate) use super::rollouts::{control, rollout, rollouts};

/// Rows per fleet page.
pub(crate) const PAGE_ROWS: usize = 100;
/// The host page's time ranges: (query value, milliseconds).
const RANGES: [(&str, u64); 5] = [
    ("15m", 900_000),
    ("1h", 3_600_000),
    ("6h", 21_600_000),
    ("24h", 86_400_000),
    ("7d", 604_800_000),
];

pub(crate) fn admin(state: &State) -> AdminClient<Channel> {
    AdminClient::new(state.channel.clone())
        .max_decoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
}

pub(crate) fn monitor(state: &State) -> MonitorClient<Channel> {
    MonitorClient::new(state.channel.clone())
        .max_decoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
}

pub(crate) fn html(state: &State, title: &str, active: &str, body: &str) -> Response<Body> {
    respond(
        StatusCode::OK,
        HTML,
        page(title, active, state.auth.token(), body),
    )
}

/// An error box in the CLI's words.
pub(crate) fn error_box(state: &State, status: tonic::Status) -> String {
    format!(
        "<p class=\"error\" role=\"alert\" id=\"error\">{}</p>",
        esc(&rpc_error(&state.addr, status).to_string())
    )
}

fn state_label(agent: &AgentSummary) -> &'static str {
    match (agent.state(), agent.cordoned) {
        (AgentState::Online, true) => "◐ cordoned",
        (AgentState::Online, false) => "● online",
        _ => "○ offline",
    }
}

fn disk_max(agent: &AgentSummary) -> Option<f64> {
    let m = agent.metrics.as_ref()?;
    m.disks
        .iter()
        .filter(|d| d.total_bytes > 0)
        .map(|d| d.used_bytes as f64 * 100.0 / d.total_bytes as f64)
        .reduce(f64::max)
}

fn mem_pct(agent: &AgentSummary) -> Option<f64> {
    let m = agent.metrics.as_ref()?;
    (m.mem_total_bytes > 0).then(|| m.mem_used_bytes as f64 * 100.0 / m.mem_total_bytes as f64)
}

/// Sorts in place by a column name; unknown names sort by id.
pub(crate) fn sort_agents(agents: &mut [AgentSummary], column: &str, descending: bool) {
    let num = |v: Option<f64>| v.unwrap_or(-1.0);
    agents.sort_by(|a, b| {
        let order = match column {
            "state" => state_label(a).cmp(state_label(b)),
            "cpu" => num(a.metrics.as_ref().map(|m| m.cpu_percent))
                .total_cmp(&num(b.metrics.as_ref().map(|m| m.cpu_percent))),
            "mem" => num(mem_pct(a)).total_cmp(&num(mem_pct(b))),
            "disk" => num(disk_max(a)).total_cmp(&num(disk_max(b))),
            "load" => num(a.metrics.as_ref().map(|m| m.load1))
                .total_cmp(&num(b.metrics.as_ref().map(|m| m.load1))),
            "seen" => a.last_seen_unix_ms.cmp(&b.last_seen_unix_ms),
            "cert" => a.cert_not_after_unix_ms.cmp(&b.cert_not_after_unix_ms),
            _ => std::cmp::Ordering::Equal,
        }
        .then_with(|| a.id.cmp(&b.id));
        if descending { order.reverse() } else { order }
    });
}

/// `/fleet?selector=&sort=&dir=&page=`.
pub(crate) async fn fleet(state: &State, query: &Query) -> Response<Body> {
    let selector = query.get("selector");
    let column = query.get("sort");
    let descending = query.get("dir") == "desc";
    let page_no: usize = query.get("page").parse().unwrap_or(0);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Fleet</h1><form class=\"selector\" method=\"get\" action=\"/fleet\" role=\"search\">\
         <label for=\"selector\">Selector</label>\
         <input id=\"selector\" name=\"selector\" value=\"{}\" placeholder=\"role=web,zone in (a,b)\" autocomplete=\"off\">\
         <button type=\"submit\">Filter</button></form>",
        esc(selector)
    );
    let listed = admin(state)
        .list_agents(ListAgentsRequest {
            selector: selector.to_string(),
        })
        .await;
    let mut agents = match listed {
        Ok(reply) => reply.into_inner().agents,
        Err(status) => {
            body.push_str(&error_box(state, status));
            return html(state, "Fleet", "Fleet", &body);
        }
    };
    let online = agents
        .iter()
        .filter(|a| a.state() == AgentState::Online)
        .count();
    let cordoned = agents.iter().filter(|a| a.cordoned).count();
    let overdue = agents.iter().filter(|a| a.cert_renewal_overdue).count();
    let _ = write!(
        body,
        "<ul class=\"counts\" id=\"counts\"><li><b>{}</b> agents</li><li><b>{online}</b> ● online</li>\
         <li><b>{}</b> ○ offline</li><li><b>{cordoned}</b> ◐ cordoned</li>\
         <li><b>{overdue}</b> certificate renewal overdue</li></ul>",
        agents.len(),
        agents.len() - online,
    );
    sort_agents(&mut agents, column, descending);
    let pages = agents.len().div_ceil(PAGE_ROWS).max(1);
    let page_no = page_no.min(pages - 1);
    let link = |sort: &str, dir: &str, page: usize| {
        format!(
            "/fleet?selector={}&amp;sort={sort}&amp;dir={dir}&amp;page={page}",
            encode(selector)
        )
    };
    body.push_str("<div class=\"scroll\"><table id=\"fleet\"><thead><tr>");
    for (key, name) in [
        ("id", "Id"),
        ("state", "State"),
        ("", "Labels"),
        ("", "Apps"),
        ("cpu", "CPU"),
        ("mem", "Mem"),
        ("disk", "Disk"),
        ("load", "Load"),
        ("seen", "Last seen"),
        ("cert", "Cert expires"),
    ] {
        if key.is_empty() {
            let _ = write!(body, "<th scope=\"col\">{name}</th>");
            continue;
        }
        let active = column == key || (column.is_empty() && key == "id");
        let (dir, sorted) = match (active, descending) {
            (true, false) => ("desc", " aria-sort=\"ascending\""),
            (true, true) => ("asc", " aria-sort=\"descending\""),
            _ => ("asc", ""),
        };
        let _ = write!(
            body,
            "<th scope=\"col\"{sorted}><a href=\"{}\">{name}</a></th>",
            link(key, dir, 0)
        );
    }
    body.push_str("</tr></thead><tbody>");
    let now = now_ms();
    let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0} %"));
    for agent in agents.iter().skip(page_no * PAGE_ROWS).take(PAGE_ROWS) {
        let labels: String = agent
            .labels
            .iter()
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .map(|(k, v)| format!("<span class=\"chip\">{}={}</span>", esc(k), esc(v)))
            .collect();
        let apps: String = agent
            .apps
            .iter()
            .map(|a| {
                let version = if a.version.is_empty() {
                    "–"
                } else {
                    &a.version
                };
                format!(
                    "<span class=\"chip\">{} {}</span>",
                    esc(&a.app),
                    esc(version)
                )
            })
            .collect();
        let m = agent.metrics.as_ref();
        let _ = write!(
            body,
            "<tr data-agent=\"{id}\" class=\"{class}\"><th scope=\"row\"><a href=\"/host/{href}\">{id}</a></th>\
             <td>{state}</td><td>{labels}</td><td>{apps}</td><td class=\"num\">{cpu}</td>\
             <td class=\"num\">{mem}</td><td class=\"num\">{disk}</td><td class=\"num\">{load}</td>\
             <td>{seen}</td><td>{cert}{overdue}</td></tr>",
            id = esc(&agent.id),
            href = encode(&agent.id),
            class = if agent.state() == AgentState::Online {
                "online"
            } else {
                "offline"
            },
            state = state_label(agent),
            cpu = pct(m.map(|m| m.cpu_percent)),
            mem = pct(mem_pct(agent)),
            disk = pct(disk_max(agent)),
            load = m.map_or("–".into(), |m| format!("{:.2}", m.load1)),
            seen = ago(now, agent.last_seen_unix_ms),
            cert = until(now, agent.cert_not_after_unix_ms),
            overdue = if agent.cert_renewal_overdue {
                " ⚠ renewal overdue"
            } else {
                ""
            },
        );
    }
    body.push_str("</tbody></table></div>");
    let _ = write!(body, "<nav class=\"pager\" aria-label=\"pages\">");
    if page_no > 0 {
        let _ = write!(
            body,
            "<a href=\"{}\" rel=\"prev\">← previous</a>",
            link(column, query.get("dir"), page_no - 1)
        );
    }
    let _ = write!(body, "<span>page {} of {pages}</span>", page_no + 1);
    if page_no + 1 < pages {
        let _ = write!(
            body,
            "<a href=\"{}\" rel=\"next\">next →</a>",
            link(column, query.get("dir"), page_no + 1)
        );
    }
    body.push_str("</nav>");
    html(state, "Fleet", "Fleet", &body)
}

/// `/host/ID?range=1h`.
pub(crate) async fn host(state: &State, id: &str, query: &Query) -> Response<Body> {
    let mut body = format!("<h1>Host {}</h1>", esc(id));
    let detail = match admin(state)
        .get_agent(GetAgentRequest { id: id.to_string() })
        .await
    {
        Ok(reply) => reply.into_inner(),
        Err(status) => {
            body.push_str(&error_box(state, status));
            return html(state, id, "Fleet", &body);
        }
    };
    let agent = detail.agent.unwrap_or_default();
    let now = now_ms();
    let facts = detail.facts.unwrap_or_default();
    let _ = write!(
        body,
        "<section class=\"cards\"><div class=\"card\"><h2>Facts</h2><dl>\
         <dt>State</dt><dd>{}</dd><dt>Hostname</dt><dd>{}</dd><dt>OS</dt><dd>{} {}</dd>\
         <dt>Kernel</dt><dd>{}</dd><dt>Arch</dt><dd>{}</dd><dt>CPUs</dt><dd>{}</dd>\
         <dt>Memory</dt><dd>{}</dd><dt>Agent</dt><dd>{}</dd><dt>Last seen</dt><dd>{}</dd>\
         <dt>Certificate</dt><dd>expires {}</dd></dl></div>",
        state_label(&agent),
        esc(&facts.hostname),
        esc(&facts.os),
        esc(&facts.os_version),
        esc(&facts.kernel),
        esc(&facts.arch),
        facts.cpus,
        bytes(facts.mem_total_bytes as f64),
        esc(&agent.version),
        ago(now, agent.last_seen_unix_ms),
        until(now, agent.cert_not_after_unix_ms),
    );
    body.push_str("<div class=\"card\"><h2>Labels</h2><p>");
    let labels: std::collections::BTreeMap<_, _> = agent.labels.iter().collect();
    for (k, v) in labels {
        let _ = write!(body, "<span class=\"chip\">{}={}</span> ", esc(k), esc(v));
    }
    body.push_str("</p><h2>Apps</h2><table><thead><tr><th scope=\"col\">App</th><th scope=\"col\">Current</th><th scope=\"col\">Previous</th><th scope=\"col\">Health</th></tr></thead><tbody>");
    for app in &agent.apps {
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&app.app),
            esc(&app.version),
            esc(&app.previous),
            if app.healthy {
                "✓ healthy"
            } else {
                "✗ unhealthy"
            }
        );
    }
    body.push_str("</tbody></table></div></section>");

    // Plots over the chosen range.
    let range = query.get("range");
    let (range, since_ms) = RANGES
        .iter()
        .find(|(name, _)| *name == range)
        .copied()
        .unwrap_or(RANGES[1]);
    body.push_str("<h2>Metrics</h2><nav class=\"ranges\" aria-label=\"time range\">");
    for (name, _) in RANGES {
        let current = if name == range {
            " aria-current=\"true\""
        } else {
            ""
        };
        let _ = write!(
            body,
            "<a href=\"/host/{}?range={name}\"{current}>{name}</a>",
            encode(id)
        );
    }
    body.push_str("</nav>");
    let mut series: Vec<String> = ["cpu", "mem", "load1", "net_rx", "net_tx"]
        .map(String::from)
        .to_vec();
    if let Some(m) = &agent.metrics {
        series.extend(m.disks.iter().take(4).map(|d| format!("disk:{}", d.mount)));
    }
    let metrics = monitor(state)
        .query_metrics(QueryMetricsRequest {
            host: id.to_string(),
            series,
            since_ms,
            ..Default::default()
        })
        .await;
    match metrics {
        Ok(reply) => {
            body.push_str("<div class=\"plots\">");
            let from = now - i64::try_from(since_ms).unwrap_or(0);
            for s in &reply.into_inner().series {
                body.push_str(&super::plot::svg(s, from, now));
            }
            body.push_str("</div>");
        }
        Err(status) => body.push_str(&error_box(state, status)),
    }

    // Recent jobs and events touching this host.
    body.push_str(
        "<section class=\"cards\"><div class=\"card\"><h2>Recent jobs</h2><ul class=\"list\">",
    );
    if let Ok(jobs) = admin(state)
        .list_jobs(ListJobsRequest {
            limit: 10,
            host: id.to_string(),
            ..Default::default()
        })
        .await
    {
        for job in jobs.into_inner().jobs {
            let _ = write!(
                body,
                "<li><code>{}</code> {} — {} by {}, {}</li>",
                esc(&job.id),
                esc(&job.action),
                esc(job.state().as_str_name().trim_start_matches("JOB_STATE_")),
                esc(&job.created_by),
                ago(now, job.created_unix_ms)
            );
        }
    }
    body.push_str("</ul></div><div class=\"card\"><h2>Events</h2><ul class=\"list\">");
    if let Ok(events) = monitor(state)
        .list_events(ListEventsRequest::default())
        .await
    {
        for event in events
            .into_inner()
            .events
            .iter()
            .rev()
            .filter(|e| e.host == id)
            .take(20)
        {
            let _ = write!(
                body,
                "<li>{} <b>{}</b> [{}] {}</li>",
                ago(now, event.at_unix_ms),
                esc(&event.kind),
                esc(&event.severity),
                esc(&event.message)
            );
        }
    }
    body.push_str("</ul></div></section>");
    html(state, id, "Fleet", &body)
}
