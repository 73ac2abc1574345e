//! The fleet link working as it should: agents connect, report, are found by selectors,
//! go offline, survive coordinator restarts, and a newer session replaces an older one.

use std::time::Duration;

use convoy_coordinator::registry::reason;
use convoy_proto::identity::Role;
use convoy_proto::v1::{Heartbeat, MetricsSample, agent_message, coordinator_message};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, channel, fast_agents, wait_for};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{WAIT, get, hello, list, online, raw_session};

#[tokio::test]
async fn three_agents_connect_and_appear_with_metrics() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let agents: Vec<TestAgent> = ["web-1", "web-2", "db-1"]
        .iter()
        .map(|id| {
            TestAgent::start(
                &pki,
                &coordinator.url(),
                id,
                &[("role", &id[..id.len() - 2])],
            )
        })
        .collect();
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Viewer))
        .await;
    let listed = wait_for("three agents online with metrics", WAIT, || {
        let mut admin = admin.clone();
        async move {
            let agents = list(&mut admin, "").await;
            (agents.len() == 3 && agents.iter().all(|a| online(a) && a.metrics.is_some()))
                .then_some(agents)
        }
    })
    .await;
    assert_eq!(
        listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["db-1", "web-1", "web-2"]
    );
    let metrics = listed[0].metrics.as_ref().unwrap();
    assert!(metrics.mem_total_bytes > 0 && metrics.mem_used_bytes > 0);
    assert!(metrics.uptime_secs > 0 && metrics.process_count > 0);
    assert_eq!(listed[0].labels["role"], "db");
    assert_eq!(listed[0].version, env!("CARGO_PKG_VERSION"));

    let detail = get(&mut admin, "web-1").await.unwrap();
    let facts = detail.facts.unwrap();
    assert!(facts.cpus >= 1 && facts.mem_total_bytes > 0 && !facts.kernel.is_empty());
    assert_eq!(detail.connections.len(), 1);
    assert_eq!(detail.connections[0].disconnected_unix_ms, 0);
    // History fills with each heartbeat.
    wait_for("metrics history", WAIT, || {
        let mut admin = admin.clone();
        async move { (get(&mut admin, "web-1").await?.history.len() >= 2).then_some(()) }
    })
    .await;
    let status = admin
        .get_agent(convoy_proto::v1::GetAgentRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    for agent in agents {
        agent.stop().await;
    }
    coordinator.stop().await;
}

#[tokio::test]
async fn selectors_filter_the_inventory() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let url = coordinator.url();
    let agents = [
        TestAgent::start(&pki, &url, "web-a", &[("role", "web"), ("zone", "a")]),
        TestAgent::start(&pki, &url, "web-c", &[("role", "web"), ("zone", "c")]),
        TestAgent::start(
            &pki,
            &url,
            "db-b",
            &[("role", "db"), ("zone", "b"), ("gpu", "")],
        ),
    ];
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Admin))
        .await;
    wait_for("three agents", WAIT, || {
        let mut admin = admin.clone();
        async move {
            (list(&mut admin, "")
                .await
                .iter()
                .filter(|a| online(a))
                .count()
                == 3)
                .then_some(())
        }
    })
    .await;
    let ids = |agents: Vec<convoy_proto::v1::AgentSummary>| {
        agents.into_iter().map(|a| a.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(list(&mut admin, "role=web,zone in (a,b)").await),
        ["web-a"]
    );
    assert_eq!(ids(list(&mut admin, "role!=web").await), ["db-b"]);
    assert_eq!(ids(list(&mut admin, "zone notin (a,b)").await), ["web-c"]);
    assert_eq!(ids(list(&mut admin, "gpu").await), ["db-b"]);
    assert_eq!(ids(list(&mut admin, "!gpu").await), ["web-a", "web-c"]);
    assert!(list(&mut admin, "role=cache").await.is_empty());

    let status = admin
        .list_agents(convoy_proto::v1::ListAgentsRequest {
            selector: "zone in (a,b".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("position 12"),
        "{}",
        status.message()
    );

    for agent in agents {
        agent.stop().await;
    }
    coordinator.stop().await;
}

#[tokio::test]
async fn agents_go_offline_when_they_stop_or_fall_silent() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let agent = TestAgent::start(&pki, &coordinator.url(), "web-1", &[]);
    let admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Viewer))
        .await;
    wait_for("web-1 online", WAIT, || {
        let mut admin = admin.clone();
        async move {
            get(&mut admin, "web-1")
                .await
                .filter(|d| online(d.agent.as_ref().unwrap()))
        }
    })
    .await;
    agent.stop().await;
    let detail = wait_for("web-1 offline after a clean stop", WAIT, || {
        let mut admin = admin.clone();
        async move {
            get(&mut admin, "web-1")
                .await
                .filter(|d| !online(d.agent.as_ref().unwrap()))
        }
    })
    .await;
    assert_eq!(detail.connections[0].reason, reason::STREAM_CLOSED);

    // A half-open agent: says hello, then never sends a heartbeat.
    let certs = pki.agent("silent-1");
    let channel = channel(&coordinator.url(), &pki.ca_cert(), Some(&certs))
        .await
        .unwrap();
    let (_keep_open, response) = raw_session(channel, hello("silent-1")).await;
    let mut inbound = response.expect("session accepted");
    let first = inbound.message().await.unwrap().unwrap();
    assert!(matches!(
        first.body,
        Some(coordinator_message::Body::Welcome(_))
    ));
    let started = tokio::time::Instant::now();
    let status = tokio::time::timeout(WAIT, inbound.message())
        .await
        .expect("session ended")
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(status.message(), reason::HEARTBEAT_TIMEOUT);
    assert!(started.elapsed() >= fast_agents().offline_after - Duration::from_millis(300));
    let detail = wait_for("silent-1 offline", WAIT, || {
        let mut admin = admin.clone();
        async move {
            get(&mut admin, "silent-1")
                .await
                .filter(|d| !online(d.agent.as_ref().unwrap()))
        }
    })
    .await;
    assert_eq!(detail.connections[0].reason, reason::HEARTBEAT_TIMEOUT);
    coordinator.stop().await;
}

