//! What each sink kind sends: `webhook` (Convoy's own JSON schema, `convoy.event.v1`,
//! signed with HMAC-SHA256 in `X-Convoy-Signature` when a secret is set), `slack` (an
//! incoming-webhook `{"text": …}` payload) and `alertmanager` (Alertmanager's API v2:
//! `POST /api/v2/alerts` with labels and annotations). Building a request is pure; only
//! [`send`] does I/O.

use convoy_proto::v1::Event;
use serde_json::{Value, json};

use crate::config::monitor::NotifyConfig;

/// The signature header a webhook receiver checks.
pub const SIGNATURE_HEADER: &str = "X-Convoy-Signature";
/// The event id header (also in the body), for deduplication.
pub const EVENT_ID_HEADER: &str = "X-Convoy-Event-Id";

fn rfc3339(unix_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(unix_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The webhook body: a stable schema; new fields may be added, none removed or renamed.
pub fn webhook_body(event: &Event) -> Value {
    json!({
        "schema": "convoy.event.v1",
        "id": event.id,
        "seq": event.seq,
        "at": rfc3339(event.at_unix_ms),
        "at_unix_ms": event.at_unix_ms,
        "kind": event.kind,
        "severity": event.severity,
        "host": event.host,
        "subject": event.subject,
        "message": event.message,
        "fields": event.fields,
    })
}

pub fn slack_body(event: &Event) -> Value {
    let icon = match event.severity.as_str() {
        "critical" => ":red_circle:",
        "warning" => ":warning:",
        _ => ":information_source:",
    };
    json!({ "text": format!("{icon} *{}* {}", event.kind, event.message) })
}

/// One Alertmanager alert per event. `alert.firing`/`alert.resolved` carry the rule's
/// labels (so Alertmanager groups and silences them, and a resolved event ends the same
/// alert); other events become short-lived alerts named `convoy_event`.
pub fn alertmanager_body(event: &Event) -> Value {
    let field = |k: &str| event.fields.get(k).cloned().unwrap_or_default();
    let (name, severity, instance) = match event.kind.as_str() {
        "alert.firing" | "alert.resolved" => (
            event.subject.clone(),
            field("alert_severity"),
            field("instance"),
        ),
        _ => (
            "convoy_event".to_string(),
            event.severity.clone(),
            event.host.clone(),
        ),
    };
    let starts: i64 = field("active_since_unix_ms")
        .parse()
        .unwrap_or(event.at_unix_ms);
    let ends = match event.kind.as_str() {
        "alert.resolved" => event.at_unix_ms,
        "alert.firing" => event.at_unix_ms + 24 * 3_600_000,
        _ => event.at_unix_ms + 5 * 60_000,
    };
    let mut labels = json!({
        "alertname": name,
        "severity": severity,
        "source": "convoy",
    });
    if !instance.is_empty() {
        labels["instance"] = json!(instance);
    }
    if !event.kind.starts_with("alert.") {
        labels["kind"] = json!(event.kind);
        labels["event_id"] = json!(event.id);
    }
    json!([{
        "labels": labels,
        "annotations": {
            "summary": if field("summary").is_empty() { event.message.clone() } else { field("summary") },
            "description": event.message,
        },
        "startsAt": rfc3339(starts),
        "endsAt": rfc3339(ends),
    }])
}

/// `sha256=HEX` of HMAC-SHA256(secret, body).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body).as_ref())
    )
}

/// The URL and body a sink posts for `event`.
pub fn request(sink: &NotifyConfig, event: &Event) -> (String, Vec<u8>) {
    let (url, body) = match sink.kind.as_str() {
        "slack" => (sink.url.clone(), slack_body(event)),
        "alertmanager" => {
            let base = sink.url.trim_end_matches('/');
            let url = if base.ends_with("/api/v2/alerts") {
                base.to_string()
            } else {
                format!("{base}/api/v2/alerts")
            };
            (url, alertmanager_body(event))
        }
        _ => (sink.url.clone(), webhook_body(event)),
    };
    (url, serde_json::to_vec(&body).unwrap_or_default())
}

/// What a delivery attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    /// HTTP status (0 when no answer).
    pub status: u16,
    pub error: String,
}

/// Posts `event` to `sink` once.
pub async fn send(
    client: &reqwest::Client,
    sink: &NotifyConfig,
    event: &Event,
    attempt: u32,
) -> Outcome {
    let (url, body) = request(sink, event);
    let mut post = client
        .post(&url)
        .header("Content-Type", "application/json")
        .header("User-Agent", concat!("convoy/", env!("CARGO_PKG_VERSION")))
        .header(EVENT_ID_HEADER, &event.id)
        .header("X-Convoy-Delivery-Attempt", attempt.to_string());
    if let (Some(secret), "webhook") = (&sink.secret, sink.kind.as_str()) {
        post = post.header(SIGNATURE_HEADER, signature(secret, &body));
    }
    match post.body(body).send().await {
        Ok(response) if response.status().is_success() => Outcome {
            ok: true,
            status: response.status().as_u16(),
            error: String::new(),
        },
        Ok(response) => Outcome {
            ok: false,
            status: response.status().as_u16(),
            error: format!("receiver answered {}", response.status()),
        },
        Err(err) => Outcome {
            ok: false,
            status: 0,
            // Without the URL: a webhook URL can carry a token (Slack's do).
            error: format!("cannot deliver: {}", err.without_url()),
        },
    }
}
