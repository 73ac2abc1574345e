//! A deploy: check what it names, reuse a verified release already on the host or fetch,
//! check, unpack and record it, then activate it.

use super::*;

impl Deployer {
    /// Deploys `release`; `progress` receives one line per phase. A release already on
    /// the host is used only if its record says it came from the same sha256; one without
    /// a record (from an older agent) is fetched and verified again unless it is current.
    pub(crate) async fn deploy(
        &self,
        release: &Release,
        source: &dyn ArtifactSource,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> DeployResult {
        let signer = self.check_deploy(release)?;
        if !signer.is_empty() {
            progress(format!("signature by {signer} verified"));
        }
        let (app, version) = (&release.app, &release.version);
        let dir = self.app_dir(app);
        let is_current = state::current_version(&dir).as_deref() == Some(version.as_str());
        let release_dir = dir.join("releases").join(version);
        let mut fetch = true;
        if record::release_exists(&dir, version) {
            match record::load(&dir, version)
                .map_err(|err| DeployError::Refused(err.to_string()))?
            {
                Some(kept) if kept.sha256 == release.sha256 => {
                    progress(format!(
                        "release {version} is already on this host (verified sha256 {})",
                        kept.sha256
                    ));
                    if is_current && AppState::load(&dir).healthy {
                        // Still passes every check a switch would make.
                        self.check_activation(app, version)
                            .map_err(|err| DeployError::Refused(err.to_string()))?;
                        return Ok(format!(
                            "{app} {version} is already current and healthy; nothing to do"
                        ));
                    }
                    fetch = false;
                }
                Some(kept) => {
                    return Err(DeployError::Refused(format!(
                        "refused {app} {version}: this host unpacked {version} from sha256 {}, \
                         the deploy names sha256 {}; push a new version instead",
                        kept.sha256, release.sha256
                    )));
                }
                None if is_current => {
                    return Err(DeployError::Refused(format!(
                        "refused {app} {version}: it is current but has no verification record \
                         (unpacked by an older agent); deploy a new version to replace it"
                    )));
                }
                None => {
                    progress(format!(
                        "releases/{version} has no verification record; removing it and fetching again"
                    ));
                    remove_unverified(&release_dir).map_err(|e| {
                        DeployError::Prepare(format!(
                            "cannot remove {}: {e}",
                            release_dir.display()
                        ))
                    })?;
                }
            }
        }
        if fetch {
            self.fetch_and_unpack(release, &signer, source, progress)
                .await
                .map_err(DeployError::Prepare)?;
        }
        self.activate(app, version, progress, cancel).await
    }

    /// Fetches, verifies and unpacks `release`, then records what was verified (a release
    /// whose record cannot be written is removed again).
    async fn fetch_and_unpack(
        &self,
        release: &Release,
        signer: &str,
        source: &dyn ArtifactSource,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<(), String> {
        let dir = self.app_dir(&release.app);
        let releases = dir.join("releases");
        let release_dir = releases.join(&release.version);
        let artifact = fetch::fetch_verified(&self.config.data_dir, release, source, progress)
            .await
            .map_err(|err| err.to_string())?;
        progress(format!("unpacking into {}", release_dir.display()));
        tokio::fs::create_dir_all(&releases)
            .await
            .map_err(|e| format!("cannot create {}: {e}", releases.display()))?;
        let report = tokio::task::spawn_blocking({
            let (artifact, release_dir, limits) = (
                artifact.clone(),
                release_dir.clone(),
                self.config.limits.clone(),
            );
            move || archive::unpack_file(&artifact, &release_dir, &limits)
        })
        .await
        .map_err(|_| "unpack task failed".to_string())?
        .map_err(|err| match err {
            // The disk, not the archive: say so.
            archive::ArchiveError::Io { .. } => format!("cannot unpack: {err}"),
            _ => format!("refused the archive: {err}"),
        })?;
        let _ = tokio::fs::remove_file(&artifact).await;
        let verified = ReleaseRecord {
            app: release.app.clone(),
            version: release.version.clone(),
            sha256: release.sha256.clone(),
            size: release.size,
            signature: if signer.is_empty() {
                String::new()
            } else {
                hex::encode(&release.signature)
            },
            signer: signer.to_string(),
            verified_at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        };
        if let Err(err) = record::save(&dir, &verified) {
            let _ = std::fs::remove_dir_all(&release_dir);
            return Err(format!("cannot record the verified release: {err}"));
        }
        progress(format!(
            "unpacked {} files, {} bytes",
            report.files, report.bytes
        ));
        Ok(())
    }
}

/// Removes what sits at `releases/<version>` without a record: a directory, or a file or
/// symlink (never followed).
fn remove_unverified(path: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path)?.file_type().is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}
