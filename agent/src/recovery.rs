//! Backup, restore and drill commands on one host: this module owns carrying them out with
//! the host's own `[backup.sets.*]` config — the `before` command, packing a set and
//! streaming it out, downloading an archive and restoring it under a directory or in place,
//! and drills that restore into a scratch directory and check every file.
//!
//! It knows nothing of gRPC: bytes go out and come in through a [`BackupTransport`] (the
//! session implements it over `UploadBackup`/`FetchBackup`). Packing and checking are
//! [`crate::backup`]'s; unpacking is always [`crate::archive::unpack`] with
//! [`LinkPolicy::Verbatim`] (links are data, never written through); placing a restored tree
//! over live paths is `place`. Memory stays bounded: an upload holds a few fixed-size chunks
//! in flight, a download is written to disk as it arrives.
//!
//! Where a restore may write and whose backups this host restores are the host's own
//! decision (`policy`: `[backup] restore_roots` and `accept_restores_from`), checked before
//! anything is downloaded and again before anything is placed.

mod drill;
mod place;
mod policy;
mod restore;
mod take_backup;
mod transport;
mod upload;

pub(crate) use policy::RestorePolicy;
pub(crate) use transport::{
    BackupMeta, BackupTransport, DrillOutcome, TransferError, UploadError, UploadHeader,
    UploadPart, UploadTrailer, Uploaded,
};

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::archive::{self, Limits, LinkPolicy};
use crate::backup::{self, BackupSpec, MANIFEST_NAME, Manifest};
use crate::config::BackupSetConfig;
use crate::executor::{self, ActionSpec, Outcome};

/// A boxed future, as the transport returns them.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Upload attempts (each packs the set again from the start) before a backup gives up.
pub(crate) const UPLOAD_ATTEMPTS: u32 = 3;
/// The most problem lines a drill reports.
const MAX_PROBLEMS: usize = 20;

/// What a restore command asks for.
#[derive(Debug, Clone, Default)]
pub(crate) struct RestoreRequest {
    pub(crate) backup_id: String,
    pub(crate) set: String,
    /// Restore under this directory (absolute); empty with `in_place`.
    pub(crate) target_dir: String,
    pub(crate) in_place: bool,
    pub(crate) force: bool,
    /// The host the backup was taken on, as the coordinator says (checked against
    /// `accept_restores_from`, and against the download's meta).
    pub(crate) source_host: String,
}

/// `Ok` and `Err` both carry the line that becomes the command's message.
pub(crate) type RecoveryResult = Result<String, RecoveryError>;

/// Why a backup, restore or drill did not succeed; the text is the command's message,
/// unchanged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecoveryError {
    /// Refused before anything was read, downloaded or written: the set is not this
    /// host's, or the target or source is outside what its `[backup]` policy allows.
    #[error("{0}")]
    Refused(String),
    /// It started and failed (the message says where).
    #[error("{0}")]
    Failed(String),
}

impl From<String> for RecoveryError {
    fn from(message: String) -> Self {
        Self::Failed(message)
    }
}

/// Carries out backup, restore and drill commands for the sets a host's config names.
pub(crate) struct Recovery {
    data_dir: PathBuf,
    sets: BTreeMap<String, BackupSetConfig>,
    limits: Limits,
    policy: RestorePolicy,
}

impl std::fmt::Debug for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recovery").finish_non_exhaustive()
    }
}

impl Recovery {
    /// `data_dir` is the agent's; scratch space lives in `<data_dir>/recovery`.
    pub(crate) fn new(
        data_dir: PathBuf,
        sets: BTreeMap<String, BackupSetConfig>,
        max_bytes: u64,
    ) -> Self {
        Self {
            data_dir,
            sets,
            limits: Limits {
                max_total_bytes: max_bytes,
                max_entries: 10_000_000,
                links: LinkPolicy::Verbatim,
            },
            policy: RestorePolicy::default(),
        }
    }

