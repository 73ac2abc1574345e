//! Scheduled snapshots (`[snapshots] schedule keep dir`): at each cron time the coordinator
//! saves a snapshot of itself to `dir/snapshot-<UTC time>.tar.zst` (through a `.part` file
//! and a rename), deletes all but the `keep` newest, and drills the new one (unless
//! `drill = false`). The last success and the last passed drill are stored as event marks
//! and exported as `convoy_snapshot_last_success_timestamp_seconds` and
//! `convoy_snapshot_last_drill_timestamp_seconds`; a failure is logged at ERROR.
//! A snapshot missed while the coordinator was down is not made up for: the next cron
//! time is taken from now (the age metric and its alert rule say when one is overdue).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::snapshots::SnapshotsConfig;
use crate::store::Store;

/// Event marks (in the store) behind the metrics.
pub const LAST_SUCCESS: &str = "snapshot/last_success_unix_ms";
pub const LAST_DRILL: &str = "snapshot/last_drill_unix_ms";

/// Runs until shutdown.
pub async fn run(
    config: SnapshotsConfig,
    store: Store,
    data_dir: PathBuf,
    shutdown: CancellationToken,
) {
    let Some(dir) = config.dir.clone() else {
        return;
    };
    loop {
        let now = crate::clock::now_unix_ms();
        let Some(next) = crate::backups::schedule::next_after(&config.schedule, now) else {
            tracing::error!(schedule = %config.schedule, "the snapshot schedule never fires");
            return;
        };
        // Wake at least once a minute, so a wall clock that jumps is noticed.
        let wait = Duration::from_millis(u64::try_from(next - now).unwrap_or(0))
            .min(Duration::from_secs(60));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        if crate::clock::now_unix_ms() < next {
            continue;
        }
        once(&config, &store, &data_dir, &dir).await;
    }
}

/// One scheduled snapshot: save, prune, drill. Returns the file written.
pub async fn once(
    config: &SnapshotsConfig,
    store: &Store,
    data_dir: &Path,
    dir: &Path,
) -> Option<PathBuf> {
    let now = crate::clock::now_unix_ms();
    let stamp = chrono::DateTime::from_timestamp_millis(now)
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|| now.to_string());
    let path = dir.join(format!("snapshot-{stamp}.tar.zst"));
    let saved = tokio::task::spawn_blocking({
        let (store, data_dir, dir, path) = (
            store.clone(),
            data_dir.to_path_buf(),
            dir.to_path_buf(),
            path.clone(),
        );
        let no_blobs = config.no_blobs;
        move || {
            crate::server::private_dir(&dir).map_err(crate::snapshot::io(format!(
                "cannot create {}",
                dir.display()
            )))?;
            crate::snapshot::save::save_to_file(&store, &data_dir, no_blobs, now, &path)
        }
    })
    .await;
    match saved {
        Ok(Ok(header)) => {
            tracing::info!(
                path = %path.display(),
                records = header.trees.values().sum::<u64>(),
                blobs = header.blobs.len(),
                "scheduled snapshot saved"
            );
            let _ = store.put_event_mark(LAST_SUCCESS, &now.to_string());
        }
        Ok(Err(err)) => {
            tracing::error!(path = %path.display(), error = %err, "scheduled snapshot failed");
            return None;
        }
        Err(err) => {
            tracing::error!(error = %err, "scheduled snapshot task failed");
            return None;
        }
    }
    if let Err(err) = prune(dir, config.keep as usize) {
        tracing::error!(dir = %dir.display(), error = %err, "cannot prune old snapshots");
    }
    if config.drill {
        let report = super::drill::drill(&path).await;
        if report.ok() {
            let _ = store.put_event_mark(LAST_DRILL, &crate::clock::now_unix_ms().to_string());
            tracing::info!(path = %path.display(), "scheduled snapshot drilled: every check passed");
        } else {
            let failed: Vec<String> = report
                .checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{}: expected {}, found {}", c.check, c.expected, c.found))
                .collect();
            tracing::error!(path = %path.display(), failed = %failed.join("; "), "scheduled snapshot drill failed");
        }
    }
    Some(path)
}

/// Deletes all but the `keep` newest `snapshot-*.tar.zst` in `dir` (names sort by time).
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let mut snapshots: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("snapshot-") && n.ends_with(".tar.zst"))
        })
        .collect();
    snapshots.sort();
    let doomed = snapshots.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for path in snapshots.into_iter().take(doomed) {
        std::fs::remove_file(&path)?;
        removed.push(path);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "snapshot-20261201T030000Z.tar.zst",
            "snapshot-20261203T030000Z.tar.zst",
            "snapshot-20261202T030000Z.tar.zst",
            "snapshot-20261204T030000Z.tar.zst.part",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let removed = prune(dir.path(), 2).unwrap();
        assert_eq!(
            removed,
            vec![dir.path().join("snapshot-20261201T030000Z.tar.zst")]
        );
        assert!(dir.path().join("notes.txt").exists());
        assert!(
            dir.path()
                .join("snapshot-20261204T030000Z.tar.zst.part")
                .exists()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scheduled_snapshot_is_saved_pruned_drilled_and_marked() {
        let data = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let store = Store::open(data.path()).unwrap();
        store
            .put_agent(&convoy_proto::v1::AgentRecord {
                id: "web-1".into(),
                ..Default::default()
            })
            .unwrap();
        std::fs::write(out.path().join("snapshot-20000101T000000Z.tar.zst"), b"old").unwrap();
        let config = SnapshotsConfig {
            schedule: "0 3 * * *".into(),
            keep: 1,
            dir: Some(out.path().to_path_buf()),
            no_blobs: false,
            drill: true,
        };
        let path = once(&config, &store, data.path(), out.path())
            .await
            .unwrap();
        assert!(path.exists());
        assert!(
            !out.path()
                .join("snapshot-20000101T000000Z.tar.zst")
                .exists()
        );
        assert!(store.event_mark(LAST_SUCCESS).unwrap().is_some());
        assert!(
            store.event_mark(LAST_DRILL).unwrap().is_some(),
            "the drill passed and was marked"
        );
    }
}
