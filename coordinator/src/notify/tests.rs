//! Notification tests: payload shapes, the signature, backoff bounds.

use std::collections::BTreeMap;

use convoy_proto::v1::Event;

use super::sinks::{alertmanager_body, signature, slack_body, webhook_body};
use super::*;

fn event(kind: &str) -> Event {
    Event {
        seq: 7,
        id: "evt-7".into(),
        at_unix_ms: 1_700_000_000_000,
        kind: kind.into(),
        severity: "critical".into(),
        host: "web-1".into(),
        subject: "disk-full".into(),
        message: "disk-full firing on web-1".into(),
        fields: BTreeMap::from([
            ("instance".to_string(), "web-1".to_string()),
            ("alert_severity".to_string(), "critical".to_string()),
            (
                "active_since_unix_ms".to_string(),
                "1699999990000".to_string(),
            ),
        ]),
    }
}

#[test]
fn webhook_schema_is_stable() {
    let body = webhook_body(&event("rollout.failed"));
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "at",
            "at_unix_ms",
            "fields",
            "host",
            "id",
            "kind",
            "message",
            "schema",
            "seq",
            "severity",
            "subject"
        ]
    );
    assert_eq!(body["schema"], "convoy.event.v1");
    assert_eq!(body["id"], "evt-7");
    assert_eq!(body["at"], "2023-11-14T22:13:20.000Z");
}

/// HMAC-SHA256 test vector from RFC 4231 (test case 2).
#[test]
fn signature_is_hmac_sha256() {
    assert_eq!(
        signature("Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn slack_and_alertmanager_payloads() {
    let slack = slack_body(&event("alert.firing"));
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .contains("*alert.firing* disk-full firing on web-1")
    );
    let fired = alertmanager_body(&event("alert.firing"));
    assert_eq!(fired[0]["labels"]["alertname"], "disk-full");
    assert_eq!(fired[0]["labels"]["instance"], "web-1");
    assert_eq!(fired[0]["startsAt"], "2023-11-14T22:13:10.000Z");
    let resolved = alertmanager_body(&event("alert.resolved"));
    assert_eq!(resolved[0]["endsAt"], "2023-11-14T22:13:20.000Z");
    assert_eq!(
        resolved[0]["labels"], fired[0]["labels"],
        "resolves the same alert"
    );
    let other = alertmanager_body(&event("backup.failed"));
    assert_eq!(other[0]["labels"]["alertname"], "convoy_event");
    assert_eq!(other[0]["labels"]["kind"], "backup.failed");
}

#[test]
fn backoff_grows_with_jitter_and_is_capped() {
    assert!(backoff(1, 0.0) >= Duration::from_millis(500) && backoff(1, 1.0) <= FIRST_BACKOFF);
    assert!(backoff(3, 0.0) >= Duration::from_secs(2) && backoff(3, 0.99) < Duration::from_secs(4));
    assert!(backoff(40, 1.0) <= MAX_BACKOFF);
    assert_ne!(backoff(5, 0.1), backoff(5, 0.9));
}

fn sink(name: &str, url: &str) -> NotifyConfig {
    NotifyConfig {
        name: name.into(),
        kind: "webhook".into(),
        url: url.into(),
        events: vec!["*".into()],
        secret: None,
        retry_for: Duration::from_secs(3600),
    }
}

fn delivery_of(events: &Events, sink: &str) -> Option<Delivery> {
    events
        .store()
        .deliveries_newest(100, |_| true)
        .unwrap()
        .into_iter()
        .find(|d| d.sink == sink)
}

async fn given_up(events: &Events, sink: &str) -> Delivery {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(d) = delivery_of(events, sink).filter(|d| d.status != "pending") {
            return d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sink} still pending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A delivery pending for a sink that is no longer configured is given up with the same
/// message whether the sink went away before a restart (even with no sink left) or by a
/// reload; after a reload, new events go to the new sinks only.
#[tokio::test]
async fn deliveries_of_removed_sinks_are_given_up_after_a_restart_or_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::Store::open(dir.path()).unwrap();
    let draft = || crate::events::Draft::new("job.failed", crate::events::Severity::Warning, "x");

    // Written while "old" was configured; the coordinator restarts with no sink at all.
    let before =
        Events::open(store.clone(), routes(&[sink("old", "http://127.0.0.1:9/")])).unwrap();
    before.append(draft()).unwrap();
    drop(before);
    let events = Events::open(store, Vec::new()).unwrap();
    let tracker = TaskTracker::new();
    let shutdown = CancellationToken::new();
    let notifier = start(events.clone(), Vec::new(), &tracker, shutdown.clone());
    let old = given_up(&events, "old").await;
    assert_eq!(
        (old.status.as_str(), old.last_error.as_str()),
        ("failed", SINK_REMOVED)
    );

    // A reload adds "a" (nothing listens on port 9: its delivery stays pending, retried).
    notifier.restart(vec![sink("a", "http://127.0.0.1:9/")]);
    assert_eq!(notifier.sinks().read().unwrap()[0].name, "a");
    events.append(draft()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while delivery_of(&events, "a").is_none_or(|d| d.attempts == 0) {
        assert!(tokio::time::Instant::now() < deadline, "a never attempted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The next reload removes it: its pending delivery is given up the same way.
    notifier.restart(vec![sink("b", "http://127.0.0.1:9/")]);
    let a = given_up(&events, "a").await;
    assert_eq!(
        (a.status.as_str(), a.last_error.as_str()),
        ("failed", SINK_REMOVED)
    );
    let event = events.append(draft()).unwrap();
    let routed: Vec<String> = events
        .store()
        .deliveries_newest(100, |_| true)
        .unwrap()
        .into_iter()
        .filter(|d| d.seq == event.seq)
        .map(|d| d.sink)
        .collect();
    assert_eq!(routed, ["b"]);
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
}
