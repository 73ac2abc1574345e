//! Bad input gets a clear error and changes nothing: missing, foreign and expired
//! certificates, certificates used for the wrong service, spoofed identities and
//! oversized messages.

use convoy_coordinator::pki::Validity;
use convoy_proto::identity::{AgentId, Identity, Role};
use convoy_proto::tls::{LinkFailure, classify};
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{
    AgentMessage, DiskUsage, Heartbeat, ListAgentsRequest, MetricsSample, agent_message,
};
use convoy_tests::{CertFiles, TestAgent, TestCoordinator, TestPki, channel, wait_for};
use time::{Duration as TimeDuration, OffsetDateTime};
use tonic::Code;

use crate::support::{WAIT, get, hello, list, online, raw_session};

/// Calls the admin API as `certs` (or without a certificate) and returns the failure.
async fn admin_call_fails(
    coordinator: &TestCoordinator,
    pki: &TestPki,
    certs: Option<&CertFiles>,
) -> tonic::Status {
    let channel = match channel(&coordinator.url(), &pki.ca_cert(), certs).await {
        Ok(channel) => channel,
        // TLS 1.3 finishes the client's side of the handshake before the server has
        // checked the client certificate, so the refusal usually surfaces on the first
        // call; either way it must be a TLS failure.
        Err(err) => {
            assert!(matches!(classify(&err), LinkFailure::Tls(_)), "{err:?}");
            return tonic::Status::unavailable("refused at connect");
        }
    };
    AdminClient::new(channel)
        .list_agents(ListAgentsRequest::default())
        .await
        .expect_err("the call must fail")
}

fn assert_tls_refusal(status: &tonic::Status) {
    if status.message() == "refused at connect" {
        return;
    }
    assert!(
        matches!(classify(status), LinkFailure::Tls(_)),
        "expected a TLS refusal, got {status:?}"
    );
}

#[tokio::test]
async fn clients_without_a_valid_certificate_are_refused_at_the_handshake() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;

    // No client certificate at all.
    assert_tls_refusal(&admin_call_fails(&coordinator, &pki, None).await);

    // A certificate from another CA, with the very same identity.
    let other = TestPki::new();
    let foreign = other.operator("alice", Role::Admin);
    assert_tls_refusal(&admin_call_fails(&coordinator, &pki, Some(&foreign)).await);

    // An expired certificate from the right CA.
    let now = OffsetDateTime::now_utc();
    let expired = pki.issue_with(
        &Identity::Operator {
            name: "old".into(),
            role: Role::Admin,
        },
        "old",
        Validity {
            not_before: now - TimeDuration::days(10),
            not_after: now - TimeDuration::days(1),
        },
    );
    assert_tls_refusal(&admin_call_fails(&coordinator, &pki, Some(&expired)).await);

    // An agent with an expired certificate never gets into the inventory.
    let expired_agent = pki.issue_with(
        &Identity::Agent(AgentId::new("web-9").unwrap()),
        "web-9",
        Validity {
            not_before: now - TimeDuration::days(10),
            not_after: now - TimeDuration::days(1),
        },
    );
    match channel(&coordinator.url(), &pki.ca_cert(), Some(&expired_agent)).await {
        Ok(channel) => {
            let (_tx, response) = raw_session(channel, hello("web-9")).await;
            assert_tls_refusal(&response.expect_err("expired agent refused"));
        }
        Err(err) => assert!(matches!(classify(&err), LinkFailure::Tls(_))),
    }

    // A valid operator still gets in, and nothing was added to the inventory.
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Viewer))
        .await;
    assert!(list(&mut admin, "").await.is_empty());
    coordinator.stop().await;
}

