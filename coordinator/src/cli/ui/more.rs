//! The jobs pages (list; one job with each host's state and output, live from `WatchJob`),
//! backups with their last drill, alerts, and the live event stream (`FollowEvents`).

use std::fmt::Write as _;

use convoy_proto::MAX_ADMIN_MESSAGE_BYTES;
use convoy_proto::v1::backups_client::BackupsClient;
use convoy_proto::v1::job_event::Body as JobBody;
use convoy_proto::v1::{
    Backup, Event, GetJobRequest, HostCommand, ListAlertsRequest, ListBackupsRequest,
    ListEventsRequest, ListJobsRequest, WatchJobRequest,
};
use futures_util::StreamExt as _;
use hyper::{Response, StatusCode};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use super::html::{ago, bytes, encode, esc, now_ms};
use super::live::{message, stream};
use super::pages::{admin, error_box, html, monitor};
use super::{Body, State, TEXT, respond};
use crate::cli::connect::rpc_error;

fn command_state(host: &HostCommand) -> String {
    let name = host
        .state()
        .as_str_name()
        .trim_start_matches("COMMAND_STATE_");
    let name = name.to_ascii_lowercase();
    let glyph = super::rollouts::glyph(match name.as_str() {
        "pending" | "delivered" => "pending",
        "running" => "running",
        "succeeded" => "succeeded",
        "cancelled" | "undeliverable" => "skipped",
        _ => "failed",
    });
    format!("{glyph} {name}")
}

/// `/jobs`: the newest 50.
pub(crate) async fn jobs(state: &State) -> Response<Body> {
    let mut body = "<h1>Jobs</h1>".to_string();
    match admin(state)
        .list_jobs(ListJobsRequest {
            limit: 50,
            ..Default::default()
        })
        .await
    {
        Ok(reply) => {
            let now = now_ms();
            body.push_str("<table id=\"jobs\"><thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Action</th><th scope=\"col\">State</th><th scope=\"col\">Hosts (ok / errors / total)</th><th scope=\"col\">By</th><th scope=\"col\">Started</th></tr></thead><tbody>");
            for job in reply.into_inner().jobs {
                let counts = job.counts.unwrap_or_default();
                let _ = write!(
                    body,
                    "<tr><th scope=\"row\"><a href=\"/jobs/{}\">{}</a></th><td>{}</td><td>{}</td><td class=\"num\">{} / {} / {}</td><td>{}</td><td>{}</td></tr>",
                    encode(&job.id),
                    esc(&job.id),
                    esc(&job.action),
                    esc(&job
                        .state()
                        .as_str_name()
                        .trim_start_matches("JOB_STATE_")
                        .to_ascii_lowercase()),
                    counts.succeeded,
                    counts.errors,
                    counts.total,
                    esc(&job.created_by),
                    ago(now, job.created_unix_ms),
                );
            }
            body.push_str("</tbody></table>");
        }
        Err(status) => body.push_str(&error_box(state, status)),
    }
    html(state, "Jobs", "Jobs", &body)
}

/// `/jobs/ID`: each host's state and output; the script appends output as it arrives.
pub(crate) async fn job(state: &State, id: &str) -> Response<Body> {
    let mut body = format!("<h1>Job {}</h1>", esc(id));
    match admin(state)
        .get_job(GetJobRequest {
            id: id.to_string(),
            tail_bytes: 64 * 1024,
        })
        .await
    {
        Ok(reply) => {
            let job = reply.into_inner();
            let _ = write!(
                body,
                "<p>{} on <code>{}</code> by {} — <b id=\"job-state\">{}</b></p><div id=\"job-live\" data-stream=\"/api/jobs/{}/events\">",
                esc(&job.action),
                esc(&job.selector),
                esc(&job.created_by),
                esc(&job
                    .state()
                    .as_str_name()
                    .trim_start_matches("JOB_STATE_")
                    .to_ascii_lowercase()),
                encode(&job.id),
            );
            for host in &job.hosts {
                let _ = write!(
                    body,
                    "<section class=\"card job-host\" data-host=\"{h}\"><h2>{h} <small class=\"cmd-state\">{}</small></h2><pre class=\"output\">{}</pre></section>",
                    command_state(host),
                    esc(&String::from_utf8_lossy(&host.output_tail)),
                    h = esc(&host.host),
                );
            }
            body.push_str("</div>");
        }
        Err(status) => body.push_str(&error_box(state, status)),
    }
    html(state, id, "Jobs", &body)
}