#[tokio::test]
async fn agents_reconnect_after_a_coordinator_restart_and_the_inventory_survives() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let (addr, data_dir) = (coordinator.addr, coordinator.data_dir.clone());
    let agents = [
        TestAgent::start(&pki, &coordinator.url(), "web-1", &[("role", "web")]),
        TestAgent::start(&pki, &coordinator.url(), "web-2", &[("role", "web")]),
    ];
    let operator = pki.operator("alice", Role::Operator);
    let admin = coordinator.admin(&pki, &operator).await;
    let before = wait_for("two agents online", WAIT, || {
        let mut admin = admin.clone();
        async move {
            let agents = list(&mut admin, "role=web").await;
            (agents.iter().filter(|a| online(a)).count() == 2).then_some(agents)
        }
    })
    .await;
    coordinator.stop().await;

    for round in 0..2 {
        let coordinator = TestCoordinator::start_in(&pki, &data_dir, addr, fast_agents()).await;
        let mut admin = coordinator.admin(&pki, &operator).await;
        // Right after the restart the inventory is there, from disk.
        assert_eq!(list(&mut admin, "").await.len(), 2, "round {round}");
        let after = wait_for("agents back online by themselves", WAIT, || {
            let mut admin = admin.clone();
            async move {
                let agents = list(&mut admin, "role=web").await;
                (agents.iter().filter(|a| online(a)).count() == 2).then_some(agents)
            }
        })
        .await;
        for (old, new) in before.iter().zip(&after) {
            assert_eq!(old.id, new.id);
            assert_eq!(old.first_seen_unix_ms, new.first_seen_unix_ms);
        }
        let detail = get(&mut admin, "web-1").await.unwrap();
        assert_eq!(detail.connections.len(), round + 2);
        assert_eq!(detail.connections[round].reason, reason::SHUTDOWN);
        coordinator.stop().await;
    }
    for agent in agents {
        assert!(
            !agent.is_finished(),
            "agents keep running through coordinator restarts"
        );
        agent.stop().await;
    }
    drop(admin);
}

#[tokio::test]
async fn a_second_session_replaces_the_first() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let certs = pki.agent("web-1");
    let open = || async {
        let channel = channel(&coordinator.url(), &pki.ca_cert(), Some(&certs))
            .await
            .unwrap();
        let (tx, response) = raw_session(channel, hello("web-1")).await;
        let mut inbound = response.expect("session accepted");
        inbound.message().await.unwrap().expect("welcome");
        (tx, inbound)
    };
    let (_first_tx, mut first) = open().await;
    let (second_tx, _second) = open().await;
    let status = tokio::time::timeout(WAIT, first.message())
        .await
        .expect("first ends")
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(status.message(), reason::REPLACED);
    // The newer session is live and counted as online.
    second_tx
        .send(convoy_proto::v1::AgentMessage {
            body: Some(agent_message::Body::Heartbeat(Heartbeat {
                metrics: Some(MetricsSample {
                    cpu_percent: 42.0,
                    ..Default::default()
                }),
                apps: Vec::new(),
            })),
        })
        .await
        .unwrap();
    let admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Viewer))
        .await;
    let detail = wait_for("heartbeat of the second session", WAIT, || {
        let mut admin = admin.clone();
        async move {
            get(&mut admin, "web-1").await.filter(|d| {
                d.agent
                    .as_ref()
                    .unwrap()
                    .metrics
                    .as_ref()
                    .is_some_and(|m| m.cpu_percent == 42.0)
            })
        }
    })
    .await;
    assert!(online(detail.agent.as_ref().unwrap()));
    assert_eq!(detail.connections[0].reason, reason::REPLACED);
    coordinator.stop().await;
}

#[tokio::test]
async fn health_service_reports_serving() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let channel = channel(
        &coordinator.url(),
        &pki.ca_cert(),
        Some(&pki.operator("ops", Role::Viewer)),
    )
    .await
    .unwrap();
    let mut health = HealthClient::new(channel);
    for service in ["", "convoy.v1.AgentLink", "convoy.v1.Admin"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    coordinator.stop().await;
}
