//! Restore commands: check the target (before anything is downloaded), download and verify
//! the archive, unpack it into a staging directory, and place it under a directory or, by
//! explicit request, over the set's live paths.

use super::*;

impl Recovery {
    /// Restores a backup under a directory or, explicitly, in place. A non-empty target
    /// directory is refused without `force`, before anything is downloaded.
    pub(crate) async fn restore(
        &self,
        command_id: &str,
        request: &RestoreRequest,
        transport: &dyn BackupTransport,
        progress: &(dyn Fn(String) + Sync),
    ) -> RecoveryResult {
        let set = self.set(&request.set)?;
        let target = check_target(request).map_err(RecoveryError::Refused)?;
        self.check_allowed(request, set, target.as_deref())?;
        let work = self.scratch("restore", command_id)?;
        let result = async {
            let (meta, archive) = self
                .fetch(command_id, &request.backup_id, &work, transport)
                .await
                .map_err(|err| err.to_string())?;
            // The coordinator names the backup's host again in the download: it must be the
            // one the command named, and one this host accepts.
            if !request.source_host.is_empty() && meta.host != request.source_host {
                return Err(format!(
                    "rejected: the download is host {}'s backup, the command named host {}",
                    meta.host, request.source_host
                ));
            }
            let source = if meta.host.is_empty() {
                &request.source_host
            } else {
                &meta.host
            };
            self.policy
                .check_source(source)
                .map_err(|err| err.to_string())?;
            progress(format!(
                "downloaded backup {} ({} bytes, sha256 verified)",
                meta.backup_id, meta.size
            ));
            let staged = work.join("tree");
            let unpacked = self
                .unpack(&archive, &staged)
                .await
                .map_err(|err| err.to_string())?;
            let manifest = read_manifest(&staged).map_err(|err| err.to_string())?;
            let report = verify_blocking(&staged, &manifest)
                .await
                .map_err(|err| err.to_string())?;
            if !report.passed() {
                return Err(format!(
                    "backup {} does not match its manifest: {}",
                    meta.backup_id,
                    report.problems.first().cloned().unwrap_or_default()
                ));
            }
            // Again, as late as possible: the target may have changed while downloading.
            self.check_allowed(request, set, target.as_deref())
                .map_err(|err| err.to_string())?;
            let placed = match &target {
                Some(dir) => place::under(&staged, dir, request.force).await,
                None => place::in_place(&staged, &set.paths).await,
            }
            .map_err(|err| err.to_string())?;
            Ok(format!(
                "restored backup {} {}: {} files, {} bytes ({} entries placed)",
                meta.backup_id,
                match &target {
                    Some(dir) => format!("under {}", dir.display()),
                    None => "in place".to_string(),
                },
                unpacked.files,
                unpacked.bytes,
                placed
            ))
        }
        .await;
        remove_tree_off_thread(&work).await;
        result.map_err(RecoveryError::Failed)
    }
}

/// The restore target: `Some(dir)` for `--to`, `None` for in place. Checked before anything
/// is downloaded, so a refused restore changes nothing.
fn check_target(request: &RestoreRequest) -> Result<Option<PathBuf>, String> {
    match (request.in_place, request.target_dir.is_empty()) {
        (true, true) => return Ok(None),
        (true, false) => return Err("give either a target directory or in-place, not both".into()),
        (false, true) => {
            return Err("a restore needs a target directory, or in-place explicitly".into());
        }
        (false, false) => {}
    }
    let dir = PathBuf::from(&request.target_dir);
    let mut parts = dir.components();
    let absolute = parts.next() == Some(Component::RootDir);
    if !absolute || !parts.all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!(
            "restore target {} must be absolute, without . or ..",
            dir.display()
        ));
    }
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if meta.is_dir() => {
            let empty = std::fs::read_dir(&dir)
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                .next()
                .is_none();
            if !empty && !request.force {
                return Err(format!(
                    "restore target {} is not empty; pass --force to restore into it anyway",
                    dir.display()
                ));
            }
        }
        Ok(_) => {
            return Err(format!(
                "restore target {} is not a directory",
                dir.display()
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    }
    Ok(Some(dir))
}
