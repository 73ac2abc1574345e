//! Certificate renewal over the live session (issue 14): an agent with a short-lived
//! certificate renews it before it expires, with a key made on the host, without losing a
//! running command, and reconnects with the new one; a renewal for another identity, or
//! with a CA flag, is refused and issues nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use convoy_agent::config::{ActionConfig, TlsFiles};
use convoy_agent::enroll::EnrollOptions;
use convoy_coordinator::clock::now_unix_ms;
use convoy_coordinator::config::IssuingCa;
use convoy_proto::identity::{AgentId, Identity, Role};
use convoy_proto::v1::certs_client::CertsClient;
use convoy_proto::v1::{
    AgentMessage, CommandState, CoordinatorMessage, CreateTokenRequest, RenewRequest,
    StartJobRequest, agent_message, coordinator_message,
};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, channel, wait_for};

use crate::support::{WAIT, finished, hello, list, online, raw_session};

/// A coordinator whose issuing CA is the test CA, signing certificates for `lifetime`.
pub async fn issuing(pki: &TestPki, lifetime: Duration) -> TestCoordinator {
    let key = pki.dir().join(convoy_coordinator::pki::CA_KEY_FILE);
    let cert = pki.ca_cert();
    TestCoordinator::start_configured(pki, move |config| {
        config.ca = Some(IssuingCa {
            cert,
            key,
            agent_cert_days: 30,
            agent_cert_lifetime: Some(lifetime),
            enrolls_per_ip_per_minute: convoy_coordinator::enroll::ENROLLS_PER_IP,
        });
    })
    .await
}

fn csr(id: &str, ca: bool) -> Vec<u8> {
    let san = crate::enroll::uri(&Identity::Agent(AgentId::new(id).unwrap()).uri());
    crate::enroll::csr(vec![san], ca)
}

fn serial_of(path: &Path) -> String {
    let pem = std::fs::read(path).expect("read cert");
    convoy_coordinator::revocation::cert_facts(&leaf_der(&pem))
        .expect("facts")
        .serial
}

/// The first certificate of a PEM chain, DER.
pub fn leaf_der(pem: &[u8]) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    CertificateDer::pem_slice_iter(pem)
        .next()
        .expect("a certificate")
        .expect("valid PEM")
        .to_vec()
}

fn sh(script: &str) -> ActionConfig {
    ActionConfig {
        run: vec!["/bin/sh".into(), "-c".into(), script.into()],
        timeout: Duration::from_secs(60),
        env: BTreeMap::new(),
        working_dir: None,
        kill_grace: Duration::from_millis(300),
        params: BTreeMap::new(),
    }
}

/// A token for `id` and the CA fingerprint, then `convoy-agent enroll` into `dir`.
async fn enrolled(pki: &TestPki, coordinator: &TestCoordinator, id: &str) -> TlsFiles {
    let root = pki.operator("root", Role::Admin);
    let mut api = CertsClient::new(
        channel(&coordinator.url(), &pki.ca_cert(), Some(&root))
            .await
            .expect("channel"),
    );
    let created = api
        .create_token(CreateTokenRequest {
            ttl_ms: 60_000,
            uses: 1,
            ..Default::default()
        })
        .await
        .expect("create token")
        .into_inner();
    let dir = pki.dir().join(format!("host-{id}"));
    let tls = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("agent.pem"),
        key: dir.join("agent.key"),
    };
    convoy_agent::enroll::enroll(EnrollOptions {
        coordinator: coordinator.url(),
        ca_fingerprint: created.ca_fingerprint,
        token: created.token,
        id: AgentId::new(id).unwrap(),
        tls: tls.clone(),
    })
    .await
    .expect("enroll");
    tls
}

