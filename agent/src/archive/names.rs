//! Lexical checks on entry names and link targets. Nothing here touches the filesystem.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Why a name cannot be placed inside the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BadName {
    Empty,
    Absolute,
    ParentDir,
}

/// Turns a raw archive name into a path relative to the root made of normal components
/// only. `Ok(None)` means the name is the root itself (`.`, `./`). Any `..` component is
/// refused outright, so no name can normalise to somewhere outside the root.
pub(super) fn relative(raw: &[u8]) -> Result<Option<PathBuf>, BadName> {
    if raw.is_empty() {
        return Err(BadName::Empty);
    }
    let mut out = PathBuf::new();
    for component in Path::new(OsStr::from_bytes(raw)).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(BadName::ParentDir),
            Component::RootDir | Component::Prefix(_) => return Err(BadName::Absolute),
        }
    }
    Ok(if out.as_os_str().is_empty() {
        None
    } else {
        Some(out)
    })
}

/// Whether a symlink at `link` (relative to the root) with target `target` stays inside the
/// root. The target must be relative, and may climb with leading `..` components at most up
/// to the root; a `..` after a normal component is refused, because that normal component
/// may itself be a symlink and the kernel would climb from wherever it points, not from
/// where it lexically sits (`s -> .` plus `l -> s/../x` would reach outside).
///
/// Together with never writing through a symlink, this keeps every link, and every chain of
/// links, inside the root: a link's own directory is a real directory, leading `..` only
/// reaches its real ancestors, and the rest only descends.
pub(super) fn symlink_stays_inside(link: &Path, target: &[u8]) -> bool {
    if target.is_empty() {
        return false;
    }
    let mut climbable = link.components().count().saturating_sub(1);
    let mut descended = false;
    for component in Path::new(OsStr::from_bytes(target)).components() {
        match component {
            Component::CurDir => {}
            Component::Normal(_) => descended = true,
            Component::ParentDir if !descended && climbable > 0 => climbable -= 1,
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Cuts a GNU long name or link name at its first NUL, as GNU tar reads it.
pub(super) fn c_string(mut bytes: Vec<u8>) -> Vec<u8> {
    if let Some(end) = bytes.iter().position(|b| *b == 0) {
        bytes.truncate(end);
    }
    bytes
}

/// An entry name for error messages.
pub(super) fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}
