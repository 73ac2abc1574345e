//! The manifest of a backup: every archived entry, the missing configured paths and the
//! skipped entries, and reading it back from an archive's last entry.

use std::io::{self, Read};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{BackupError, MANIFEST_NAME};

/// What kind of filesystem entry a [`FileEntry`] describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link, archived as a link (never followed).
    Symlink {
        /// The link's target, as stored in the link.
        target: String,
    },
}

/// One archived entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The archive path: the absolute source path without the leading `/`,
    /// e.g. `var/lib/app/db.sqlite`.
    pub path: String,
    /// The number of content bytes in the archive (0 for directories and symlinks).
    pub size: u64,
    /// The permission bits (`mode & 0o7777`).
    pub mode: u32,
    /// The modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// The lowercase hex sha256 of the archived content (empty for directories and
    /// symlinks).
    pub sha256: String,
    /// File, directory or symlink.
    pub kind: EntryKind,
}

/// The list of what a backup holds and what it could not hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Every archived entry, in archive order.
    pub files: Vec<FileEntry>,
    /// Configured paths that did not exist.
    pub missing: Vec<String>,
    /// Entries not archived, or not archived faithfully, with the reason: unreadable,
    /// special file, changed during backup.
    pub skipped: Vec<(String, String)>,
}

impl Manifest {
    /// Whether the backup left something out (a missing path or a skipped entry).
    pub fn is_partial(&self) -> bool {
        !self.missing.is_empty() || !self.skipped.is_empty()
    }

    /// The sum of the regular files' sizes.
    pub fn total_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| f.kind == EntryKind::File)
            .map(|f| f.size)
            .sum()
    }

    /// The manifest as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain strings, integers and vectors into memory cannot fail; fall back
        // to an empty object rather than panic if serde ever says otherwise.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// Parses a manifest written by [`Manifest::to_json`].
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, BackupError> {
        Ok(serde_json::from_slice(bytes)?)
    }
}

/// Reads a whole `.tar.zst` backup stream and returns the manifest embedded as its last
/// entry. Entry contents are skipped, not buffered; only the manifest is held in memory.
pub fn read_embedded_manifest(archive: impl Read) -> Result<Manifest, BackupError> {
    let read_err = |source: io::Error| BackupError::Read {
        path: PathBuf::from("<archive>"),
        source,
    };
    let decoder = zstd::stream::read::Decoder::new(archive).map_err(read_err)?;
    let mut tar = tar::Archive::new(decoder);
    let mut found = None;
    for entry in tar.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let is_manifest = entry.path_bytes().as_ref().eq(MANIFEST_NAME.as_bytes());
        if is_manifest {
            let mut json = Vec::new();
            entry.read_to_end(&mut json).map_err(read_err)?;
            found = Some(json);
        } else {
            found = None;
        }
    }
    match found {
        Some(json) => Manifest::from_json(&json),
        None => Err(BackupError::NoManifest),
    }
}
