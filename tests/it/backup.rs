//! Backups end to end: real agents back their sets up to a real coordinator, which keeps
//! them, prunes them, verifies them; restores and drills run on the hosts; what must be
//! refused is refused and changes nothing.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use convoy_agent::config::BackupSetConfig;
use convoy_coordinator::config::BackupsConfig;
use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::backups_client::BackupsClient;
use convoy_proto::v1::{
    Backup, BackupState, DrillBackupsRequest, Job, JobOptions, JobState, ListBackupsRequest,
    RestoreBackupRequest, RunBackupRequest, VerifyBackupRequest,
};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, channel};
use tonic::Code;
use tonic::transport::Channel;

use crate::support::{finished, fleet_online};

/// A live tree with binary, empty and nested files and odd modes.
fn live_tree(root: &Path) {
    std::fs::create_dir_all(root.join("nested/deeper")).unwrap();
    let binary: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(root.join("data.bin"), binary).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("nested/deeper/conf"), b"key = 1\n").unwrap();
    std::fs::set_permissions(
        root.join("nested/deeper/conf"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(root.join("scratch.tmp"), b"excluded").unwrap();
}

pub(crate) fn db_agent(
    pki: &TestPki,
    url: &str,
    id: &str,
    extra: &[PathBuf],
    keep: u32,
) -> (TestAgent, PathBuf) {
    let mut config = TestAgent::config(pki, url, id, &[("role", "db")]);
    let live = pki.dir().join(format!("live-{id}"));
    live_tree(&live);
    let mut paths = vec![live.clone()];
    paths.extend(extra.iter().cloned());
    config.backup_sets = BTreeMap::from([(
        "pgdata".to_string(),
        BackupSetConfig {
            paths,
            exclude: vec!["*.tmp".into()],
            before: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("date > {}/dump.sql", live.display()),
            ],
            before_timeout: Duration::from_secs(10),
            keep,
        },
    )]);
    (TestAgent::start_with(config), live)
}

fn options(selector: &str) -> Option<JobOptions> {
    Some(JobOptions {
        selector: selector.into(),
        ..Default::default()
    })
}

pub(crate) async fn backups_client(
    coordinator: &TestCoordinator,
    pki: &TestPki,
    role: Role,
) -> BackupsClient<Channel> {
    let certs = pki.operator(&format!("op-{role}"), role);
    BackupsClient::new(
        channel(&coordinator.url(), &pki.ca_cert(), Some(&certs))
            .await
            .unwrap(),
    )
}

pub(crate) async fn run_backup(
    backups: &mut BackupsClient<Channel>,
    admin: &AdminClient<Channel>,
    selector: &str,
) -> Job {
    let job = backups
        .run_backup(RunBackupRequest {
            set: "pgdata".into(),
            options: options(selector),
        })
        .await
        .unwrap()
        .into_inner();
    finished(admin, &job.id).await
}

pub(crate) async fn list(
    backups: &mut BackupsClient<Channel>,
    host: &str,
    all: bool,
) -> Vec<Backup> {
    backups
        .list_backups(ListBackupsRequest {
            host: host.into(),
            set: "pgdata".into(),
            all,
        })
        .await
        .unwrap()
        .into_inner()
        .backups
}

async fn drill(
    backups: &mut BackupsClient<Channel>,
    admin: &AdminClient<Channel>,
    selector: &str,
) -> Job {
    let job = backups
        .drill_backups(DrillBackupsRequest {
            set: "pgdata".into(),
            options: options(selector),
        })
        .await
        .unwrap()
        .into_inner();
    finished(admin, &job.id).await
}

fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path.clone());
                out.push((path, Vec::new()));
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn backup_restore_drill_verify_and_retention_end_to_end() {
    let pki = TestPki::new();
    // Retention is the coordinator's: keep 2 per host and set, no minimum age.
    let coordinator = TestCoordinator::start_with_backups(
        &pki,
        BackupsConfig {
            min_retention: Duration::ZERO,
            keep: 2,
            ..Default::default()
        },
    )
    .await;
    let missing = pki.dir().join("not-there");
    let (a1, live1) = db_agent(&pki, &coordinator.url(), "db-1", &[], 1);
    let (a2, _live2) = db_agent(&pki, &coordinator.url(), "db-2", &[missing], 1);
    let admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 2).await;
    let mut backups = backups_client(&coordinator, &pki, Role::Operator).await;

    // db-1 complete, db-2 partial (a configured path is missing): the job fails, but the
    // partial backup is stored and listed as such.
    let job = run_backup(&mut backups, &admin, "role=db").await;
    assert_eq!(job.state, JobState::Failed as i32, "{job:?}");
    let one = list(&mut backups, "db-1", false).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].state, BackupState::Complete as i32);
    assert!(
        one[0].files >= 6 && one[0].size > 0 && one[0].sha256.len() == 64,
        "{:?}",
        one[0]
    );
    let two = list(&mut backups, "db-2", false).await;
    assert_eq!(two[0].state, BackupState::Partial as i32);
    assert!(two[0].missing[0].contains("not-there"), "{:?}", two[0]);

    // Restore db-1's backup under a directory: same bytes, same modes, excluded file absent.
    // Under the agent's default restore root, `<data_dir>/restores/`.
    let target = pki.dir().join("agent-db-1/restores/restored");
    let restore = RestoreBackupRequest {
        id: one[0].id.clone(),
        host: "db-1".into(),
        target_dir: target.display().to_string(),
        ..Default::default()
    };
    let job = backups
        .restore_backup(restore.clone())
        .await
        .unwrap()
        .into_inner();
    let job = finished(&admin, &job.id).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    let got = target.join(live1.strip_prefix("/").unwrap());
    for name in ["data.bin", "empty", "nested/deeper/conf", "dump.sql"] {
        assert_eq!(
            std::fs::read(got.join(name)).unwrap(),
            std::fs::read(live1.join(name)).unwrap(),
            "{name}"
        );
    }
    assert_eq!(
        std::fs::metadata(got.join("nested/deeper/conf"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(!got.join("scratch.tmp").exists());

    // The same target again, now not empty: refused, nothing changes.
    let before = snapshot(&target);
    let job = backups
        .restore_backup(restore.clone())
        .await
        .unwrap()
        .into_inner();
    let job = finished(&admin, &job.id).await;
    assert_eq!(job.state, JobState::Failed as i32);
    assert!(
        job.hosts[0].message.contains("not empty"),
        "{:?}",
        job.hosts[0]
    );
    assert_eq!(snapshot(&target), before);

    // A drill passes, leaves the live data alone and is recorded in the catalog.
    let live_before = snapshot(&live1);
    let job = drill(&mut backups, &admin, "role=db").await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    assert!(
        job.hosts[0].message.starts_with("drill passed"),
        "{:?}",
        job.hosts[0]
    );
    assert_eq!(snapshot(&live1), live_before);
    let drilled = list(&mut backups, "db-1", false).await;
    let last = drilled[0].last_drill.clone().expect("drill recorded");
    assert!(
        last.ok && last.files >= 6 && last.host == "db-1",
        "{last:?}"
    );

    // Retention: keep = 2 complete backups of db-1 (the coordinator's `[backups] keep`; the
    // agent's own `keep` is ignored); the oldest goes after the third completes.
    let first_id = one[0].id.clone();
    for _ in 0..2 {
        run_backup(&mut backups, &admin, "role=db,!skip").await;
    }
    let kept = list(&mut backups, "db-1", false).await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.iter().all(|b| b.id != first_id));
    assert!(!coordinator.data_dir.join(&one[0].archive_path).exists());

    // Corrupt the newest stored archive: verify and drill fail loudly, naming it.
    let newest = kept[0].clone();
    let path = coordinator.data_dir.join(&newest.archive_path);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let verified = backups
        .verify_backup(VerifyBackupRequest {
            id: newest.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !verified.verified_ok && verified.message.contains("verify failed"),
        "{verified:?}"
    );
    let job = drill(&mut backups, &admin, "role=db").await;
    let host = job.hosts.iter().find(|h| h.host == "db-1").unwrap();
    assert_eq!(job.state, JobState::Failed as i32);
    assert!(
        host.message.contains(&newest.id) && host.message.contains("corrupt"),
        "{host:?}"
    );
    let ok = backups
        .verify_backup(VerifyBackupRequest {
            id: kept[1].id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ok.verified_ok);

    a1.stop().await;
    a2.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let (agent, _live) = db_agent(&pki, &coordinator.url(), "db-1", &[], 0);
    let admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 1).await;
    let mut backups = backups_client(&coordinator, &pki, Role::Operator).await;

    let unknown = backups
        .run_backup(RunBackupRequest {
            set: "nope".into(),
            options: options(""),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(
        unknown.message().contains("backup set \"nope\""),
        "{unknown:?}"
    );
    let bad = backups
        .run_backup(RunBackupRequest {
            set: "Bad Name".into(),
            options: options(""),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let no_backup = backups
        .restore_backup(RestoreBackupRequest {
            id: "b-nope".into(),
            in_place: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(no_backup.code(), Code::NotFound);
    // A drill with nothing to restore fails on the host, naming the set.
    let job = drill(&mut backups, &admin, "").await;
    assert_eq!(job.state, JobState::Failed as i32);
    assert!(
        job.hosts[0].message.contains("no complete backup of set"),
        "{:?}",
        job.hosts[0]
    );

    // Viewers may list but not start anything.
    let mut viewer = backups_client(&coordinator, &pki, Role::Viewer).await;
    assert!(list(&mut viewer, "", true).await.is_empty());
    let denied = viewer
        .run_backup(RunBackupRequest {
            set: "pgdata".into(),
            options: options(""),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(list(&mut backups, "", true).await.is_empty());

    agent.stop().await;
    coordinator.stop().await;
}
