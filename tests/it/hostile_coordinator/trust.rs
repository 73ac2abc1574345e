//! A compromised coordinator tries to re-root the agent's trust (issue 14): it pushes CA
//! bundles (unsigned, signed by a key of its own, an older bundle replayed) and answers
//! renewals with certificates of its own making (a foreign CA, an extra name, a CA flag,
//! another agent's id), or answers an enrollment with a CA bundle that lacks the CA the
//! host pinned. The agent's CA file and identity files stay as they were (or are not
//! written at all), and it still connects to the real coordinator.

use std::time::Duration;

use convoy_proto::identity::Role;
use convoy_proto::v1::{
    CoordinatorMessage, Renewed, RunAction, TrustBundle, command, coordinator_message,
};
use convoy_tests::hostile::coordinator::HostileCoordinator;
use convoy_tests::{TestAgent, TestCoordinator, TestPki, channel, wait_for};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, IsCa, Issuer, KeyPair,
    SanType, SigningKey as _,
};

use super::WAIT;

/// A CA of the attacker's own.
fn foreign_ca() -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Convoy fleet CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let pem = params.self_signed(&key).unwrap().pem();
    (pem, Issuer::new(params, key))
}

/// The fleet CA of `pki`, as an issuer (what only the real CA's key holder can do).
fn fleet_issuer(pki: &TestPki) -> Issuer<'static, KeyPair> {
    let key =
        std::fs::read_to_string(pki.dir().join(convoy_coordinator::pki::CA_KEY_FILE)).unwrap();
    let cert = std::fs::read_to_string(pki.ca_cert()).unwrap();
    Issuer::from_ca_cert_pem(&cert, KeyPair::from_pem(&key).unwrap()).unwrap()
}

/// A bundle signed by `issuer`'s key, naming `signer_pem` as the signer.
fn signed(
    ca_pem: &str,
    serial: u64,
    issuer: &Issuer<'_, KeyPair>,
    signer_pem: &str,
) -> TrustBundle {
    let der = convoy_proto::trust::certs(signer_pem).unwrap().remove(0);
    TrustBundle {
        ca_pem: ca_pem.into(),
        renew_now: false,
        signature: issuer
            .key()
            .sign(&convoy_proto::trust::signed_message(ca_pem, serial))
            .unwrap(),
        signer_fingerprint: convoy_proto::trust::fingerprint(&der),
        serial,
    }
}

fn trust(bundle: TrustBundle) -> CoordinatorMessage {
    CoordinatorMessage {
        body: Some(coordinator_message::Body::Trust(bundle)),
    }
}

/// Sends a command the agent rejects at once and waits for its answer: everything sent
/// before it has been handled.
async fn sync(hostile: &HostileCoordinator, n: &mut u32) {
    *n += 1;
    let command_id = format!("sync-{n}");
    hostile
        .send_command(convoy_proto::v1::Command {
            command_id: command_id.clone(),
            job_id: "sync".into(),
            output_cap_bytes: 1024,
            issued_unix_ms: 0,
            action: Some(command::Action::Run(RunAction {
                name: "no-such-action".into(),
                ..Default::default()
            })),
        })
        .await;
    hostile.finished(&command_id, WAIT).await;
}

