//! The fleet page (the host page is [`super::host`]): one gRPC call per page, rendered to
//! HTML on the server. Errors from the coordinator (a bad selector, permission denied) are
//! shown on the page in the CLI's words (`connect::rpc_error`).

use std::fmt::Write as _;

use convoy_proto::MAX_ADMIN_MESSAGE_BYTES;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::monitor_client::MonitorClient;
use convoy_proto::v1::{AgentState, AgentSummary, ListAgentsRequest};
use hyper::{Response, StatusCode};
use tonic::transport::Channel;

use super::html::{Query, ago, encode, esc, now_ms, page, until};
use super::{Body, HTML, State, respond};
use crate::cli::connect::rpc_error;

pub(crate) use super::host::host;
pub(crate) use super::rollouts::{control, rollout, rollouts};

/// Rows per fleet page.
pub(crate) const PAGE_ROWS: usize = 100;

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

pub(crate) fn state_label(agent: &AgentSummary) -> &'static str {
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
