//! Enrollment by one-time token (issue 14): a host with nothing but the CA fingerprint and
//! a token gets a certificate for a key it made itself; every bad token, id or CSR is
//! refused and issues nothing; the token's labels win; a certificate-less client may call
//! Enroll and nothing else; a token flood is rate limited.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use convoy_agent::enroll::{EnrollError, EnrollOptions, enroll};
use convoy_coordinator::config::IssuingCa;
use convoy_proto::identity::{AgentId, Role};
use convoy_proto::v1::certs_client::CertsClient;
use convoy_proto::v1::enrollment_client::EnrollmentClient;
use convoy_proto::v1::{
    CreateTokenRequest, EnrollRequest, ListAgentsRequest, ListCertsRequest, ListTokensRequest,
    RevokeRequest, RevokeTokenRequest, TokenInfo, WhoAmIRequest,
};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, channel, wait_for};
use tonic::Code;
use tonic::transport::Channel;

use crate::support::{WAIT, hello, list, raw_session};

async fn enrolling(pki: &TestPki) -> TestCoordinator {
    let key = pki.dir().join(convoy_coordinator::pki::CA_KEY_FILE);
    let cert = pki.ca_cert();
    TestCoordinator::start_configured(pki, move |config| {
        config.ca = Some(IssuingCa {
            cert,
            key,
            agent_cert_days: 30,
            agent_cert_lifetime: None,
            enrolls_per_ip_per_minute: convoy_coordinator::enroll::ENROLLS_PER_IP,
        });
    })
    .await
}

async fn certs_api(coordinator: &TestCoordinator, pki: &TestPki) -> CertsClient<Channel> {
    let root = pki.operator("root", Role::Admin);
    CertsClient::new(
        channel(&coordinator.url(), &pki.ca_cert(), Some(&root))
            .await
            .expect("channel"),
    )
}

/// A token and the CA fingerprint.
async fn token(
    api: &mut CertsClient<Channel>,
    labels: &[(&str, &str)],
    uses: u32,
    pattern: &str,
) -> (String, String) {
    let created = api
        .create_token(CreateTokenRequest {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            ttl_ms: 30 * 60 * 1000,
            uses,
            id_pattern: pattern.into(),
        })
        .await
        .expect("create token")
        .into_inner();
    (created.token, created.ca_fingerprint)
}

async fn token_info(api: &mut CertsClient<Channel>, token: &str) -> TokenInfo {
    let id = token.split('.').nth(1).expect("token id");
    api.list_tokens(ListTokensRequest {})
        .await
        .expect("list tokens")
        .into_inner()
        .tokens
        .into_iter()
        .find(|t| t.id == id)
        .expect("token listed")
}

fn options(pki: &TestPki, url: &str, fingerprint: &str, token: &str, id: &str) -> EnrollOptions {
    let dir: PathBuf = pki.dir().join(format!("host-{id}"));
    EnrollOptions {
        coordinator: url.into(),
        ca_fingerprint: fingerprint.into(),
        token: token.into(),
        id: AgentId::new(id).expect("id"),
        tls: convoy_agent::config::TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("agent.pem"),
            key: dir.join("agent.key"),
        },
    }
}

fn refused(
    result: Result<convoy_agent::enroll::Enrolled, EnrollError>,
    words: &str,
    opts: &EnrollOptions,
) {
    match result {
        Err(EnrollError::Refused(message)) => {
            assert!(message.contains(words), "expected {words:?} in {message:?}")
        }
        other => panic!("expected a refusal ({words}), got {other:?}"),
    }
    assert!(
        !opts.tls.key.exists() && !opts.tls.cert.exists(),
        "nothing is written on refusal"
    );
}