/// `GET /api/jobs/ID/events`: `host` (HOST, then its state), `output` (HOST, then the
/// text), `end` when the job finishes.
pub(crate) async fn job_events(state: &State, id: &str, stop: CancellationToken) -> Response<Body> {
    let watched = admin(state)
        .watch_job(WatchJobRequest { id: id.to_string() })
        .await;
    let events = match watched {
        Ok(reply) => reply.into_inner(),
        Err(status) => {
            let why = rpc_error(&state.addr, status).to_string();
            return respond(StatusCode::BAD_GATEWAY, TEXT, why);
        }
    };
    let addr = state.addr.clone();
    let texts = events.map(move |event| match event.map(|e| e.body) {
        Ok(Some(JobBody::Host(host))) => {
            message("host", &format!("{}\n{}", host.host, command_state(&host)))
        }
        Ok(Some(JobBody::Output(out))) => message(
            "output",
            &format!("{}\n{}", out.host, String::from_utf8_lossy(&out.data)),
        ),
        Ok(Some(JobBody::Finished(job))) => message(
            "end",
            &job.state()
                .as_str_name()
                .trim_start_matches("JOB_STATE_")
                .to_ascii_lowercase(),
        ),
        Ok(None) => String::new(),
        Err(status) => message("error", &rpc_error(&addr, status).to_string()),
    });
    stream(texts, stop)
}

/// A backups client sized like the CLI's.
pub(crate) fn backups_client(state: &State) -> BackupsClient<Channel> {
    BackupsClient::new(state.channel.clone()).max_decoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
}

/// A backup's last verify, in words with a glyph.
pub(crate) fn verified_cell(b: &Backup, now: i64) -> String {
    match (b.verified_unix_ms, b.verified_ok) {
        (0, _) => "· never".to_string(),
        (at, true) => format!("✓ ok, {}", ago(now, at)),
        (at, false) => format!("✗ failed, {}", ago(now, at)),
    }
}

/// A backup's last restore drill: status, where, when, and the first problems.
pub(crate) fn drill_cell(b: &Backup, now: i64) -> String {
    match &b.last_drill {
        None => "· never".to_string(),
        Some(d) if d.ok => format!("✓ ok on {}, {}", esc(&d.host), ago(now, d.at_unix_ms)),
        Some(d) => format!(
            "✗ failed on {}, {}: {}",
            esc(&d.host),
            ago(now, d.at_unix_ms),
            esc(&d.problems.join("; "))
        ),
    }
}

/// `/backups`: every backup with its verify and last drill.
pub(crate) async fn backups(state: &State) -> Response<Body> {
    let mut body = "<h1>Backups</h1>".to_string();
    match backups_client(state)
        .list_backups(ListBackupsRequest::default())
        .await
    {
        Ok(reply) => {
            let now = now_ms();
            body.push_str("<table id=\"backups\"><thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Host</th><th scope=\"col\">Set</th><th scope=\"col\">Taken</th><th scope=\"col\">Size</th><th scope=\"col\">Verified</th><th scope=\"col\">Last drill</th></tr></thead><tbody>");
            for b in reply.into_inner().backups {
                let _ = write!(
                    body,
                    "<tr><th scope=\"row\"><code>{}</code></th><td><a href=\"/host/{}\">{}</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&b.id),
                    encode(&b.host),
                    esc(&b.host),
                    esc(&b.set),
                    ago(now, b.created_unix_ms),
                    bytes(b.size as f64),
                    verified_cell(&b, now),
                    drill_cell(&b, now),
                );
            }
            body.push_str("</tbody></table>");
        }
        Err(status) => body.push_str(&error_box(state, status)),
    }
    html(state, "Backups", "Backups", &body)
}

