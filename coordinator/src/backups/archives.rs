//! A stored archive read back: verification (re-hashed against the catalog), opening it for a
//! download, and recording a drill's result.

use super::*;

impl Backups {
    /// Re-hashes the stored archive and records the result (`verified_ok`).
    pub async fn verify(&self, id: &str) -> Result<Backup, BackupError> {
        let mut backup = self.get(id)?;
        if !is_stored(&backup) {
            return Err(BackupError::NotStored(backup.id, state_name(backup.state)));
        }
        let path = self.absolute(&backup.archive_path);
        let outcome = hash_file(&path).await;
        backup.verified_unix_ms = now_unix_ms();
        match outcome {
            Ok((sha256, size)) if sha256 == backup.sha256 && size == backup.size => {
                backup.verified_ok = true;
            }
            Ok((sha256, size)) => {
                backup.verified_ok = false;
                backup.message = format!(
                    "verify failed: the stored archive is {size} bytes with sha256 {sha256}; the catalog says {} bytes, {}",
                    backup.size, backup.sha256
                );
            }
            Err(err) => {
                backup.verified_ok = false;
                backup.message = format!("verify failed: cannot read the stored archive: {err}");
            }
        }
        self.store.put_backup(&backup)?;
        self.store.flush_async().await?;
        Ok(backup)
    }

    /// What a restore or drill command of `agent_id` may download, and the open archive.
    pub async fn open_for_fetch(
        &self,
        agent_id: &str,
        command_id: &str,
        backup_id: &str,
    ) -> Result<(Backup, tokio::fs::File), BackupError> {
        let command = self.own_command(agent_id, command_id)?;
        let backup = match (&command.restore, &command.drill) {
            (Some(restore), _) => {
                if !backup_id.is_empty() && backup_id != restore.backup_id {
                    return Err(BackupError::NotYourCommand(command_id.to_string()));
                }
                self.get(&restore.backup_id)?
            }
            (None, Some(drill)) if backup_id.is_empty() => self
                .list(agent_id, &drill.set, false)?
                .into_iter()
                .next()
                .ok_or_else(|| BackupError::NoLatest {
                    host: agent_id.to_string(),
                    set: drill.set.clone(),
                })?,
            (None, Some(drill)) => {
                let backup = self.get(backup_id)?;
                if backup.host != agent_id || backup.set != drill.set {
                    return Err(BackupError::NotYourCommand(command_id.to_string()));
                }
                backup
            }
            (None, None) => return Err(BackupError::NotYourCommand(command_id.to_string())),
        };
        if !is_stored(&backup) {
            return Err(BackupError::NotStored(backup.id, state_name(backup.state)));
        }
        let file = tokio::fs::File::open(self.absolute(&backup.archive_path)).await?;
        Ok((backup, file))
    }

    /// Records a drill's result on the backup it restored.
    pub async fn record_drill(
        &self,
        agent_id: &str,
        command_id: &str,
        backup_id: &str,
        result: DrillResult,
    ) -> Result<(), BackupError> {
        let command = self.own_command(agent_id, command_id)?;
        let Some(drill) = &command.drill else {
            return Err(BackupError::NotYourCommand(command_id.to_string()));
        };
        let mut backup = self.get(backup_id)?;
        if backup.host != agent_id || backup.set != drill.set {
            return Err(BackupError::NotYourCommand(command_id.to_string()));
        }
        tracing::info!(%backup_id, host = %agent_id, ok = result.ok, files = result.files, "drill recorded");
        backup.last_drill = Some(result);
        self.store.put_backup(&backup)?;
        self.store.flush_async().await?;
        Ok(())
    }
}