/// Starts the real coordinator on the same PKI, points the agent at it, and waits until it
/// is online there.
async fn connects_to_the_real_coordinator(pki: &TestPki, mut config: convoy_agent::Config) {
    let coordinator = TestCoordinator::start(pki).await;
    config.coordinator = coordinator.url();
    let id = config
        .data_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("agent-")
        .to_string();
    let agent = TestAgent::start_with(config);
    let admin = convoy_proto::v1::admin_client::AdminClient::new(
        channel(
            &coordinator.url(),
            &pki.ca_cert(),
            Some(&pki.operator("root", Role::Admin)),
        )
        .await
        .expect("admin channel"),
    );
    wait_for(
        "the agent online at the real coordinator",
        Duration::from_secs(20),
        || {
            let (mut admin, id) = (admin.clone(), id.clone());
            async move {
                crate::support::list(&mut admin, "")
                    .await
                    .iter()
                    .any(|a| a.id == id && crate::support::online(a))
                    .then_some(())
            }
        },
    )
    .await;
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn unsigned_foreign_signed_or_replayed_bundles_leave_the_agents_trust_unchanged() {
    let pki = TestPki::new();
    let hostile = HostileCoordinator::start(&pki).await;
    let mut config = TestAgent::config(&pki, &hostile.url(), "web-1", &[]);
    let ca_file = pki.dir().join("trust-web-1.pem");
    std::fs::copy(pki.ca_cert(), &ca_file).unwrap();
    config.tls.ca = ca_file.clone();
    let agent = TestAgent::start_with(config.clone());
    hostile.wait_hello(WAIT).await;
    let fleet_pem = std::fs::read_to_string(pki.ca_cert()).unwrap();
    let fleet = fleet_issuer(&pki);
    let (evil_pem, evil) = foreign_ca();
    let with_evil = format!("{fleet_pem}{evil_pem}");
    let mut n = 0;
    let unchanged = |what: &str| {
        assert_eq!(
            std::fs::read_to_string(&ca_file).unwrap(),
            fleet_pem,
            "{what}: the agent's CA file changed"
        );
    };

    // A legitimate bundle (the fleet CA alone, serial 200) is taken: the serial is recorded.
    hostile
        .send(trust(signed(&fleet_pem, 200, &fleet, &fleet_pem)))
        .await;
    sync(&hostile, &mut n).await;
    unchanged("the fleet's own bundle");

    let unsigned = TrustBundle {
        ca_pem: with_evil.clone(),
        ..Default::default()
    };
    hostile.send(trust(unsigned)).await;
    sync(&hostile, &mut n).await;
    unchanged("an unsigned bundle");

    // Signed by the attacker's key, naming the attacker's CA (not trusted now) or the
    // fleet CA (whose key did not sign it) as the signer.
    hostile
        .send(trust(signed(&with_evil, 300, &evil, &evil_pem)))
        .await;
    hostile
        .send(trust(signed(&with_evil, 300, &evil, &fleet_pem)))
        .await;
    sync(&hostile, &mut n).await;
    unchanged("a bundle signed by a foreign key");

    // An older bundle the real CA once signed (serial 100 < 200), replayed.
    hostile
        .send(trust(signed(&with_evil, 100, &fleet, &fleet_pem)))
        .await;
    sync(&hostile, &mut n).await;
    unchanged("a replayed older bundle");

    agent.stop().await;
    hostile.stop().await;
    assert!(
        !std::fs::read_to_string(&ca_file)
            .unwrap()
            .contains(evil_pem.trim()),
        "the attacker's CA is not trusted"
    );
    connects_to_the_real_coordinator(&pki, config).await;
}

/// Asks the agent to renew, answers with `make(csr)` and checks the identity files did not
/// change.
async fn renewal_refused(
    hostile: &HostileCoordinator,
    config: &convoy_agent::Config,
    (asked, n): (&mut usize, &mut u32),
    what: &str,
    make: impl FnOnce(CertificateSigningRequestParams) -> String,
) {
    let before = (
        std::fs::read(&config.tls.cert).unwrap(),
        std::fs::read(&config.tls.key).unwrap(),
    );
    hostile
        .send(trust(TrustBundle {
            renew_now: true,
            ..Default::default()
        }))
        .await;
    *asked += 1;
    let request = hostile.wait_renewal(*asked, WAIT).await;
    let csr = CertificateSigningRequestParams::from_der(&request.csr_der.into()).unwrap();
    let cert_pem = make(csr);
    hostile
        .send(CoordinatorMessage {
            body: Some(coordinator_message::Body::Renewed(Renewed {
                cert_pem,
                ..Default::default()
            })),
        })
        .await;
    sync(hostile, n).await;
    let after = (
        std::fs::read(&config.tls.cert).unwrap(),
        std::fs::read(&config.tls.key).unwrap(),
    );
    assert!(
        before == after,
        "{what}: the agent's certificate or key changed"
    );
}

fn agent_san(id: &str) -> SanType {
    let uri =
        convoy_proto::identity::Identity::Agent(convoy_proto::identity::AgentId::new(id).unwrap())
            .uri();
    SanType::URI(uri.try_into().unwrap())
}

#[tokio::test]
async fn renewed_certificates_of_a_foreign_ca_extra_names_a_ca_flag_or_another_id_are_refused() {
    let pki = TestPki::new();
    let hostile = HostileCoordinator::start(&pki).await;
    let config = TestAgent::config(&pki, &hostile.url(), "web-1", &[]);
    let agent = TestAgent::start_with(config.clone());
    hostile.wait_hello(WAIT).await;
    let fleet = fleet_issuer(&pki);
    let (_, evil) = foreign_ca();
    let (mut asked, mut n) = (0, 0);
    let sign = |csr: CertificateSigningRequestParams, issuer: &Issuer<'_, KeyPair>| {
        csr.signed_by(issuer).unwrap().pem()
    };

    renewal_refused(
        &hostile,
        &config,
        (&mut asked, &mut n),
        "a foreign CA",
        |csr| sign(csr, &evil),
    )
    .await;
    renewal_refused(
        &hostile,
        &config,
        (&mut asked, &mut n),
        "an extra SAN",
        |mut csr| {
            csr.params
                .subject_alt_names
                .push(SanType::DnsName("evil.example".try_into().unwrap()));
            sign(csr, &fleet)
        },
    )
    .await;
    renewal_refused(
        &hostile,
        &config,
        (&mut asked, &mut n),
        "CA:true",
        |mut csr| {
            csr.params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            sign(csr, &fleet)
        },
    )
    .await;
    renewal_refused(
        &hostile,
        &config,
        (&mut asked, &mut n),
        "another agent id",
        |mut csr| {
            csr.params.subject_alt_names = vec![agent_san("db-1")];
            sign(csr, &fleet)
        },
    )
    .await;
    agent.stop().await;
    hostile.stop().await;
    connects_to_the_real_coordinator(&pki, config).await;
}

