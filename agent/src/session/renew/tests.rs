use std::os::unix::fs::PermissionsExt as _;

use super::*;

fn renewal(dir: &Path, id: &str) -> Renewal {
    let tls = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("agent.pem"),
        key: dir.join("agent.key"),
    };
    for path in [&tls.ca, &tls.cert, &tls.key] {
        std::fs::write(path, "old").unwrap();
    }
    Renewal::new(tls, AgentId::new(id).unwrap())
}

/// A certificate for the pending key (self-signed: only the checks here are under test).
fn cert_for_pending(renewal: &Renewal, id: &str) -> String {
    let pending = renewal.pending.lock().unwrap();
    let key = pending.as_ref().expect("a request is pending");
    let mut params = rcgen::CertificateParams::default();
    let uri = Identity::Agent(AgentId::new(id).unwrap()).uri();
    params.subject_alt_names = vec![rcgen::SanType::URI(uri.try_into().unwrap())];
    params.self_signed(key).unwrap().pem()
}

fn other_key_cert(id: &str) -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    let uri = Identity::Agent(AgentId::new(id).unwrap()).uri();
    params.subject_alt_names = vec![rcgen::SanType::URI(uri.try_into().unwrap())];
    params.self_signed(&key).unwrap().pem()
}

fn answer(cert_pem: String) -> Renewed {
    Renewed {
        cert_pem,
        ..Default::default()
    }
}

fn untouched(dir: &Path) {
    for name in ["agent.pem", "agent.key"] {
        assert_eq!(
            std::fs::read_to_string(dir.join(name)).unwrap(),
            "old",
            "{name}"
        );
    }
}

#[test]
fn a_certificate_for_our_key_and_id_replaces_the_files_with_a_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let renewal = renewal(dir.path(), "web-1");
    renewal.request().unwrap();
    let cert = cert_for_pending(&renewal, "web-1");
    renewal.accept(answer(cert.clone())).expect("accepted");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("agent.pem")).unwrap(),
        cert
    );
    let key = dir.path().join("agent.key");
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The key was used up: the same answer again is refused.
    assert!(renewal.accept(answer(cert)).is_err());
}

#[test]
fn another_identity_another_key_a_refusal_or_no_request_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let renewal = renewal(dir.path(), "web-1");
    // No request pending.
    assert!(renewal.accept(answer(other_key_cert("web-1"))).is_err());
    renewal.request().unwrap();
    let wrong_id = cert_for_pending(&renewal, "web-2");
    let err = renewal.accept(answer(wrong_id)).unwrap_err();
    assert!(err.contains("web-2"), "{err}");
    renewal.request().unwrap();
    let err = renewal.accept(answer(other_key_cert("web-1"))).unwrap_err();
    assert!(err.contains("does not certify"), "{err}");
    renewal.request().unwrap();
    let err = renewal
        .accept(Renewed {
            error: "agent web-1 is revoked".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.contains("revoked"), "{err}");
    untouched(dir.path());
}

#[test]
fn a_ca_bundle_is_written_only_when_it_holds_certificates_and_changed() {
    let dir = tempfile::tempdir().unwrap();
    let renewal = renewal(dir.path(), "web-1");
    assert!(renewal.trust("garbage").is_err());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(),
        "old"
    );
    let bundle = other_key_cert("web-1");
    assert!(renewal.trust(&bundle).unwrap());
    assert!(!renewal.trust(&bundle).unwrap(), "unchanged");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(),
        bundle
    );
}
