//! Revocation (issue 14): a revoked certificate, agent id or operator name is refused at
//! the handshake, every live connection using it is closed within a second, the list
//! survives a restart, and only admins may revoke.

use std::time::{Duration, Instant};

use convoy_proto::identity::{AgentId, Identity, Role};
use convoy_proto::tls::{LinkFailure, classify};
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::certs_client::CertsClient;
use convoy_proto::v1::revoke_request::Target;
use convoy_proto::v1::{
    CertInfo, ListAgentsRequest, ListAuditRequest, ListCertsRequest, RevokeRequest,
};
use convoy_tests::{
    CertFiles, TestAgent, TestCoordinator, TestPki, channel, fast_agents, wait_for,
};
use tonic::Code;

use crate::support::{WAIT, hello, list, online, raw_session};

async fn certs_client(
    coordinator: &TestCoordinator,
    pki: &TestPki,
    as_: &CertFiles,
) -> CertsClient<tonic::transport::Channel> {
    CertsClient::new(
        channel(&coordinator.url(), &pki.ca_cert(), Some(as_))
            .await
            .expect("channel"),
    )
}

async fn revoke(client: &mut CertsClient<tonic::transport::Channel>, target: Target) -> u32 {
    client
        .revoke(RevokeRequest {
            target: Some(target),
            reason: "stolen key".into(),
        })
        .await
        .expect("revoke")
        .into_inner()
        .sessions_closed
}

async fn certs(client: &mut CertsClient<tonic::transport::Channel>) -> Vec<CertInfo> {
    client
        .list_certs(ListCertsRequest {})
        .await
        .expect("list certs")
        .into_inner()
        .certs
}

/// An agent session opened with `certs` fails at the TLS layer.
async fn agent_refused(coordinator: &TestCoordinator, pki: &TestPki, certs: &CertFiles, id: &str) {
    let status = match channel(&coordinator.url(), &pki.ca_cert(), Some(certs)).await {
        Err(err) => {
            assert!(matches!(classify(&err), LinkFailure::Tls(_)), "{err:?}");
            return;
        }
        Ok(channel) => match raw_session(channel, hello(id)).await.1 {
            Err(status) => status,
            Ok(mut stream) => stream.message().await.expect_err("session must be refused"),
        },
    };
    assert!(
        matches!(classify(&status), LinkFailure::Tls(_)),
        "expected a TLS refusal, got {status:?}"
    );
}