/// A 12 s certificate renews at 2/3 of its life (by the coordinator's clock), the agent
/// reconnects with the new one and stays online past the first certificate's expiry, and
/// a command running across the renewal finishes and is reported.
#[tokio::test]
async fn a_short_lived_certificate_renews_over_the_session_without_losing_a_command() {
    let pki = TestPki::new();
    let coordinator = issuing(&pki, Duration::from_secs(12)).await;
    let tls = enrolled(&pki, &coordinator, "web-1").await;
    let first_serial = serial_of(&tls.cert);
    let first_key = std::fs::read(&tls.key).unwrap();

    let mut config = TestAgent::config(&pki, &coordinator.url(), "web-1", &[]);
    config.tls = tls.clone();
    config.actions = [
        ("slow".to_string(), sh("sleep 9; echo done")),
        ("quick".to_string(), sh("echo quick")),
    ]
    .into();
    let agent = TestAgent::start_with(config);
    let root = pki.operator("root", Role::Admin);
    let mut admin = coordinator.admin(&pki, &root).await;
    let first = wait_for("web-1 online", WAIT, || {
        let mut admin = admin.clone();
        async move {
            list(&mut admin, "")
                .await
                .into_iter()
                .find(|a| a.id == "web-1" && online(a))
        }
    })
    .await;
    let left = first.cert_not_after_unix_ms - now_unix_ms();
    assert!(
        (0..=12_000).contains(&left),
        "expires with the enrolled certificate: {left}"
    );

    // Runs across the renewal (due ~8 s after issuance).
    let job = admin
        .start_job(StartJobRequest {
            action: "slow".into(),
            ..Default::default()
        })
        .await
        .expect("start job")
        .into_inner();

    wait_for(
        "a renewed certificate on disk",
        Duration::from_secs(20),
        || {
            let changed = serial_of(&tls.cert) != first_serial;
            async move { changed.then_some(()) }
        },
    )
    .await;
    assert_ne!(
        std::fs::read(&tls.key).unwrap(),
        first_key,
        "a new key, made here"
    );
    // The agent reconnected with it: the coordinator sees the new certificate.
    let renewed = wait_for("web-1 online with the new certificate", WAIT, || {
        let mut admin = admin.clone();
        let old = first.cert_not_after_unix_ms;
        async move {
            list(&mut admin, "")
                .await
                .into_iter()
                .find(|a| a.id == "web-1" && online(a) && a.cert_not_after_unix_ms > old)
        }
    })
    .await;
    assert!(!renewed.cert_renewal_overdue);

    let job = finished(&admin, &job.id).await;
    assert_eq!(job.hosts.len(), 1);
    assert_eq!(
        job.hosts[0].state,
        CommandState::Succeeded as i32,
        "the command running across the renewal finished: {job:?}"
    );

    // Past the first certificate's expiry the agent is still served, with later ones.
    let wait = first.cert_not_after_unix_ms + 1_000 - now_unix_ms();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap())).await;
    }
    let quick = admin
        .start_job(StartJobRequest {
            action: "quick".into(),
            ..Default::default()
        })
        .await
        .expect("start job")
        .into_inner();
    let quick = finished(&admin, &quick.id).await;
    assert_eq!(quick.hosts[0].state, CommandState::Succeeded as i32);
    agent.stop().await;
    coordinator.stop().await;
}

/// Over a raw session with a real agent certificate: a CSR for another agent id or with a
/// CA flag is refused with a reason and issues nothing; a CSR for the session's own id is
/// certified for the key in it, by the issuing CA, for the configured lifetime.
#[tokio::test]
async fn a_renewal_for_another_identity_or_a_ca_is_refused() {
    let pki = TestPki::new();
    let coordinator = issuing(&pki, Duration::from_secs(120)).await;
    let certs = pki.agent("web-1");
    let channel = channel(&coordinator.url(), &pki.ca_cert(), Some(&certs))
        .await
        .expect("channel");
    let (tx, inbound) = raw_session(channel, hello("web-1")).await;
    let mut inbound = inbound.expect("session");
    let welcome = match inbound
        .message()
        .await
        .expect("welcome")
        .and_then(|m| m.body)
    {
        Some(coordinator_message::Body::Welcome(welcome)) => welcome,
        other => panic!("expected a welcome, got {other:?}"),
    };
    assert!(welcome.renew_in_ms > 0, "renewal is on with [ca]");

    let other = ask(&tx, &mut inbound, csr("web-2", false)).await;
    assert!(other.cert_pem.is_empty());
    assert!(
        other.error.contains("convoy://agent/web-1"),
        "{}",
        other.error
    );
    let ca = ask(&tx, &mut inbound, csr("web-1", true)).await;
    assert!(ca.cert_pem.is_empty());
    assert!(ca.error.contains("CA flag"), "{}", ca.error);
    let garbage = ask(&tx, &mut inbound, vec![0x30, 0x03, 0x02, 0x01, 0x00]).await;
    assert!(garbage.cert_pem.is_empty() && !garbage.error.is_empty());

    let good = ask(&tx, &mut inbound, csr("web-1", false)).await;
    assert!(good.error.is_empty(), "{}", good.error);
    let facts =
        convoy_coordinator::revocation::cert_facts(&leaf_der(good.cert_pem.as_bytes())).unwrap();
    assert_eq!(
        facts.identity,
        Identity::Agent(AgentId::new("web-1").unwrap())
    );
    let lifetime = facts.not_after_unix_ms - now_unix_ms();
    assert!((100_000..=120_000).contains(&lifetime), "{lifetime}");
    drop(tx);
    coordinator.stop().await;
}

