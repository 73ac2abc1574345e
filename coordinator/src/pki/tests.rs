use super::*;
use convoy_proto::identity::{AgentId, Role};

#[test]
fn issued_certificates_carry_their_identity() {
    let (ca, _) = Ca::generate("test", Validity::days(1).unwrap()).unwrap();
    let identities = [
        Identity::Agent(AgentId::new("web-1").unwrap()),
        Identity::Operator {
            name: "alice".into(),
            role: Role::Viewer,
        },
        Identity::Server("coordinator".into()),
    ];
    for identity in identities {
        let issued = ca
            .issue(
                &identity,
                &["127.0.0.1".into(), "localhost".into()],
                Validity::days(1).unwrap(),
            )
            .unwrap();
        assert_eq!(
            Identity::from_cert_pem(issued.cert_pem.as_bytes()).unwrap(),
            identity
        );
        assert!(!issued.cert_pem.contains("PRIVATE KEY"));
    }
}

#[test]
fn ca_round_trips_through_files_with_private_keys_0600() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = init_ca(dir.path(), 30, false).unwrap();
    let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(cert.exists());
    let ca = Ca::load(dir.path()).unwrap();
    let identity = Identity::Agent(AgentId::new("db-1").unwrap());
    let (pem, key) = issue_to_dir(&ca, &identity, "db-1", &[], 10, dir.path(), false).unwrap();
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = fs::read(&pem).unwrap();
    assert_eq!(Identity::from_cert_pem(&text).unwrap(), identity);
}

#[test]
fn refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    init_ca(dir.path(), 30, false).unwrap();
    let before = fs::read_to_string(dir.path().join(CA_KEY_FILE)).unwrap();
    let err = init_ca(dir.path(), 30, false).unwrap_err();
    assert!(matches!(err, PkiError::Exists(_)), "{err}");
    assert_eq!(
        before,
        fs::read_to_string(dir.path().join(CA_KEY_FILE)).unwrap()
    );
    init_ca(dir.path(), 30, true).unwrap();
    assert_ne!(
        before,
        fs::read_to_string(dir.path().join(CA_KEY_FILE)).unwrap()
    );
}

#[test]
fn bad_sans_and_validity_are_refused() {
    let (ca, _) = Ca::generate("test", Validity::days(1).unwrap()).unwrap();
    let server = Identity::Server("coordinator".into());
    for bad in ["", "bad host", "a..b", "x/y"] {
        assert!(
            ca.issue(&server, &[bad.to_string()], Validity::days(1).unwrap())
                .is_err(),
            "{bad:?}"
        );
    }
    assert!(Validity::days(0).is_err());
}
