//! What backup bytes travel through: the [`BackupTransport`] the session implements over
//! `UploadBackup`/`FetchBackup`/`ReportDrill`, and the pieces and results of a transfer.

use sha2::Sha256;
use tokio::sync::mpsc;

use super::BoxFuture;

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
