//! Backups on the coordinator: this module owns the archives under `<data_dir>/backups` and
//! the catalog records that describe them (through the store), the rules for who may upload
//! or download what, retention, verification and schedules (`schedule`).
//!
//! An upload is written to `<id>.tar.zst.<attempt>.part` and `<id>.manifest.json.<attempt>.part`,
//! hashed as it arrives, and renamed into place only when the trailer's hashes and sizes match;
//! only then does the record leave `uploading`. A broken-off upload is never listed: the agent
//! packs the set again and restarts it under the same backup id; the restart supersedes any
//! older attempt still writing, and only the newest attempt may complete (`attempts`). Once
//! its command is over without a completed upload the record turns `failed` (`sweep`).
//! Before completing, the coordinator looks inside: the archive must be a well-formed tar.zst
//! whose embedded manifest agrees with the trailer and the manifest sent (`check`); else the
//! record is `failed` and never listed. A host's stored bytes are capped
//! (`[backups] max_bytes_per_host`) as the bytes arrive.
//!
//! Retention is the coordinator's alone (`retention`: the schedule's `keep`, a
//! `[[backups.retention]]` rule or the default; the `keep` in a host's upload header is
//! ignored). It prunes the oldest complete backups of a host and set only after a new one
//! completed, and never a backup younger than `[backups] min_retention`. The store's
//! directories are 0700 and its files 0600.
//!
//! Who is asking always comes from the caller's certificate: an agent may upload only for a
//! backup command that was sent to it and is not finished, and download only the backup its
//! own restore or drill command names. It knows nothing of gRPC (`grpc/backup_link.rs` and
//! `grpc/backups.rs` are the edges).

mod archives;
mod attempts;
pub mod check;
mod removal;
pub mod retention;
pub mod schedule;
mod upload;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use convoy_proto::v1::{Backup, BackupState, CommandRecord, DrillResult};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::clock::now_unix_ms;
use crate::config::BackupsConfig;
use crate::dispatch::{BackupWork, plan};
use crate::store::{Store, StoreError};

pub use upload::{Quota, UploadSink, UploadTrailer};

/// Skipped-entry lines kept in a record.
const MAX_SKIPPED: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("command {0:?} is not a backup command sent to this agent")]
    NotYourCommand(String),
    #[error("command {0:?} is already finished")]
    CommandFinished(String),
    #[error("no backup {0:?}")]
    NoBackup(String),
    #[error("no complete backup of set {set:?} for host {host:?}")]
    NoLatest { host: String, set: String },
    #[error("backup {0} has no stored archive (state {1})")]
    NotStored(String, &'static str),
    #[error("upload of backup {id} is corrupt: {why}")]
    Corrupt { id: String, why: String },
    #[error("the upload ended without a trailer")]
    Truncated,
    #[error("the upload of backup {0} was superseded by a newer attempt")]
    Superseded(String),
    #[error("upload is out of order: {0}")]
    Protocol(&'static str),
    #[error("backup {id} was refused: {why}")]
    Malformed { id: String, why: String },
    #[error(
        "backup refused: host {host} would go over its quota of {max} bytes (backups.max_bytes_per_host); its other stored backups take {used} bytes"
    )]
    Quota { host: String, used: u64, max: u64 },
    #[error("backup {id} was not deleted: {why}")]
    Kept { id: String, why: String },
    #[error("backup storage: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The set a piece of backup work is about.
pub fn set_of(work: &BackupWork) -> String {
    match work {
        BackupWork::Backup(b) => b.set.clone(),
        BackupWork::Restore { action, .. } => action.set.clone(),
        BackupWork::Drill(d) => d.set.clone(),
    }
}

/// The backup id a backup command produces: `b-<job time and suffix>-<host>`. The same
/// command always maps to the same id, so a restarted upload replaces its own record.
pub fn backup_id_for(command: &CommandRecord) -> String {
    let job = command.job_id.trim_start_matches("j-");
    format!("b-{job}-{}", command.agent_id)
}

pub fn state_name(state: i32) -> &'static str {
    match BackupState::try_from(state).unwrap_or(BackupState::Unspecified) {
        BackupState::Uploading => "uploading",
        BackupState::Complete => "complete",
        BackupState::Partial => "partial",
        BackupState::Failed => "failed",
        BackupState::Unspecified => "unknown",
    }
}

