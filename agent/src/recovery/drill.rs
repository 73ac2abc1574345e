//! Drills: restore the host's latest backup of a set into a scratch directory, check every
//! file against its manifest, report the result to the catalog, delete the scratch tree.
//! Never touches the set's live paths.

use super::*;

impl Recovery {
    /// Restores the host's latest backup of `set` into a scratch directory, checks every
    /// file against the manifest, reports the result to the catalog and deletes the scratch
    /// directory. Never touches the set's live paths.
    pub(crate) async fn drill(
        &self,
        command_id: &str,
        set_name: &str,
        transport: &dyn BackupTransport,
        progress: &(dyn Fn(String) + Sync),
    ) -> RecoveryResult {
        self.set(set_name)?;
        let started = Instant::now();
        let work = self.scratch("drill", command_id)?;
        let mut outcome = DrillOutcome {
            command_id: command_id.to_string(),
            ..Default::default()
        };
        let checked = self
            .drill_in(command_id, &work, transport, progress, &mut outcome)
            .await;
        remove_tree_off_thread(&work).await;
        outcome.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Err(problem) = &checked {
            outcome.ok = false;
            if outcome.problems.is_empty() {
                outcome.problems.push(problem.clone());
            }
        }
        // A drill that could not even find a backup has nothing to record.
        if !outcome.backup_id.is_empty() {
            if let Err(err) = transport.report_drill(&outcome).await {
                progress(format!("cannot record the drill result: {err}"));
            }
        }
        let seconds = outcome.duration_ms as f64 / 1000.0;
        match checked {
            Ok(()) => Ok(format!(
                "drill passed: backup {} restored and checked, {} files, {} bytes in {seconds:.1}s",
                outcome.backup_id, outcome.files, outcome.bytes
            )),
            Err(problem) if outcome.backup_id.is_empty() => {
                Err(RecoveryError::Failed(format!("drill failed: {problem}")))
            }
            Err(problem) => Err(RecoveryError::Failed(format!(
                "drill failed for backup {}: {problem} ({} files checked in {seconds:.1}s)",
                outcome.backup_id, outcome.files
            ))),
        }
    }

    /// The drill's steps inside its scratch directory; fills in `outcome` as it goes.
    async fn drill_in(
        &self,
        command_id: &str,
        work: &Path,
        transport: &dyn BackupTransport,
        progress: &(dyn Fn(String) + Sync),
        outcome: &mut DrillOutcome,
    ) -> Result<(), String> {
        let path = work.join("archive.tar.zst");
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let mut hasher = Sha256::new();
        let meta = transport
            .download(command_id, "", &mut file, &mut hasher)
            .await
            .map_err(|err| err.to_string())?;
        outcome.backup_id = meta.backup_id.clone();
        drop(file);
        let got = hex::encode(hasher.finalize());
        if got != meta.sha256 {
            return Err(format!(
                "backup {} is corrupt: its archive hashes to {got}, the catalog says {}",
                meta.backup_id, meta.sha256
            ));
        }
        progress(format!(
            "downloaded backup {} ({} bytes, sha256 verified)",
            meta.backup_id, meta.size
        ));
        let staged = work.join("tree");
        self.unpack(&path, &staged)
            .await
            .map_err(|e| format!("backup {}: {e}", meta.backup_id))?;
        let manifest = read_manifest(&staged).map_err(|err| err.to_string())?;
        let report = verify_blocking(&staged, &manifest)
            .await
            .map_err(|err| err.to_string())?;
        outcome.files = report.files_checked;
        outcome.bytes = report.bytes_checked;
        outcome.ok = report.passed();
        outcome.problems = report.problems.iter().take(MAX_PROBLEMS).cloned().collect();
        if report.passed() {
            Ok(())
        } else {
            Err(format!(
                "{} problem(s), first: {}",
                report.problems.len(),
                report.problems.first().cloned().unwrap_or_default()
            ))
        }
    }
}