#[tokio::test]
async fn a_host_enrolls_with_a_token_and_the_tokens_labels_win() {
    let pki = TestPki::new();
    let coordinator = enrolling(&pki).await;
    let mut api = certs_api(&coordinator, &pki).await;
    let (token, fingerprint) = token(&mut api, &[("role", "web"), ("zone", "a")], 2, "web-*").await;
    assert!(fingerprint.starts_with("sha256:"), "{fingerprint}");

    let opts = options(&pki, &coordinator.url(), &fingerprint, &token, "web-7");
    let enrolled = enroll(opts.clone()).await.expect("enroll");
    assert_eq!(enrolled.labels.get("role").map(String::as_str), Some("web"));
    let mode = std::fs::metadata(&opts.tls.key)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the key is private from the start");
    let lifetime = enrolled.not_after_unix_ms - convoy_coordinator::clock::now_unix_ms();
    assert!(
        lifetime > 29 * 86_400_000 && lifetime <= 30 * 86_400_000,
        "{lifetime}"
    );

    // The host claims other values for the granted keys: the token's win.
    let mut config = TestAgent::config(
        &pki,
        &coordinator.url(),
        "web-7",
        &[("role", "db"), ("extra", "x")],
    );
    config.tls = opts.tls.clone();
    let agent = TestAgent::start_with(config);
    let root = pki.operator("root", Role::Admin);
    let mut admin = coordinator.admin(&pki, &root).await;
    let labels = wait_for("web-7 online", WAIT, || {
        let mut admin = admin.clone();
        async move {
            list(&mut admin, "")
                .await
                .into_iter()
                .find(|a| a.id == "web-7" && crate::support::online(a))
                .map(|a| a.labels)
        }
    })
    .await;
    let expected: BTreeMap<String, String> = [("extra", "x"), ("role", "web"), ("zone", "a")]
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    assert_eq!(labels, expected);
    assert_eq!(list(&mut admin, "role=web").await.len(), 1);

    let info = token_info(&mut api, &token).await;
    assert_eq!(
        (info.used, info.enrolled.clone()),
        (1, vec!["web-7".to_string()])
    );
    // An id held by a live agent cannot be enrolled again, even with uses left.
    let again = options(&pki, &coordinator.url(), &fingerprint, &token, "web-7");
    let again = EnrollOptions {
        tls: convoy_agent::config::TlsFiles {
            ca: pki.dir().join("again-ca.pem"),
            cert: pki.dir().join("again.pem"),
            key: pki.dir().join("again.key"),
        },
        ..again
    };
    refused(enroll(again.clone()).await, "is online", &again);
    assert_eq!(token_info(&mut api, &token).await.used, 1);
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn every_bad_token_id_or_fingerprint_is_refused_and_nothing_is_issued() {
    let pki = TestPki::new();
    let coordinator = enrolling(&pki).await;
    let url = coordinator.url();
    let mut api = certs_api(&coordinator, &pki).await;
    let (good, fingerprint) = token(&mut api, &[], 1, "web-*").await;

    let case = |token: &str, id: &str| options(&pki, &url, &fingerprint, token, id);
    let opts = case("garbage", "web-1");
    refused(enroll(opts.clone()).await, "malformed token", &opts);
    let id = good.split('.').nth(1).unwrap();
    let wrong_secret = format!("cvt1.{id}.{}", "0".repeat(64));
    let opts = case(&wrong_secret, "web-1");
    refused(enroll(opts.clone()).await, "unknown token", &opts);
    let unknown = format!("cvt1.{}.{}", "1".repeat(16), "2".repeat(64));
    let opts = case(&unknown, "web-1");
    refused(enroll(opts.clone()).await, "unknown token", &opts);
    let opts = case(&good, "db-1");
    refused(enroll(opts.clone()).await, "pattern", &opts);
    assert_eq!(
        token_info(&mut api, &good).await.used,
        0,
        "refusals use nothing"
    );

    // A revoked agent id cannot be enrolled again.
    api.revoke(RevokeRequest {
        target: Some(convoy_proto::v1::revoke_request::Target::AgentId(
            "web-9".into(),
        )),
        reason: String::new(),
    })
    .await
    .expect("revoke");
    let opts = case(&good, "web-9");
    refused(enroll(opts.clone()).await, "revoked", &opts);

    // The wrong fingerprint: nothing is sent at all.
    let mut opts = case(&good, "web-1");
    opts.ca_fingerprint = format!("sha256:{}", "ab".repeat(32));
    match enroll(opts.clone()).await {
        Err(EnrollError::FingerprintMismatch(_)) => {}
        other => panic!("expected a fingerprint mismatch, got {other:?}"),
    }
    assert_eq!(token_info(&mut api, &good).await.used, 0);

    // One use: the first enrollment takes it, the second is refused.
    enroll(case(&good, "web-1")).await.expect("first use");
    let opts = case(&good, "web-2");
    refused(enroll(opts.clone()).await, "no uses left", &opts);

    // Expired and revoked tokens.
    let expiring = api
        .create_token(CreateTokenRequest {
            ttl_ms: 1,
            uses: 5,
            ..Default::default()
        })
        .await
        .expect("token")
        .into_inner()
        .token;
    let opts = case(&expiring, "web-3");
    refused(enroll(opts.clone()).await, "expired", &opts);
    let (revoked, _) = token(&mut api, &[], 5, "").await;
    api.revoke_token(RevokeTokenRequest {
        id: revoked.split('.').nth(1).unwrap().into(),
    })
    .await
    .expect("revoke token");
    let opts = case(&revoked, "web-4");
    refused(enroll(opts.clone()).await, "revoked", &opts);

    // Bad token requests change nothing either.
    for (request, why) in [
        (
            CreateTokenRequest {
                ttl_ms: 0,
                uses: 1,
                ..Default::default()
            },
            "zero ttl",
        ),
        (
            CreateTokenRequest {
                ttl_ms: 1000,
                uses: 0,
                ..Default::default()
            },
            "zero uses",
        ),
        (
            CreateTokenRequest {
                ttl_ms: 1000,
                uses: 1,
                id_pattern: "../*".into(),
                ..Default::default()
            },
            "bad pattern",
        ),
    ] {
        let status = api.create_token(request).await.expect_err(why);
        assert_eq!(status.code(), Code::InvalidArgument, "{why}: {status:?}");
    }
    coordinator.stop().await;
}

/// A CSR for `key` with the given SANs and CA flag.
pub fn csr(sans: Vec<rcgen::SanType>, ca: bool) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = sans;
    if ca {
        // rcgen will not put a CA flag in a request; a hostile host would: basicConstraints
        // (2.5.29.19), critical, SEQUENCE { BOOLEAN TRUE }.
        let mut ext = rcgen::CustomExtension::from_oid_content(
            &[2, 5, 29, 19],
            vec![0x30, 0x03, 0x01, 0x01, 0xff],
        );
        ext.set_criticality(true);
        params.custom_extensions = vec![ext];
    }
    params.serialize_request(&key).unwrap().der().to_vec()
}

