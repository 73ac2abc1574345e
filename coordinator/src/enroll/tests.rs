use super::*;

#[test]
fn id_patterns_are_star_globs() {
    for (pattern, id, ok) in [
        ("web-*", "web-7", true),
        ("web-*", "web-", true),
        ("web-*", "db-1", false),
        ("*-a", "web-a", true),
        ("web-*-a", "web-7-a", true),
        ("web-*-a", "web-7-b", false),
        ("web-1", "web-1", true),
        ("web-1", "web-12", false),
        ("*", "anything", true),
        ("a*a", "a", false),
    ] {
        assert_eq!(glob_match(pattern, id), ok, "{pattern} ~ {id}");
    }
}

fn enroller(dir: &std::path::Path) -> (Enroller, Arc<Revocations>) {
    let store = Store::open(dir).expect("store");
    let registry = Arc::new(Registry::load(store.clone(), Duration::from_secs(30)).unwrap());
    let revocations = Revocations::load(store.clone()).unwrap();
    let (ca, _) = Ca::generate("test CA", Validity::days(1).unwrap()).unwrap();
    let enroller = Enroller::new(ca, 30, store, registry, revocations.clone())
        .with_lifetime(Duration::from_secs(90));
    (enroller, revocations)
}

fn csr_for(id: &str) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    let uri = Identity::Agent(AgentId::new(id).unwrap()).uri();
    params.subject_alt_names = vec![rcgen::SanType::URI(uri.try_into().unwrap())];
    params.serialize_request(&key).unwrap().der().to_vec()
}

fn session(serial: &str, id: &str, issuer: String) -> CertFacts {
    let now = now_unix_ms();
    CertFacts {
        serial: serial.into(),
        identity: Identity::Agent(AgentId::new(id).unwrap()),
        not_after_unix_ms: now + 60_000,
        not_before_unix_ms: now - 30_000,
        issuer,
    }
}

/// Renewal certifies the session's own identity only, never for a revoked certificate or
/// agent id, and is due at 2/3 of the lifetime (at once for another CA's certificate).
#[test]
fn renewal_is_for_the_session_identity_only_and_never_when_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let (enroller, revocations) = enroller(dir.path());
    let issuer = enroller.issuer().id();
    let web = session("0a", "web-1", issuer.clone());

    let renewed = enroller.renew(&web, &csr_for("web-1")).expect("renewed");
    let facts = crate::revocation::cert_facts(
        &x509_parser::pem::parse_x509_pem(renewed.cert_pem.as_bytes())
            .unwrap()
            .1
            .contents,
    )
    .unwrap();
    assert_eq!(facts.identity, web.identity);
    assert_eq!(facts.issuer, issuer);
    let lifetime = facts.not_after_unix_ms - now_unix_ms();
    assert!((80_000..=90_000).contains(&lifetime), "{lifetime}");

    // Another identity: refused, whatever the CSR says.
    assert!(matches!(
        enroller.renew(&web, &csr_for("web-2")),
        Err(EnrollError::Csr(CsrError::WrongNames(_)))
    ));

    // Due at 2/3 of the lifetime (30 s before now + 60 s after: 30 s from now).
    let due = enroller.renew_in(&web, now_unix_ms()).as_millis();
    assert!((29_000..=30_000).contains(&due), "{due}");
    let foreign = session("0b", "web-1", "another-ca".into());
    assert_eq!(enroller.renew_in(&foreign, now_unix_ms()).as_millis(), 1);

    revocations
        .revoke(
            crate::revocation::Target::Serial("0a".into()),
            "stolen",
            "root",
        )
        .unwrap();
    assert!(matches!(
        enroller.renew(&web, &csr_for("web-1")),
        Err(EnrollError::Revoked(_))
    ));
    let other_serial = session("0c", "web-1", issuer);
    assert!(enroller.renew(&other_serial, &csr_for("web-1")).is_ok());
    revocations
        .revoke(
            crate::revocation::Target::Agent(AgentId::new("web-1").unwrap()),
            "stolen",
            "root",
        )
        .unwrap();
    assert!(matches!(
        enroller.renew(&other_serial, &csr_for("web-1")),
        Err(EnrollError::Revoked(_))
    ));
}
