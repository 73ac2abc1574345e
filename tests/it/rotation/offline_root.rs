//! CA rotation when the coordinator's `[ca]` is an intermediate and the root is offline:
//! the agents' new bundle is signed with the root key off the coordinator.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use convoy_coordinator::config::IssuingCa;
use convoy_proto::identity::Role;
use convoy_proto::v1::RotateCaRequest;
use convoy_proto::v1::certs_client::CertsClient;
use convoy_tests::{TestAgent, TestCoordinator, TestPki, channel, wait_for};

use super::{Operator, certificates, new_operator_cert, rotate, write_atomically};

/// With an intermediate issuing (`convoy ca init --intermediate`) the coordinator does not
/// hold the key of the root the agents trust: `start` alone is refused, and the bundle is
/// signed off the coordinator with the root key (`start --root-key`: `prepare`, sign,
/// `start` with the signature). A signature by another key is refused and changes nothing;
/// the agents take the root-signed bundle, and the rest of the rotation is signed by the
/// new CA, whose key the coordinator made.
#[tokio::test]
async fn with_an_offline_root_start_takes_a_bundle_signed_with_the_root_key() {
    let pki = TestPki::new();
    let inter_dir = pki.dir().join("intermediate");
    let (cert, key) =
        convoy_coordinator::pki::init_intermediate(pki.dir(), &inter_dir, 30, false).unwrap();
    let coordinator = TestCoordinator::start_configured(&pki, move |config| {
        config.ca = Some(IssuingCa {
            cert,
            key,
            agent_cert_days: 30,
            agent_cert_lifetime: None,
            enrolls_per_ip_per_minute: convoy_coordinator::enroll::ENROLLS_PER_IP,
        });
    })
    .await;
    let url = coordinator.url();
    let mut config = TestAgent::config(&pki, &url, "off-1", &[]);
    let trust = pki.dir().join("trust-off-1.pem");
    std::fs::copy(pki.ca_cert(), &trust).unwrap();
    config.tls.ca = trust.clone();
    let agent = TestAgent::start_with(config);
    let op_ca = pki.dir().join("operator-ca.pem");
    std::fs::copy(pki.ca_cert(), &op_ca).unwrap();
    let op = Arc::new(Mutex::new(Operator {
        ca: op_ca.clone(),
        certs: pki.operator("root", Role::Admin),
    }));
    wait_for("the agent online", Duration::from_secs(15), || {
        let (url, op) = (url.clone(), op.clone());
        async move { (rotate(&url, &op, "status").await.online_agents == 1).then_some(()) }
    })
    .await;
    let certs = |op: &Arc<Mutex<Operator>>| {
        let op = op.lock().unwrap().clone();
        let url = url.clone();
        async move {
            CertsClient::new(
                channel(&url, &op.ca, Some(&op.certs))
                    .await
                    .expect("channel"),
            )
        }
    };
    let refused = certs(&op)
        .await
        .rotate_ca(RotateCaRequest {
            action: "start".into(),
            ..Default::default()
        })
        .await
        .expect_err("start without the root key");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("--root-key"), "{refused:?}");

    let prepared = rotate(&url, &op, "prepare").await;
    assert_eq!(prepared.phase, "none", "prepare changes nothing");
    assert_eq!(certificates_in(&prepared.bundle_pem), 2);
    let root_key = pki.dir().join(convoy_coordinator::pki::CA_KEY_FILE);
    let foreign = pki.dir().join("foreign.key");
    std::fs::write(
        &foreign,
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap()
            .serialize_pem(),
    )
    .unwrap();
    let sign = |key: &std::path::Path| {
        convoy_coordinator::rotation::signing::sign_with_key_file(
            key,
            &prepared.bundle_pem,
            prepared.bundle_serial,
        )
        .unwrap()
    };
    let refused = certs(&op)
        .await
        .rotate_ca(RotateCaRequest {
            action: "start".into(),
            bundle_signature: sign(&foreign),
            bundle_serial: prepared.bundle_serial,
            ..Default::default()
        })
        .await
        .expect_err("a bundle signed by another key");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(rotate(&url, &op, "status").await.phase, "none");

    let started = certs(&op)
        .await
        .rotate_ca(RotateCaRequest {
            action: "start".into(),
            bundle_signature: sign(&root_key),
            bundle_serial: prepared.bundle_serial,
            ..Default::default()
        })
        .await
        .expect("start signed with the root key")
        .into_inner();
    assert_eq!(started.phase, "init");
    assert_eq!(started.bundle_pem, prepared.bundle_pem);
    write_atomically(&op_ca, &started.bundle_pem);
    wait_for(
        "the agent holds the two-CA bundle",
        Duration::from_secs(15),
        || {
            let n = certificates(&trust);
            async move { (n == 2).then_some(()) }
        },
    )
    .await;
    rotate(&url, &op, "advance").await;
    wait_for("the agent on the new CA", Duration::from_secs(15), || {
        let (url, op) = (url.clone(), op.clone());
        async move {
            let status = rotate(&url, &op, "status").await;
            (status.old_ca_agents.is_empty() && status.online_agents == 1).then_some(())
        }
    })
    .await;
    let status = rotate(&url, &op, "advance").await;
    op.lock().unwrap().certs = new_operator_cert(&pki, &status.new_ca_dir, "root");
    let done = rotate(&url, &op, "finish").await;
    assert_eq!(done.phase, "done");
    wait_for(
        "the agent trusts the new CA alone",
        Duration::from_secs(15),
        || {
            let n = certificates(&trust);
            async move { (n == 1).then_some(()) }
        },
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(&trust).unwrap().trim(),
        done.bundle_pem.trim()
    );
    agent.stop().await;
    coordinator.stop().await;
}

fn certificates_in(pem: &str) -> usize {
    pem.matches("BEGIN CERTIFICATE").count()
}