/// The glyph beside an event's severity, so colour is never the only signal.
pub(crate) fn severity_glyph(severity: &str) -> &'static str {
    match severity {
        "critical" => "▲",
        "warning" => "△",
        _ => "·",
    }
}

/// One event as a table row.
pub(crate) fn event_row(e: &Event, now: i64) -> String {
    let glyph = severity_glyph(&e.severity);
    format!(
        "<tr><td>{}</td><td>{}</td><td>{glyph} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        ago(now, e.at_unix_ms),
        esc(&e.kind),
        esc(&e.severity),
        esc(&e.host),
        esc(&e.subject),
        esc(&e.message)
    )
}

/// `/events`: the newest 200, newest first; the script prepends new ones as they happen.
pub(crate) async fn events(state: &State) -> Response<Body> {
    let mut body = "<h1>Events</h1>".to_string();
    match monitor(state)
        .list_events(ListEventsRequest {
            limit: 200,
            ..Default::default()
        })
        .await
    {
        Ok(reply) => {
            body.push_str("<table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Kind</th><th scope=\"col\">Severity</th><th scope=\"col\">Host</th><th scope=\"col\">Subject</th><th scope=\"col\">Message</th></tr></thead><tbody id=\"events\" data-stream=\"/api/events\">");
            let now = now_ms();
            for e in reply.into_inner().events.iter().rev() {
                body.push_str(&event_row(e, now));
            }
            body.push_str("</tbody></table>");
        }
        Err(status) => body.push_str(&error_box(state, status)),
    }
    html(state, "Events", "Events", &body)
}

/// `GET /api/events`: events from now on, each as a rendered row (`event: row`).
pub(crate) async fn event_stream(state: &State, stop: CancellationToken) -> Response<Body> {
    let followed = monitor(state)
        .follow_events(ListEventsRequest {
            since_unix_ms: now_ms(),
            ..Default::default()
        })
        .await;
    let events = match followed {
        Ok(reply) => reply.into_inner(),
        Err(status) => {
            let why = rpc_error(&state.addr, status).to_string();
            return respond(StatusCode::BAD_GATEWAY, TEXT, why);
        }
    };
    let addr = state.addr.clone();
    let texts = events.map(move |event| match event {
        Ok(e) => message("row", &event_row(&e, now_ms())),
        Err(status) => message("error", &rpc_error(&addr, status).to_string()),
    });
    stream(texts, stop)
}

/// `/alerts`: firing and pending alerts.
pub(crate) async fn alerts(state: &State) -> Response<Body> {
    let mut body = "<h1>Alerts</h1>".to_string();
    match monitor(state)
        .list_alerts(ListAlertsRequest { pending: true })
        .await
    {
        Ok(reply) => {
            let alerts = reply.into_inner().alerts;
            if alerts.is_empty() {
                body.push_str("<p>✓ No alert is firing or pending.</p>");
            }
            body.push_str("<table><thead><tr><th scope=\"col\">Rule</th><th scope=\"col\">State</th><th scope=\"col\">Severity</th><th scope=\"col\">Host</th><th scope=\"col\">Value</th><th scope=\"col\">Summary</th></tr></thead><tbody>");
            for a in alerts {
                let icon = if a.state == "firing" { "▲" } else { "△" };
                let _ = write!(
                    body,
                    "<tr><th scope=\"row\">{}</th><td>{icon} {}</td><td>{}</td><td>{}</td><td class=\"num\">{:.2}</td><td>{}</td></tr>",
                    esc(&a.rule),
                    esc(&a.state),
                    esc(&a.severity),
                    esc(&a.host),
                    a.value,
                    esc(&a.summary)
                );
            }
            body.push_str("</tbody></table>");
        }
        Err(status) => body.push_str(&error_box(state, status)),
    }
    html(state, "Alerts", "Alerts", &body)
}
