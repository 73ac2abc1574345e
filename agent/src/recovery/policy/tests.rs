//! The restore policy on a real filesystem: roots, symlinks, accepted source hosts.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::{RestorePolicy, resolve};

fn policy(roots: Option<Vec<PathBuf>>) -> RestorePolicy {
    RestorePolicy {
        agent_id: "web-1".into(),
        roots,
        accept_from: vec!["db-*".into()],
    }
}

#[test]
fn resolve_follows_existing_links_and_keeps_new_names() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().canonicalize().unwrap();
    std::fs::create_dir(base.join("real")).unwrap();
    symlink(base.join("real"), base.join("link")).unwrap();
    assert_eq!(
        resolve(&base.join("link/new/deeper")).unwrap(),
        base.join("real/new/deeper")
    );
    symlink(base.join("gone"), base.join("dangling")).unwrap();
    assert!(resolve(&base.join("dangling/x")).is_err());
    assert!(resolve(Path::new("relative")).is_err());
    assert!(resolve(Path::new("/a/../b")).is_err());
}

#[test]
fn targets_must_resolve_inside_a_root() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().canonicalize().unwrap();
    let data_dir = base.join("agent");
    let default = policy(None);
    assert!(
        default
            .check_target_dir(&data_dir, &data_dir.join("restores/x"))
            .is_ok()
    );
    assert!(
        default
            .check_target_dir(&data_dir, &data_dir.join("restores-not"))
            .is_err()
    );
    assert!(
        default
            .check_target_dir(&data_dir, Path::new("/etc"))
            .is_err()
    );
    // A link inside the root that points out of it does not count as inside.
    std::fs::create_dir_all(data_dir.join("restores")).unwrap();
    symlink("/etc", data_dir.join("restores/out")).unwrap();
    let err = default
        .check_target_dir(&data_dir, &data_dir.join("restores/out/cron.d"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("outside the restore roots"), "{err}");

    // Configured roots cover --to and in place alike.
    let srv = base.join("srv");
    let configured = policy(Some(vec![srv.clone()]));
    assert!(
        configured
            .check_target_dir(&data_dir, &srv.join("x"))
            .is_ok()
    );
    assert!(
        configured
            .check_target_dir(&data_dir, &data_dir.join("restores/x"))
            .is_err()
    );
    assert!(configured.check_in_place(&[srv.join("db")]).is_ok());
    assert!(configured.check_in_place(&[base.join("etc")]).is_err());
    assert!(default.check_in_place(&[PathBuf::from("/etc")]).is_ok());
}

#[test]
fn only_accepted_hosts_backups_are_restored() {
    let policy = policy(None);
    assert!(policy.check_source("").is_ok());
    assert!(policy.check_source("web-1").is_ok());
    assert!(policy.check_source("db-7").is_ok());
    let err = policy.check_source("web-2").unwrap_err().to_string();
    assert!(err.contains("accept_restores_from"), "{err}");
}
