use super::*;
use convoy_proto::identity::Role;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    (dir, store)
}

fn agent(serial: &str, id: &str) -> CertFacts {
    CertFacts {
        serial: serial.into(),
        identity: Identity::Agent(AgentId::new(id).expect("id")),
        not_after_unix_ms: i64::MAX,
        not_before_unix_ms: 0,
        issuer: String::new(),
    }
}

#[test]
fn serials_are_normalised_and_garbage_refused() {
    assert_eq!(normalize_serial("0A:1b:FF").unwrap(), "0a1bff");
    assert_eq!(normalize_serial("00a1").unwrap(), "a1");
    assert_eq!(normalize_serial("abc").unwrap(), "0abc");
    for bad in ["", ":", "xyz", "12 34", &"a".repeat(65)] {
        assert!(normalize_serial(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_revocation_cuts_matching_live_connections_only() {
    let (_dir, store) = store();
    let revocations = Revocations::load(store).unwrap();
    let web = revocations.connected(agent("01", "web-1")).expect("live");
    let db = revocations.connected(agent("02", "db-1")).expect("live");
    let operator = revocations
        .connected(CertFacts {
            serial: "03".into(),
            identity: Identity::Operator {
                name: "alice".into(),
                role: Role::Admin,
            },
            not_after_unix_ms: i64::MAX,
            not_before_unix_ms: 0,
            issuer: String::new(),
        })
        .expect("live");
    let (_, closed) = revocations
        .revoke(
            Target::Agent(AgentId::new("web-1").unwrap()),
            "stolen",
            "root",
        )
        .unwrap();
    assert_eq!(closed, 1);
    assert!(web.cut.is_cancelled());
    assert!(!db.cut.is_cancelled() && !operator.cut.is_cancelled());
    let (_, closed) = revocations
        .revoke(Target::Serial("00:02".into()), "", "root")
        .unwrap();
    assert_eq!(closed, 1);
    assert!(db.cut.is_cancelled());
    let (_, closed) = revocations
        .revoke(Target::Operator("alice".into()), "", "root")
        .unwrap();
    assert_eq!(closed, 1);
    assert!(operator.cut.is_cancelled());
    // A new connection with a revoked certificate is not registered.
    assert!(revocations.connected(agent("09", "web-1")).is_none());
    assert!(revocations.connected(agent("10", "web-2")).is_some());
}

#[test]
fn revocations_survive_a_reopen_and_bad_targets_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).unwrap();
        let revocations = Revocations::load(store.clone()).unwrap();
        revocations.connected(agent("0b", "web-1")).expect("live");
        revocations
            .revoke(Target::Serial("0B".into()), "lost laptop", "root")
            .unwrap();
        assert!(
            revocations
                .revoke(Target::Serial("not hex".into()), "", "root")
                .is_err()
        );
        assert!(
            revocations
                .revoke(Target::Operator("Bad Name".into()), "", "root")
                .is_err()
        );
        store.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let revocations = Revocations::load(store).unwrap();
    assert!(revocations.revoked(&agent("0b", "web-1")).is_some());
    assert!(revocations.revoked(&agent("0c", "web-1")).is_none());
    let listed = revocations.list(0).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].state, "revoked");
    assert_eq!(listed[0].reason, "lost laptop");
}

#[test]
fn every_use_is_seen_with_its_issuer_but_stored_at_most_once_a_minute() {
    let (_dir, store) = store();
    let revocations = Revocations::load(store.clone()).unwrap();
    let mut facts = agent("0a", "web-1");
    facts.issuer = "00112233".into();
    drop(revocations.connected(facts.clone()));
    let stored = store.seen_certs().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].issuer, "00112233");
    let first = stored[0].last_seen_unix_ms;
    assert!(first > 0);
    // Seen again (a few ms later): in memory at once, not written again within the minute.
    std::thread::sleep(std::time::Duration::from_millis(5));
    drop(revocations.connected(facts));
    let seen = revocations.seen();
    assert!(seen[0].last_seen_unix_ms > first, "{seen:?}");
    assert_eq!(store.seen_certs().unwrap()[0].last_seen_unix_ms, first);
    // A restart starts from what was stored, first sighting kept.
    let reloaded = Revocations::load(store).unwrap();
    assert_eq!(
        reloaded.seen()[0].first_seen_unix_ms,
        stored[0].first_seen_unix_ms
    );
    assert_eq!(reloaded.seen()[0].issuer, "00112233");
}