#[tokio::test]
async fn revoking_an_agent_cuts_its_live_session_within_a_second_and_refuses_reconnects() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let root = pki.operator("root", Role::Admin);
    let mut admin = coordinator.admin(&pki, &root).await;
    let mut certs_api = certs_client(&coordinator, &pki, &root).await;
    let real = TestAgent::start(&pki, &coordinator.url(), "web-7", &[]);
    let bystander = TestAgent::start(&pki, &coordinator.url(), "db-1", &[]);
    crate::support::fleet_online(&admin, 2).await;
    // A copy of the key, as a thief would hold it.
    let stolen = pki.issue(
        &Identity::Agent(AgentId::new("web-7").unwrap()),
        "web-7-stolen",
    );
    let started = Instant::now();
    let closed = revoke(&mut certs_api, Target::AgentId("web-7".into())).await;
    assert!(closed >= 1, "the live session was counted: {closed}");
    wait_for("web-7 offline", Duration::from_secs(1), || {
        let mut admin = admin.clone();
        async move {
            let agents = list(&mut admin, "").await;
            agents
                .iter()
                .find(|a| a.id == "web-7")
                .is_some_and(|a| !online(a))
                .then_some(())
        }
    })
    .await;
    let cut = started.elapsed();
    assert!(cut <= Duration::from_secs(1), "session cut after {cut:?}");

    // The real agent keeps retrying (with its slow backoff) and is refused each time;
    // the bystander is untouched.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let agents = list(&mut admin, "").await;
        let web = agents
            .iter()
            .find(|a| a.id == "web-7")
            .expect("web-7 listed");
        assert!(!online(web), "a revoked agent came back online");
        let db = agents.iter().find(|a| a.id == "db-1").expect("db-1 listed");
        assert!(online(db), "the bystander lost its session");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    agent_refused(&coordinator, &pki, &stolen, "web-7").await;
    // Any certificate for that id, even one minted later.
    let fresh = pki.issue(
        &Identity::Agent(AgentId::new("web-7").unwrap()),
        "web-7-new",
    );
    agent_refused(&coordinator, &pki, &fresh, "web-7").await;

    let listed = certs(&mut certs_api).await;
    assert!(
        listed.iter().any(|c| c.kind == "agent"
            && c.name == "web-7"
            && c.serial == "*"
            && c.state == "revoked"
            && c.reason == "stolen key"),
        "{listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|c| c.kind == "agent" && c.name == "db-1" && c.state == "active"),
        "{listed:?}"
    );
    real.stop().await;
    bystander.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn revoking_an_operator_closes_its_open_connection_and_refuses_new_ones() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let root = pki.operator("root", Role::Admin);
    let bob = pki.operator("bob", Role::Operator);
    let mut certs_api = certs_client(&coordinator, &pki, &root).await;
    let mut bob_admin = coordinator.admin(&pki, &bob).await;
    bob_admin
        .list_agents(ListAgentsRequest::default())
        .await
        .expect("bob may list before");
    let started = Instant::now();
    assert_eq!(
        revoke(&mut certs_api, Target::Operator("bob".into())).await,
        1
    );
    wait_for("bob's connection closed", Duration::from_secs(1), || {
        let mut bob_admin = bob_admin.clone();
        async move {
            bob_admin
                .list_agents(ListAgentsRequest::default())
                .await
                .is_err()
                .then_some(())
        }
    })
    .await;
    assert!(started.elapsed() <= Duration::from_secs(1));
    let status = match channel(&coordinator.url(), &pki.ca_cert(), Some(&bob)).await {
        Err(err) => {
            assert!(matches!(classify(&err), LinkFailure::Tls(_)), "{err:?}");
            None
        }
        Ok(channel) => Some(
            AdminClient::new(channel)
                .list_agents(ListAgentsRequest::default())
                .await
                .expect_err("refused"),
        ),
    };
    if let Some(status) = status {
        assert!(
            matches!(classify(&status), LinkFailure::Tls(_)),
            "{status:?}"
        );
    }
    // The admin who revoked is untouched.
    certs(&mut certs_api).await;
    coordinator.stop().await;
}