    /// Where restores may write and whose backups are accepted (the host's config).
    #[must_use]
    pub(crate) fn with_restore_policy(mut self, policy: RestorePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Checks the restore's source host and target against the host's policy.
    fn check_allowed(
        &self,
        request: &RestoreRequest,
        set: &BackupSetConfig,
        target: Option<&Path>,
    ) -> Result<(), RecoveryError> {
        self.policy.check_source(&request.source_host)?;
        match target {
            Some(dir) => self.policy.check_target_dir(&self.data_dir, dir),
            None => self.policy.check_in_place(&set.paths),
        }
    }

    /// The names of the sets, for the Hello (`backup:NAME`).
    pub(crate) fn set_names(&self) -> impl Iterator<Item = &str> {
        self.sets.keys().map(String::as_str)
    }

    fn set(&self, name: &str) -> Result<&BackupSetConfig, RecoveryError> {
        self.sets.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.set_names().collect();
            RecoveryError::Refused(format!(
                "rejected: unknown backup set {name:?}; this host has: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// Whether the host's config names this set.
    pub(crate) fn allows(&self, set: &str) -> bool {
        self.sets.contains_key(set)
    }

    /// A fresh scratch directory for one command.
    fn scratch(&self, kind: &str, command_id: &str) -> Result<PathBuf, RecoveryError> {
        let safe: String = command_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let dir = self
            .data_dir
            .join("recovery")
            .join(format!("{kind}-{safe}"));
        remove_tree(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create scratch dir {}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// Downloads the command's backup into `dir/archive`, checking its sha256.
    async fn fetch(
        &self,
        command_id: &str,
        backup_id: &str,
        dir: &Path,
        transport: &dyn BackupTransport,
    ) -> Result<(BackupMeta, PathBuf), RecoveryError> {
        let path = dir.join("archive.tar.zst");
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let mut hasher = Sha256::new();
        let meta = transport
            .download(command_id, backup_id, &mut file, &mut hasher)
            .await
            .map_err(|err| err.to_string())?;
        file.sync_all()
            .await
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let got = hex::encode(hasher.finalize());
        if got != meta.sha256 {
            return Err(RecoveryError::Failed(format!(
                "backup {} is corrupt: its archive hashes to {got}, the catalog says {}",
                meta.backup_id, meta.sha256
            )));
        }
        Ok((meta, path))
    }

    async fn unpack(
        &self,
        archive: &Path,
        dest: &Path,
    ) -> Result<archive::UnpackReport, RecoveryError> {
        let (archive, dest, limits) = (
            archive.to_path_buf(),
            dest.to_path_buf(),
            self.limits.clone(),
        );
        tokio::task::spawn_blocking(move || archive::unpack_file(&archive, &dest, &limits))
            .await
            .map_err(|e| format!("unpack task failed: {e}"))?
            .map_err(|e| RecoveryError::Failed(format!("the archive was refused: {e}")))
    }
}

fn read_manifest(root: &Path) -> Result<Manifest, RecoveryError> {
    let path = root.join(MANIFEST_NAME);
    let json = std::fs::read(&path).map_err(|e| format!("the archive has no manifest: {e}"))?;
    Manifest::from_json(&json)
        .map_err(|e| RecoveryError::Failed(format!("the archive's manifest is invalid: {e}")))
}

async fn verify_blocking(
    root: &Path,
    manifest: &Manifest,
) -> Result<backup::VerifyReport, RecoveryError> {
    let (root, manifest) = (root.to_path_buf(), manifest.clone());
    tokio::task::spawn_blocking(move || backup::verify(&root, &manifest))
        .await
        .map_err(|e| format!("verify task failed: {e}"))?
        .map_err(|e| RecoveryError::Failed(e.to_string()))
}

/// [`remove_tree`] on a blocking thread: a scratch tree may hold many thousands of files,
/// and the agent's one runtime thread also carries its heartbeats.
async fn remove_tree_off_thread(dir: &Path) {
    let dir = dir.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || remove_tree(&dir)).await;
}

/// Best-effort removal of a scratch tree (directories made writable first if needed).
fn remove_tree(dir: &Path) {
    if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() {
        return;
    }
    make_writable(dir);
    let _ = std::fs::remove_dir_all(dir);
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(read) = std::fs::read_dir(dir) {
        for child in read.flatten() {
            if child.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&child.path());
            }
        }
    }
}
