//! Retention, sweeps and schedules against a real store, with a fake job launcher and the
//! time passed in (no sleeping).

use std::sync::Mutex;

use convoy_proto::v1::{BackupAction, BackupSchedule, BackupState, CommandRecord, CommandState};

use super::schedule::{self, Launcher};
use super::*;

fn backups() -> (tempfile::TempDir, Backups) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let backups = Backups::open(dir.path(), store).unwrap();
    (dir, backups)
}

fn record(id: &str, state: BackupState, created: i64) -> Backup {
    Backup {
        id: id.into(),
        host: "db-1".into(),
        set: "pgdata".into(),
        state: state.into(),
        created_unix_ms: created,
        archive_path: format!("backups/db-1/{id}.tar.zst"),
        ..Default::default()
    }
}

#[tokio::test]
async fn retention_prunes_the_oldest_complete_backups_only() {
    let (dir, backups) = backups();
    let store = backups.store().clone();
    std::fs::create_dir_all(dir.path().join("backups/db-1")).unwrap();
    for (id, state, at) in [
        ("b-1", BackupState::Complete, 1),
        ("b-2", BackupState::Partial, 2),
        ("b-3", BackupState::Complete, 3),
        ("b-4", BackupState::Complete, 4),
        ("b-5", BackupState::Uploading, 5),
        ("b-6", BackupState::Complete, 6),
    ] {
        store.put_backup(&record(id, state, at)).unwrap();
        std::fs::write(dir.path().join(format!("backups/db-1/{id}.tar.zst")), b"x").unwrap();
    }
    let mut other = record("b-other", BackupState::Complete, 0);
    other.host = "db-2".into();
    store.put_backup(&other).unwrap();
    let removed = backups.prune("db-1", "pgdata", 2).await.unwrap();
    assert_eq!(removed, ["b-3", "b-2", "b-1"]);
    let mut left: Vec<String> = backups
        .list("", "", true)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    left.sort();
    assert_eq!(left, ["b-4", "b-5", "b-6", "b-other"]);
    assert!(!dir.path().join("backups/db-1/b-1.tar.zst").exists());
    assert!(dir.path().join("backups/db-1/b-4.tar.zst").exists());
    // Nothing more to prune.
    assert!(backups.prune("db-1", "pgdata", 2).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_broken_off_upload_is_never_listed_and_fails_once_its_command_is_over() {
    let (_dir, backups) = backups();
    let store = backups.store().clone();
    let command = CommandRecord {
        id: "j-20250101-000000-abcd/db-1".into(),
        job_id: "j-20250101-000000-abcd".into(),
        agent_id: "db-1".into(),
        state: CommandState::Running.into(),
        backup: Some(BackupAction {
            set: "pgdata".into(),
        }),
        ..Default::default()
    };
    store.put_command(&command).unwrap();
    let mut sink = backups.begin_upload("db-1", &command.id).await.unwrap();
    sink.write_archive(b"half an archive").await.unwrap();
    sink.abort().await;
    assert!(backups.list("", "", false).unwrap().is_empty());
    assert_eq!(backups.sweep().await.unwrap(), 0, "its command still runs");
    // Another host may not upload for it, nor may anyone once it is over.
    assert!(matches!(
        backups.begin_upload("db-2", &command.id).await,
        Err(BackupError::NotYourCommand(_))
    ));
    let mut finished = command.clone();
    finished.state = CommandState::Failed.into();
    store.put_command(&finished).unwrap();
    assert_eq!(backups.sweep().await.unwrap(), 1);
    let all = backups.list("", "", true).unwrap();
    assert_eq!(all[0].state, BackupState::Failed as i32);
    assert!(backups.list("", "", false).unwrap().is_empty());
    assert!(matches!(
        backups.begin_upload("db-1", &command.id).await,
        Err(BackupError::CommandFinished(_))
    ));
}

fn running_backup_command(store: &Store) -> CommandRecord {
    let command = CommandRecord {
        id: "j-20250101-000000-abcd/db-1".into(),
        job_id: "j-20250101-000000-abcd".into(),
        agent_id: "db-1".into(),
        state: CommandState::Running.into(),
        backup: Some(BackupAction {
            set: "pgdata".into(),
        }),
        ..Default::default()
    };
    store.put_command(&command).unwrap();
    command
}

fn trailer_for(archive: &[u8], manifest: &[u8]) -> UploadTrailer {
    UploadTrailer {
        archive_sha256: hex::encode(Sha256::digest(archive)),
        archive_bytes: archive.len() as u64,
        manifest_sha256: hex::encode(Sha256::digest(manifest)),
        files: 1,
        bytes: 1,
        ..Default::default()
    }
}

/// A backup as the agent makes it: a tar.zst holding one file, `data`, and the manifest as
/// its last entry. Returns the archive, the manifest and the matching trailer.
fn backup_of(content: &[u8]) -> (Vec<u8>, Vec<u8>, UploadTrailer) {
    let manifest = serde_json::json!({
        "files": [{
            "path": "data",
            "size": content.len(),
            "mode": 0o644,
            "mtime": 0,
            "sha256": hex::encode(Sha256::digest(content)),
            "kind": {"type": "file"},
        }],
        "missing": [],
        "skipped": [],
    })
    .to_string()
    .into_bytes();
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes) in [("data", content), (check::MANIFEST_NAME, &manifest[..])] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, bytes).unwrap();
    }
    let archive = zstd::encode_all(&tar.into_inner().unwrap()[..], 3).unwrap();
    let mut trailer = trailer_for(&archive, &manifest);
    trailer.bytes = content.len() as u64;
    (archive, manifest, trailer)
}

