//! A compromised host against the coordinator's backups, and restores that must stay where
//! the target host allows: a hostile agent (real certificate, forged uploads) cannot prune
//! its own off-host backups, store archives that are not what they claim, or pass its quota;
//! a restore of another host's backup needs the admin role and the target host's consent,
//! and a restore outside the host's restore roots is refused by the agent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use convoy_agent::config::BackupSetConfig;
use convoy_coordinator::config::{BackupsConfig, RetentionRule};
use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::backups_client::BackupsClient;
use convoy_proto::v1::{
    AddScheduleRequest, Backup, BackupState, CommandState, JobOptions, JobState, ListAuditRequest,
    ListBackupsRequest, RemoveScheduleRequest, RestoreBackupRequest, RunBackupRequest,
};
use convoy_tests::hostile::agent::{ForgedUpload, HostileAgent, event, finished, hello};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, wait_for};
use tonic::Code;
use tonic::transport::Channel;

use crate::support::{finished as job_finished, fleet_online};

use crate::backup::backups_client as client;

async fn list(backups: &mut BackupsClient<Channel>, all: bool) -> Vec<Backup> {
    backups
        .list_backups(ListBackupsRequest {
            all,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .backups
}

/// Starts a backup job of set `pgdata` on `selector`; returns the job id.
async fn run_backup(backups: &mut BackupsClient<Channel>, selector: &str) -> String {
    backups
        .run_backup(RunBackupRequest {
            set: "pgdata".into(),
            options: Some(JobOptions {
                selector: selector.into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .id
}

/// A hostile `db-1` advertising the `pgdata` set.
async fn hostile_db(pki: &TestPki, coordinator: &TestCoordinator) -> HostileAgent {
    let mut hello = hello("db-1", &["backup:pgdata"]);
    hello.labels.insert("role".into(), "db".into());
    HostileAgent::connect(pki, coordinator, "db-1", hello)
        .await
        .expect("the hostile agent is welcomed")
}

/// Runs a backup job and uploads `forge(command_id)` for it as the hostile agent, then
/// reports the command finished. Returns the upload's answer.
async fn forged_backup(
    agent: &mut HostileAgent,
    backups: &mut BackupsClient<Channel>,
    forge: impl FnOnce(&str) -> ForgedUpload,
) -> Result<convoy_proto::v1::BackupUploaded, tonic::Status> {
    let job = run_backup(backups, "role=db").await;
    let command = agent.backup_command(&job).await;
    let result = agent.upload(&forge(&command.command_id)).await;
    agent.received(&command.command_id).await;
    let done = finished(CommandState::Succeeded, "forged");
    agent
        .send_event(event(&command.command_id, 2, 0, done))
        .await;
    result
}

fn honest(command_id: &str, content: &[u8]) -> ForgedUpload {
    ForgedUpload::honest(command_id, &[("var/lib/db/data", content)])
}

#[tokio::test]
async fn an_upload_asking_for_keep_1_prunes_nothing() {
    let pki = TestPki::new();
    // No minimum age and no retention rule: only the header's keep could prune.
    let config = BackupsConfig {
        min_retention: Duration::ZERO,
        ..Default::default()
    };
    let coordinator = TestCoordinator::start_with_backups(&pki, config).await;
    let mut agent = hostile_db(&pki, &coordinator).await;
    let mut backups = client(&coordinator, &pki, Role::Operator).await;
    for round in 0..3u8 {
        forged_backup(&mut agent, &mut backups, |id| {
            let mut upload = honest(id, &[round; 100]);
            upload.header.keep = 1;
            upload
        })
        .await
        .expect("stored");
    }
    let stored = list(&mut backups, false).await;
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert!(
        stored
            .iter()
            .all(|b| b.state == BackupState::Complete as i32)
    );
    coordinator.stop().await;
}

#[tokio::test]
async fn nothing_younger_than_min_retention_is_pruned_even_with_a_keep_rule_of_1() {
    let pki = TestPki::new();
    let min_retention = Duration::from_secs(2);
    let config = BackupsConfig {
        min_retention,
        retention: vec![RetentionRule {
            set: "pgdata".into(),
            hosts: "db-*".into(),
            keep: 1,
        }],
        ..Default::default()
    };
    let coordinator = TestCoordinator::start_with_backups(&pki, config).await;
    let mut agent = hostile_db(&pki, &coordinator).await;
    let mut backups = client(&coordinator, &pki, Role::Operator).await;
    let store = |content: u8| move |id: &str| honest(id, &[content; 64]);

    forged_backup(&mut agent, &mut backups, store(1))
        .await
        .unwrap();
    let first = list(&mut backups, false).await.remove(0);
    // Age the first backup past min_retention, by its own record's timestamp.
    wait_for("the first backup to age", Duration::from_secs(10), || {
        let created = first.created_unix_ms;
        async move {
            let age = now_unix_ms() - created;
            (age > i64::try_from(min_retention.as_millis()).unwrap()).then_some(())
        }
    })
    .await;
    // The second completes: keep = 1, and the first is old enough to go.
    forged_backup(&mut agent, &mut backups, store(2))
        .await
        .unwrap();
    let after_second = list(&mut backups, false).await;
    assert_eq!(after_second.len(), 1, "{after_second:?}");
    let second = after_second[0].clone();
    assert_ne!(second.id, first.id);
    // The third completes at once: keep = 1 asks to prune the second, which is younger
    // than min_retention, so it stays.
    forged_backup(&mut agent, &mut backups, store(3))
        .await
        .unwrap();
    let after_third = list(&mut backups, false).await;
    let third = after_third[0].clone();
    assert!(
        third.completed_unix_ms - second.created_unix_ms
            < i64::try_from(min_retention.as_millis()).unwrap(),
        "too slow to show the young side: {after_third:?}"
    );
    assert_eq!(after_third.len(), 2, "{after_third:?}");
    assert!(after_third.iter().any(|b| b.id == second.id));
    coordinator.stop().await;
}

fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap())
        .unwrap()
}

/// Makes an upload for a command id.
type Forge = Box<dyn Fn(&str) -> ForgedUpload>;

#[tokio::test]
async fn archives_that_are_not_what_their_trailer_says_are_never_complete() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut agent = hostile_db(&pki, &coordinator).await;
    let mut backups = client(&coordinator, &pki, Role::Operator).await;
    let forgeries: Vec<(&str, Forge)> = vec![
        (
            "not a tar.zst (hashes consistent)",
            Box::new(|id: &str| {
                let mut upload = honest(id, b"real bytes");
                upload.data = b"this is not an archive at all".to_vec();
                upload.rehash();
                upload
            }),
        ),
        (
            "the trailer claims more files and bytes than the archive holds",
            Box::new(|id: &str| {
                let mut upload = honest(id, b"real bytes");
                upload.trailer.files = 1000;
                upload.trailer.bytes = 50 << 30;
                upload
            }),
        ),
        (
            "the manifest sent is not the one embedded",
            Box::new(|id: &str| {
                let mut upload = honest(id, b"real bytes");
                upload.manifest = convoy_tests::hostile::agent::manifest_for(&[(
                    "var/lib/db/other",
                    b"0123456789",
                )]);
                upload.rehash();
                upload
            }),
        ),
    ];
    for (what, forge) in forgeries {
        let refused = forged_backup(&mut agent, &mut backups, forge)
            .await
            .expect_err(what);
        assert_eq!(refused.code(), Code::InvalidArgument, "{what}: {refused:?}");
        assert!(refused.message().contains("refused"), "{what}: {refused:?}");
        assert!(list(&mut backups, false).await.is_empty(), "{what}: listed");
    }
    let all = list(&mut backups, true).await;
    assert_eq!(all.len(), 3);
    for backup in &all {
        assert_eq!(backup.state, BackupState::Failed as i32, "{backup:?}");
        assert!(backup.message.contains("refused"), "{backup:?}");
    }
    assert!(part_files(&coordinator.data_dir).is_empty());
    // The honest upload of the same shape completes.
    forged_backup(&mut agent, &mut backups, |id| honest(id, b"real bytes"))
        .await
        .unwrap();
    assert_eq!(list(&mut backups, false).await.len(), 1);
    coordinator.stop().await;
}

fn part_files(data_dir: &Path) -> Vec<PathBuf> {
    let dir = data_dir.join("backups/db-1");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect()
}

/// Bytes zstd cannot shrink (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn the_quota_refuses_an_upload_past_max_bytes_per_host() {
    let pki = TestPki::new();
    let config = BackupsConfig {
        max_bytes_per_host: Some(512 * 1024),
        ..Default::default()
    };
    let coordinator = TestCoordinator::start_with_backups(&pki, config).await;
    let mut agent = hostile_db(&pki, &coordinator).await;
    let mut backups = client(&coordinator, &pki, Role::Operator).await;
    forged_backup(&mut agent, &mut backups, |id| {
        honest(id, &noise(300 * 1024))
    })
    .await
    .expect("under the quota");
    let refused = forged_backup(&mut agent, &mut backups, |id| {
        honest(id, &noise(300 * 1024))
    })
    .await
    .expect_err("past the quota");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("max_bytes_per_host"),
        "{refused:?}"
    );
    let stored = list(&mut backups, false).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let all = list(&mut backups, true).await;
    assert!(
        all.iter()
            .any(|b| b.state == BackupState::Failed as i32 && b.message.contains("quota")),
        "{all:?}"
    );
    assert!(part_files(&coordinator.data_dir).is_empty());
    coordinator.stop().await;
}

/// A real agent with a `pgdata` set over a small live tree; `accept` is its
/// `accept_restores_from`.
fn db_agent(pki: &TestPki, url: &str, id: &str, accept: &[&str]) -> (TestAgent, PathBuf) {
    let mut config = TestAgent::config(pki, url, id, &[("role", "db")]);
    let live = pki.dir().join(format!("live-{id}"));
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(live.join("table"), format!("rows of {id}\n")).unwrap();
    config.backup_sets = BTreeMap::from([(
        "pgdata".to_string(),
        BackupSetConfig {
            paths: vec![live.clone()],
            exclude: Vec::new(),
            before: Vec::new(),
            before_timeout: Duration::from_secs(10),
            keep: 0,
        },
    )]);
    config.backup_accept_restores_from = accept.iter().map(|a| (*a).to_string()).collect();
    (TestAgent::start_with(config), live)
}

async fn restore(
    backups: &mut BackupsClient<Channel>,
    admin: &AdminClient<Channel>,
    id: &str,
    host: &str,
    target: &Path,
) -> Result<convoy_proto::v1::Job, tonic::Status> {
    let job = backups
        .restore_backup(RestoreBackupRequest {
            id: id.into(),
            host: host.into(),
            target_dir: target.display().to_string(),
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(job_finished(admin, &job.id).await)
}

#[tokio::test]
async fn a_cross_host_restore_needs_admin_and_the_target_hosts_consent() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let url = coordinator.url();
    let (a1, live1) = db_agent(&pki, &url, "db-1", &[]);
    let (a2, _) = db_agent(&pki, &url, "db-2", &[]);
    let (a3, _) = db_agent(&pki, &url, "db-3", &["db-*"]);
    let mut admin_client = coordinator
        .admin(&pki, &pki.operator("root", Role::Admin))
        .await;
    fleet_online(&admin_client, 3).await;
    let mut operator = client(&coordinator, &pki, Role::Operator).await;
    let mut admin = client(&coordinator, &pki, Role::Admin).await;
    let job = run_backup(&mut operator, "role=db").await;
    assert_eq!(
        job_finished(&admin_client, &job).await.state,
        JobState::Succeeded as i32
    );
    let id = list(&mut operator, false)
        .await
        .into_iter()
        .find(|b| b.host == "db-1")
        .unwrap()
        .id;
    let jobs_before = admin_client
        .list_jobs(convoy_proto::v1::ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .jobs
        .len();

    // An operator may not restore db-1's backup onto db-3: refused before any job, audited.
    let target3 = pki.dir().join("agent-db-3/restores/from-db-1");
    let denied = restore(&mut operator, &admin_client, &id, "db-3", &target3)
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("admin"), "{denied:?}");
    let jobs_after = admin_client
        .list_jobs(convoy_proto::v1::ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .jobs
        .len();
    assert_eq!(jobs_before, jobs_after);
    let audit = admin_client
        .list_audit(ListAuditRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(
        audit
            .iter()
            .any(|e| e.call == "RestoreBackup" && !e.ok && e.outcome.contains("PermissionDenied")),
        "{audit:?}"
    );

    // An admin may ask, but db-2 does not accept db-1's backups: refused there, nothing written.
    let target2 = pki.dir().join("agent-db-2/restores/from-db-1");
    let job = restore(&mut admin, &admin_client, &id, "db-2", &target2)
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Failed as i32, "{job:?}");
    assert!(
        job.hosts[0]
            .message
            .contains("does not accept restores of host db-1"),
        "{:?}",
        job.hosts[0]
    );
    assert!(!target2.exists());

    // db-3 accepts db-*: the admin's restore lands there.
    let job = restore(&mut admin, &admin_client, &id, "db-3", &target3)
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    let placed = target3.join(live1.strip_prefix("/").unwrap()).join("table");
    assert_eq!(std::fs::read(placed).unwrap(), b"rows of db-1\n");

    for agent in [a1, a2, a3] {
        agent.stop().await;
    }
    coordinator.stop().await;
}

#[tokio::test]
async fn a_restore_outside_the_restore_roots_is_refused_by_the_agent_and_writes_nothing() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let (agent, _) = db_agent(&pki, &coordinator.url(), "db-1", &[]);
    let admin_client = coordinator
        .admin(&pki, &pki.operator("root", Role::Admin))
        .await;
    fleet_online(&admin_client, 1).await;
    let mut backups = client(&coordinator, &pki, Role::Operator).await;
    let job = run_backup(&mut backups, "role=db").await;
    job_finished(&admin_client, &job).await;
    let id = list(&mut backups, false).await.remove(0).id;

    // Outside `<data_dir>/restores/`, and through a symlink planted inside it.
    let elsewhere = pki.dir().join("elsewhere");
    let restores = pki.dir().join("agent-db-1/restores");
    std::fs::create_dir_all(&restores).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, restores.join("link")).unwrap();
    for target in [elsewhere.join("etc"), restores.join("link/etc")] {
        let job = restore(&mut backups, &admin_client, &id, "db-1", &target)
            .await
            .unwrap();
        assert_eq!(job.state, JobState::Failed as i32, "{job:?}");
        assert!(
            job.hosts[0].message.contains("outside the restore roots"),
            "{:?}",
            job.hosts[0]
        );
    }
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn schedule_removal_needs_admin_and_backup_ids_are_looked_up_after_the_role_check() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut agent = hostile_db(&pki, &coordinator).await;
    let mut operator = client(&coordinator, &pki, Role::Operator).await;
    let mut viewer = client(&coordinator, &pki, Role::Viewer).await;
    let mut admin = client(&coordinator, &pki, Role::Admin).await;
    forged_backup(&mut agent, &mut operator, |id| honest(id, b"x"))
        .await
        .unwrap();
    let existing = list(&mut operator, false).await.remove(0).id;

    // A viewer is refused the same way whether the id exists or not.
    for id in [existing.as_str(), "b-does-not-exist"] {
        let denied = viewer
            .restore_backup(RestoreBackupRequest {
                id: id.into(),
                in_place: true,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{id}: {denied:?}");
        assert!(!denied.message().contains(id), "{denied:?}");
        let denied = viewer
            .verify_backup(convoy_proto::v1::VerifyBackupRequest { id: id.into() })
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{id}: {denied:?}");
    }

    let schedule = operator
        .add_schedule(AddScheduleRequest {
            set: "pgdata".into(),
            selector: "role=db".into(),
            cron: "0 3 * * *".into(),
            drill: String::new(),
            keep: 4,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(schedule.keep, 4);
    for id in [schedule.id.as_str(), "s-nope"] {
        let denied = operator
            .remove_schedule(RemoveScheduleRequest { id: id.into() })
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied, "{id}: {denied:?}");
    }
    let removed = admin
        .remove_schedule(RemoveScheduleRequest {
            id: schedule.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(removed.id, schedule.id);
    coordinator.stop().await;
}
