//! Checking a restored tree against a manifest.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{BUF_SIZE, BackupError, EntryKind, MANIFEST_NAME, Manifest};

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Manifest entries checked (files, directories and symlinks).
    pub files_checked: u64,
    /// Bytes read and hashed from restored files.
    pub bytes_checked: u64,
    /// One line per problem, e.g. `var/lib/app/x: sha256 mismatch`, `…: missing`,
    /// `…: mode 0644, expected 0600`, `…: unexpected file`.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether the tree matched the manifest exactly.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks a restored tree rooted at `root` (where archive path `var/lib/app/x` is at
/// `root/var/lib/app/x`) against the manifest: every file present with the same size, sha256
/// and mode; every symlink with its target; directories present with their mode. Anything
/// else under `root` is reported as unexpected, except the directories leading to manifest
/// entries and the embedded [`MANIFEST_NAME`].
///
/// Errors only when `root` itself cannot be read; everything else is a problem in the report.
pub fn verify(root: &Path, manifest: &Manifest) -> Result<VerifyReport, BackupError> {
    fs::read_dir(root).map_err(|source| BackupError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    let mut report = VerifyReport {
        files_checked: 0,
        bytes_checked: 0,
        problems: Vec::new(),
    };
    let mut buf = vec![0u8; BUF_SIZE];
    for entry in &manifest.files {
        if !is_safe(&entry.path) {
            report
                .problems
                .push(format!("{}: invalid path in manifest", entry.path));
            continue;
        }
        report.files_checked += 1;
        if let Some(problem) = check(root, entry, &mut buf, &mut report.bytes_checked) {
            report.problems.push(format!("{}: {problem}", entry.path));
        }
    }
    unexpected(root, manifest, &mut report.problems);
    Ok(report)
}

/// A manifest path must stay inside the root: relative, only plain components.
fn is_safe(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Checks one entry; returns what is wrong with it, if anything.
fn check(root: &Path, entry: &super::FileEntry, buf: &mut [u8], bytes: &mut u64) -> Option<String> {
    let path = root.join(&entry.path);
    let meta = match fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Some("missing".to_owned());
        }
        Err(e) => return Some(format!("unreadable: {e}")),
    };
    let kind = meta.file_type();
    match &entry.kind {
        EntryKind::Dir if !kind.is_dir() => Some("expected a directory".to_owned()),
        EntryKind::Symlink { .. } if !kind.is_symlink() => Some("expected a symlink".to_owned()),
        EntryKind::File if !kind.is_file() => Some("expected a regular file".to_owned()),
        EntryKind::Symlink { target } => match fs::read_link(&path) {
            Ok(found) if found == Path::new(target) => None,
            Ok(found) => Some(format!(
                "symlink to {}, expected {target}",
                found.to_string_lossy()
            )),
            Err(e) => Some(format!("unreadable: {e}")),
        },
        EntryKind::Dir => mode_problem(meta.mode(), entry.mode),
        EntryKind::File => {
            if meta.len() != entry.size {
                return Some(format!("size {}, expected {}", meta.len(), entry.size));
            }
            match hash_file(&path, buf) {
                Ok((sha256, n)) => {
                    *bytes += n;
                    if sha256 != entry.sha256 {
                        return Some("sha256 mismatch".to_owned());
                    }
                }
                Err(e) => return Some(format!("unreadable: {e}")),
            }
            mode_problem(meta.mode(), entry.mode)
        }
    }
}

fn mode_problem(found: u32, expected: u32) -> Option<String> {
    let found = found & 0o7777;
    (found != expected).then(|| format!("mode {found:04o}, expected {expected:04o}"))
}

fn hash_file(path: &Path, buf: &mut [u8]) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(buf.get(..n).unwrap_or_default());
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Reports everything under `root` that is neither a manifest entry, nor a directory on the
/// way to one, nor the embedded manifest. Unexpected directories are not descended into.
fn unexpected(root: &Path, manifest: &Manifest, problems: &mut Vec<String>) {
    let entries: HashSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    let mut ancestors: HashSet<&str> = HashSet::new();
    for entry in &manifest.files {
        let mut path = entry.path.as_str();
        while let Some((parent, _)) = path.rsplit_once('/') {
            if !ancestors.insert(parent) {
                break;
            }
            path = parent;
        }
    }
    let manifest_dirs: HashSet<&str> = manifest
        .files
        .iter()
        .filter(|f| f.kind == EntryKind::Dir)
        .map(|f| f.path.as_str())
        .collect();
    let mut pending: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let dir = root.join(&rel);
        let mut children = match fs::read_dir(&dir) {
            Ok(read) => read
                .filter_map(Result::ok)
                .map(|e| rel.join(e.file_name()))
                .collect::<Vec<_>>(),
            Err(e) => {
                problems.push(format!("{}: unreadable: {e}", rel.to_string_lossy()));
                continue;
            }
        };
        children.sort();
        let mut subdirs = Vec::new();
        for child in children {
            let Some(name) = child.to_str() else {
                problems.push(format!("{}: unexpected file", child.to_string_lossy()));
                continue;
            };
            if name == MANIFEST_NAME {
                continue;
            }
            let known = entries.contains(name);
            let on_the_way = ancestors.contains(name);
            if !known && !on_the_way {
                problems.push(format!("{name}: unexpected file"));
                continue;
            }
            let is_dir = fs::symlink_metadata(root.join(&child)).is_ok_and(|m| m.is_dir());
            if is_dir && (on_the_way || manifest_dirs.contains(name)) {
                subdirs.push(child);
            }
        }
        pending.extend(subdirs.into_iter().rev());
    }
}