fn part_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("backups/db-1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".part"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn an_older_upload_still_writing_cannot_corrupt_or_remove_a_retry() {
    let (dir, backups) = backups();
    let command = running_backup_command(backups.store());
    let mut old = backups.begin_upload("db-1", &command.id).await.unwrap();
    old.write_archive(b"old attempt, first half; ")
        .await
        .unwrap();
    // The retry starts while the old stream's handler still runs: it is told to stop.
    let mut new = backups.begin_upload("db-1", &command.id).await.unwrap();
    assert_ne!(old.attempt(), new.attempt());
    tokio::time::timeout(std::time::Duration::from_secs(5), old.superseded())
        .await
        .expect("the older attempt is cancelled");
    assert_eq!(
        part_files(dir.path()).len(),
        4,
        "each attempt has its own files"
    );
    let (archive, manifest, trailer) = backup_of(b"new archive");
    let (head, tail) = archive.split_at(archive.len() / 2);
    new.write_archive(head).await.unwrap();
    // The old handler has not looked yet and writes on: into its own files only.
    old.write_archive(b"old attempt, second half")
        .await
        .unwrap();
    new.write_archive(tail).await.unwrap();
    new.write_manifest(&manifest).await.unwrap();
    // Even a complete, self-consistent old upload may not commit any more.
    let old_archive = b"old attempt, first half; old attempt, second half";
    let refused = backups
        .finish_upload(old, trailer_for(old_archive, b""))
        .await;
    assert!(
        matches!(&refused, Err(BackupError::Superseded(id)) if id.starts_with("b-")),
        "{refused:?}"
    );
    assert_eq!(
        part_files(dir.path()).len(),
        2,
        "the old attempt removed only its own"
    );
    assert!(backups.list("", "", false).unwrap().is_empty());
    let done = backups.finish_upload(new, trailer).await.unwrap();
    assert_eq!(done.state, BackupState::Complete as i32);
    assert_eq!(done.sha256, hex::encode(Sha256::digest(&archive)));
    let stored = std::fs::read(dir.path().join(&done.archive_path)).unwrap();
    assert_eq!(stored, archive);
    assert!(part_files(dir.path()).is_empty());
    assert!(backups.verify(&done.id).await.unwrap().verified_ok);
}

#[tokio::test]
async fn a_retry_waits_for_an_older_commit_and_a_dropped_attempt_leaves_nothing_listed() {
    let (dir, backups) = backups();
    let command = running_backup_command(backups.store());
    // An attempt whose handler was dropped mid-stream (no abort): its files stay until the
    // next attempt commits, and it does not hold the backup id.
    let mut dropped = backups.begin_upload("db-1", &command.id).await.unwrap();
    dropped.write_archive(b"lost").await.unwrap();
    drop(dropped);
    assert_eq!(part_files(dir.path()).len(), 2);
    let mut first = backups.begin_upload("db-1", &command.id).await.unwrap();
    let (archive, manifest, trailer) = backup_of(b"first");
    first.write_archive(&archive).await.unwrap();
    first.write_manifest(&manifest).await.unwrap();
    let first = backups.finish_upload(first, trailer).await.unwrap();
    assert!(
        part_files(dir.path()).is_empty(),
        "stale parts are cleaned on commit"
    );
    // A later attempt of the same backup id replaces it whole: record and files agree.
    let mut second = backups.begin_upload("db-1", &command.id).await.unwrap();
    assert!(
        backups.list("", "", false).unwrap().is_empty(),
        "uploading again"
    );
    let (archive, manifest, trailer) = backup_of(b"second");
    second.write_archive(&archive).await.unwrap();
    second.write_manifest(&manifest).await.unwrap();
    let second = backups.finish_upload(second, trailer).await.unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(
        std::fs::read(dir.path().join(&second.archive_path)).unwrap(),
        archive
    );
    assert!(backups.verify(&second.id).await.unwrap().verified_ok);
    // Once the command is over, a sweep stops whatever still writes.
    let mut late = backups.begin_upload("db-1", &command.id).await.unwrap();
    late.write_archive(b"late").await.unwrap();
    let mut finished = command.clone();
    finished.state = CommandState::Failed.into();
    backups.store().put_command(&finished).unwrap();
    assert_eq!(backups.sweep().await.unwrap(), 1);
    assert!(part_files(dir.path()).is_empty());
    tokio::time::timeout(std::time::Duration::from_secs(5), late.superseded())
        .await
        .expect("the sweep cancels the attempt");
    late.write_manifest(b"m").await.unwrap();
    assert!(matches!(
        backups
            .finish_upload(late, trailer_for(b"late", b"m"))
            .await,
        Err(BackupError::Superseded(_))
    ));
    assert_eq!(
        backups.list("", "", true).unwrap()[0].state,
        BackupState::Failed as i32
    );
}

