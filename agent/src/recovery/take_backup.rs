//! Backup commands: run the set's `before` command, pack the set and upload it, packing
//! again from the start when an upload breaks off.

use super::*;

impl Recovery {
    /// Runs the set's `before` command, packs the set and uploads it, packing again from
    /// the start when an upload breaks off (up to [`UPLOAD_ATTEMPTS`]).
    pub(crate) async fn backup(
        &self,
        command_id: &str,
        set_name: &str,
        transport: &dyn BackupTransport,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> RecoveryResult {
        let set = self.set(set_name)?;
        if !set.before.is_empty() {
            run_before(set_name, set, progress, cancel).await?;
        }
        let spec = BackupSpec {
            paths: set.paths.clone(),
            exclude: set.exclude.clone(),
        };
        let header = UploadHeader {
            command_id: command_id.to_string(),
        };
        let mut last = String::new();
        for attempt in 1..=UPLOAD_ATTEMPTS {
            if cancel.is_cancelled() {
                return Err(RecoveryError::Failed("cancelled".into()));
            }
            progress(format!("backing up set {set_name} (attempt {attempt})"));
            match upload::once(&spec, header.clone(), transport, cancel).await {
                Ok((uploaded, trailer)) => {
                    return Ok(describe_backup(&uploaded, &trailer)).and_then(|line| {
                        if uploaded.partial {
                            Err(RecoveryError::Failed(line))
                        } else {
                            Ok(line)
                        }
                    });
                }
                Err(err) if err.retry && attempt < UPLOAD_ATTEMPTS => {
                    progress(format!(
                        "upload broke off ({}); starting again",
                        err.message
                    ));
                    last = err.message;
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
                Err(err) => {
                    return Err(RecoveryError::Failed(format!(
                        "backup failed: {}",
                        err.message
                    )));
                }
            }
        }
        Err(RecoveryError::Failed(format!(
            "backup failed after {UPLOAD_ATTEMPTS} attempts: {last}"
        )))
    }
}

fn describe_backup(uploaded: &Uploaded, trailer: &UploadTrailer) -> String {
    let mut line = format!(
        "backup {} {}: {} entries, {} bytes of files, archive {} bytes, sha256 {}",
        uploaded.backup_id,
        if uploaded.partial {
            "is partial"
        } else {
            "complete"
        },
        trailer.files,
        trailer.bytes,
        trailer.archive_bytes,
        trailer.archive_sha256
    );
    if !trailer.missing.is_empty() {
        line.push_str(&format!("; missing: {}", trailer.missing.join(", ")));
    }
    if !trailer.skipped.is_empty() {
        let shown: Vec<&str> = trailer.skipped.iter().take(5).map(String::as_str).collect();
        line.push_str(&format!(
            "; skipped {}: {}",
            trailer.skipped.len(),
            shown.join(", ")
        ));
    }
    line
}

/// Runs a set's `before` command with its timeout; its output becomes progress lines.
async fn run_before(
    name: &str,
    set: &BackupSetConfig,
    progress: &(dyn Fn(String) + Sync),
    cancel: &CancellationToken,
) -> Result<(), String> {
    let spec = ActionSpec {
        argv: set.before.clone(),
        env: BTreeMap::new(),
        working_dir: None,
        timeout: set.before_timeout,
    };
    progress(format!(
        "running before command of set {name}: {}",
        set.before.join(" ")
    ));
    let (tx, mut rx) = mpsc::channel(16);
    let run = executor::run(&spec, tx, cancel.clone(), Duration::from_secs(10));
    tokio::pin!(run);
    let report = loop {
        tokio::select! {
            report = &mut run => break report,
            Some(chunk) = rx.recv() => progress(format!("before: {}", String::from_utf8_lossy(&chunk.data).trim_end())),
        }
    };
    match report.outcome {
        Outcome::Exited { code: 0 } => Ok(()),
        Outcome::Exited { code } => Err(format!(
            "before command of set {name} exited with status {code}; nothing was backed up"
        )),
        Outcome::Signaled { signal } => Err(format!(
            "before command of set {name} was killed by signal {signal}; nothing was backed up"
        )),
        Outcome::TimedOut => Err(format!(
            "before command of set {name} timed out after {}; nothing was backed up",
            humantime::format_duration(set.before_timeout)
        )),
        Outcome::Cancelled => Err(format!("before command of set {name} was cancelled")),
        Outcome::SpawnFailed(why) => Err(format!("before command of set {name}: {why}")),
    }
}
