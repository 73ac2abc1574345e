//! Backup archives: this module owns building a backup archive from a host's paths and
//! checking files against its manifest. It does no network I/O and knows nothing of gRPC:
//! callers hand [`pack`] any [`std::io::Write`] (a pipe, a network sender) and [`verify`] a
//! directory a backup was restored into.
//!
//! An archive is a zstd-compressed tar stream. Entries are written in a deterministic,
//! sorted depth-first order; each configured path keeps its absolute location with the
//! leading `/` dropped (`/var/lib/app/db` is archived as `var/lib/app/db`). The [`Manifest`]
//! lists every entry (path, size, mode, mtime, sha256) plus the configured paths that were
//! missing and the entries that were skipped; it is returned by [`pack`] and also appended
//! as the archive's last entry, [`MANIFEST_NAME`], so a restore can be checked without the
//! coordinator's catalog ([`read_embedded_manifest`]).
//!
//! Memory stays bounded and nothing is staged: each file is read once, hashed as it streams
//! through the tar writer and the compressor, and the compressed bytes are hashed and counted
//! as they are written to the caller's writer. What stays in memory is the compressor's
//! window, fixed-size buffers, the walk's pending names and the manifest itself.
//!
//! The walk is split out in `walk` (sorted traversal, excludes, missing and skipped paths),
//! the byte plumbing in `stream` (the hashing writer and the size-exact file reader), the
//! archive writing in `pack`, the manifest types in `manifest` and the check of a restored
//! tree in `verify`.

mod manifest;
mod pack;
mod stream;
mod verify;
mod walk;

#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;

pub use manifest::{EntryKind, FileEntry, Manifest, read_embedded_manifest};
pub use pack::{PackReport, pack};
pub use verify::{VerifyReport, verify};

/// The name of the manifest entry appended at the end of every archive.
pub(crate) const MANIFEST_NAME: &str = ".convoy-manifest.json";

/// The size of the fixed buffers used to read files and hash restored ones.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

/// The zstd level archives are compressed with.
pub(crate) const ZSTD_LEVEL: i32 = 3;

/// What to back up: a set's paths and its exclude patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupSpec {
    /// Absolute paths to back up; directories are walked, symlinks are not followed.
    pub paths: Vec<PathBuf>,
    /// Glob patterns (e.g. `*.tmp`); an entry is excluded when a pattern matches its file
    /// name, its absolute path or its archive path. An excluded directory is not walked.
    pub exclude: Vec<String>,
}

/// Why a backup or a verification could not be carried out at all.
///
/// Problems with single files (unreadable, special, changed while read) are not errors:
/// they are listed in [`Manifest::skipped`] and the backup goes on.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A configured path is relative or contains `.`/`..` components.
    #[error("backup path {} must be absolute and normalized", .0.display())]
    InvalidPath(PathBuf),
    /// An exclude pattern is not a valid glob.
    #[error("invalid exclude pattern {pattern:?}: {source}")]
    Exclude {
        /// The pattern as configured.
        pattern: String,
        /// The glob parser's complaint.
        source: globset::Error,
    },
    /// Writing the archive to the caller's writer failed.
    #[error("writing the archive: {0}")]
    Write(#[source] io::Error),
    /// Reading an archive or a restored tree failed as a whole.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// What was being read.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A manifest could not be encoded or decoded.
    #[error("invalid manifest: {0}")]
    Manifest(#[from] serde_json::Error),
    /// An archive has no embedded manifest entry.
    #[error("archive has no {MANIFEST_NAME} entry")]
    NoManifest,
}