/// Sends a renewal request and waits for its answer.
async fn ask(
    tx: &tokio::sync::mpsc::Sender<AgentMessage>,
    inbound: &mut tonic::Streaming<CoordinatorMessage>,
    csr_der: Vec<u8>,
) -> convoy_proto::v1::Renewed {
    tx.send(AgentMessage {
        body: Some(agent_message::Body::Renew(RenewRequest { csr_der })),
    })
    .await
    .expect("send");
    loop {
        match inbound.message().await.expect("stream").map(|m| m.body) {
            Some(Some(coordinator_message::Body::Renewed(renewed))) => return renewed,
            Some(_) => continue,
            None => panic!("stream closed"),
        }
    }
}

/// `convoy ca init --intermediate`: the coordinator issues from an intermediate while the
/// root stays offline; an enrolled agent's chain (leaf + intermediate) verifies against
/// the root the hosts trust, and renewal keeps working from the intermediate.
#[tokio::test]
async fn an_intermediate_issues_while_the_root_stays_offline() {
    let pki = TestPki::new();
    let issuing_dir = pki.dir().join("issuing");
    let (cert, key) =
        convoy_coordinator::pki::init_intermediate(pki.dir(), &issuing_dir, 30, false)
            .expect("intermediate");
    let coordinator = TestCoordinator::start_configured(&pki, move |config| {
        config.ca = Some(IssuingCa {
            cert,
            key,
            agent_cert_days: 30,
            agent_cert_lifetime: Some(Duration::from_secs(12)),
            enrolls_per_ip_per_minute: convoy_coordinator::enroll::ENROLLS_PER_IP,
        });
    })
    .await;
    let tls = enrolled(&pki, &coordinator, "mid-1").await;
    let chain = std::fs::read_to_string(&tls.cert).unwrap();
    assert_eq!(
        chain.matches("BEGIN CERTIFICATE").count(),
        2,
        "leaf + intermediate"
    );
    let first_serial = serial_of(&tls.cert);
    let mut config = TestAgent::config(&pki, &coordinator.url(), "mid-1", &[]);
    config.tls = tls.clone();
    let agent = TestAgent::start_with(config);
    let root = pki.operator("root", Role::Admin);
    let mut admin = coordinator.admin(&pki, &root).await;
    wait_for("mid-1 online", WAIT, || {
        let mut admin = admin.clone();
        async move {
            list(&mut admin, "")
                .await
                .iter()
                .any(|a| a.id == "mid-1" && online(a))
                .then_some(())
        }
    })
    .await;
    wait_for(
        "renewed from the intermediate",
        Duration::from_secs(20),
        || {
            let changed = serial_of(&tls.cert) != first_serial;
            async move { changed.then_some(()) }
        },
    )
    .await;
    wait_for("mid-1 online with the renewed certificate", WAIT, || {
        let mut admin = admin.clone();
        async move {
            list(&mut admin, "")
                .await
                .iter()
                .any(|a| {
                    a.id == "mid-1" && online(a) && a.cert_not_after_unix_ms > now_unix_ms() + 8_000
                })
                .then_some(())
        }
    })
    .await;
    let _ = &mut admin;
    agent.stop().await;
    coordinator.stop().await;
}
