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

mod place;
mod policy;
mod upload;

pub(crate) use policy::RestorePolicy;

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

/// What opens an upload. (The header's `keep` on the wire is no longer sent: retention is
/// the coordinator's.)
#[derive(Debug, Clone)]
pub(crate) struct UploadHeader {
    pub(crate) command_id: String,
}

/// The pieces of an upload, in order: data, then manifest, then one trailer.
#[derive(Debug)]
pub(crate) enum UploadPart {
    Data(Vec<u8>),
    Manifest(Vec<u8>),
    Trailer(UploadTrailer),
}

/// What closes an upload: the hashes and counts the coordinator checks and records.
#[derive(Debug, Clone, Default)]
pub(crate) struct UploadTrailer {
    pub(crate) archive_sha256: String,
    pub(crate) archive_bytes: u64,
    pub(crate) manifest_sha256: String,
    pub(crate) files: u64,
    pub(crate) bytes: u64,
    pub(crate) missing: Vec<String>,
    pub(crate) skipped: Vec<String>,
}

/// The coordinator stored the backup.
#[derive(Debug, Clone)]
pub(crate) struct Uploaded {
    pub(crate) backup_id: String,
    pub(crate) partial: bool,
}

/// An upload that did not complete; `retry` when trying again may help.
#[derive(Debug, Clone)]
pub(crate) struct UploadError {
    pub(crate) message: String,
    pub(crate) retry: bool,
}

/// Why a backup download or a drill report failed; the text is what the command's
/// message says.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransferError {
    /// The coordinator refused in a way a retry cannot fix (its message).
    #[error("{0}")]
    Refused(String),
    #[error("the download named no backup")]
    NoBackup,
    /// Every attempt failed; `last` is the last attempt's failure.
    #[error("{what} failed after {attempts} attempts: {last}")]
    GaveUp {
        what: &'static str,
        attempts: u32,
        last: String,
    },
}

/// Which stored backup a download is.
#[derive(Debug, Clone, Default)]
pub(crate) struct BackupMeta {
    pub(crate) backup_id: String,
    pub(crate) sha256: String,
    pub(crate) size: u64,
    pub(crate) host: String,
    /// Carried for completeness; a restore checks the host, not the set name.
    #[allow(dead_code)]
    pub(crate) set: String,
}

/// A drill's result, for the coordinator's catalog.
#[derive(Debug, Clone, Default)]
pub(crate) struct DrillOutcome {
    pub(crate) command_id: String,
    pub(crate) backup_id: String,
    pub(crate) ok: bool,
    pub(crate) files: u64,
    pub(crate) bytes: u64,
    pub(crate) duration_ms: u64,
    pub(crate) problems: Vec<String>,
}

