//! Coordinator snapshots (`convoy snapshot save|restore|drill`, `[snapshots]`): the
//! coordinator's whole durable state in one tar.zst file, taken while it runs.
//!
//! Format 1, in this order (every entry a regular file, 0600):
//! - `convoy-snapshot.json`: the [`Intro`] (format version first, so a newer format is
//!   refused before anything else is read);
//! - `store/<tree>/<NNNNNN>`: each store tree as chunks of length-prefixed records
//!   (`store::snapshot`; one pass per tree: whole records, no point-in-time view);
//! - `blobs/artifacts/<sha256>` and `blobs/backups/<host>/<file>`: the release artifacts
//!   and backup archives and manifests, as they lie under the data dir; or, with
//!   `--no-blobs`, `blobs.json`: their manifest (path, size, sha256) only;
//! - `header.json`, last: the [`Header`] (format, coordinator version, times, records per
//!   tree, every blob, and the sha256 of every other entry). It comes last because the
//!   counts and hashes are known only once everything was streamed.
//!
//! Not in a snapshot: the raw tier of the metrics history (`history-raw/`, minutes only;
//! the 1-minute and 15-minute tiers are store trees and are in), and `ca/` (CA rotation
//! state and any CA keys made by a rotation): key material is never copied into a file an
//! operator carries around. The config, certificates and keys are the operator's to back up.
//!
//! `save.rs` writes (bounded memory: one store chunk and one copy buffer), `restore.rs`
//! reads, checking every entry's name and kind before writing it and every hash and count
//! against the header before the restored dir is renamed into place.

pub mod restore;
pub mod save;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The format this build writes and the newest it reads.
pub const FORMAT: u32 = 1;
/// The first entry.
pub const INTRO: &str = "convoy-snapshot.json";
/// The last entry.
pub const HEADER: &str = "header.json";
/// The blob manifest of a `--no-blobs` snapshot.
pub const BLOB_MANIFEST: &str = "blobs.json";
/// The data-dir subdirectories whose files are blobs.
pub const BLOB_DIRS: [&str; 2] = ["artifacts", "backups"];
/// What [`Header::consistency`] says, for an operator reading the file.
pub const CONSISTENCY: &str = "one read pass per store tree while the coordinator ran: \
    every record whole; records written during the pass may be missing; no cross-tree \
    point in time (references are read before their targets)";

/// The first entry: enough to refuse a newer format at once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Intro {
    pub format: u32,
    pub coordinator_version: String,
    pub created_unix_ms: i64,
}

/// One artifact or backup file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Blob {
    /// Relative to the data dir: `artifacts/<sha256>`, `backups/<host>/<file>`.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// The last entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Header {
    pub format: u32,
    pub coordinator_version: String,
    pub created_unix_ms: i64,
    pub finished_unix_ms: i64,
    pub consistency: String,
    /// False for `--no-blobs`: the blobs are listed, not included.
    pub blobs_included: bool,
    /// Records per store tree.
    pub trees: BTreeMap<String, u64>,
    pub blobs: Vec<Blob>,
    /// sha256 of every entry but this one, by entry name.
    pub parts: BTreeMap<String, String>,
}

impl Header {
    /// Records in `tree` (0 when the tree was empty or absent).
    pub fn records(&self, tree: &str) -> u64 {
        self.trees.get(tree).copied().unwrap_or(0)
    }

    pub fn blob_bytes(&self) -> u64 {
        self.blobs.iter().map(|b| b.size).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(
        "the snapshot is format {found}; this convoy ({}) reads format {FORMAT} at most: restore it with a newer convoy",
        env!("CARGO_PKG_VERSION")
    )]
    NewerFormat { found: u32 },
    #[error("the snapshot is corrupt: {0}")]
    Corrupt(String),
    #[error("the snapshot is incomplete (truncated?): {0}")]
    Truncated(String),
    #[error("the snapshot holds a refused entry {name:?}: {why}")]
    Hostile { name: String, why: &'static str },
    #[error("{0} is not empty: a snapshot is restored only into an empty or new data dir")]
    NotEmpty(String),
    #[error("the snapshot does not match its header: {}", .0.join("; "))]
    Mismatch(Vec<String>),
}

/// `Io` with what was being done.
pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SnapshotError {
    let context = context.into();
    move |source| SnapshotError::Io { context, source }
}

/// What an entry name is, or why it is refused. Names are plain: relative, `/`-separated
/// components of `[A-Za-z0-9._+-]` not starting with `.` (so no `..`, no absolute path, no
/// hidden file), under a known prefix and at a known depth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Intro,
    Header,
    BlobManifest,
    Tree {
        tree: String,
        index: u32,
    },
    /// A blob; the path is relative to the data dir.
    Blob(String),
}

pub fn classify(name: &str) -> Result<Part, &'static str> {
    if name.len() > 512 {
        return Err("name too long");
    }
    let parts: Vec<&str> = name.split('/').collect();
    let plain = |c: &str| {
        !c.is_empty()
            && !c.starts_with('.')
            && c.len() <= 200
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
    };
    if parts.iter().any(|c| !plain(c)) {
        return Err("not a plain relative path (absolute, `..`, hidden or odd characters)");
    }
    match parts.as_slice() {
        [INTRO] => Ok(Part::Intro),
        [HEADER] => Ok(Part::Header),
        [BLOB_MANIFEST] => Ok(Part::BlobManifest),
        ["store", tree, index] if crate::store::snapshot::valid_tree_name(tree) => index
            .parse()
            .ok()
            .filter(|_| index.len() == 6)
            .map(|index| Part::Tree {
                tree: (*tree).to_string(),
                index,
            })
            .ok_or("a store chunk's name must be store/<tree>/<6 digits>"),
        ["blobs", "artifacts", sha] if crate::releases::valid_sha256(sha) => {
            Ok(Part::Blob(format!("artifacts/{sha}")))
        }
        ["blobs", "backups", host, file] => Ok(Part::Blob(format!("backups/{host}/{file}"))),
        _ => Err("not an entry of a convoy snapshot"),
    }
}

/// The entry name of a store chunk.
pub fn tree_entry(tree: &str, index: u32) -> String {
    format!("store/{tree}/{index:06}")
}

/// The entry name of a blob.
pub fn blob_entry(path: &str) -> String {
    format!("blobs/{path}")
}
