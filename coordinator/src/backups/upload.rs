//! One upload in progress: the archive and manifest part files, hashed and counted as the
//! bytes arrive, checked against the trailer and renamed into place only if they match.

use std::path::PathBuf;

use convoy_proto::v1::Backup;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::BackupError;

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
    record: Backup,
    archive_path: PathBuf,
    manifest_path: PathBuf,
    archive: tokio::fs::File,
    manifest: tokio::fs::File,
    archive_hash: Sha256,
    manifest_hash: Sha256,
    archive_bytes: u64,
    manifest_bytes: u64,
}

fn part(path: &std::path::Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

impl UploadSink {
    pub(super) async fn create(
        record: Backup,
        archive_path: PathBuf,
        manifest_path: PathBuf,
    ) -> Result<Self, BackupError> {
        if let Some(dir) = archive_path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        // `create` truncates: a restarted upload begins again from nothing.
        let archive = tokio::fs::File::create(part(&archive_path)).await?;
        let manifest = tokio::fs::File::create(part(&manifest_path)).await?;
        Ok(Self {
            record,
            archive_path,
            manifest_path,
            archive,
            manifest,
            archive_hash: Sha256::new(),
            manifest_hash: Sha256::new(),
            archive_bytes: 0,
            manifest_bytes: 0,
        })
    }

    pub fn backup_id(&self) -> &str {
        &self.record.id
    }

    pub async fn write_archive(&mut self, data: &[u8]) -> Result<(), BackupError> {
        if self.manifest_bytes > 0 {
            return Err(BackupError::Protocol("archive bytes after the manifest"));
        }
        self.archive_hash.update(data);
        self.archive_bytes += data.len() as u64;
        self.archive.write_all(data).await?;
        Ok(())
    }

    pub async fn write_manifest(&mut self, data: &[u8]) -> Result<(), BackupError> {
        self.manifest_bytes += data.len() as u64;
        if self.manifest_bytes > MAX_MANIFEST_BYTES {
            return Err(BackupError::Protocol("the manifest is too large"));
        }
        self.manifest_hash.update(data);
        self.manifest.write_all(data).await?;
        Ok(())
    }

    /// Checks the trailer, syncs both files and renames them into place.
    pub(super) async fn finish(mut self, trailer: &UploadTrailer) -> Result<Backup, BackupError> {
        let archive_sha256 = hex::encode(self.archive_hash.finalize_reset());
        let manifest_sha256 = hex::encode(self.manifest_hash.finalize_reset());
        let corrupt = |why: String| BackupError::Corrupt {
            id: self.record.id.clone(),
            why,
        };
        if archive_sha256 != trailer.archive_sha256 || self.archive_bytes != trailer.archive_bytes {
            let err = corrupt(format!(
                "received {} bytes with sha256 {archive_sha256}, the agent sent {} bytes with sha256 {}",
                self.archive_bytes, trailer.archive_bytes, trailer.archive_sha256
            ));
            self.abort().await;
            return Err(err);
        }
        if manifest_sha256 != trailer.manifest_sha256 {
            let err = corrupt("the manifest's sha256 does not match".into());
            self.abort().await;
            return Err(err);
        }
        self.archive.flush().await?;
        self.archive.sync_all().await?;
        self.manifest.flush().await?;
        self.manifest.sync_all().await?;
        tokio::fs::rename(part(&self.manifest_path), &self.manifest_path).await?;
        tokio::fs::rename(part(&self.archive_path), &self.archive_path).await?;
        if let Some(dir) = self.archive_path.parent() {
            // The renames are durable once the directory is.
            if let Ok(dir) = tokio::fs::File::open(dir).await {
                let _ = dir.sync_all().await;
            }
        }
        Ok(self.record)
    }

    /// Removes the part files (the record stays `uploading` until retried or swept).
    pub async fn abort(self) {
        drop(self.archive);
        drop(self.manifest);
        let _ = tokio::fs::remove_file(part(&self.archive_path)).await;
        let _ = tokio::fs::remove_file(part(&self.manifest_path)).await;
    }
}
