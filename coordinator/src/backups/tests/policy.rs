//! The coordinator's own backup policy: retention decided here only (never younger than
//! `min_retention`, whatever `keep`), archives looked inside before they are complete, the
//! per-host quota as bytes arrive, a private store.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use convoy_proto::v1::{BackupState, JobRecord};

use super::super::retention::{doomed, keep_for};
use super::*;
use crate::clock::Clock;
use crate::config::{BackupsConfig, RetentionRule};

const DAY_MS: i64 = 24 * 3600 * 1000;

struct FixedClock(AtomicI64);

impl Clock for FixedClock {
    fn now_unix_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn policy(min_retention: Duration, max_bytes: Option<u64>) -> BackupsConfig {
    BackupsConfig {
        min_retention,
        max_bytes_per_host: max_bytes,
        keep: 5,
        retention: vec![
            RetentionRule {
                set: "pgdata".into(),
                hosts: "db-*".into(),
                keep: 1,
            },
            RetentionRule {
                set: "*".into(),
                hosts: "db-*".into(),
                keep: 3,
            },
        ],
    }
}

#[test]
fn keep_comes_from_the_schedule_then_the_first_rule_then_the_default() {
    let policy = policy(Duration::ZERO, None);
    assert_eq!(keep_for(&policy, Some(9), "db-1", "pgdata"), 9);
    assert_eq!(
        keep_for(&policy, Some(0), "db-1", "pgdata"),
        1,
        "0: not set"
    );
    assert_eq!(keep_for(&policy, None, "db-1", "pgdata"), 1);
    assert_eq!(keep_for(&policy, None, "db-1", "etc"), 3);
    assert_eq!(keep_for(&policy, None, "web-1", "pgdata"), 5);
}

#[test]
fn nothing_younger_than_min_retention_is_pruned_whatever_keep_says() {
    let now = 100 * DAY_MS;
    let records: Vec<Backup> = [10, 8, 7, 6, 1]
        .iter()
        .enumerate()
        .map(|(i, days_old)| {
            record(
                &format!("b-{i}"),
                BackupState::Complete,
                now - days_old * DAY_MS,
            )
        })
        .collect();
    let ids = |list: Vec<Backup>| -> Vec<String> { list.into_iter().map(|b| b.id).collect() };
    let week = Duration::from_secs(7 * 24 * 3600);
    // keep = 1 would remove all but the newest; only those 7 days old or more go.
    assert_eq!(ids(doomed(&records, 1, week, now)), ["b-2", "b-1", "b-0"]);
    // One millisecond short of the boundary: the 7-day-old one stays.
    assert_eq!(ids(doomed(&records, 1, week, now - 1)), ["b-1", "b-0"]);
    assert!(doomed(&records, 1, Duration::from_secs(11 * 24 * 3600), now).is_empty());
    assert!(
        doomed(&records, 0, Duration::ZERO, now).is_empty(),
        "0 keeps all"
    );
}

/// A record whose `created_unix_ms` the clock decides, pruned through the real store.
#[tokio::test]
async fn prune_reads_the_age_from_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = Arc::new(FixedClock(AtomicI64::new(10 * DAY_MS)));
    let backups = Backups::open(dir.path(), store.clone())
        .unwrap()
        .with_policy(policy(Duration::from_secs(2 * 24 * 3600 + 3600), None))
        .with_clock(clock.clone());
    for (id, day) in [("b-1", 7), ("b-2", 8), ("b-3", 9)] {
        store
            .put_backup(&record(id, BackupState::Complete, day * DAY_MS))
            .unwrap();
    }
    assert_eq!(backups.prune("db-1", "pgdata", 1).await.unwrap(), ["b-1"]);
    clock.0.store(11 * DAY_MS, Ordering::SeqCst);
    assert_eq!(backups.prune("db-1", "pgdata", 1).await.unwrap(), ["b-2"]);
}

fn scheduled_command(store: &Store, schedule_keep: u32) -> CommandRecord {
    let command = running_backup_command(store);
    store
        .put_backup_schedule(&convoy_proto::v1::BackupSchedule {
            id: "s-1".into(),
            keep: schedule_keep,
            ..Default::default()
        })
        .unwrap();
    store
        .put_job(&JobRecord {
            id: command.job_id.clone(),
            created_by: "schedule/s-1".into(),
            ..Default::default()
        })
        .unwrap();
    command
}