/// Starts numbered jobs and says which still run.
#[derive(Default)]
struct FakeLauncher {
    started: Mutex<Vec<(String, bool)>>,
    running: Mutex<Vec<String>>,
    failed: Mutex<Vec<String>>,
}

impl Launcher for FakeLauncher {
    fn start<'a>(
        &'a self,
        _schedule: &'a BackupSchedule,
        drill: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + 'a>>
    {
        Box::pin(async move {
            let mut started = self.started.lock().unwrap();
            let id = format!("j-{}", started.len() + 1);
            started.push((id.clone(), drill));
            self.running.lock().unwrap().push(id.clone());
            Ok(id)
        })
    }

    fn is_running(&self, job_id: &str) -> bool {
        self.running.lock().unwrap().iter().any(|j| j == job_id)
    }

    fn failure(&self, job_id: &str) -> Option<String> {
        self.failed
            .lock()
            .unwrap()
            .contains(&job_id.to_string())
            .then(|| "db-1: failed (disk full)".to_string())
    }
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// 2025-01-01T00:00:00Z
const T0: i64 = 1_735_689_600_000;

#[tokio::test]
async fn a_schedule_fires_when_due_and_never_overlaps_itself() {
    let (_dir, backups) = backups();
    let store = backups.store().clone();
    store
        .put_backup_schedule(&BackupSchedule {
            id: "s-1".into(),
            set: "pgdata".into(),
            cron: "0 3 * * *".into(),
            drill_cron: schedule::drill_cron("weekly").unwrap(),
            created_unix_ms: T0,
            ..Default::default()
        })
        .unwrap();
    let launcher = FakeLauncher::default();
    // Not due before 03:00.
    assert_eq!(
        schedule::tick(&store, &launcher, T0 + 2 * HOUR)
            .await
            .unwrap(),
        0
    );
    // Due at 03:00: one job.
    assert_eq!(
        schedule::tick(&store, &launcher, T0 + 3 * HOUR)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        schedule::tick(&store, &launcher, T0 + 3 * HOUR + MINUTE)
            .await
            .unwrap(),
        0
    );
    assert_eq!(launcher.started.lock().unwrap().len(), 1);
    // The next day the first job still runs: skipped and counted, not overlapped.
    schedule::tick(&store, &launcher, T0 + 27 * HOUR)
        .await
        .unwrap();
    let s = &store.backup_schedules().unwrap()[0];
    assert_eq!((s.skipped, s.last_job_id.as_str()), (1, "j-1"));
    assert_eq!(launcher.started.lock().unwrap().len(), 1);
    // Once it finished, the day after runs again.
    launcher.running.lock().unwrap().clear();
    schedule::tick(&store, &launcher, T0 + 51 * HOUR)
        .await
        .unwrap();
    assert_eq!(store.backup_schedules().unwrap()[0].last_job_id, "j-2");
}

#[tokio::test]
async fn runs_missed_while_down_run_once_and_drills_follow_their_cron() {
    let (_dir, backups) = backups();
    let store = backups.store().clone();
    store
        .put_backup_schedule(&BackupSchedule {
            id: "s-1".into(),
            set: "pgdata".into(),
            cron: "0 3 * * *".into(),
            drill_cron: schedule::drill_cron("weekly").unwrap(),
            created_unix_ms: T0,
            ..Default::default()
        })
        .unwrap();
    let launcher = FakeLauncher::default();
    // Ten days later (coordinator was down): one backup and one drill, not ten.
    let later = T0 + 10 * 24 * HOUR + 12 * HOUR;
    assert_eq!(schedule::tick(&store, &launcher, later).await.unwrap(), 2);
    let started = launcher.started.lock().unwrap().clone();
    // The drill waits for nothing of its own; but the schedule's backup just started, so it
    // is queued behind it (issue 19: never run over a backup, never skipped for it).
    assert_eq!(started, [("j-1".to_string(), false)]);
    let s = &store.backup_schedules().unwrap()[0];
    assert_eq!(s.skipped, 0);
    assert!(s.drill_queued);
    assert!(s.next_run_unix_ms > later && s.next_drill_unix_ms > later);
    assert_eq!(
        schedule::tick(&store, &launcher, later + MINUTE)
            .await
            .unwrap(),
        0
    );
    // The backup ends (failed on a host): the drill runs now, and the failure is shown.
    launcher.running.lock().unwrap().clear();
    launcher.failed.lock().unwrap().push("j-1".into());
    assert_eq!(
        schedule::tick(&store, &launcher, later + 2 * MINUTE)
            .await
            .unwrap(),
        1
    );
    let started = launcher.started.lock().unwrap().clone();
    assert_eq!(started[1], ("j-2".to_string(), true));
    let s = &store.backup_schedules().unwrap()[0];
    assert!(!s.drill_queued);
    assert_eq!(s.last_drill_job_id, "j-2");
    assert_eq!(
        s.last_error,
        "backup job j-1 failed: db-1: failed (disk full)"
    );
}

#[test]
fn cron_and_drill_expressions_are_checked() {
    assert!(schedule::check_cron("0 3 * * *").is_ok());
    assert!(schedule::check_cron("not cron").is_err());
    assert!(schedule::check_cron("61 3 * * *").is_err());
    assert_eq!(schedule::drill_cron("daily").unwrap(), "30 4 * * *");
    assert_eq!(schedule::drill_cron("").unwrap(), "");
    assert!(schedule::drill_cron("sometimes").is_err());
    assert_eq!(schedule::next_after("0 3 * * *", T0), Some(T0 + 3 * HOUR));
}

mod policy;

#[test]
fn a_delete_follows_the_retention_rules() {
    use std::time::Duration;
    let day = 24 * 3600 * 1000;
    let week = Duration::from_secs(7 * 24 * 3600);
    let now = 30 * day;
    let records = [
        record("old-complete", BackupState::Complete, now - 20 * day),
        record("old-partial", BackupState::Partial, now - 19 * day),
        record("old-failed", BackupState::Failed, now - 18 * day),
        record("new-complete", BackupState::Complete, now - day),
        record("uploading", BackupState::Uploading, now - 10 * day),
    ];
    let refusal = |id: &str, records: &[Backup]| {
        let backup = records.iter().find(|b| b.id == id).unwrap();
        retention::delete_refusal(backup, records, week, now)
    };
    // Another complete one stays: these may go.
    assert_eq!(refusal("old-complete", &records), None);
    assert_eq!(refusal("old-partial", &records), None);
    assert_eq!(refusal("old-failed", &records), None);
    // Younger than min_retention, or still uploading: never.
    assert!(
        refusal("new-complete", &records)
            .unwrap()
            .contains("min_retention keeps every backup for 7days")
    );
    assert!(
        refusal("uploading", &records)
            .unwrap()
            .contains("still uploading")
    );
    // The last complete backup of a host and set stays, however old.
    let alone = [records[0].clone(), records[2].clone()];
    assert!(
        refusal("old-complete", &alone)
            .unwrap()
            .contains("last complete backup of set pgdata on host db-1")
    );
    // A complete backup of another host does not count.
    let mut elsewhere = records[3].clone();
    elsewhere.host = "db-2".into();
    elsewhere.created_unix_ms = now - 20 * day;
    let other_host = [records[1].clone(), elsewhere];
    assert!(
        refusal("old-partial", &other_host)
            .unwrap()
            .contains("last restorable")
    );
}

/// The unknown-enum rule for backups: a command in a state this version does not know is
/// not finished (its backup is not swept as abandoned), and an unknown backup state is
/// named `unknown` and is never a stored backup.
#[test]
fn unknown_states_are_neither_finished_nor_stored() {
    let command = CommandRecord {
        state: 42,
        ..Default::default()
    };
    assert!(!is_finished(&command));
    assert_eq!(state_name(42), "unknown");
    let mut backup = record("b-1", BackupState::Complete, 0);
    backup.state = 42;
    assert!(!is_stored(&backup));
}
