//! Rollouts and backups in the torture workload, and the invariants they are held to.
//!
//! Every agent allows app `web` and backup set `data` (a few files of its own). Throughout
//! the run one task pushes a new signed release `web N.0` and rolls it out to the fleet
//! (`--max-failures 100%`, `--offline skip`, never rolled back: each version is deployed by
//! its own rollout only), waiting for each to end; another asks for a backup of `data` on
//! every host now and then. The release's `start` hook appends its version to
//! `<data_dir>/apps/web/deploys` on the host, so a deploy that ran twice shows; it and the
//! backup's `before` step then linger 0.3 s, so agent kills land mid-deploy and mid-backup.
//!
//! After the run:
//! - every acknowledged rollout ended (succeeded, failed or aborted), and no host shows the
//!   rollout's version more than once in its deploys log (no host deployed twice by one
//!   rollout); a host the rollout reports as succeeded shows it exactly once;
//! - every backup the catalog lists as complete restores: its archive hashes to the
//!   catalog's sha256, unpacks through the agent's own `archive::unpack`, and every file
//!   verifies against the embedded manifest (`backup::verify`, what a drill runs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::fleet::{Cli, ROLE};

/// The app every torture agent allows.
pub const APP: &str = "web";
/// The backup set every torture agent has.
pub const SET: &str = "data";

/// A rollout the coordinator acknowledged.
#[derive(Debug, Clone)]
pub struct RolloutAcked {
    pub id: String,
    pub version: String,
}

#[derive(Debug, Default)]
pub struct Record {
    pub rollouts: Vec<RolloutAcked>,
    /// Backup jobs acknowledged (job ids).
    pub backup_jobs: Vec<String>,
    /// CLI calls that failed (coordinator down): retried.
    pub failed_calls: u64,
}

pub fn lock(record: &Mutex<Record>) -> std::sync::MutexGuard<'_, Record> {
    // Every update is one push or one increment: a poisoned lock is still whole.
    record
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The agent config lines for the app and the backup set, and the set's files. The set's
/// `before` step holds each backup open a moment, so agent kills land mid-backup too.
pub fn agent_config(dir: &Path, id: &str) -> anyhow::Result<String> {
    let files = dir.join(format!("{id}-files"));
    std::fs::create_dir_all(files.join("sub"))?;
    std::fs::write(files.join("a.txt"), format!("{id} a\n"))?;
    std::fs::write(files.join("sub/b.bin"), vec![7u8; 4096])?;
    Ok(format!(
        "[apps.{APP}]\n[backup.sets.{SET}]\npaths = [\"{}\"]\nbefore = [\"/bin/sleep\", \"0.3\"]\n",
        files.display()
    ))
}

/// A signed-pushable `web` release whose start hook appends its version to the host's
/// deploys log.
pub fn release_artifact(dir: &Path, version: &str) -> PathBuf {
    // The hook lingers after its line, so agent kills land mid-deploy too.
    let manifest = "[hooks]\nstart = [\"/bin/sh\", \"-c\", \"echo $CONVOY_VERSION >> ../../deploys; sleep 0.3\"]\n";
    convoy_tests::web_release_with(dir, version, manifest)
}