fn is_stored(backup: &Backup) -> bool {
    matches!(
        BackupState::try_from(backup.state),
        Ok(BackupState::Complete | BackupState::Partial)
    )
}

fn is_finished(command: &CommandRecord) -> bool {
    plan::is_terminal(plan::command_state(command.state))
}

/// The archives and the catalog.
#[derive(Clone)]
pub struct Backups {
    store: Store,
    data_dir: PathBuf,
    attempts: Arc<attempts::Attempts>,
    /// `[backups]`, replaced whole by a config reload (`set_policy`).
    policy: Arc<std::sync::RwLock<Arc<BackupsConfig>>>,
    clock: Arc<dyn crate::clock::Clock>,
}

impl std::fmt::Debug for Backups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backups").finish_non_exhaustive()
    }
}

impl Backups {
    /// Opens `<data_dir>/backups`, removing part files a crash left behind (their uploads
    /// restart from the beginning).
    pub fn open(data_dir: &Path, store: Store) -> std::io::Result<Self> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let root = data_dir.join("backups");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&root)?;
        // Stores made before the store was private are tightened on open.
        let private = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        };
        private(&root, 0o700)?;
        for host in std::fs::read_dir(&root)? {
            let host = host?.path();
            if !host.is_dir() {
                continue;
            }
            private(&host, 0o700)?;
            for entry in std::fs::read_dir(&host)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "part") {
                    let _ = std::fs::remove_file(path);
                } else if path.is_file() {
                    private(&path, 0o600)?;
                }
            }
        }
        Ok(Self {
            store,
            data_dir: data_dir.to_path_buf(),
            attempts: Arc::default(),
            policy: Arc::default(),
            clock: Arc::new(crate::clock::SystemClock),
        })
    }

    /// Retention, minimum age and quota from `coordinator.toml`'s `[backups]`.
    #[must_use]
    pub fn with_policy(mut self, policy: BackupsConfig) -> Self {
        self.policy = Arc::new(std::sync::RwLock::new(Arc::new(policy)));
        self
    }

    /// Where record times and backup ages are read (tests pass their own).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The `[backups]` policy in force now.
    pub fn policy(&self) -> Arc<BackupsConfig> {
        self.policy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A config reload's `[backups]`: every later retention, quota and delete decision
    /// uses it (a decision under way keeps the one it read).
    pub fn set_policy(&self, policy: BackupsConfig) {
        *self
            .policy
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(policy);
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn relative_paths(host: &str, id: &str) -> (String, String) {
        (
            format!("backups/{host}/{id}.tar.zst"),
            format!("backups/{host}/{id}.manifest.json"),
        )
    }

    fn absolute(&self, relative: &str) -> PathBuf {
        self.data_dir.join(relative)
    }

    /// The command, if it is an unfinished command of `agent_id`.
    fn own_command(&self, agent_id: &str, command_id: &str) -> Result<CommandRecord, BackupError> {
        let command = self
            .store
            .command(command_id)?
            .filter(|c| c.agent_id == agent_id)
            .ok_or_else(|| BackupError::NotYourCommand(command_id.to_string()))?;
        if is_finished(&command) {
            return Err(BackupError::CommandFinished(command_id.to_string()));
        }
        Ok(command)
    }

    /// Starts (or restarts) the upload for a backup command sent to `agent_id`. How many
    /// backups are kept is decided here (`retention::keep_for`), never by the host.
    pub async fn begin_upload(
        &self,
        agent_id: &str,
        command_id: &str,
    ) -> Result<UploadSink, BackupError> {
        let command = self.own_command(agent_id, command_id)?;
        let Some(action) = &command.backup else {
            return Err(BackupError::NotYourCommand(command_id.to_string()));
        };
        let id = backup_id_for(&command);
        let schedule_keep = retention::schedule_keep(&self.store, &command)?;
        let keep = retention::keep_for(&self.policy(), schedule_keep, agent_id, &action.set);
        let quota = upload::quota(&self.store, &self.policy(), agent_id, &id)?;
        let (archive_path, manifest_path) = Self::relative_paths(agent_id, &id);
        // Not while an older attempt commits: the record it completes would be marked
        // `uploading` again under it.
        let commit = self.attempts.commit_lock().await;
        let lease = self.attempts.take_over(&id);
        let mut record = self.store.backup(&id)?.unwrap_or_else(|| Backup {
            id: id.clone(),
            host: agent_id.to_string(),
            set: action.set.clone(),
            created_unix_ms: self.clock.now_unix_ms(),
            command_id: command_id.to_string(),
            ..Default::default()
        });
        record.state = BackupState::Uploading.into();
        record.archive_path = archive_path.clone();
        record.manifest_path = manifest_path.clone();
        record.keep = keep;
        self.store.put_backup(&record)?;
        self.store.flush_async().await?;
        drop(commit);
        UploadSink::create(
            lease,
            record,
            self.absolute(&archive_path),
            self.absolute(&manifest_path),
            quota,
        )
        .await
    }

    /// Ends an upload that must not be stored (over quota, malformed): its files go and its
    /// record becomes `failed` with the error's message.
    pub async fn refuse(&self, sink: UploadSink, err: &BackupError) -> Result<(), BackupError> {
        tracing::warn!(backup_id = sink.backup_id(), error = %err, "backup upload refused");
        sink.refuse(&self.store, err.to_string()).await
    }

    /// Checks a finished upload against its trailer and looks inside the archive, moves the
    /// files into place, completes the record and applies retention. Bytes that do not match
    /// the trailer leave the record `uploading` (the host may retry); an archive that is not
    /// what the trailer says makes it `failed`.
    pub async fn finish_upload(
        &self,
        mut sink: UploadSink,
        trailer: UploadTrailer,
    ) -> Result<Backup, BackupError> {
        if !sink.is_current() {
            let err = BackupError::Superseded(sink.backup_id().to_string());
            sink.abort().await;
            return Err(err);
        }
        match sink.check(&trailer).await {
            Ok(()) => {}
            Err(err @ BackupError::Malformed { .. }) => {
                self.refuse(sink, &err).await?;
                return Err(err);
            }
            Err(err) => {
                sink.abort().await;
                return Err(err);
            }
        }
        let (mut record, commit) = sink.finish().await?;
        let partial = !trailer.missing.is_empty() || !trailer.skipped.is_empty();
        record.state = if partial {
            BackupState::Partial
        } else {
            BackupState::Complete
        }
        .into();
        record.completed_unix_ms = self.clock.now_unix_ms();
        record.size = trailer.archive_bytes;
        record.sha256 = trailer.archive_sha256;
        record.files = trailer.files;
        record.bytes = trailer.bytes;
        record.missing = trailer.missing;
        record.skipped = trailer.skipped.into_iter().take(MAX_SKIPPED).collect();
        record.message = if partial {
            format!(
                "{} missing path(s), {} skipped entr(ies)",
                record.missing.len(),
                record.skipped.len()
            )
        } else {
            String::new()
        };
        self.store.put_backup(&record)?;
        self.store.flush_async().await?;
        drop(commit);
        tracing::info!(backup_id = %record.id, host = %record.host, set = %record.set, size = record.size, state = state_name(record.state), "backup stored");
        if !partial && record.keep > 0 {
            self.prune(&record.host, &record.set, record.keep as usize)
                .await?;
        }
        Ok(record)
    }

    /// The catalog, newest first: stored backups only, or every record with `all`.
    pub fn list(&self, host: &str, set: &str, all: bool) -> Result<Vec<Backup>, BackupError> {
        let mut list: Vec<Backup> = self
            .store
            .backups()?
            .into_iter()
            .filter(|b| host.is_empty() || b.host == host)
            .filter(|b| set.is_empty() || b.set == set)
            .filter(|b| all || is_stored(b))
            .collect();
        list.sort_by_key(|b| std::cmp::Reverse((b.created_unix_ms, b.id.clone())));
        Ok(list)
    }

    pub fn get(&self, id: &str) -> Result<Backup, BackupError> {
        self.store
            .backup(id)?
            .ok_or_else(|| BackupError::NoBackup(id.to_string()))
    }
}

/// sha256 and size of a file, read in fixed-size blocks.
async fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}
