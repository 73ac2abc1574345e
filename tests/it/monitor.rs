//! Monitoring in process: an alert rule with `for = 2s` over a swarm whose fake `/` disk
//! the test fills and empties, through the real coordinator and the `Monitor` service;
//! and the Monitor service's role checks.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use convoy_coordinator::alerts::Rule;
use convoy_coordinator::config::monitor::AlertConfig;
use convoy_proto::identity::Role;
use convoy_proto::v1::monitor_client::MonitorClient;
use convoy_proto::v1::{ListAlertsRequest, ListEventsRequest, TestNotifyRequest};
use convoy_tests::swarm::{Swarm, SwarmConfig};
use convoy_tests::{TestCoordinator, TestPki, channel, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_alert_waits_for_its_for_then_fires_and_resolves() {
    let pki = TestPki::new();
    let rule = Rule::new(&AlertConfig {
        name: "disk-full".into(),
        expr: "disk:/>90".into(),
        for_: Duration::from_secs(2),
        severity: "critical".into(),
        selector: "role=sim".into(),
        summary: "root filling up".into(),
    })
    .unwrap();
    let coordinator = TestCoordinator::start_configured(&pki, |config| {
        config.monitor.alerts = vec![rule];
    })
    .await;
    let disk = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(50f64.to_bits()));
    let mut swarm = Swarm::start(SwarmConfig {
        heartbeat: Duration::from_millis(200),
        source_addresses: 0,
        disk_percent: disk.clone(),
        ..SwarmConfig::new(coordinator.url(), pki.dir(), 3)
    })
    .await
    .unwrap();
    swarm
        .wait(Duration::from_secs(20), |p| p.connected == 3)
        .await;
    let viewer = pki.operator("vera", Role::Viewer);
    let mut monitor = MonitorClient::new(
        channel(&coordinator.url(), &pki.ca_cert(), Some(&viewer))
            .await
            .unwrap(),
    );
    let list = |pending| ListAlertsRequest { pending };

    // Fill the disk: pending first, firing only after `for`.
    let filled = Instant::now();
    disk.store(95f64.to_bits(), Ordering::Relaxed);
    let pending = wait_for("pending alerts", Duration::from_secs(10), || {
        let mut monitor = monitor.clone();
        async move {
            let alerts = monitor
                .list_alerts(list(true))
                .await
                .ok()?
                .into_inner()
                .alerts;
            (alerts.len() == 3).then_some(alerts)
        }
    })
    .await;
    if filled.elapsed() < Duration::from_millis(1500) {
        assert!(pending.iter().all(|a| a.state == "pending"), "{pending:?}");
    }
    let firing = wait_for("three firing alerts", Duration::from_secs(10), || {
        let mut monitor = monitor.clone();
        async move {
            let alerts = monitor
                .list_alerts(list(false))
                .await
                .ok()?
                .into_inner()
                .alerts;
            (alerts.len() == 3).then_some(alerts)
        }
    })
    .await;
    assert!(filled.elapsed() >= Duration::from_secs(2));
    for alert in &firing {
        assert_eq!(
            (alert.rule.as_str(), alert.state.as_str()),
            ("disk-full", "firing")
        );
        assert!(
            alert.firing_since_unix_ms - alert.active_since_unix_ms >= 2000,
            "{alert:?}"
        );
        assert!((alert.value - 95.0).abs() < 0.5, "{alert:?}");
        assert!(alert.host.starts_with("sim-"));
    }

    // Empty it: resolved, and both show in the event log in order.
    disk.store(40f64.to_bits(), Ordering::Relaxed);
    wait_for("alerts to resolve", Duration::from_secs(10), || {
        let mut monitor = monitor.clone();
        async move {
            let alerts = monitor
                .list_alerts(list(true))
                .await
                .ok()?
                .into_inner()
                .alerts;
            alerts.is_empty().then_some(())
        }
    })
    .await;
    // The event log is written after the alert state changes: wait (with a deadline) for
    // the three resolutions to reach it.
    let events = wait_for(
        "three alert.resolved events",
        Duration::from_secs(10),
        || {
            let mut monitor = monitor.clone();
            async move {
                let events = monitor
                    .list_events(ListEventsRequest {
                        kind: "alert.*".into(),
                        ..Default::default()
                    })
                    .await
                    .ok()?
                    .into_inner()
                    .events;
                (events.len() >= 6).then_some(events)
            }
        },
    )
    .await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["alert.firing"; 3]
            .iter()
            .chain(["alert.resolved"; 3].iter())
            .copied()
            .collect::<Vec<_>>()
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));

    // A viewer may read but not send a test notification.
    let refused = monitor
        .test_notify(TestNotifyRequest { name: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    swarm.stop().await;
    coordinator.stop().await;
}