#[tokio::test]
async fn a_revoked_serial_stays_refused_after_a_restart_and_other_certificates_of_the_id_work() {
    let pki = TestPki::new();
    let data_dir = pki.dir().join("data-restart");
    let coordinator = TestCoordinator::start_in(
        &pki,
        &data_dir,
        "127.0.0.1:0".parse().unwrap(),
        fast_agents(),
    )
    .await;
    let root = pki.operator("root", Role::Admin);
    let old = pki.issue(
        &Identity::Agent(AgentId::new("web-1").unwrap()),
        "web-1-old",
    );
    let held = channel(&coordinator.url(), &pki.ca_cert(), Some(&old))
        .await
        .expect("channel");
    let (_tx, session) = raw_session(held, hello("web-1")).await;
    let mut session = session.expect("session opens");
    let mut certs_api = certs_client(&coordinator, &pki, &root).await;
    let serial = wait_for("web-1's cert listed", WAIT, || {
        let mut certs_api = certs_api.clone();
        async move {
            certs(&mut certs_api)
                .await
                .into_iter()
                .find(|c| c.kind == "agent" && c.name == "web-1")
                .map(|c| c.serial)
        }
    })
    .await;
    // Typed with colons and upper case, as other tools print serials.
    let typed: Vec<String> = serial
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).to_uppercase())
        .collect();
    let started = Instant::now();
    assert_eq!(
        revoke(&mut certs_api, Target::Serial(typed.join(":"))).await,
        1
    );
    let ended = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(Some(_)) = session.message().await {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the session outlived its revoked certificate"
    );
    assert!(started.elapsed() <= Duration::from_secs(1));

    let addr = coordinator.addr;
    coordinator.stop().await;
    let coordinator = TestCoordinator::start_in(&pki, &data_dir, addr, fast_agents()).await;
    agent_refused(&coordinator, &pki, &old, "web-1").await;
    let agent = TestAgent::start(&pki, &coordinator.url(), "web-1", &[]);
    let admin = coordinator.admin(&pki, &root).await;
    crate::support::fleet_online(&admin, 1).await;
    let mut certs_api = certs_client(&coordinator, &pki, &root).await;
    let listed = certs(&mut certs_api).await;
    let states: Vec<&str> = listed
        .iter()
        .filter(|c| c.name == "web-1")
        .map(|c| c.state.as_str())
        .collect();
    assert!(
        states.contains(&"revoked") && states.contains(&"active"),
        "{listed:?}"
    );
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn only_admins_may_revoke_and_a_refused_or_bad_revocation_changes_nothing() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let root = pki.operator("root", Role::Admin);
    let bob = pki.operator("bob", Role::Operator);
    let agent = TestAgent::start(&pki, &coordinator.url(), "web-1", &[]);
    let mut admin = coordinator.admin(&pki, &root).await;
    crate::support::fleet_online(&admin, 1).await;

    let mut as_bob = certs_client(&coordinator, &pki, &bob).await;
    let status = as_bob
        .revoke(RevokeRequest {
            target: Some(Target::AgentId("web-1".into())),
            reason: String::new(),
        })
        .await
        .expect_err("an operator may not revoke");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = as_bob
        .list_certs(ListCertsRequest {})
        .await
        .expect_err("admin only");
    assert_eq!(status.code(), Code::PermissionDenied);

    let mut as_root = certs_client(&coordinator, &pki, &root).await;
    for (target, why) in [
        (Some(Target::Serial("not-hex".into())), "bad serial"),
        (Some(Target::AgentId("Web 1".into())), "bad agent id"),
        (Some(Target::Operator("../x".into())), "bad operator name"),
        (None, "no target"),
        (Some(Target::Serial("a".repeat(5000))), "oversized"),
    ] {
        let status = as_root
            .revoke(RevokeRequest {
                target,
                reason: String::new(),
            })
            .await
            .expect_err(why);
        assert_eq!(status.code(), Code::InvalidArgument, "{why}: {status:?}");
    }
    let listed = certs(&mut as_root).await;
    assert!(listed.iter().all(|c| c.state != "revoked"), "{listed:?}");
    let agents = list(&mut admin, "").await;
    assert!(online(&agents[0]));
    // The refusal is in the audit log.
    let audit = admin
        .list_audit(ListAuditRequest {
            operator: "bob".into(),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner();
    assert!(
        audit.entries.iter().any(|e| e.call == "Revoke" && !e.ok),
        "{:?}",
        audit.entries
    );
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn an_agent_id_replacing_its_own_session_repeatedly_raises_the_takeover_alarm() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let root = pki.operator("root", Role::Admin);
    let mut admin = coordinator.admin(&pki, &root).await;
    let key = pki.agent("web-3");
    let mut sessions = Vec::new();
    // Two reconnects within a minute are ordinary (a flaky network): no alarm.
    for round in 0..3 {
        let link = channel(&coordinator.url(), &pki.ca_cert(), Some(&key))
            .await
            .expect("channel");
        let (tx, session) = raw_session(link, hello("web-3")).await;
        sessions.push((tx, session.expect("session")));
        let detail = wait_for("session registered", WAIT, || {
            let mut admin = admin.clone();
            async move {
                crate::support::get(&mut admin, "web-3")
                    .await
                    .filter(|d| d.connections.len() == round + 1)
            }
        })
        .await;
        assert_eq!(detail.takeover_alarm_unix_ms, 0, "round {round}");
    }
    // Two holders of the key taking turns: the fourth replacement within the minute.
    for round in 3..5 {
        let link = channel(&coordinator.url(), &pki.ca_cert(), Some(&key))
            .await
            .expect("channel");
        let (tx, session) = raw_session(link, hello("web-3")).await;
        sessions.push((tx, session.expect("session")));
        wait_for("session registered", WAIT, || {
            let mut admin = admin.clone();
            async move {
                crate::support::get(&mut admin, "web-3")
                    .await
                    .filter(|d| d.connections.len() == round + 1)
            }
        })
        .await;
    }
    let detail = crate::support::get(&mut admin, "web-3")
        .await
        .expect("detail");
    assert!(detail.takeover_alarm_unix_ms > 0, "{detail:?}");
    assert_eq!(detail.takeover_replacements, 4);
    coordinator.stop().await;
}