pub fn uri(text: &str) -> rcgen::SanType {
    rcgen::SanType::URI(text.try_into().unwrap())
}

#[tokio::test]
async fn hostile_csrs_are_refused_and_use_nothing() {
    let pki = TestPki::new();
    let coordinator = enrolling(&pki).await;
    let mut api = certs_api(&coordinator, &pki).await;
    let (token, _) = token(&mut api, &[], 1, "").await;
    let anonymous = channel(&coordinator.url(), &pki.ca_cert(), None)
        .await
        .expect("a certificate-less client connects when enrollment is on");
    let mut client = EnrollmentClient::new(anonymous);
    let cases = [
        (
            csr(
                vec![
                    uri("convoy://agent/web-1"),
                    rcgen::SanType::DnsName("evil.example".try_into().unwrap()),
                ],
                false,
            ),
            "extra SAN",
        ),
        (
            csr(vec![uri("convoy://operator/admin/mallory")], false),
            "operator identity",
        ),
        (
            csr(vec![uri("convoy://agent/web-2")], false),
            "another agent's id",
        ),
        (csr(vec![uri("convoy://agent/web-1")], true), "CA:true"),
        (b"not a csr".to_vec(), "garbage"),
        (vec![0u8; 5000], "oversized"),
    ];
    for (csr_der, why) in cases {
        let status = client
            .enroll(EnrollRequest {
                token: token.clone(),
                agent_id: "web-1".into(),
                csr_der,
            })
            .await
            .expect_err(why);
        assert_eq!(status.code(), Code::InvalidArgument, "{why}: {status:?}");
    }
    assert_eq!(token_info(&mut api, &token).await.used, 0);
    let issued = client
        .enroll(EnrollRequest {
            token: token.clone(),
            agent_id: "web-1".into(),
            csr_der: csr(vec![uri("convoy://agent/web-1")], false),
        })
        .await
        .expect("a clean CSR is signed")
        .into_inner();
    let identity = convoy_proto::identity::Identity::from_cert_pem(issued.cert_pem.as_bytes())
        .expect("identity");
    assert_eq!(identity.to_string(), "agent web-1");
    coordinator.stop().await;
}

