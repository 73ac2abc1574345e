//! The coordinator's own look inside an upload before it may be `complete`: the archive must
//! be a well-formed tar.zst whose last entry is the embedded manifest
//! (`.convoy-manifest.json`), that manifest must be byte for byte the one sent beside the
//! archive (same sha256 as the trailer's), and the archive's entries, the embedded manifest
//! and the trailer must agree on the number of entries and the bytes of regular files.
//!
//! It streams: zstd and tar read the part file through a small buffer, entry contents are
//! skipped, and only the manifest's entry list (kind and size per entry) is kept. The work
//! is bounded by what the trailer announces: more decompressed bytes or more entries than it
//! can explain stop the check at once. Runs on a blocking thread; does no other I/O.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::UploadTrailer;

/// The name of the manifest entry the agent appends last (`agent/src/backup.rs`).
pub const MANIFEST_NAME: &str = ".convoy-manifest.json";

/// Tar overhead allowed per entry: a header, GNU long-name and long-link records (paths up
/// to 4 KiB each) and padding.
const OVERHEAD_PER_ENTRY: u64 = 24 * 512;
/// End-of-archive blocks and record padding, with room to spare.
const OVERHEAD_FIXED: u64 = 64 * 1024;

/// What the check needs of a manifest entry; other fields are ignored.
#[derive(Deserialize)]
struct Entry {
    size: u64,
    kind: Kind,
}

#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Manifest {
    files: Vec<Entry>,
    #[serde(default)]
    missing: Vec<String>,
    #[serde(default)]
    skipped: Vec<(String, String)>,
}

/// Counts and bounds the decompressed bytes read.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::other(format!(
                "the archive decompresses to more than the {} bytes its trailer explains",
                self.limit
            )));
        }
        Ok(n)
    }
}

/// Hashes what passes through.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Checks the archive at `path` against `trailer`; `manifest_bytes` is the size of the
/// manifest sent beside it (whose sha256 already matched the trailer's). The error says
/// what disagrees, in a line an operator can act on.
pub fn well_formed(
    path: &Path,
    trailer: &UploadTrailer,
    manifest_bytes: u64,
) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot read the upload: {e}"))?;
    let limit = trailer
        .bytes
        .saturating_add(manifest_bytes)
        .saturating_add(
            trailer
                .files
                .saturating_add(1)
                .saturating_mul(OVERHEAD_PER_ENTRY),
        )
        .saturating_add(OVERHEAD_FIXED);
    let decoder = zstd::stream::read::Decoder::with_buffer(BufReader::new(file))
        .map_err(|e| format!("the archive is not zstd: {e}"))?;
    let mut tar = tar::Archive::new(Bounded {
        inner: decoder,
        read: 0,
        limit,
    });
    let not_tar = |e: io::Error| format!("the archive is not a readable tar.zst: {e}");
    let (mut entries, mut file_bytes) = (0u64, 0u64);
    let mut manifest: Option<(Manifest, String)> = None;
    for entry in tar.entries().map_err(not_tar)? {
        let entry = entry.map_err(not_tar)?;
        if manifest.is_some() {
            return Err("the archive has entries after its manifest".into());
        }
        if entry.path_bytes().as_ref() == MANIFEST_NAME.as_bytes() {
            if entry.size() != manifest_bytes {
                return Err(format!(
                    "the embedded manifest is {} bytes, the manifest sent is {manifest_bytes}",
                    entry.size()
                ));
            }
            let mut reader = Hashing {
                inner: entry,
                hash: Sha256::new(),
            };
            let parsed: Manifest = serde_json::from_reader(&mut reader)
                .map_err(|e| format!("the embedded manifest is not valid: {e}"))?;
            io::copy(&mut reader, &mut io::sink()).map_err(not_tar)?;
            manifest = Some((parsed, hex::encode(reader.hash.finalize())));
            continue;
        }
        entries += 1;
        if entries > trailer.files {
            return Err(format!(
                "the archive holds more entries than the {} its trailer announces",
                trailer.files
            ));
        }
        if entry.header().entry_type().is_file() {
            file_bytes = file_bytes.saturating_add(entry.size());
            if file_bytes > trailer.bytes {
                return Err(format!(
                    "the archive holds more file bytes than the {} its trailer announces",
                    trailer.bytes
                ));
            }
        }
    }
    let Some((manifest, sha256)) = manifest else {
        return Err("the archive has no embedded manifest as its last entry".into());
    };
    if sha256 != trailer.manifest_sha256 {
        return Err(format!(
            "the embedded manifest has sha256 {sha256}, the trailer says {}",
            trailer.manifest_sha256
        ));
    }
    let listed = manifest.files.len() as u64;
    let listed_bytes: u64 = manifest
        .files
        .iter()
        .filter(|e| e.kind.kind == "file")
        .map(|e| e.size)
        .sum();
    if entries != trailer.files || listed != trailer.files {
        return Err(format!(
            "entry counts disagree: the archive holds {entries}, its manifest lists {listed}, the trailer says {}",
            trailer.files
        ));
    }
    if file_bytes != trailer.bytes || listed_bytes != trailer.bytes {
        return Err(format!(
            "file bytes disagree: the archive holds {file_bytes}, its manifest lists {listed_bytes}, the trailer says {}",
            trailer.bytes
        ));
    }
    if manifest.missing != trailer.missing || manifest.skipped.len() != trailer.skipped.len() {
        return Err("the manifest's missing and skipped entries differ from the trailer's".into());
    }
    Ok(())
}