#[tokio::test]
async fn the_record_keeps_what_the_coordinator_decided_and_a_schedule_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let backups = Backups::open(dir.path(), store.clone())
        .unwrap()
        .with_policy(policy(Duration::ZERO, None));
    let command = scheduled_command(&store, 4);
    let sink = backups.begin_upload("db-1", &command.id).await.unwrap();
    assert_eq!(backups.get(sink.backup_id()).unwrap().keep, 4);
    sink.abort().await;
}

async fn upload(
    backups: &Backups,
    command: &CommandRecord,
    archive: &[u8],
    manifest: &[u8],
    trailer: UploadTrailer,
) -> Result<Backup, BackupError> {
    let mut sink = backups.begin_upload("db-1", &command.id).await?;
    sink.write_archive(archive).await?;
    sink.write_manifest(manifest).await?;
    backups.finish_upload(sink, trailer).await
}

#[tokio::test]
async fn archives_that_are_not_what_the_trailer_says_fail_and_are_never_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let backups = Backups::open(dir.path(), store.clone()).unwrap();
    let command = running_backup_command(&store);
    let (good, manifest, trailer) = backup_of(b"the real bytes");

    // Not zstd at all, though its hashes match the trailer.
    let junk = b"just some bytes".to_vec();
    let mut junk_trailer = trailer_for(&junk, &manifest);
    junk_trailer.bytes = trailer.bytes;
    let err = upload(&backups, &command, &junk, &manifest, junk_trailer)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not zstd") || err.to_string().contains("not a readable"),
        "{err}"
    );
    let all = backups.list("", "", true).unwrap();
    assert_eq!(all[0].state, BackupState::Failed as i32);
    assert!(all[0].message.contains("refused"), "{:?}", all[0]);
    assert!(backups.list("", "", false).unwrap().is_empty());

    // A well-formed archive, but the trailer claims more than it holds.
    let mut bigger = trailer.clone();
    bigger.bytes += 1_000_000;
    let err = upload(&backups, &command, &good, &manifest, bigger)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("file bytes disagree"), "{err}");

    // The manifest sent beside it is not the one embedded.
    let other = br#"{"files":[],"missing":[],"skipped":[]}"#;
    let mut swapped = trailer.clone();
    swapped.manifest_sha256 = hex::encode(Sha256::digest(other));
    let err = upload(&backups, &command, &good, other, swapped)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("embedded manifest"), "{err}");
    assert!(backups.list("", "", false).unwrap().is_empty());
    assert!(part_files(dir.path()).is_empty());

    // The real thing completes.
    let done = upload(&backups, &command, &good, &manifest, trailer)
        .await
        .unwrap();
    assert_eq!(done.state, BackupState::Complete as i32);
}

#[tokio::test]
async fn the_quota_refuses_bytes_as_they_arrive_and_removes_the_parts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut stored = record("b-old", BackupState::Complete, 1);
    stored.size = 600;
    store.put_backup(&stored).unwrap();
    let backups = Backups::open(dir.path(), store.clone())
        .unwrap()
        .with_policy(policy(Duration::ZERO, Some(1000)));
    let command = running_backup_command(&store);
    let mut sink = backups.begin_upload("db-1", &command.id).await.unwrap();
    sink.write_archive(&[0u8; 300]).await.unwrap();
    let err = sink.write_archive(&[0u8; 200]).await.unwrap_err();
    assert!(
        matches!(
            err,
            BackupError::Quota {
                used: 600,
                max: 1000,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("max_bytes_per_host"), "{err}");
    backups.refuse(sink, &err).await.unwrap();
    assert!(part_files(dir.path()).is_empty());
    let failed = backups.get(&backup_id_for(&command)).unwrap();
    assert_eq!(failed.state, BackupState::Failed as i32);
}

#[tokio::test]
async fn the_store_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let backups = Backups::open(dir.path(), store.clone()).unwrap();
    let command = running_backup_command(&store);
    let (archive, manifest, trailer) = backup_of(b"secret");
    let done = upload(&backups, &command, &archive, &manifest, trailer)
        .await
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("backups")), 0o700);
    assert_eq!(mode(&dir.path().join("backups/db-1")), 0o700);
    assert_eq!(mode(&dir.path().join(&done.archive_path)), 0o600);
    assert_eq!(mode(&dir.path().join(&done.manifest_path)), 0o600);
}
