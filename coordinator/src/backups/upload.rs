//! One upload attempt in progress: its own archive and manifest part files
//! (`<file>.<attempt>.part`), hashed and counted as the bytes arrive, checked against the
//! trailer and renamed into place only if they match and no newer attempt took over
//! (`attempts`). The host's quota is enforced as the bytes arrive, and the archive is looked
//! inside (`check`) before it may commit. Files are created 0600 in directories made 0700.

use std::path::{Path, PathBuf};

use convoy_proto::v1::Backup;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::OwnedMutexGuard;

use super::attempts::Lease;
use super::{BackupError, check};
use crate::config::BackupsConfig;
use crate::store::Store;

/// Largest manifest accepted (it lists every file of a backup).
pub const MAX_MANIFEST_BYTES: u64 = 1 << 30;

/// What the agent says it sent.
#[derive(Debug, Clone, Default)]
pub struct UploadTrailer {
    pub archive_sha256: String,
    pub archive_bytes: u64,
    pub manifest_sha256: String,
    pub files: u64,
    pub bytes: u64,
    pub missing: Vec<String>,
    pub skipped: Vec<String>,
}

pub struct UploadSink {
    lease: Lease,
    record: Backup,
    archive_path: PathBuf,
    manifest_path: PathBuf,
    archive: tokio::fs::File,
    manifest: tokio::fs::File,
    archive_hash: Sha256,
    manifest_hash: Sha256,
    archive_bytes: u64,
    manifest_bytes: u64,
    /// Bytes this upload may still store under the host's quota, and the quota itself.
    quota: Option<Quota>,
}

/// The host's quota as seen when the upload began.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub max_bytes: u64,
    /// What the host's other stored backups already take.
    pub used_bytes: u64,
}

/// `host`'s quota as it stands (archive sizes of its stored backups), not counting `except`
/// (the backup an upload replaces); None without `[backups] max_bytes_per_host`.
pub(super) fn quota(
    store: &Store,
    policy: &BackupsConfig,
    host: &str,
    except: &str,
) -> Result<Option<Quota>, BackupError> {
    let Some(max_bytes) = policy.max_bytes_per_host else {
        return Ok(None);
    };
    let used_bytes = store
        .backups()?
        .iter()
        .filter(|b| b.host == host && b.id != except && super::is_stored(b))
        .map(|b| b.size)
        .sum();
    Ok(Some(Quota {
        max_bytes,
        used_bytes,
    }))
}

/// Creates `dir` and its missing parents 0700 (and makes `dir` itself 0700 if it existed).
pub(super) async fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder.create(dir).await?;
    tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).await
}

/// A new file, 0600 from its first byte.
async fn private_file(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .await
}

/// The part file of `path` that attempt `attempt` writes.
pub(super) fn part(path: &Path, attempt: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{attempt}.part"));
    PathBuf::from(name)
}

