use std::os::unix::fs::PermissionsExt as _;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType, SigningKey as _};

use super::*;

/// A CA: its certificate (PEM) and an issuer for it.
struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> TestCa {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let pem = params.self_signed(&key).unwrap().pem();
    TestCa {
        pem,
        issuer: Issuer::new(params, key),
    }
}

impl TestCa {
    fn sign(&self, ca_pem: &str, serial: u64) -> TrustBundle {
        let der = convoy_proto::trust::certs(&self.pem).unwrap().remove(0);
        TrustBundle {
            ca_pem: ca_pem.into(),
            renew_now: false,
            signature: self
                .issuer
                .key()
                .sign(&convoy_proto::trust::signed_message(ca_pem, serial))
                .unwrap(),
            signer_fingerprint: convoy_proto::trust::fingerprint(&der),
            serial,
        }
    }
}

fn renewal(dir: &Path, id: &str, anchors: &str) -> Renewal {
    let tls = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("agent.pem"),
        key: dir.join("agent.key"),
    };
    for path in [&tls.cert, &tls.key] {
        std::fs::write(path, "old").unwrap();
    }
    std::fs::write(&tls.ca, anchors).unwrap();
    Renewal::new(tls, AgentId::new(id).unwrap())
}

/// A certificate by `ca` for `key` with `sans`, optionally a CA itself.
fn issue(ca: &TestCa, key: &KeyPair, sans: Vec<SanType>, is_ca: bool) -> String {
    let mut params = CertificateParams::default();
    params.subject_alt_names = sans;
    if is_ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    params.signed_by(key, &ca.issuer).unwrap().pem()
}

fn agent_san(id: &str) -> SanType {
    let uri = Identity::Agent(AgentId::new(id).unwrap()).uri();
    SanType::URI(uri.try_into().unwrap())
}

/// A certificate by `ca` for the pending key.
fn cert_for_pending(renewal: &Renewal, ca: &TestCa, sans: Vec<SanType>, is_ca: bool) -> String {
    let pending = renewal.pending.lock().unwrap();
    let key = pending.as_ref().expect("a request is pending");
    issue(ca, key, sans, is_ca)
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
    let fleet = ca("fleet");
    let renewal = renewal(dir.path(), "web-1", &fleet.pem);
    renewal.request().unwrap();
    let cert = cert_for_pending(&renewal, &fleet, vec![agent_san("web-1")], false);
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

/// Makes the answer to a pending renewal.
type MakeCert<'a> = Box<dyn Fn(&Renewal) -> String + 'a>;

#[test]
fn a_foreign_ca_another_identity_extra_names_a_ca_flag_another_key_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = ca("fleet");
    let foreign = ca("foreign");
    let renewal = renewal(dir.path(), "web-1", &fleet.pem);
    let other_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    // No request pending.
    let err = renewal
        .accept(answer(issue(
            &fleet,
            &other_key,
            vec![agent_san("web-1")],
            false,
        )))
        .unwrap_err()
        .to_string();
    assert!(err.contains("without a pending request"), "{err}");
    let cases: [(&str, MakeCert<'_>); 5] = [
        (
            "does not chain",
            Box::new(|r| cert_for_pending(r, &foreign, vec![agent_san("web-1")], false)),
        ),
        (
            "web-2",
            Box::new(|r| cert_for_pending(r, &fleet, vec![agent_san("web-2")], false)),
        ),
        (
            "not exactly this agent",
            Box::new(|r| {
                let extra = SanType::DnsName("evil.example".try_into().unwrap());
                cert_for_pending(r, &fleet, vec![agent_san("web-1"), extra], false)
            }),
        ),
        (
            "is a CA",
            Box::new(|r| cert_for_pending(r, &fleet, vec![agent_san("web-1")], true)),
        ),
        (
            "does not certify",
            Box::new(|_| issue(&fleet, &other_key, vec![agent_san("web-1")], false)),
        ),
    ];
    for (why, make) in cases {
        renewal.request().unwrap();
        let err = renewal
            .accept(answer(make(&renewal)))
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{why}: {err}");
        untouched(dir.path());
    }
    renewal.request().unwrap();
    let err = renewal
        .accept(Renewed {
            error: "agent web-1 is revoked".into(),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("revoked"), "{err}");
    untouched(dir.path());
}

#[test]
fn a_bundle_is_written_only_signed_by_a_current_anchor_and_not_older_than_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let old = ca("old");
    let new = ca("new");
    let foreign = ca("foreign");
    let renewal = renewal(dir.path(), "web-1", &old.pem);
    let ca_file = || std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
    let both = format!("{}{}", old.pem, new.pem);

    let unsigned = TrustBundle {
        ca_pem: both.clone(),
        ..Default::default()
    };
    assert!(
        renewal
            .trust(&unsigned)
            .unwrap_err()
            .to_string()
            .contains("not signed")
    );
    let err = renewal
        .trust(&foreign.sign(&both, 5))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a CA this agent trusts"), "{err}");
    // Signed by a CA that is only in the bundle itself.
    let err = renewal.trust(&new.sign(&both, 5)).unwrap_err().to_string();
    assert!(err.contains("not a CA this agent trusts"), "{err}");
    let mut forged = old.sign(&both, 5);
    forged.serial = 6;
    assert!(
        renewal
            .trust(&forged)
            .unwrap_err()
            .to_string()
            .contains("does not verify")
    );
    assert!(renewal.trust(&old.sign("garbage", 5)).is_err());
    assert_eq!(ca_file(), old.pem);

    assert!(renewal.trust(&old.sign(&both, 10)).unwrap());
    assert_eq!(ca_file(), both);
    assert!(!renewal.trust(&old.sign(&both, 10)).unwrap(), "unchanged");
    // Finish: the new CA alone, signed by the old one (still trusted).
    assert!(renewal.trust(&old.sign(&new.pem, 20)).unwrap());
    assert_eq!(ca_file(), new.pem);
    // A replay of the older bundle, signed by a key no longer trusted, and one by the new
    // key with an older serial: both refused.
    assert!(renewal.trust(&old.sign(&both, 10)).is_err());
    let err = renewal.trust(&new.sign(&both, 15)).unwrap_err().to_string();
    assert!(err.contains("replay"), "{err}");
    assert_eq!(ca_file(), new.pem);
    // The bundle in force again, signed by the CA it dropped (every Welcome after a
    // rotation): nothing changes, nothing to refuse.
    assert!(!renewal.trust(&old.sign(&new.pem, 20)).unwrap());
}
