//! The host page: facts and labels, its deployments (each app's current and previous
//! release and health, and the deploys that put them there), plots over a chosen range of
//! the host metrics and of every app signal it reports (`APP.NAME`), its recent jobs, its
//! backups with their last drill, and its events. Each section is one of the operator API
//! calls the CLI makes (`agents show`, `metrics`, `jobs --host`, `backup list --host`,
//! `events`); a section whose call fails shows the coordinator's words and the rest stay.

use std::fmt::Write as _;

use convoy_proto::v1::{
    AgentDetail, GetAgentRequest, ListBackupsRequest, ListEventsRequest, ListJobsRequest,
    QueryMetricsRequest,
};
use hyper::Response;

use super::Body;
use super::State;
use super::html::{Query, ago, bytes, encode, esc, now_ms, until};
use super::more::{backups_client, drill_cell, verified_cell};
use super::pages::{admin, error_box, html, monitor, state_label};

/// The host page's time ranges: (query value, milliseconds).
pub(crate) const RANGES: [(&str, u64); 5] = [
    ("15m", 900_000),
    ("1h", 3_600_000),
    ("6h", 21_600_000),
    ("24h", 86_400_000),
    ("7d", 604_800_000),
];

/// App signals plotted per host, at most (an agent reports up to
/// `convoy_proto::MAX_APP_SIGNALS`; the history keeps fewer).
const MAX_SIGNAL_PLOTS: usize = 16;

/// The series the host page plots: the host metrics, its disks, then its app signals (from
/// its latest heartbeat, sorted by name).
pub(crate) fn series_for(detail: &AgentDetail) -> Vec<String> {
    let mut series: Vec<String> = ["cpu", "mem", "load1", "net_rx", "net_tx"]
        .map(String::from)
        .to_vec();
    if let Some(m) = detail.agent.as_ref().and_then(|a| a.metrics.as_ref()) {
        series.extend(m.disks.iter().take(4).map(|d| format!("disk:{}", d.mount)));
        let mut signals: Vec<&String> = m.signals.keys().collect();
        signals.sort();
        series.extend(signals.into_iter().take(MAX_SIGNAL_PLOTS).cloned());
    }
    series
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
    let series = series_for(&detail);
    facts(&mut body, &detail);
    plots(state, &mut body, id, series, query.get("range")).await;
    body.push_str("<section class=\"cards\">");
    deploys_and_jobs(state, &mut body, id).await;
    backups(state, &mut body, id).await;
    events(state, &mut body, id).await;
    body.push_str("</section>");
    html(state, id, "Fleet", &body)
}

fn facts(body: &mut String, detail: &AgentDetail) {
    let agent = detail.agent.clone().unwrap_or_default();
    let facts = detail.facts.clone().unwrap_or_default();
    let now = now_ms();
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
    body.push_str(
        "</p><h2 id=\"deployments\">Deployments</h2><table id=\"apps\"><thead><tr>\
         <th scope=\"col\">App</th><th scope=\"col\">Current</th><th scope=\"col\">Previous</th>\
         <th scope=\"col\">Health</th></tr></thead><tbody>",
    );
    let dash = |v: &str| {
        if v.is_empty() {
            "–".to_string()
        } else {
            esc(v)
        }
    };
    for app in &agent.apps {
        let _ = write!(
            body,
            "<tr data-app=\"{app_attr}\"><th scope=\"row\">{app_attr}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            dash(&app.version),
            dash(&app.previous),
            if app.healthy {
                "✓ healthy"
            } else {
                "✗ unhealthy"
            },
            app_attr = esc(&app.app),
        );
    }
    if agent.apps.is_empty() {
        body.push_str("<tr><td colspan=\"4\">no apps deployed</td></tr>");
    }
    body.push_str("</tbody></table></div></section>");
}

/// The range picker and one plot per series over the chosen range.
async fn plots(state: &State, body: &mut String, id: &str, series: Vec<String>, range: &str) {
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
            let now = now_ms();
            let from = now - i64::try_from(since_ms).unwrap_or(0);
            let (signals, host): (Vec<_>, Vec<_>) = reply
                .into_inner()
                .series
                .into_iter()
                .partition(|s| crate::history::signal_name(&s.name));
            body.push_str("<div class=\"plots\" id=\"host-plots\">");
            for s in &host {
                body.push_str(&super::plot::svg(s, from, now));
            }
            body.push_str("</div>");
            if !signals.is_empty() {
                body.push_str(
                    "<h2 id=\"signals\">App signals</h2><div class=\"plots\" id=\"signal-plots\">",
                );
                for s in &signals {
                    body.push_str(&super::plot::svg(s, from, now));
                }
                body.push_str("</div>");
            }
        }
        Err(status) => body.push_str(&error_box(state, status)),
    }
}

