//! Fetching a release artifact into `<data_dir>/downloads/<sha256>.part` (0600, in a 0700
//! dir), resuming from the bytes already there, and checking its sha256 and size. The
//! signature was checked before anything was fetched (`Deployer::check_deploy`).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{ArtifactSource, FetchError, Release, record};

/// Why no checked artifact is on disk; the text is the deploy's message, unchanged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ArtifactError {
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a partial download is larger than the artifact; removed it, retry")]
    PartTooLarge,
    #[error("cannot read the partial download: {0}")]
    ReadPart(std::io::Error),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("cannot read the download: {0}")]
    ReadDownload(std::io::Error),
    #[error(
        "checksum mismatch: expected sha256 {expected} ({expected_size} bytes), got {got} ({size} bytes)"
    )]
    Mismatch {
        expected: String,
        expected_size: u64,
        got: String,
        size: u64,
    },
}

/// Downloads `release` and returns the path of the checked artifact.
pub(crate) async fn fetch_verified(
    data_dir: &Path,
    release: &Release,
    source: &dyn ArtifactSource,
    progress: &(dyn Fn(String) + Sync),
) -> Result<PathBuf, ArtifactError> {
    let downloads = data_dir.join("downloads");
    record::private_dir(&downloads).map_err(|source| ArtifactError::CreateDir {
        path: downloads.clone(),
        source,
    })?;
    let part = downloads.join(format!("{}.part", release.sha256));
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .mode(0o600)
        .open(&part)
        .await
        .map_err(|source| ArtifactError::Open {
            path: part.clone(),
            source,
        })?;
    let have = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    if have > release.size {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(ArtifactError::PartTooLarge);
    }
    if have > 0 {
        progress(format!(
            "resuming the download at {have} of {} bytes",
            release.size
        ));
    } else {
        progress(format!(
            "fetching {} {} ({} bytes)",
            release.app, release.version, release.size
        ));
    }
    // The bytes already on disk are hashed once; new ones as they arrive.
    let mut hasher = Sha256::new();
    if have > 0 {
        hash_prefix(&part, have, &mut hasher)
            .await
            .map_err(ArtifactError::ReadPart)?;
    }
    if have < release.size {
        source
            .fetch_into(&release.sha256, have, &mut file, &mut hasher)
            .await?;
    }
    let size = file
        .metadata()
        .await
        .map(|m| m.len())
        .map_err(ArtifactError::ReadDownload)?;
    drop(file);
    let digest = hex::encode(hasher.finalize());
    if digest != release.sha256 || size != release.size {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(ArtifactError::Mismatch {
            expected: release.sha256.clone(),
            expected_size: release.size,
            got: digest,
            size,
        });
    }
    progress(format!("sha256 {digest} verified"));
    Ok(part)
}

/// Feeds the first `len` bytes of `path` to `hasher`.
async fn hash_prefix(path: &Path, len: u64, hasher: &mut Sha256) -> std::io::Result<()> {
    let mut file = tokio::fs::File::open(path).await?.take(len);
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        hasher.update(&buffer[..read]);
    }
}