/// Runs `args` until it succeeds (the coordinator may be down), `cancel` fires or `tries`
/// attempts half a second apart have failed.
async fn until_ok(
    cli: &Cli,
    record: &Mutex<Record>,
    args: &[&str],
    tries: usize,
    cancel: &CancellationToken,
) -> Option<String> {
    for _ in 0..tries {
        match cli.run(args).await {
            Ok(out) => return Some(out),
            Err(_) => lock(record).failed_calls += 1,
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    None
}

/// Pushes and rolls out `web 1.0`, `2.0`, ... one after the other until `cancel`.
pub async fn rollouts(
    cli: Cli,
    record: std::sync::Arc<Mutex<Record>>,
    prefix: String,
    dir: PathBuf,
    release_key: PathBuf,
    cancel: CancellationToken,
) {
    for n in 1u64.. {
        if cancel.is_cancelled() {
            return;
        }
        let version = format!("{n}.0");
        let artifact = release_artifact(&dir, &version);
        let (artifact, key) = (
            artifact.display().to_string(),
            release_key.display().to_string(),
        );
        let push = [
            "release",
            "push",
            APP,
            &version,
            &artifact,
            "--sign-key",
            &key,
        ];
        if until_ok(&cli, &record, &push, 60, &cancel).await.is_none() {
            return;
        }
        let request_id = format!("{prefix}-r{n}");
        let start = [
            "rollout",
            "start",
            APP,
            &version,
            "--selector",
            ROLE,
            "--canary",
            "1",
            "--batch",
            "50%",
            "--bake",
            "1s",
            "--max-failures",
            "100%",
            "--auto-promote",
            "--offline",
            "skip",
            "--request-id",
            &request_id,
            "-o",
            "json",
        ];
        let Some(out) = until_ok(&cli, &record, &start, 60, &cancel).await else {
            return;
        };
        let Some(id) = serde_json::from_str::<serde_json::Value>(&out)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned))
        else {
            return;
        };
        lock(&record).rollouts.push(RolloutAcked {
            id: id.clone(),
            version,
        });
        // One at a time: the next starts once this one has ended (or after 90 s).
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(90) {
            if let Ok(end) = status(&cli, &id).await {
                if end.ended() {
                    break;
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}

/// Asks for a backup of the set on every host every `every`, until `cancel`.
pub async fn backups(
    cli: Cli,
    record: std::sync::Arc<Mutex<Record>>,
    prefix: String,
    every: Duration,
    cancel: CancellationToken,
) {
    for n in 0u64.. {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let request_id = format!("{prefix}-b{n}");
        let args = [
            "backup",
            "run",
            SET,
            "--selector",
            ROLE,
            "--max-errors",
            "100%",
            "--request-id",
            &request_id,
            "-o",
            "json",
        ];
        let Some(out) = until_ok(&cli, &record, &args, 60, &cancel).await else {
            return;
        };
        if let Some(job) = serde_json::from_str::<serde_json::Value>(&out)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned))
        {
            lock(&record).backup_jobs.push(job);
        }
    }
}

/// A rollout as `convoy rollout status -o json` shows it.
#[derive(Debug, Clone, Default)]
pub struct RolloutEnd {
    pub id: String,
    pub version: String,
    pub state: String,
    /// Host → its state in the rollout.
    pub hosts: BTreeMap<String, String>,
}

impl RolloutEnd {
    pub fn ended(&self) -> bool {
        matches!(
            self.state.as_str(),
            "succeeded" | "failed" | "aborted" | "rolled_back"
        )
    }
}

pub async fn status(cli: &Cli, id: &str) -> anyhow::Result<RolloutEnd> {
    let text = cli.run(&["rollout", "status", id, "-o", "json"]).await?;
    let value: serde_json::Value = serde_json::from_str(&text)?;
    let mut hosts = BTreeMap::new();
    for wave in value["waves"].as_array().into_iter().flatten() {
        for host in wave["hosts"].as_array().into_iter().flatten() {
            hosts.insert(
                host["host"].as_str().unwrap_or_default().to_string(),
                host["state"].as_str().unwrap_or_default().to_string(),
            );
        }
    }
    Ok(RolloutEnd {
        id: id.to_string(),
        version: value["version"].as_str().unwrap_or_default().to_string(),
        state: value["state"].as_str().unwrap_or_default().to_string(),
        hosts,
    })
}

/// Waits (bounded) until every acknowledged rollout has ended; returns how each stands.
pub async fn rollouts_ended(cli: &Cli, acked: &[RolloutAcked]) -> Vec<RolloutEnd> {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut ends = Vec::new();
    for rollout in acked {
        let mut last = RolloutEnd {
            id: rollout.id.clone(),
            version: rollout.version.clone(),
            ..RolloutEnd::default()
        };
        loop {
            if let Ok(end) = status(cli, &rollout.id).await {
                last = end;
                if last.ended() {
                    break;
                }
            }
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        ends.push(last);
    }
    ends
}

/// The versions a host's start hooks logged, in order.
pub fn read_deploys(data_dir: &Path) -> Vec<String> {
    std::fs::read_to_string(data_dir.join("apps").join(APP).join("deploys"))
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The rollout invariants, from each rollout's end and each host's deploys log.
pub fn check_rollouts(ends: &[RolloutEnd], deploys: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut violations = Vec::new();
    for end in ends {
        if !end.ended() {
            violations.push(format!(
                "rollout {} ({}) had not ended 180 s after the run: {:?}",
                end.id, end.version, end.state
            ));
        }
        for (host, log) in deploys {
            let times = log.iter().filter(|v| **v == end.version).count();
            if times > 1 {
                violations.push(format!(
                    "{host} was deployed {} {times} times by rollout {}",
                    end.version, end.id
                ));
            }
            if end.hosts.get(host).map(String::as_str) == Some("succeeded") && times == 0 {
                violations.push(format!(
                    "rollout {} reports {host} succeeded with {}, which never started there",
                    end.id, end.version
                ));
            }
        }
    }
    violations
}

/// Every complete backup in the coordinator's catalog under `data_dir` restores and
/// verifies; the count checked, and the violations.
pub fn check_backups(data_dir: &Path, scratch: &Path) -> anyhow::Result<(usize, Vec<String>)> {
    use convoy_proto::v1::BackupState;
    let store = convoy_coordinator::store::Store::open(data_dir)
        .context("the coordinator's store did not reopen")?;
    std::fs::create_dir_all(scratch)?;
    let mut violations = Vec::new();
    let mut checked = 0;
    for backup in store.backups()? {
        if backup.state != BackupState::Complete as i32 {
            continue;
        }
        checked += 1;
        let archive = data_dir
            .join("backups")
            .join(&backup.host)
            .join(format!("{}.tar.zst", backup.id));
        if let Err(problem) = restores(&archive, &backup.sha256, &scratch.join(&backup.id)) {
            violations.push(format!(
                "complete backup {} of {} does not restore: {problem}",
                backup.id, backup.host
            ));
        }
    }
    Ok((checked, violations))
}

/// The archive hashes to `sha256`, unpacks, and every file matches its manifest.
fn restores(archive: &Path, sha256: &str, dest: &Path) -> Result<(), String> {
    use sha2::Digest as _;
    let bytes = std::fs::read(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let got = hex::encode(sha2::Sha256::digest(&bytes));
    if got != sha256 {
        return Err(format!(
            "its archive hashes to {got}, the catalog says {sha256}"
        ));
    }
    let manifest = convoy_agent::backup::read_embedded_manifest(std::io::Cursor::new(&bytes))
        .map_err(|e| format!("embedded manifest: {e}"))?;
    convoy_agent::archive::unpack(
        std::io::Cursor::new(&bytes),
        convoy_agent::archive::Compression::Zstd,
        dest,
        &convoy_agent::archive::Limits::default(),
    )
    .map_err(|e| format!("unpack: {e}"))?;
    let report = convoy_agent::backup::verify(dest, &manifest).map_err(|e| e.to_string())?;
    if !report.problems.is_empty() {
        return Err(format!("verify: {}", report.problems.join("; ")));
    }
    let _ = std::fs::remove_dir_all(dest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(version: &str, state: &str, hosts: &[(&str, &str)]) -> RolloutEnd {
        RolloutEnd {
            id: format!("r-{version}"),
            version: version.into(),
            state: state.into(),
            hosts: hosts
                .iter()
                .map(|(h, s)| (h.to_string(), s.to_string()))
                .collect(),
        }
    }

    fn logs(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(h, v)| (h.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    /// An archive packed by the agent's own code restores; one byte changed in it, or a
    /// sha256 the catalog does not hold, does not.
    #[test]
    fn restores_catches_a_corrupt_archive() {
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).unwrap();
        std::fs::write(files.join("a.txt"), vec![b'x'; 10_000]).unwrap();
        let mut bytes = Vec::new();
        let spec = convoy_agent::backup::BackupSpec {
            paths: vec![files.clone()],
            exclude: Vec::new(),
        };
        convoy_agent::backup::pack(&spec, &mut bytes).unwrap();
        let sha = |b: &[u8]| {
            use sha2::Digest as _;
            hex::encode(sha2::Sha256::digest(b))
        };
        let archive = dir.path().join("good.tar.zst");
        std::fs::write(&archive, &bytes).unwrap();
        restores(&archive, &sha(&bytes), &dir.path().join("r1")).unwrap();
        assert!(
            restores(&archive, &"0".repeat(64), &dir.path().join("r2"))
                .unwrap_err()
                .contains("hashes to")
        );
        // A flipped byte inside the compressed stream, with the catalog's hash made to match
        // (as if the catalog had recorded the corrupt bytes): unpacking or verifying fails.
        let mut bad = bytes.clone();
        let middle = bad.len() / 2;
        bad[middle] ^= 0xff;
        std::fs::write(&archive, &bad).unwrap();
        assert!(restores(&archive, &sha(&bad), &dir.path().join("r3")).is_err());
    }

    #[test]
    fn a_clean_history_has_no_violations() {
        let ends = [
            end(
                "1.0",
                "succeeded",
                &[("a0", "succeeded"), ("a1", "succeeded")],
            ),
            end("2.0", "failed", &[("a0", "failed"), ("a1", "skipped")]),
        ];
        let deploys = logs(&[("a0", &["1.0", "2.0"]), ("a1", &["1.0"])]);
        assert!(check_rollouts(&ends, &deploys).is_empty());
    }

    #[test]
    fn a_host_deployed_twice_by_one_rollout_is_a_violation() {
        let ends = [end("1.0", "succeeded", &[("a0", "succeeded")])];
        let deploys = logs(&[("a0", &["1.0", "1.0"])]);
        let found = check_rollouts(&ends, &deploys);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("deployed 1.0 2 times"), "{found:?}");
    }

    #[test]
    fn a_rollout_that_never_ended_or_lied_about_a_host_is_a_violation() {
        let ends = [end("3.0", "running", &[("a0", "succeeded")])];
        let deploys = logs(&[("a0", &[])]);
        let found = check_rollouts(&ends, &deploys);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("had not ended"), "{found:?}");
        assert!(found[1].contains("never started there"), "{found:?}");
    }
}