/// Removes every attempt's part files of `path` (`<file>.<n>.part`).
pub(super) async fn remove_parts(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let attempt = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".part"));
        if attempt.is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit())) {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

impl UploadSink {
    pub(super) async fn create(
        lease: Lease,
        record: Backup,
        archive_path: PathBuf,
        manifest_path: PathBuf,
        quota: Option<Quota>,
    ) -> Result<Self, BackupError> {
        if let Some(dir) = archive_path.parent() {
            private_dir(dir).await?;
        }
        // Files of this attempt only: an older attempt still writing keeps its own.
        let archive = private_file(&part(&archive_path, lease.attempt())).await?;
        let manifest = private_file(&part(&manifest_path, lease.attempt())).await?;
        Ok(Self {
            lease,
            record,
            archive_path,
            manifest_path,
            archive,
            manifest,
            archive_hash: Sha256::new(),
            manifest_hash: Sha256::new(),
            archive_bytes: 0,
            manifest_bytes: 0,
            quota,
        })
    }

    /// Refuses bytes that would take the host past its quota, before they are written.
    fn charge(&self, more: usize) -> Result<(), BackupError> {
        let Some(quota) = self.quota else {
            return Ok(());
        };
        let total = quota
            .used_bytes
            .saturating_add(self.archive_bytes)
            .saturating_add(self.manifest_bytes)
            .saturating_add(more as u64);
        if total > quota.max_bytes {
            return Err(BackupError::Quota {
                host: self.record.host.clone(),
                used: quota.used_bytes,
                max: quota.max_bytes,
            });
        }
        Ok(())
    }

    pub fn backup_id(&self) -> &str {
        &self.record.id
    }

    pub fn attempt(&self) -> u64 {
        self.lease.attempt()
    }

    /// Not yet superseded (checked again, under the commit lock, before committing).
    pub(super) fn is_current(&self) -> bool {
        self.lease.is_current()
    }

    /// Resolves once a newer attempt of the same backup took over: this one must stop.
    pub async fn superseded(&self) {
        self.lease.superseded().await;
    }

    pub async fn write_archive(&mut self, data: &[u8]) -> Result<(), BackupError> {
        if self.manifest_bytes > 0 {
            return Err(BackupError::Protocol("archive bytes after the manifest"));
        }
        self.charge(data.len())?;
        self.archive_hash.update(data);
        self.archive_bytes += data.len() as u64;
        self.archive.write_all(data).await?;
        Ok(())
    }

    pub async fn write_manifest(&mut self, data: &[u8]) -> Result<(), BackupError> {
        self.charge(data.len())?;
        self.manifest_bytes += data.len() as u64;
        if self.manifest_bytes > MAX_MANIFEST_BYTES {
            return Err(BackupError::Protocol("the manifest is too large"));
        }
        self.manifest_hash.update(data);
        self.manifest.write_all(data).await?;
        Ok(())
    }

    /// Checks the bytes received against the trailer (hashes and sizes; a mismatch is
    /// `Corrupt`, the upload may be retried) and then looks inside the archive (`check`; a
    /// disagreement is `Malformed`). Syncs both files. Changes nothing on failure: the caller
    /// aborts or refuses the attempt.
    pub(super) async fn check(&mut self, trailer: &UploadTrailer) -> Result<(), BackupError> {
        let archive_sha256 = hex::encode(self.archive_hash.finalize_reset());
        let manifest_sha256 = hex::encode(self.manifest_hash.finalize_reset());
        let id = self.record.id.clone();
        if archive_sha256 != trailer.archive_sha256 || self.archive_bytes != trailer.archive_bytes {
            return Err(BackupError::Corrupt {
                id,
                why: format!(
                    "received {} bytes with sha256 {archive_sha256}, the agent sent {} bytes with sha256 {}",
                    self.archive_bytes, trailer.archive_bytes, trailer.archive_sha256
                ),
            });
        }
        if manifest_sha256 != trailer.manifest_sha256 {
            return Err(BackupError::Corrupt {
                id,
                why: "the manifest's sha256 does not match".into(),
            });
        }
        self.archive.flush().await?;
        self.archive.sync_all().await?;
        self.manifest.flush().await?;
        self.manifest.sync_all().await?;
        let path = part(&self.archive_path, self.lease.attempt());
        let (trailer, manifest_bytes) = (trailer.clone(), self.manifest_bytes);
        tokio::task::spawn_blocking(move || check::well_formed(&path, &trailer, manifest_bytes))
            .await
            .map_err(|e| std::io::Error::other(format!("archive check task failed: {e}")))?
            .map_err(|why| BackupError::Malformed { id, why })
    }

    /// With the commit lock held and only if this is still the newest attempt, renames both
    /// (checked) files into place. Returns the record with the lock still held, so the caller
    /// completes it before a newer attempt can take over.
    pub(super) async fn finish(self) -> Result<(Backup, OwnedMutexGuard<()>), BackupError> {
        let commit = self.lease.commit_lock().await;
        if !self.lease.is_current() {
            let err = BackupError::Superseded(self.record.id.clone());
            self.abort().await;
            return Err(err);
        }
        let attempt = self.lease.attempt();
        tokio::fs::rename(part(&self.manifest_path, attempt), &self.manifest_path).await?;
        tokio::fs::rename(part(&self.archive_path, attempt), &self.archive_path).await?;
        if let Some(dir) = self.archive_path.parent() {
            // The renames are durable once the directory is.
            if let Ok(dir) = tokio::fs::File::open(dir).await {
                let _ = dir.sync_all().await;
            }
        }
        // Older attempts that never cleaned up (their handler was dropped) leave files behind.
        remove_parts(&self.archive_path).await;
        remove_parts(&self.manifest_path).await;
        Ok((self.record, commit))
    }

    /// Refuses this attempt for good: its files go and, if it is still the newest attempt,
    /// its record becomes `failed` with `message` (never listed). A retry of the same command
    /// starts over.
    pub(super) async fn refuse(self, store: &Store, message: String) -> Result<(), BackupError> {
        let commit = self.lease.commit_lock().await;
        let current = self.lease.is_current();
        let mut record = self.record.clone();
        self.abort().await;
        if current {
            record.state = convoy_proto::v1::BackupState::Failed.into();
            record.message = message;
            store.put_backup(&record)?;
            store.flush_async().await?;
        }
        drop(commit);
        Ok(())
    }

    /// Removes this attempt's part files (the record stays `uploading` until retried or
    /// swept).
    pub async fn abort(self) {
        let attempt = self.lease.attempt();
        drop(self.archive);
        drop(self.manifest);
        let _ = tokio::fs::remove_file(part(&self.archive_path, attempt)).await;
        let _ = tokio::fs::remove_file(part(&self.manifest_path, attempt)).await;
    }
}
