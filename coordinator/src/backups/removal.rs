//! Backups leaving the catalog: pruning by retention, an operator's delete, and the sweep of
//! uploads that never finished. Files go after their record.

use super::*;

impl Backups {
    /// Keeps the newest `keep` complete backups of a host and set; older complete ones go,
    /// and so do partial and failed records older than the oldest one kept, but never one
    /// younger than `[backups] min_retention` (`retention::doomed`).
    pub async fn prune(
        &self,
        host: &str,
        set: &str,
        keep: usize,
    ) -> Result<Vec<String>, BackupError> {
        let records: Vec<Backup> = self
            .store
            .backups()?
            .into_iter()
            .filter(|b| b.host == host && b.set == set)
            .collect();
        let doomed = retention::doomed(
            &records,
            keep,
            self.policy().min_retention,
            self.clock.now_unix_ms(),
        );
        if doomed.is_empty() {
            return Ok(Vec::new());
        }
        let mut removed = Vec::new();
        for backup in doomed {
            self.remove_files(&backup).await;
            self.store.remove_backup(&backup.id)?;
            tracing::info!(backup_id = %backup.id, %host, %set, "backup pruned by retention");
            removed.push(backup.id);
        }
        self.store.flush_async().await?;
        Ok(removed)
    }

    /// An operator's delete: refused (nothing changed) by `retention::delete_refusal` or
    /// while an unfinished restore job reads it (`restores_of` names them); else the record
    /// goes (flushed), then its files.
    pub async fn delete(
        &self,
        id: &str,
        restores_of: impl FnOnce(&str) -> Vec<String>,
    ) -> Result<Backup, BackupError> {
        let backup = self.get(id)?;
        let records = self.store.backups()?;
        let refusal = retention::delete_refusal(
            &backup,
            &records,
            self.policy().min_retention,
            self.clock.now_unix_ms(),
        )
        .or_else(|| {
            let jobs = restores_of(id);
            (!jobs.is_empty())
                .then(|| format!("unfinished restore job(s) read it: {}", jobs.join(", ")))
        });
        if let Some(why) = refusal {
            return Err(BackupError::Kept {
                id: id.to_string(),
                why,
            });
        }
        self.store.remove_backup(id)?;
        self.store.flush_async().await?;
        self.remove_files(&backup).await;
        tracing::info!(backup_id = %id, host = %backup.host, set = %backup.set, "backup deleted");
        Ok(backup)
    }

    async fn remove_files(&self, backup: &Backup) {
        for path in [&backup.archive_path, &backup.manifest_path] {
            if !path.is_empty() {
                let _ = tokio::fs::remove_file(self.absolute(path)).await;
            }
        }
    }

    /// Records whose upload can no longer complete (their command is over) become `failed`.
    pub async fn sweep(&self) -> Result<usize, BackupError> {
        let mut failed = 0;
        for backup in self.store.backups()? {
            if backup.state != BackupState::Uploading as i32 {
                continue;
            }
            let over = self
                .store
                .command(&backup.command_id)?
                .is_none_or(|c| is_finished(&c));
            if !over {
                continue;
            }
            // An attempt still writing stops, and none commits after this.
            let commit = self.attempts.commit_lock().await;
            let Some(mut backup) = self
                .store
                .backup(&backup.id)?
                .filter(|b| b.state == BackupState::Uploading as i32)
            else {
                continue;
            };
            self.attempts.cancel(&backup.id);
            for path in [&backup.archive_path, &backup.manifest_path] {
                upload::remove_parts(&self.absolute(path)).await;
            }
            backup.state = BackupState::Failed.into();
            backup.message = "the upload never completed".into();
            self.store.put_backup(&backup)?;
            drop(commit);
            failed += 1;
        }
        if failed > 0 {
            self.store.flush_async().await?;
        }
        Ok(failed)
    }
}
