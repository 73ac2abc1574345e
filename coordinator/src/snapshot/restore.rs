//! Reading a snapshot back (`convoy snapshot restore`, and the drill): into an empty or new
//! data dir only, through a temp dir beside it that is renamed into place only when every
//! entry passed and every hash and count matched the header. On any refusal the temp dir
//! is removed and the target is untouched.
//!
//! Refused: a newer format (from the first entry, before anything else is read); an entry
//! that is not a regular file (symlink, hard link, device, fifo, directory) or whose name is
//! not a plain relative path under a known prefix (`super::classify`: no absolute path, no
//! `..`, no hidden name); an entry after the header, a second intro or header; a store chunk
//! that does not parse; a stream that ends early (no header: truncated) or does not
//! decompress; any part whose sha256, or tree whose record count, differs from the header.
//! (The agent's `archive::unpack` is the agent crate's and extracts releases; this reader is
//! stricter still: it admits regular files with known names only.)

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{
    BLOB_MANIFEST, Blob, FORMAT, HEADER, Header, INTRO, Intro, Part, SnapshotError, blob_entry,
    classify, io,
};
use crate::store::snapshot::Importer;

/// Largest intro, header, blob manifest or store chunk read into memory.
const MAX_IN_MEMORY: u64 = 256 * 1024 * 1024;

/// What a snapshot held, once every check passed.
#[derive(Debug)]
pub struct Restored {
    pub header: Header,
    /// The blob manifest of a `--no-blobs` snapshot (empty otherwise).
    pub manifest: Vec<Blob>,
}

/// Reads the snapshot from `input` into `into` (a new directory this call creates):
/// the store under `into/coordinator.sled`, blobs under `into/artifacts`, `into/backups`.
/// Every check is made; on `Err` the caller removes `into`.
pub fn unpack(input: impl Read, into: &Path) -> Result<Restored, SnapshotError> {
    let (restored, problems) = unpack_checked(input, into)?;
    if !problems.is_empty() {
        return Err(SnapshotError::Mismatch(problems));
    }
    Ok(restored)
}

/// [`unpack`], returning the differences from the header instead of failing on them (the
/// drill reports each). Hostile, truncated, corrupt or newer-format input is still an error.
pub fn unpack_checked(
    input: impl Read,
    into: &Path,
) -> Result<(Restored, Vec<String>), SnapshotError> {
    make_dir(into)?;
    let decoder = zstd::Decoder::new(input).map_err(corrupt_or_truncated)?;
    let mut archive = tar::Archive::new(decoder);
    let entries = archive.entries().map_err(corrupt_or_truncated)?;
    // Created at the first store chunk: input refused before it opens no store.
    let mut importer: Option<Importer> = None;
    let mut intro: Option<Intro> = None;
    let mut header: Option<Header> = None;
    let mut manifest = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut buffer = vec![0u8; 256 * 1024];
    for entry in entries {
        let mut entry = entry.map_err(corrupt_or_truncated)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let hostile = |why| SnapshotError::Hostile {
            name: name.clone(),
            why,
        };
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(hostile(
                "not a regular file (links, devices and directories are refused)",
            ));
        }
        let part = classify(&name).map_err(hostile)?;
        if header.is_some() {
            return Err(hostile("an entry after the header"));
        }
        if intro.is_none() && part != Part::Intro {
            return Err(SnapshotError::Corrupt(format!(
                "the first entry is {name:?}, not {INTRO}: not a convoy snapshot"
            )));
        }
        if seen.contains_key(&name) {
            return Err(hostile("a second entry of that name"));
        }
        let size = entry.header().size().map_err(corrupt_or_truncated)?;
        match part {
            Part::Intro | Part::Header | Part::BlobManifest | Part::Tree { .. }
                if size > MAX_IN_MEMORY =>
            {
                return Err(hostile("too large"));
            }
            _ => {}
        }
        match part {
            Part::Intro => {
                if intro.is_some() {
                    return Err(hostile("a second intro"));
                }
                let bytes = read_all(&mut entry, size)?;
                let read: Intro = serde_json::from_slice(&bytes)
                    .map_err(|err| SnapshotError::Corrupt(format!("{INTRO}: {err}")))?;
                if read.format > FORMAT {
                    return Err(SnapshotError::NewerFormat { found: read.format });
                }
                seen.insert(name, sha(&bytes));
                intro = Some(read);
            }
            Part::Header => {
                let bytes = read_all(&mut entry, size)?;
                let read: Header = serde_json::from_slice(&bytes)
                    .map_err(|err| SnapshotError::Corrupt(format!("{HEADER}: {err}")))?;
                if read.format > FORMAT {
                    return Err(SnapshotError::NewerFormat { found: read.format });
                }
                header = Some(read);
            }
            Part::BlobManifest => {
                let bytes = read_all(&mut entry, size)?;
                manifest = serde_json::from_slice(&bytes)
                    .map_err(|err| SnapshotError::Corrupt(format!("{BLOB_MANIFEST}: {err}")))?;
                seen.insert(name, sha(&bytes));
            }
            Part::Tree { tree, .. } => {
                let bytes = read_all(&mut entry, size)?;
                if importer.is_none() {
                    importer = Some(Importer::create(into)?);
                }
                let Some(importer) = &importer else {
                    unreachable!("created just above")
                };
                let count = importer.import(&tree, &bytes)?.ok_or_else(|| {
                    SnapshotError::Corrupt(format!("{name}: not a list of records"))
                })?;
                *counts.entry(tree).or_default() += count;
                seen.insert(name, sha(&bytes));
            }
            Part::Blob(relative) => {
                let hash = write_blob(&mut entry, &into.join(&relative), &mut buffer)?;
                seen.insert(name, hash);
            }
        }
    }
    // A snapshot always holds the `meta` tree; without any chunk there is no store.
    let Some(importer) = importer else {
        return Err(SnapshotError::Truncated(
            "the archive holds no store".into(),
        ));
    };
    importer.finish(into)?;
    let Some(header) = header else {
        return Err(SnapshotError::Truncated(format!(
            "the archive ended before its {HEADER}"
        )));
    };
    let problems = compare(&header, intro.as_ref(), &seen, &counts);
    Ok((Restored { header, manifest }, problems))
}