/// The deploys that reached this host, then every recent job with a command for it.
async fn deploys_and_jobs(state: &State, body: &mut String, id: &str) {
    let now = now_ms();
    for (title, action, list_id) in [
        ("Deploys", "deploy", "deploys"),
        ("Recent jobs", "", "jobs"),
    ] {
        let _ = write!(
            body,
            "<div class=\"card\"><h2>{title}</h2><ul class=\"list\" id=\"host-{list_id}\">"
        );
        let listed = admin(state)
            .list_jobs(ListJobsRequest {
                limit: 10,
                host: id.to_string(),
                action: action.to_string(),
                ..Default::default()
            })
            .await;
        match listed {
            Ok(jobs) => {
                let jobs = jobs.into_inner().jobs;
                if jobs.is_empty() {
                    body.push_str("<li>none yet</li>");
                }
                for job in jobs {
                    let mine = job.hosts.iter().find(|h| h.host == id);
                    let outcome = mine.map_or_else(
                        || {
                            job.state()
                                .as_str_name()
                                .trim_start_matches("JOB_STATE_")
                                .to_ascii_lowercase()
                        },
                        |h| {
                            h.state()
                                .as_str_name()
                                .trim_start_matches("COMMAND_STATE_")
                                .to_ascii_lowercase()
                        },
                    );
                    let _ = write!(
                        body,
                        "<li><a href=\"/jobs/{}\"><code>{}</code></a> {} — {} {outcome}, by {}, {}</li>",
                        encode(&job.id),
                        esc(&job.id),
                        esc(&job.action),
                        outcome_glyph(&outcome),
                        esc(&job.created_by),
                        ago(now, job.created_unix_ms)
                    );
                }
            }
            Err(status) => {
                body.push_str("<li>");
                body.push_str(&error_box(state, status));
                body.push_str("</li>");
            }
        }
        body.push_str("</ul></div>");
    }
}

fn outcome_glyph(outcome: &str) -> &'static str {
    super::rollouts::glyph(match outcome {
        "pending" | "delivered" => "pending",
        "cancelled" | "undeliverable" => "skipped",
        other => other,
    })
}

/// The backups taken on this host, newest first, each with its verify and last drill.
async fn backups(state: &State, body: &mut String, id: &str) {
    body.push_str("<div class=\"card\"><h2>Backups</h2>");
    let listed = backups_client(state)
        .list_backups(ListBackupsRequest {
            host: id.to_string(),
            ..Default::default()
        })
        .await;
    match listed {
        Ok(reply) => {
            let mut backups = reply.into_inner().backups;
            backups.sort_by_key(|b| std::cmp::Reverse(b.created_unix_ms));
            if backups.is_empty() {
                body.push_str("<p id=\"host-backups\">no backups of this host</p>");
            } else {
                let now = now_ms();
                body.push_str(
                    "<div class=\"scroll\"><table id=\"host-backups\"><thead><tr><th scope=\"col\">Set</th>\
                     <th scope=\"col\">Taken</th><th scope=\"col\">Size</th><th scope=\"col\">Verified</th>\
                     <th scope=\"col\">Last drill</th></tr></thead><tbody>",
                );
                for b in backups.iter().take(20) {
                    let _ = write!(
                        body,
                        "<tr data-backup=\"{}\"><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"drill\">{}</td></tr>",
                        esc(&b.id),
                        esc(&b.set),
                        ago(now, b.created_unix_ms),
                        bytes(b.size as f64),
                        verified_cell(b, now),
                        drill_cell(b, now),
                    );
                }
                body.push_str("</tbody></table></div>");
            }
        }
        Err(status) => body.push_str(&error_box(state, status)),
    }
    body.push_str("</div>");
}

/// This host's newest events (of the coordinator's newest thousand).
async fn events(state: &State, body: &mut String, id: &str) {
    body.push_str("<div class=\"card\"><h2>Events</h2><ul class=\"list\" id=\"host-events\">");
    match monitor(state)
        .list_events(ListEventsRequest::default())
        .await
    {
        Ok(events) => {
            let now = now_ms();
            let mut any = false;
            for event in events
                .into_inner()
                .events
                .iter()
                .rev()
                .filter(|e| e.host == id)
                .take(20)
            {
                any = true;
                let _ = write!(
                    body,
                    "<li>{} <b>{}</b> [{} {}] {}</li>",
                    ago(now, event.at_unix_ms),
                    esc(&event.kind),
                    super::more::severity_glyph(&event.severity),
                    esc(&event.severity),
                    esc(&event.message)
                );
            }
            if !any {
                body.push_str("<li>none recently</li>");
            }
        }
        Err(status) => {
            body.push_str("<li>");
            body.push_str(&error_box(state, status));
            body.push_str("</li>");
        }
    }
    body.push_str("</ul></div>");
}
