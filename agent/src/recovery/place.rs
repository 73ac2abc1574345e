//! Placing a restored tree (unpacked and checked in a scratch directory) where it belongs:
//! under a target directory, or over the set's live paths.
//!
//! Each file and link is written to a temporary name beside its destination and renamed
//! over it, so a reader sees the old file or the new one, never half of one. Below the
//! destination root nothing is ever written through a symlink: a directory the backup has
//! where a link (or file) now is replaces that link, it is never followed. A directory where
//! the backup has a file is left alone and fails the restore. Files that the backup does not
//! hold are left alone. Modes and modification times come from the archive; ownership is not
//! changed.

use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::backup::MANIFEST_NAME;

/// Places the tree under `dir` (created if missing). Returns the entries placed.
pub(super) async fn under(
    staged: &Path,
    dir: &Path,
    _force: bool,
) -> Result<u64, super::RecoveryError> {
    let (staged, dir) = (staged.to_path_buf(), dir.to_path_buf());
    blocking(move || {
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut placed = 0;
        merge(&staged, &dir, true, &mut placed)?;
        Ok(placed)
    })
    .await
    .map_err(super::RecoveryError::Failed)
}

/// Places the tree over the live filesystem, only under the set's configured `paths`: an
/// archive holding anything else is refused before anything is written.
pub(super) async fn in_place(
    staged: &Path,
    paths: &[PathBuf],
) -> Result<u64, super::RecoveryError> {
    let (staged, paths) = (staged.to_path_buf(), paths.to_vec());
    blocking(move || {
        let relative: Vec<PathBuf> = paths
            .iter()
            .filter_map(|p| p.strip_prefix("/").ok().map(Path::to_path_buf))
            .collect();
        check_inside(&staged, Path::new(""), &relative)?;
        let mut placed = 0;
        for (path, rel) in paths.iter().zip(&relative) {
            let source = staged.join(rel);
            let Ok(meta) = fs::symlink_metadata(&source) else {
                continue;
            };
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            if meta.is_dir() {
                ensure_dir(path)?;
                merge(&source, path, false, &mut placed)?;
                set_mode(path, &meta)?;
            } else {
                place_entry(&source, path, &meta)?;
            }
            placed += 1;
        }
        Ok(placed)
    })
    .await
    .map_err(super::RecoveryError::Failed)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("restore task failed: {e}"))?
}

/// Refuses a staged tree holding anything but the set's paths, the directories leading to
/// them and the manifest.
fn check_inside(staged: &Path, rel: &Path, paths: &[PathBuf]) -> Result<(), String> {
    let dir = staged.join(rel);
    for child in sorted(&dir)? {
        let name = rel.join(&child);
        if rel.as_os_str().is_empty() && child == MANIFEST_NAME {
            continue;
        }
        if paths.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let leads_to_one = paths.iter().any(|p| p.starts_with(&name) && p != &name);
        let is_dir = fs::symlink_metadata(staged.join(&name)).is_ok_and(|m| m.is_dir());
        if leads_to_one && is_dir {
            check_inside(staged, &name, paths)?;
            continue;
        }
        return Err(format!(
            "the backup holds /{}, outside this set's paths; nothing was restored in place",
            name.display()
        ));
    }
    Ok(())
}

fn sorted(dir: &Path) -> Result<Vec<OsString>, String> {
    let mut names = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    names.sort();
    Ok(names)
}

/// Copies the contents of `src` into the real directory `dst`.
fn merge(src: &Path, dst: &Path, top: bool, placed: &mut u64) -> Result<(), String> {
    for name in sorted(src)? {
        if top && name == MANIFEST_NAME {
            continue;
        }
        let (from, to) = (src.join(&name), dst.join(&name));
        let meta = fs::symlink_metadata(&from)
            .map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        if meta.is_dir() {
            ensure_dir(&to)?;
            merge(&from, &to, false, placed)?;
            set_mode(&to, &meta)?;
        } else {
            place_entry(&from, &to, &meta)?;
        }
        *placed += 1;
    }
    Ok(())
}

/// Makes `path` a real directory: created if missing, a link or file there replaced.
fn ensure_dir(path: &Path) -> Result<(), String> {
    let fail = |e: io::Error| format!("cannot create directory {}: {e}", path.display());
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => {
            fs::remove_file(path).map_err(fail)?;
            fs::create_dir(path).map_err(fail)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(path).map_err(fail),
        Err(e) => Err(fail(e)),
    }
}

fn set_mode(path: &Path, meta: &Metadata) -> Result<(), String> {
    let mode = meta.permissions().mode() & 0o7777;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))
}

/// Puts a file or symlink at `to` through a temporary name beside it and a rename.
fn place_entry(from: &Path, to: &Path, meta: &Metadata) -> Result<(), String> {
    if fs::symlink_metadata(to).is_ok_and(|m| m.is_dir()) {
        return Err(format!(
            "{} is a directory where the backup has a file; left as it is",
            to.display()
        ));
    }
    let mut tmp_name = OsString::from(".");
    tmp_name.push(to.file_name().unwrap_or_default());
    tmp_name.push(".convoy-restore");
    let tmp = to.with_file_name(tmp_name);
    let fail = |e: io::Error| format!("cannot restore {}: {e}", to.display());
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(fail(e)),
        _ => {}
    }
    if meta.file_type().is_symlink() {
        let target = fs::read_link(from).map_err(fail)?;
        std::os::unix::fs::symlink(target, &tmp).map_err(fail)?;
    } else if fs::rename(from, &tmp).is_err() {
        // Another filesystem: copy. `tmp` was just removed, so `copy` creates a new file.
        fs::copy(from, &tmp).map_err(fail)?;
        let file = fs::File::options().write(true).open(&tmp).map_err(fail)?;
        if let Ok(modified) = meta.modified() {
            file.set_modified(modified).map_err(fail)?;
        }
        set_mode(&tmp, meta)?;
    }
    fs::rename(&tmp, to).map_err(fail)
}
