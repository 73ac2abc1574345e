//! Release artifacts on the coordinator: uploads hashed as they stream in (size-capped,
//! format sniffed from the first bytes), kept by sha256 under `<data_dir>/artifacts`, and
//! read back in chunks for agents. Metadata lives in the store. `delete` removes a release
//! no host, job or active rollout needs.

pub mod delete;
pub mod environments;
pub mod notes;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Largest artifact accepted.
pub const MAX_ARTIFACT_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// Bytes per chunk sent to agents.
pub const CHUNK_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("invalid app name {0:?}: expected [a-z0-9][a-z0-9._-]*, at most 63 characters")]
    BadApp(String),
    #[error("invalid version {0:?}: expected [A-Za-z0-9][A-Za-z0-9._+-]*, at most 64 characters")]
    BadVersion(String),
    #[error("the artifact is not a tar.gz, tar.zst or tar archive")]
    BadFormat,
    #[error("the artifact is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(
        "the upload is corrupt: the client computed sha256 {expected}, the coordinator received {actual}"
    )]
    Corrupt { expected: String, actual: String },
    #[error(
        "{app} {version} was already pushed with other bytes (sha256 {existing}); push a new version instead"
    )]
    Conflict {
        app: String,
        version: String,
        existing: String,
    },
    #[error("no release {app} {version}; push it first")]
    Unknown { app: String, version: String },
    #[error("artifact storage: {0}")]
    Io(#[from] std::io::Error),
}

/// The one rule, shared with every agent: `convoy_proto::labels::valid_release_version`.
pub fn validate_version(version: &str) -> Result<(), ReleaseError> {
    if convoy_proto::labels::valid_release_version(version) {
        Ok(())
    } else {
        Err(ReleaseError::BadVersion(version.to_string()))
    }
}

pub fn validate_app(app: &str) -> Result<(), ReleaseError> {
    if convoy_proto::labels::valid_app_name(app) {
        Ok(())
    } else {
        Err(ReleaseError::BadApp(app.to_string()))
    }
}

pub use convoy_proto::labels::valid_sha256;

/// The archive format from its first bytes.
pub fn format_of(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some("tar.gz")
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("tar.zst")
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Some("tar")
    } else {
        None
    }
}

#[derive(Debug, Clone)]
pub struct Artifacts {
    dir: PathBuf,
}

impl Artifacts {
    /// Opens `<data_dir>/artifacts`, removing uploads a crash left half-written.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let dir = data_dir.join("artifacts");
        crate::server::private_dir(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(".upload-") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self { dir })
    }

    /// The data dir the artifacts live under.
    pub fn data_dir(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }

    pub fn path(&self, sha256_hex: &str) -> PathBuf {
        self.dir.join(sha256_hex)
    }

    pub async fn begin(&self) -> Result<Upload, ReleaseError> {
        let path = self
            .dir
            .join(format!(".upload-{:016x}", rand::random::<u64>()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await?;
        Ok(Upload {
            file,
            path,
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
        })
    }
}

/// An upload in progress; dropped without `finish`, it leaves a temp file that `abort`
/// (or the next start) removes.
pub struct Upload {
    file: tokio::fs::File,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
}

impl Upload {
    pub async fn write(&mut self, data: &[u8]) -> Result<(), ReleaseError> {
        self.size += data.len() as u64;
        if self.size > MAX_ARTIFACT_BYTES {
            return Err(ReleaseError::TooLarge {
                limit: MAX_ARTIFACT_BYTES,
            });
        }
        if self.head.len() < 512 {
            let take = (512 - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
        }
        self.hasher.update(data);
        self.file.write_all(data).await?;
        Ok(())
    }

    /// Syncs the bytes, checks format and digest, and moves the file into place.
    /// Returns (sha256 hex, size, format).
    pub async fn finish(
        mut self,
        artifacts: &Artifacts,
        expected_sha256: &str,
    ) -> Result<(String, u64, &'static str), ReleaseError> {
        let format = match format_of(&self.head) {
            Some(format) => format,
            None => {
                self.abort().await;
                return Err(ReleaseError::BadFormat);
            }
        };
        let sha = hex::encode(self.hasher.finalize_reset());
        if !expected_sha256.is_empty() && expected_sha256 != sha {
            self.abort().await;
            return Err(ReleaseError::Corrupt {
                expected: expected_sha256.to_string(),
                actual: sha,
            });
        }
        self.file.flush().await?;
        self.file.sync_all().await?;
        tokio::fs::rename(&self.path, artifacts.path(&sha)).await?;
        Ok((sha, self.size, format))
    }

    pub async fn abort(self) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn uploads_are_hashed_sniffed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let artifacts = Artifacts::open(dir.path()).unwrap();
        let gz = [0x1f, 0x8b, 8, 0, 1, 2, 3];
        let mut upload = artifacts.begin().await.unwrap();
        upload.write(&gz).await.unwrap();
        let (sha, size, format) = upload.finish(&artifacts, "").await.unwrap();
        assert_eq!((size, format), (7, "tar.gz"));
        assert_eq!(std::fs::read(artifacts.path(&sha)).unwrap(), gz);

        let mut upload = artifacts.begin().await.unwrap();
        upload.write(b"#!/bin/sh\nrm -rf /\n").await.unwrap();
        assert!(matches!(
            upload.finish(&artifacts, "").await,
            Err(ReleaseError::BadFormat)
        ));

        let mut upload = artifacts.begin().await.unwrap();
        upload.write(&gz).await.unwrap();
        assert!(matches!(
            upload.finish(&artifacts, &"0".repeat(64)).await,
            Err(ReleaseError::Corrupt { .. })
        ));
        // Nothing half-written is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path().join("artifacts"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![sha]);
    }

    #[test]
    fn names() {
        assert!(validate_version("1.4.2").is_ok() && validate_version("2.0.0-rc.1+b7").is_ok());
        for bad in ["", "-1", "1/2", "../x", "a b"] {
            assert!(validate_version(bad).is_err(), "{bad}");
        }
        assert!(validate_app("web").is_ok() && validate_app("Web").is_err());
        assert!(
            valid_sha256(&"a".repeat(64))
                && !valid_sha256(&"A".repeat(64))
                && !valid_sha256("../x")
        );
    }
}

/// The deploy command for `app` `version`: the stored release's digest, size and
/// signature, checked names first. Unknown releases are an error.
pub fn deploy_command(
    store: &crate::store::Store,
    app: &str,
    version: &str,
) -> Result<convoy_proto::v1::Deploy, DeployLookupError> {
    validate_app(app)?;
    validate_version(version)?;
    let release = store
        .release(app, version)?
        .ok_or_else(|| ReleaseError::Unknown {
            app: app.to_string(),
            version: version.to_string(),
        })?;
    Ok(convoy_proto::v1::Deploy {
        app: release.app,
        version: release.version,
        sha256: release.sha256,
        size: release.size,
        signature: release.signature,
        signer: release.signer,
    })
}

/// Why [`deploy_command`] found no release to deploy.
#[derive(Debug, thiserror::Error)]
pub enum DeployLookupError {
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