#[tokio::test]
async fn a_client_without_a_certificate_may_call_enroll_and_nothing_else() {
    let pki = TestPki::new();
    let coordinator = enrolling(&pki).await;
    let anonymous = channel(&coordinator.url(), &pki.ca_cert(), None)
        .await
        .expect("connects");
    let mut admin = convoy_proto::v1::admin_client::AdminClient::new(anonymous.clone());
    let status = admin
        .list_agents(ListAgentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = admin.who_am_i(WhoAmIRequest {}).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = CertsClient::new(anonymous.clone())
        .list_certs(ListCertsRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = CertsClient::new(anonymous.clone())
        .create_token(CreateTokenRequest {
            ttl_ms: 1000,
            uses: 1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = convoy_proto::v1::rollouts_client::RolloutsClient::new(anonymous.clone())
        .list_rollouts(convoy_proto::v1::ListRolloutsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = convoy_proto::v1::backups_client::BackupsClient::new(anonymous.clone())
        .list_backups(convoy_proto::v1::ListBackupsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = match raw_session(anonymous.clone(), hello("web-1")).await.1 {
        Err(status) => status,
        Ok(mut stream) => stream.message().await.expect_err("refused"),
    };
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let root = pki.operator("root", Role::Admin);
    let mut admin = coordinator.admin(&pki, &root).await;
    assert!(
        list(&mut admin, "").await.is_empty(),
        "no session was registered"
    );
    coordinator.stop().await;
}

#[tokio::test]
async fn a_token_flood_from_one_address_is_rate_limited_and_audited() {
    let pki = TestPki::new();
    let coordinator = enrolling(&pki).await;
    let mut api = certs_api(&coordinator, &pki).await;
    let (good, _) = token(&mut api, &[], 1, "").await;
    let anonymous = channel(&coordinator.url(), &pki.ca_cert(), None)
        .await
        .expect("connects");
    let mut client = EnrollmentClient::new(anonymous);
    let mut limited = 0;
    for i in 0..40 {
        let status = client
            .enroll(EnrollRequest {
                token: format!("cvt1.{:016x}.{}", i, "3".repeat(64)),
                agent_id: format!("web-{i}"),
                csr_der: csr(vec![uri(&format!("convoy://agent/web-{i}"))], false),
            })
            .await
            .expect_err("a guessed token never works");
        match status.code() {
            Code::PermissionDenied => assert_eq!(limited, 0, "refused after the limit began"),
            Code::ResourceExhausted => limited += 1,
            other => panic!("unexpected {other:?}: {status:?}"),
        }
    }
    assert_eq!(limited, 40 - convoy_coordinator::enroll::ENROLLS_PER_IP);
    // Even the right token waits out the window.
    let status = client
        .enroll(EnrollRequest {
            token: good.clone(),
            agent_id: "web-1".into(),
            csr_der: csr(vec![uri("convoy://agent/web-1")], false),
        })
        .await
        .expect_err("rate limited");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(token_info(&mut api, &good).await.used, 0);
    let root = pki.operator("root", Role::Admin);
    let mut admin = coordinator.admin(&pki, &root).await;
    let audit = admin
        .list_audit(convoy_proto::v1::ListAuditRequest::default())
        .await
        .expect("audit")
        .into_inner();
    assert!(
        audit
            .entries
            .iter()
            .any(|e| e.call == "Enroll" && !e.ok && e.operator.starts_with("enroll@127.0.0.1")),
        "{:?}",
        audit.entries
    );
    assert!(
        audit
            .entries
            .iter()
            .all(|e| !e.request.contains("3333333333") && !e.outcome.contains("3333333333")),
        "no token secret in the audit log"
    );
    coordinator.stop().await;
}

#[tokio::test]
async fn without_a_ca_enrollment_is_off_and_says_so() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut api = certs_api(&coordinator, &pki).await;
    let status = api
        .create_token(CreateTokenRequest {
            ttl_ms: 1000,
            uses: 1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("[ca]"), "{status:?}");
    coordinator.stop().await;
}
