//! Event log tests: order, durability with deliveries, retention, kind patterns.

use super::*;

#[test]
fn kind_patterns() {
    assert!(kind_matches("rollout.*", "rollout.failed"));
    assert!(!kind_matches("rollout.*", "agent.offline"));
    assert!(kind_matches("*", "agent.offline"));
    assert!(kind_matches("agent.offline", "agent.offline"));
    assert!(!kind_matches("agent.off", "agent.offline"));
}

#[tokio::test]
async fn events_are_ordered_durable_and_carry_their_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let routes = vec![
        ("hook".to_string(), vec!["rollout.*".to_string()]),
        ("all".to_string(), vec!["*".to_string()]),
    ];
    {
        let store = Store::open(dir.path()).unwrap();
        let events = Events::open(store, routes.clone()).unwrap();
        let mut live = events.subscribe();
        events.append(Draft::new("rollout.started", Severity::Info, "r-1 started").subject("r-1"));
        events
            .append_durable(Draft::new("agent.offline", Severity::Warning, "gone").host("web-1"))
            .await
            .unwrap();
        assert_eq!(live.recv().await.unwrap().id, "evt-1");
        assert_eq!(live.recv().await.unwrap().kind, "agent.offline");
    }
    let store = Store::open(dir.path()).unwrap();
    let events = Events::open(store.clone(), routes).unwrap();
    assert_eq!(events.last_seq(), 2, "numbering continues after a restart");
    let third = events
        .append(Draft::new(
            "rollout.failed",
            Severity::Critical,
            "r-1 failed",
        ))
        .unwrap();
    assert_eq!(third.id, "evt-3");
    let all = store.events_after(0, 100, |_| true).unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    let pending = store.pending_deliveries_after(0).unwrap();
    let routed: Vec<(u64, &str)> = pending.iter().map(|d| (d.seq, d.sink.as_str())).collect();
    assert_eq!(
        routed,
        [(1, "all"), (1, "hook"), (2, "all"), (3, "all"), (3, "hook")]
    );
    assert_eq!(
        store
            .events_newest(1, |e| e.kind.starts_with("rollout."))
            .unwrap()[0]
            .seq,
        3
    );
}

#[test]
fn retention_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let events = Events::open(store.clone(), vec![("all".into(), vec!["*".into()])]).unwrap();
    for i in 0..10 {
        events.append(Draft::new("job.failed", Severity::Warning, format!("{i}")));
    }
    // Delivered ones of dropped events go with them; pending ones stay.
    let mut first = store.pending_deliveries_after(0).unwrap().remove(0);
    first.status = "delivered".into();
    store.put_delivery(&first).unwrap();
    assert_eq!(store.prune_events(4, 0).unwrap(), 6);
    let left = store.events_after(0, 100, |_| true).unwrap();
    assert_eq!(left.first().map(|e| e.seq), Some(7));
    assert_eq!(store.deliveries_newest(100, |_| true).unwrap().len(), 9);
}

#[test]
fn an_expiring_certificate_is_reported_once_a_day() {
    let dir = tempfile::tempdir().unwrap();
    crate::pki::init_ca(&dir.path().join("pki"), 10, false).unwrap();
    let ca = dir.path().join("pki").join(crate::pki::CA_CERT_FILE);
    let store = Store::open(&dir.path().join("data")).unwrap();
    let events = Events::open(store.clone(), Vec::new()).unwrap();
    let now = now_unix_ms();
    sources::certs_expiring(&events, std::slice::from_ref(&ca), now);
    sources::certs_expiring(&events, std::slice::from_ref(&ca), now + 60_000);
    let expiring = store
        .events_after(0, 10, |e| e.kind == "cert.expiring")
        .unwrap();
    assert_eq!(expiring.len(), 1, "once a day");
    assert!(
        expiring[0].message.contains("expires in 9 days"),
        "{}",
        expiring[0].message
    );
    sources::certs_expiring(&events, std::slice::from_ref(&ca), now + 86_400_000);
    assert_eq!(
        store.events_after(0, 10, |_| true).unwrap().len(),
        2,
        "and again the next day"
    );
}

#[test]
fn a_draft_can_name_a_sink_beyond_its_routes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let routes = vec![
        ("ops".to_string(), vec!["backup.*".to_string()]),
        ("pager".to_string(), vec!["alert.*".to_string()]),
    ];
    let events = Events::open(store.clone(), routes).unwrap();
    // A scaling policy's `notify = "ops"`: ops gets it though it asked for backups only;
    // pager does not; a sink no longer configured is skipped.
    events.append(
        Draft::new("scale.decided", Severity::Warning, "web: 2 -> 4")
            .to_sink("ops")
            .to_sink("gone"),
    );
    events.append(Draft::new(
        "scale.decided",
        Severity::Warning,
        "web: 4 -> 6",
    ));
    let pending = store.pending_deliveries_after(0).unwrap();
    let routed: Vec<(u64, &str)> = pending.iter().map(|d| (d.seq, d.sink.as_str())).collect();
    assert_eq!(routed, [(1, "ops")]);
}