#[tokio::test]
async fn certificates_may_only_call_their_own_service() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;

    // An agent certificate calling Admin.
    let agent = pki.agent("web-1");
    let status = admin_call_fails(&coordinator, &pki, Some(&agent)).await;
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().contains("operator certificate"),
        "{}",
        status.message()
    );

    // ... and the other operator services: Rollouts (read and write) and Backups.
    let agent_channel = channel(&coordinator.url(), &pki.ca_cert(), Some(&agent))
        .await
        .unwrap();
    let mut rollouts =
        convoy_proto::v1::rollouts_client::RolloutsClient::new(agent_channel.clone());
    let status = rollouts
        .list_rollouts(convoy_proto::v1::ListRolloutsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = rollouts
        .control_rollout(convoy_proto::v1::ControlRolloutRequest {
            id: "r-x".into(),
            control: convoy_proto::v1::RolloutControl::Abort.into(),
            force: false,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let mut backups = convoy_proto::v1::backups_client::BackupsClient::new(agent_channel);
    let status = backups
        .list_backups(convoy_proto::v1::ListBackupsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // An operator certificate opening an agent session.
    let operator = pki.operator("alice", Role::Admin);
    let channel_op = channel(&coordinator.url(), &pki.ca_cert(), Some(&operator))
        .await
        .unwrap();
    let (_tx, response) = raw_session(channel_op, hello("alice")).await;
    let status = response.expect_err("operator may not open a session");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // The server's own certificate is refused as a client (no client-auth usage).
    let server = convoy_tests::CertFiles {
        cert: pki.dir().join("coordinator.pem"),
        key: pki.dir().join("coordinator.key"),
    };
    assert_tls_refusal(&admin_call_fails(&coordinator, &pki, Some(&server)).await);

    let mut admin = coordinator
        .admin(&pki, &pki.operator("viewer", Role::Viewer))
        .await;
    assert!(list(&mut admin, "").await.is_empty(), "nothing registered");
    let me = admin
        .who_am_i(convoy_proto::v1::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((me.name.as_str(), me.role.as_str()), ("viewer", "viewer"));
    coordinator.stop().await;
}

#[tokio::test]
async fn a_hello_with_a_spoofed_id_is_refused_and_changes_nothing() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let certs = pki.agent("web-1");
    let channel_agent = channel(&coordinator.url(), &pki.ca_cert(), Some(&certs))
        .await
        .unwrap();
    let (_tx, response) = raw_session(channel_agent.clone(), hello("db-1")).await;
    let status = response.expect_err("spoofed hello refused");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("db-1") && status.message().contains("web-1"),
        "{}",
        status.message()
    );

    // Bad labels and a first message that is not a hello are refused too.
    let mut bad_labels = hello("web-1");
    if let Some(agent_message::Body::Hello(hello)) = &mut bad_labels.body {
        hello.labels.insert("bad key".into(), "x".into());
    }
    let (_tx, response) = raw_session(channel_agent.clone(), bad_labels).await;
    assert_eq!(
        response.expect_err("bad labels").code(),
        Code::InvalidArgument
    );
    let heartbeat_first = AgentMessage {
        body: Some(agent_message::Body::Heartbeat(Heartbeat::default())),
    };
    let (_tx, response) = raw_session(channel_agent, heartbeat_first).await;
    assert_eq!(
        response.expect_err("heartbeat first").code(),
        Code::InvalidArgument
    );

    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Viewer))
        .await;
    assert!(
        list(&mut admin, "").await.is_empty(),
        "neither id was registered"
    );
    coordinator.stop().await;
}

#[tokio::test]
async fn an_oversized_message_ends_only_that_session() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let good = TestAgent::start(&pki, &coordinator.url(), "good-1", &[]);
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Viewer))
        .await;
    wait_for("good-1 online", WAIT, || {
        let mut admin = admin.clone();
        async move {
            get(&mut admin, "good-1")
                .await
                .filter(|d| online(d.agent.as_ref().unwrap()))
        }
    })
    .await;

    let certs = pki.agent("big-1");
    let channel_big = channel(&coordinator.url(), &pki.ca_cert(), Some(&certs))
        .await
        .unwrap();
    let (tx, response) = raw_session(channel_big, hello("big-1")).await;
    let mut inbound = response.expect("session accepted");
    inbound.message().await.unwrap().expect("welcome");
    let huge = AgentMessage {
        body: Some(agent_message::Body::Heartbeat(Heartbeat {
            metrics: Some(MetricsSample {
                disks: vec![DiskUsage {
                    mount: "x".repeat(convoy_proto::MAX_AGENT_MESSAGE_BYTES + 1),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            apps: Vec::new(),
        })),
    };
    tx.send(huge).await.unwrap();
    let ended = tokio::time::timeout(WAIT, inbound.message())
        .await
        .expect("big-1's session ends");
    assert!(ended.is_err() || matches!(ended, Ok(None)), "{ended:?}");
    let big = wait_for("big-1 offline", WAIT, || {
        let mut admin = admin.clone();
        async move {
            get(&mut admin, "big-1")
                .await
                .filter(|d| !online(d.agent.as_ref().unwrap()))
        }
    })
    .await;
    assert!(
        big.agent.unwrap().metrics.is_none(),
        "the oversized sample was not stored"
    );

    // The other agent kept its session and keeps reporting.
    let before = get(&mut admin, "good-1").await.unwrap().agent.unwrap();
    wait_for("good-1 still heartbeating", WAIT, || {
        let mut admin = admin.clone();
        let last = before.last_seen_unix_ms;
        async move {
            let now = get(&mut admin, "good-1").await?.agent?;
            (online(&now) && now.last_seen_unix_ms > last).then_some(())
        }
    })
    .await;
    assert_eq!(
        get(&mut admin, "good-1").await.unwrap().connections.len(),
        1
    );
    good.stop().await;
    coordinator.stop().await;
}