/// Where backup bytes go and come from (the coordinator, over the session's link).
pub(crate) trait BackupTransport: Send + Sync {
    /// Sends `parts` as one upload; resolves once the coordinator stored (or refused) it.
    fn upload(
        &self,
        header: UploadHeader,
        parts: mpsc::Receiver<UploadPart>,
    ) -> BoxFuture<'_, Result<Uploaded, UploadError>>;
    /// Downloads the archive a restore or drill command names into `file` (empty), feeding
    /// `hasher`; resumes by itself after a broken connection.
    fn download<'a>(
        &'a self,
        command_id: &'a str,
        backup_id: &'a str,
        file: &'a mut tokio::fs::File,
        hasher: &'a mut Sha256,
    ) -> BoxFuture<'a, Result<BackupMeta, TransferError>>;
    /// Records a drill's result on the coordinator.
    fn report_drill<'a>(
        &'a self,
        outcome: &'a DrillOutcome,
    ) -> BoxFuture<'a, Result<(), TransferError>>;
}

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
pub(crate) type RecoveryResult = Result<String, String>;

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
    ) -> Result<(), String> {
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

    fn set(&self, name: &str) -> Result<&BackupSetConfig, String> {
        self.sets.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.set_names().collect();
            format!(
                "rejected: unknown backup set {name:?}; this host has: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })
    }

    /// Whether the host's config names this set.
    pub(crate) fn allows(&self, set: &str) -> bool {
        self.sets.contains_key(set)
    }

    /// A fresh scratch directory for one command.
    fn scratch(&self, kind: &str, command_id: &str) -> Result<PathBuf, String> {
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

    /// Runs the set's `before` command, packs the set and uploads it, packing again from
    /// the start when an upload breaks off (up to [`UPLOAD_ATTEMPTS`]).
    pub(crate) async fn backup(
        &self,
        command_id: &str,
        set_name: &str,
        transport: &dyn BackupTransport,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> RecoveryResult {
        let set = self.set(set_name)?;
        if !set.before.is_empty() {
            run_before(set_name, set, progress, cancel).await?;
        }
        let spec = BackupSpec {
            paths: set.paths.clone(),
            exclude: set.exclude.clone(),
        };
        let header = UploadHeader {
            command_id: command_id.to_string(),
        };
        let mut last = String::new();
        for attempt in 1..=UPLOAD_ATTEMPTS {
            if cancel.is_cancelled() {
                return Err("cancelled".into());
            }
            progress(format!("backing up set {set_name} (attempt {attempt})"));
            match upload::once(&spec, header.clone(), transport, cancel).await {
                Ok((uploaded, trailer)) => {
                    return Ok(describe_backup(&uploaded, &trailer)).and_then(|line| {
                        if uploaded.partial {
                            Err(line)
                        } else {
                            Ok(line)
                        }
                    });
                }
                Err(err) if err.retry && attempt < UPLOAD_ATTEMPTS => {
                    progress(format!(
                        "upload broke off ({}); starting again",
                        err.message
                    ));
                    last = err.message;
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
                Err(err) => return Err(format!("backup failed: {}", err.message)),
            }
        }
        Err(format!(
            "backup failed after {UPLOAD_ATTEMPTS} attempts: {last}"
        ))
    }

    /// Downloads the command's backup into `dir/archive`, checking its sha256.
    async fn fetch(
        &self,
        command_id: &str,
        backup_id: &str,
        dir: &Path,
        transport: &dyn BackupTransport,
    ) -> Result<(BackupMeta, PathBuf), String> {
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
            return Err(format!(
                "backup {} is corrupt: its archive hashes to {got}, the catalog says {}",
                meta.backup_id, meta.sha256
            ));
        }
        Ok((meta, path))
    }

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
        let target = check_target(request)?;
        self.check_allowed(request, set, target.as_deref())?;
        let work = self.scratch("restore", command_id)?;
        let result = async {
            let (meta, archive) = self
                .fetch(command_id, &request.backup_id, &work, transport)
                .await?;
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
            self.policy.check_source(source)?;
            progress(format!(
                "downloaded backup {} ({} bytes, sha256 verified)",
                meta.backup_id, meta.size
            ));
            let staged = work.join("tree");
            let unpacked = self.unpack(&archive, &staged).await?;
            let manifest = read_manifest(&staged)?;
            let report = verify_blocking(&staged, &manifest).await?;
            if !report.passed() {
                return Err(format!(
                    "backup {} does not match its manifest: {}",
                    meta.backup_id,
                    report.problems.first().cloned().unwrap_or_default()
                ));
            }
            // Again, as late as possible: the target may have changed while downloading.
            self.check_allowed(request, set, target.as_deref())?;
            let placed = match &target {
                Some(dir) => place::under(&staged, dir, request.force).await?,
                None => place::in_place(&staged, &set.paths).await?,
            };
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
        result
    }

    /// Restores the host's latest backup of `set` into a scratch directory, checks every
    /// file against the manifest, reports the result to the catalog and deletes the scratch
    /// directory. Never touches the set's live paths.
    pub(crate) async fn drill(
        &self,
        command_id: &str,
        set_name: &str,
        transport: &dyn BackupTransport,
        progress: &(dyn Fn(String) + Sync),
    ) -> RecoveryResult {
        self.set(set_name)?;
        let started = Instant::now();
        let work = self.scratch("drill", command_id)?;
        let mut outcome = DrillOutcome {
            command_id: command_id.to_string(),
            ..Default::default()
        };
        let checked = self
            .drill_in(command_id, &work, transport, progress, &mut outcome)
            .await;
        remove_tree_off_thread(&work).await;
        outcome.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Err(problem) = &checked {
            outcome.ok = false;
            if outcome.problems.is_empty() {
                outcome.problems.push(problem.clone());
            }
        }
        // A drill that could not even find a backup has nothing to record.
        if !outcome.backup_id.is_empty() {
            if let Err(err) = transport.report_drill(&outcome).await {
                progress(format!("cannot record the drill result: {err}"));
            }
        }
        let seconds = outcome.duration_ms as f64 / 1000.0;
        match checked {
            Ok(()) => Ok(format!(
                "drill passed: backup {} restored and checked, {} files, {} bytes in {seconds:.1}s",
                outcome.backup_id, outcome.files, outcome.bytes
            )),
            Err(problem) if outcome.backup_id.is_empty() => Err(format!("drill failed: {problem}")),
            Err(problem) => Err(format!(
                "drill failed for backup {}: {problem} ({} files checked in {seconds:.1}s)",
                outcome.backup_id, outcome.files
            )),
        }
    }

    /// The drill's steps inside its scratch directory; fills in `outcome` as it goes.
    async fn drill_in(
        &self,
        command_id: &str,
        work: &Path,
        transport: &dyn BackupTransport,
        progress: &(dyn Fn(String) + Sync),
        outcome: &mut DrillOutcome,
    ) -> Result<(), String> {
        let path = work.join("archive.tar.zst");
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let mut hasher = Sha256::new();
        let meta = transport
            .download(command_id, "", &mut file, &mut hasher)
            .await
            .map_err(|err| err.to_string())?;
        outcome.backup_id = meta.backup_id.clone();
        drop(file);
        let got = hex::encode(hasher.finalize());
        if got != meta.sha256 {
            return Err(format!(
                "backup {} is corrupt: its archive hashes to {got}, the catalog says {}",
                meta.backup_id, meta.sha256
            ));
        }
        progress(format!(
            "downloaded backup {} ({} bytes, sha256 verified)",
            meta.backup_id, meta.size
        ));
        let staged = work.join("tree");
        self.unpack(&path, &staged)
            .await
            .map_err(|e| format!("backup {}: {e}", meta.backup_id))?;
        let manifest = read_manifest(&staged)?;
        let report = verify_blocking(&staged, &manifest).await?;
        outcome.files = report.files_checked;
        outcome.bytes = report.bytes_checked;
        outcome.ok = report.passed();
        outcome.problems = report.problems.iter().take(MAX_PROBLEMS).cloned().collect();
        if report.passed() {
            Ok(())
        } else {
            Err(format!(
                "{} problem(s), first: {}",
                report.problems.len(),
                report.problems.first().cloned().unwrap_or_default()
            ))
        }
    }

    async fn unpack(&self, archive: &Path, dest: &Path) -> Result<archive::UnpackReport, String> {
        let (archive, dest, limits) = (
            archive.to_path_buf(),
            dest.to_path_buf(),
            self.limits.clone(),
        );
        tokio::task::spawn_blocking(move || archive::unpack_file(&archive, &dest, &limits))
            .await
            .map_err(|e| format!("unpack task failed: {e}"))?
            .map_err(|e| format!("the archive was refused: {e}"))
    }
}

fn describe_backup(uploaded: &Uploaded, trailer: &UploadTrailer) -> String {
    let mut line = format!(
        "backup {} {}: {} entries, {} bytes of files, archive {} bytes, sha256 {}",
        uploaded.backup_id,
        if uploaded.partial {
            "is partial"
        } else {
            "complete"
        },
        trailer.files,
        trailer.bytes,
        trailer.archive_bytes,
        trailer.archive_sha256
    );
    if !trailer.missing.is_empty() {
        line.push_str(&format!("; missing: {}", trailer.missing.join(", ")));
    }
    if !trailer.skipped.is_empty() {
        let shown: Vec<&str> = trailer.skipped.iter().take(5).map(String::as_str).collect();
        line.push_str(&format!(
            "; skipped {}: {}",
            trailer.skipped.len(),
            shown.join(", ")
        ));
    }
    line
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

fn read_manifest(root: &Path) -> Result<Manifest, String> {
    let path = root.join(MANIFEST_NAME);
    let json = std::fs::read(&path).map_err(|e| format!("the archive has no manifest: {e}"))?;
    Manifest::from_json(&json).map_err(|e| format!("the archive's manifest is invalid: {e}"))
}

async fn verify_blocking(root: &Path, manifest: &Manifest) -> Result<backup::VerifyReport, String> {
    let (root, manifest) = (root.to_path_buf(), manifest.clone());
    tokio::task::spawn_blocking(move || backup::verify(&root, &manifest))
        .await
        .map_err(|e| format!("verify task failed: {e}"))?
        .map_err(|e| e.to_string())
}

/// Runs a set's `before` command with its timeout; its output becomes progress lines.
async fn run_before(
    name: &str,
    set: &BackupSetConfig,
    progress: &(dyn Fn(String) + Sync),
    cancel: &CancellationToken,
) -> Result<(), String> {
    let spec = ActionSpec {
        argv: set.before.clone(),
        env: BTreeMap::new(),
        working_dir: None,
        timeout: set.before_timeout,
    };
    progress(format!(
        "running before command of set {name}: {}",
        set.before.join(" ")
    ));
    let (tx, mut rx) = mpsc::channel(16);
    let run = executor::run(&spec, tx, cancel.clone(), Duration::from_secs(10));
    tokio::pin!(run);
    let report = loop {
        tokio::select! {
            report = &mut run => break report,
            Some(chunk) = rx.recv() => progress(format!("before: {}", String::from_utf8_lossy(&chunk.data).trim_end())),
        }
    };
    match report.outcome {
        Outcome::Exited { code: 0 } => Ok(()),
        Outcome::Exited { code } => Err(format!(
            "before command of set {name} exited with status {code}; nothing was backed up"
        )),
        Outcome::Signaled { signal } => Err(format!(
            "before command of set {name} was killed by signal {signal}; nothing was backed up"
        )),
        Outcome::TimedOut => Err(format!(
            "before command of set {name} timed out after {}; nothing was backed up",
            humantime::format_duration(set.before_timeout)
        )),
        Outcome::Cancelled => Err(format!("before command of set {name} was cancelled")),
        Outcome::SpawnFailed(why) => Err(format!("before command of set {name}: {why}")),
    }
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