/// Every way the entries read differ from the header (empty: they agree).
pub fn compare(
    header: &Header,
    intro: Option<&Intro>,
    seen: &BTreeMap<String, String>,
    counts: &BTreeMap<String, u64>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(intro) = intro
        && (intro.format != header.format || intro.created_unix_ms != header.created_unix_ms)
    {
        problems.push("the intro and the header disagree".to_string());
    }
    for (name, expected) in &header.parts {
        match seen.get(name) {
            None => problems.push(format!("{name} is missing")),
            Some(found) if found != expected => {
                problems.push(format!(
                    "{name}: sha256 {found}, the header says {expected}"
                ));
            }
            Some(_) => {}
        }
    }
    for name in seen.keys() {
        if !header.parts.contains_key(name) {
            problems.push(format!("{name} is not in the header"));
        }
    }
    for (tree, expected) in &header.trees {
        let found = counts.get(tree).copied().unwrap_or(0);
        if found != *expected {
            problems.push(format!(
                "tree {tree}: {found} records, the header says {expected}"
            ));
        }
    }
    for tree in counts.keys() {
        if !header.trees.contains_key(tree) {
            problems.push(format!("tree {tree} is not in the header"));
        }
    }
    if header.blobs_included {
        for blob in &header.blobs {
            if header.parts.get(&blob_entry(&blob.path)) != Some(&blob.sha256) {
                problems.push(format!(
                    "blob {} is not in the snapshot as listed",
                    blob.path
                ));
            }
        }
    }
    problems
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A read error inside the archive: the stream ended early, or its bytes are not zstd/tar.
fn corrupt_or_truncated(err: std::io::Error) -> SnapshotError {
    if err.kind() == std::io::ErrorKind::UnexpectedEof {
        SnapshotError::Truncated(err.to_string())
    } else {
        SnapshotError::Corrupt(err.to_string())
    }
}

fn read_all(entry: &mut impl Read, size: u64) -> Result<Vec<u8>, SnapshotError> {
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(64 * 1024 * 1024)).unwrap_or(0));
    entry
        .take(size)
        .read_to_end(&mut bytes)
        .map_err(corrupt_or_truncated)?;
    if (bytes.len() as u64) < size {
        return Err(SnapshotError::Truncated("an entry ends early".into()));
    }
    Ok(bytes)
}

fn make_dir(path: &Path) -> Result<(), SnapshotError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io(format!("cannot create {}", path.display())))
}

/// Writes one blob (a new file, 0600), hashing it.
fn write_blob(
    entry: &mut impl Read,
    path: &Path,
    buffer: &mut [u8],
) -> Result<String, SnapshotError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        make_dir(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("cannot create {}", path.display())))?;
    let mut hasher = Sha256::new();
    loop {
        let n = entry.read(buffer).map_err(corrupt_or_truncated)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        file.write_all(&buffer[..n])
            .map_err(io(format!("cannot write {}", path.display())))?;
    }
    file.sync_all()
        .map_err(io(format!("cannot sync {}", path.display())))?;
    Ok(hex::encode(hasher.finalize()))
}

/// `convoy snapshot restore FILE --data-dir DIR`: refuses a non-empty `DIR`, restores into
/// a temp dir beside it and renames that into place only when everything checked out.
pub fn restore(file: &Path, data_dir: &Path) -> Result<Restored, SnapshotError> {
    match std::fs::symlink_metadata(data_dir) {
        Ok(meta) if !meta.is_dir() => {
            return Err(SnapshotError::NotEmpty(data_dir.display().to_string()));
        }
        Ok(_) => {
            let mut entries = std::fs::read_dir(data_dir)
                .map_err(io(format!("cannot read {}", data_dir.display())))?;
            if entries.next().is_some() {
                return Err(SnapshotError::NotEmpty(data_dir.display().to_string()));
            }
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(io(format!("cannot read {}", data_dir.display()))(err)),
    }
    let input = std::fs::File::open(file).map_err(io(format!("cannot open {}", file.display())))?;
    let temp = temp_beside(data_dir)?;
    let result = unpack(std::io::BufReader::new(input), &temp).and_then(|restored| {
        // An empty target dir is replaced by the restored one.
        if data_dir.exists() {
            std::fs::remove_dir(data_dir)
                .map_err(io(format!("cannot replace {}", data_dir.display())))?;
        }
        std::fs::rename(&temp, data_dir)
            .map_err(io(format!("cannot rename into {}", data_dir.display())))?;
        Ok(restored)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}

/// `<parent>/.<name>.restore-<random>`, not yet created.
fn temp_beside(data_dir: &Path) -> Result<PathBuf, SnapshotError> {
    let name = data_dir
        .file_name()
        .ok_or_else(|| {
            SnapshotError::Corrupt(format!("{} names no directory", data_dir.display()))
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match data_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(parent.join(format!(".{name}.restore-{:016x}", rand::random::<u64>())))
}
