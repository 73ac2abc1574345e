//! Writing a snapshot while the coordinator runs: the intro, every store tree (one pass
//! each, `Store::export_trees`), the blobs (each file opened, its size read from the open
//! handle, streamed and hashed; a file deleted after it was listed is left out), and the
//! header. Memory: one store chunk (~4 MiB) and a 256 KiB copy buffer, whatever the size
//! of the store. Blocking: run it on a blocking thread.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{
    BLOB_DIRS, BLOB_MANIFEST, Blob, CONSISTENCY, FORMAT, HEADER, Header, INTRO, Intro,
    SnapshotError, blob_entry, io, tree_entry,
};
use crate::store::Store;

/// zstd level: fast; a store is mostly protobuf and compresses well at any level.
const ZSTD_LEVEL: i32 = 3;

/// Reads through, hashing what passes.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn entry_header(size: u64, mtime_ms: i64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(u64::try_from(mtime_ms / 1000).unwrap_or(0));
    header.set_cksum();
    header
}

struct Writer<W: Write> {
    tar: tar::Builder<zstd::Encoder<'static, W>>,
    parts: BTreeMap<String, String>,
    now_ms: i64,
}

impl<W: Write> Writer<W> {
    fn bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), SnapshotError> {
        let mut header = entry_header(bytes.len() as u64, self.now_ms);
        self.tar
            .append_data(&mut header, name, bytes)
            .map_err(io(format!("cannot write {name}")))?;
        self.parts
            .insert(name.to_string(), hex::encode(Sha256::digest(bytes)));
        Ok(())
    }
}

/// Every blob file under the data dir: `artifacts/<sha>`, `backups/<host>/<file>`, leaving
/// out uploads in progress (dot files, `.part`).
pub fn list_blobs(data_dir: &Path) -> Result<Vec<String>, SnapshotError> {
    fn visit(
        root: &Path,
        relative: &str,
        depth: usize,
        out: &mut Vec<String>,
    ) -> Result<(), SnapshotError> {
        let dir = root.join(relative);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(io(format!("cannot list {}", dir.display()))(err)),
        };
        for entry in entries {
            let entry = entry.map_err(io(format!("cannot list {}", dir.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.ends_with(".part") {
                continue;
            }
            let path = format!("{relative}/{name}");
            let kind = entry
                .file_type()
                .map_err(io(format!("cannot stat {path}")))?;
            if kind.is_dir() && depth > 0 {
                visit(root, &path, depth - 1, out)?;
            } else if kind.is_file() && super::classify(&blob_entry(&path)).is_ok() {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    visit(data_dir, BLOB_DIRS[0], 0, &mut out)?;
    visit(data_dir, BLOB_DIRS[1], 1, &mut out)?;
    out.sort();
    Ok(out)
}

/// Writes a snapshot of `store` and the blobs under `data_dir` to `out`; returns its header.
pub fn save<W: Write>(
    store: &Store,
    data_dir: &Path,
    no_blobs: bool,
    now_ms: i64,
    out: W,
) -> Result<Header, SnapshotError> {
    let encoder = zstd::Encoder::new(out, ZSTD_LEVEL).map_err(io("cannot start zstd"))?;
    let mut writer = Writer {
        tar: tar::Builder::new(encoder),
        parts: BTreeMap::new(),
        now_ms,
    };
    let intro = Intro {
        format: FORMAT,
        coordinator_version: env!("CARGO_PKG_VERSION").to_string(),
        created_unix_ms: now_ms,
    };
    // Serializing these plain structs cannot fail.
    let intro_json = serde_json::to_vec_pretty(&intro).unwrap_or_default();
    writer.bytes(INTRO, &intro_json)?;

    let trees = store.export_trees(|tree, index, _records, chunk| {
        writer.bytes(&tree_entry(tree, index), chunk)
    })?;

    let mut blobs = Vec::new();
    let mut buffer = vec![0u8; 256 * 1024];
    for path in list_blobs(data_dir)? {
        let file = match std::fs::File::open(data_dir.join(&path)) {
            Ok(file) => file,
            // Deleted since it was listed (retention, `release delete`): not in the snapshot.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io(format!("cannot open {path}"))(err)),
        };
        let size = file
            .metadata()
            .map_err(io(format!("cannot stat {path}")))?
            .len();
        let mut reader = Hashing {
            inner: file.take(size),
            hasher: Sha256::new(),
        };
        if no_blobs {
            loop {
                let n = reader
                    .read(&mut buffer)
                    .map_err(io(format!("cannot read {path}")))?;
                if n == 0 {
                    break;
                }
            }
        } else {
            let mut header = entry_header(size, now_ms);
            writer
                .tar
                .append_data(&mut header, blob_entry(&path), &mut reader)
                .map_err(io(format!("cannot write {path}")))?;
        }
        let sha256 = hex::encode(reader.hasher.finalize());
        if !no_blobs {
            writer.parts.insert(blob_entry(&path), sha256.clone());
        }
        blobs.push(Blob { path, size, sha256 });
    }
    if no_blobs {
        let manifest = serde_json::to_vec_pretty(&blobs).unwrap_or_default();
        writer.bytes(BLOB_MANIFEST, &manifest)?;
    }

    let header = Header {
        format: FORMAT,
        coordinator_version: intro.coordinator_version,
        created_unix_ms: now_ms,
        finished_unix_ms: crate::clock::now_unix_ms(),
        consistency: CONSISTENCY.to_string(),
        blobs_included: !no_blobs,
        trees: trees.into_iter().collect(),
        blobs,
        parts: std::mem::take(&mut writer.parts),
    };
    let header_json = serde_json::to_vec_pretty(&header).unwrap_or_default();
    let mut entry = entry_header(header_json.len() as u64, now_ms);
    writer
        .tar
        .append_data(&mut entry, HEADER, header_json.as_slice())
        .map_err(io("cannot write the header"))?;
    let encoder = writer
        .tar
        .into_inner()
        .map_err(io("cannot finish the archive"))?;
    let mut out = encoder.finish().map_err(io("cannot finish zstd"))?;
    out.flush().map_err(io("cannot flush the snapshot"))?;
    Ok(header)
}

/// Saves to `path` through `path.part` + fsync + rename, so a file under the final name is
/// always whole. Returns the header.
pub fn save_to_file(
    store: &Store,
    data_dir: &Path,
    no_blobs: bool,
    now_ms: i64,
    path: &Path,
) -> Result<Header, SnapshotError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = std::path::PathBuf::from(part);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&part)
        .map_err(io(format!("cannot create {}", part.display())))?;
    let result = (|| {
        let mut out = std::io::BufWriter::new(file);
        let header = save(store, data_dir, no_blobs, now_ms, &mut out)?;
        let file = out
            .into_inner()
            .map_err(|err| io("cannot write the snapshot")(err.into_error()))?;
        file.sync_all().map_err(io("cannot sync the snapshot"))?;
        std::fs::rename(&part, path).map_err(io(format!("cannot rename to {}", path.display())))?;
        Ok(header)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}