/// An enrollment endpoint with the real server certificate (so the host's pin on the fleet
/// CA holds) that answers with a CA bundle of the attacker's own.
struct EvilEnrollment {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

#[tonic::async_trait]
impl convoy_proto::v1::enrollment_server::Enrollment for EvilEnrollment {
    async fn enroll(
        &self,
        request: tonic::Request<convoy_proto::v1::EnrollRequest>,
    ) -> Result<tonic::Response<convoy_proto::v1::EnrollResponse>, tonic::Status> {
        let csr = CertificateSigningRequestParams::from_der(&request.into_inner().csr_der.into())
            .map_err(|err| tonic::Status::invalid_argument(err.to_string()))?;
        Ok(tonic::Response::new(convoy_proto::v1::EnrollResponse {
            cert_pem: csr.signed_by(&self.issuer).unwrap().pem(),
            ca_pem: self.ca_pem.clone(),
            ..Default::default()
        }))
    }
}

#[tokio::test]
async fn an_enrollment_answer_without_the_pinned_ca_writes_nothing() {
    let pki = TestPki::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = convoy_coordinator::grpc::listener::server_config_revoking(
        &pki.ca_cert(),
        &pki.dir().join("coordinator.pem"),
        &pki.dir().join("coordinator.key"),
        None,
        true,
    )
    .unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let incoming = convoy_coordinator::grpc::listener::incoming(
        listener,
        tls,
        convoy_coordinator::config::HandshakeLimits::default(),
        shutdown.clone(),
        tokio_util::task::TaskTracker::new(),
    );
    let (evil_pem, evil) = foreign_ca();
    let service = convoy_proto::v1::enrollment_server::EnrollmentServer::new(EvilEnrollment {
        ca_pem: evil_pem,
        issuer: evil,
    });
    let server = tokio::spawn({
        let stop = shutdown.clone();
        async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
                .await;
        }
    });
    let fleet_der = convoy_proto::trust::certs(&std::fs::read_to_string(pki.ca_cert()).unwrap())
        .unwrap()
        .remove(0);
    let host = pki.dir().join("host-new");
    let tls_files = convoy_agent::config::TlsFiles {
        ca: host.join("ca.pem"),
        cert: host.join("agent.pem"),
        key: host.join("agent.key"),
    };
    let err = convoy_agent::enroll::enroll(convoy_agent::enroll::EnrollOptions {
        coordinator: format!("https://{addr}"),
        ca_fingerprint: convoy_proto::trust::fingerprint(&fleet_der),
        token: "cvt1.whatever".into(),
        id: convoy_proto::identity::AgentId::new("web-9").unwrap(),
        tls: tls_files.clone(),
    })
    .await
    .expect_err("a bundle without the pinned CA");
    assert!(err.to_string().contains("pinned"), "{err}");
    for path in [&tls_files.ca, &tls_files.cert, &tls_files.key] {
        assert!(!path.exists(), "{} was written", path.display());
    }
    shutdown.cancel();
    let _ = server.await;
}
