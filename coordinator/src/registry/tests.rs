use super::*;

fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, Registry::load(store, Duration::from_secs(15)).unwrap())
}

fn hello(role: &str) -> Hello {
    let mut hello = Hello {
        agent_id: "web-1".into(),
        version: "1.0".into(),
        ..Default::default()
    };
    hello.labels.insert("role".into(), role.into());
    hello
}

fn sender() -> SessionSender {
    tokio::sync::mpsc::channel(1).0
}

fn id() -> AgentId {
    AgentId::new("web-1").unwrap()
}

fn state(registry: &Registry) -> i32 {
    registry.get("web-1").unwrap().agent.unwrap().state
}

#[test]
fn a_newer_session_replaces_the_older_one() {
    let (_dir, registry) = registry();
    let first = registry
        .connect(&id(), hello("web"), None, sender())
        .unwrap();
    let second = registry
        .connect(&id(), hello("db"), None, sender())
        .unwrap();
    assert!(first.cancel.is_cancelled());
    assert!(!second.cancel.is_cancelled());
    assert!(!registry.heartbeat(&id(), first.generation, None, Vec::new()));
    assert!(registry.heartbeat(&id(), second.generation, None, Vec::new()));
    // The old session's clean-up must not mark the agent offline.
    registry
        .disconnect(&id(), first.generation, reason::STREAM_CLOSED)
        .unwrap();
    assert_eq!(state(&registry), AgentState::Online as i32);
    let detail = registry.get("web-1").unwrap();
    assert_eq!(detail.connections.len(), 2);
    assert_eq!(detail.connections[0].reason, reason::REPLACED);
    assert_eq!(detail.agent.unwrap().labels["role"], "db");
    registry
        .disconnect(&id(), second.generation, reason::STREAM_CLOSED)
        .unwrap();
    assert_eq!(state(&registry), AgentState::Offline as i32);
}

#[tokio::test(start_paused = true)]
async fn sweep_ends_silent_sessions_only() {
    let (_dir, registry) = registry();
    let ticket = registry
        .connect(&id(), hello("web"), None, sender())
        .unwrap();
    tokio::time::advance(Duration::from_secs(10)).await;
    assert!(registry.sweep(Instant::now()).is_empty());
    assert!(registry.heartbeat(&id(), ticket.generation, None, Vec::new()));
    tokio::time::advance(Duration::from_secs(14)).await;
    assert!(registry.sweep(Instant::now()).is_empty());
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(registry.sweep(Instant::now()), vec!["web-1".to_string()]);
    assert!(ticket.cancel.is_cancelled());
    assert_eq!(
        registry.end_reason(&id(), ticket.generation),
        Some(reason::HEARTBEAT_TIMEOUT)
    );
    registry
        .disconnect(&id(), ticket.generation, reason::STREAM_CLOSED)
        .unwrap();
    let detail = registry.get("web-1").unwrap();
    assert_eq!(detail.connections[0].reason, reason::HEARTBEAT_TIMEOUT);
    assert_eq!(state(&registry), AgentState::Offline as i32);
}

#[test]
fn history_is_capped_and_metrics_kept() {
    let (_dir, registry) = registry();
    let ticket = registry
        .connect(&id(), hello("web"), None, sender())
        .unwrap();
    for i in 0..(HISTORY_POINTS as i64 + 5) {
        let sample = MetricsSample {
            sampled_at_unix_ms: i,
            cpu_percent: 1.0,
            ..Default::default()
        };
        assert!(registry.heartbeat(&id(), ticket.generation, Some(sample), Vec::new()));
    }
    let detail = registry.get("web-1").unwrap();
    assert_eq!(detail.history.len(), HISTORY_POINTS);
    assert_eq!(detail.history[0].sampled_at_unix_ms, 5);
    assert_eq!(
        detail.agent.unwrap().metrics.unwrap().sampled_at_unix_ms,
        HISTORY_POINTS as i64 + 4
    );
    assert_eq!(registry.flush_dirty().unwrap(), 1);
    assert_eq!(registry.flush_dirty().unwrap(), 0);
}

#[test]
fn selector_filters_and_restart_keeps_agents_offline() {
    let dir = tempfile::tempdir().unwrap();
    {
        let registry =
            Registry::load(Store::open(dir.path()).unwrap(), Duration::from_secs(15)).unwrap();
        registry
            .connect(&id(), hello("web"), None, sender())
            .unwrap();
        let mut other = hello("db");
        other.agent_id = "db-1".into();
        registry
            .connect(&AgentId::new("db-1").unwrap(), other, None, sender())
            .unwrap();
        let web = registry.list(&Selector::parse("role=web").unwrap());
        assert_eq!(web.len(), 1);
        assert_eq!(web[0].id, "web-1");
        assert_eq!(registry.list(&Selector::default()).len(), 2);
        registry.flush_store().unwrap();
    }
    let registry =
        Registry::load(Store::open(dir.path()).unwrap(), Duration::from_secs(15)).unwrap();
    let all = registry.list(&Selector::default());
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|a| a.state == AgentState::Offline as i32));
    let detail = registry.get("web-1").unwrap();
    assert_eq!(detail.connections[0].reason, "coordinator restarted");
}

#[test]
fn sessions_arriving_during_shutdown_end_at_once() {
    let (_dir, registry) = registry();
    let before = registry
        .connect(&id(), hello("web"), None, sender())
        .unwrap();
    registry.end_all_sessions();
    assert!(before.cancel.is_cancelled());
    let late = registry
        .connect(
            &AgentId::new("late-1").unwrap(),
            hello("web"),
            None,
            sender(),
        )
        .unwrap();
    assert!(late.cancel.is_cancelled());
    assert_eq!(
        registry.end_reason(&AgentId::new("late-1").unwrap(), late.generation),
        Some(reason::SHUTDOWN)
    );
}

/// `convoy agents` flags a certificate past 90 % of its lifetime (it should have renewed
/// at 2/3); unknown validity is never flagged.
#[test]
fn renewal_is_overdue_past_ninety_percent_of_the_lifetime() {
    let record = AgentRecord {
        cert_not_before_unix_ms: 1_000_000,
        cert_not_after_unix_ms: 1_000_000 + 100_000,
        ..Default::default()
    };
    assert!(!renewal_overdue(&record, 1_000_000 + 66_667));
    assert!(!renewal_overdue(&record, 1_000_000 + 89_999));
    assert!(renewal_overdue(&record, 1_000_000 + 90_000));
    assert!(renewal_overdue(&record, 1_000_000 + 200_000));
    assert!(!renewal_overdue(&AgentRecord::default(), i64::MAX));
}
