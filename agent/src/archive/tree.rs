//! What is already on disk inside the partial directory, asked of the filesystem itself (never
//! following a symlink), so that no entry is ever written through a symlink or over an entry
//! of another kind.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::ArchiveError;

/// What a path inside the root currently is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

/// Why a parent path cannot take an entry.
pub(super) enum Obstacle {
    /// This prefix of the parent path is a symlink.
    Symlink(PathBuf),
    /// A prefix of the parent path is a file or something else that is not a directory.
    NotDir,
}

/// The partial directory being filled.
pub(super) struct Tree<'a> {
    pub(super) root: &'a Path,
}

impl Tree<'_> {
    /// Makes `rel` ready to be created as `new`: its parents must be real directories (they
    /// are created if missing), and whatever is already there must be of the same kind. An
    /// existing file is removed so a later copy of it wins; returns whether `rel` is already
    /// a directory.
    pub(super) fn prepare(&self, rel: &Path, name: &str, new: Kind) -> Result<bool, ArchiveError> {
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            match self.parent_obstacle(parent)? {
                Some(Obstacle::Symlink(link)) => {
                    return Err(ArchiveError::ThroughSymlink {
                        entry: name.to_owned(),
                        link: link.to_string_lossy().into_owned(),
                    });
                }
                Some(Obstacle::NotDir) => return Err(ArchiveError::Conflict(name.to_owned())),
                None => {}
            }
            let path = self.root.join(parent);
            fs::create_dir_all(&path).map_err(|source| ArchiveError::io(&path, source))?;
        }
        match (self.kind_of(rel)?, new) {
            (None, _) => Ok(false),
            (Some(Kind::Dir), Kind::Dir) => Ok(true),
            (Some(Kind::File), Kind::File) => {
                let path = self.root.join(rel);
                fs::remove_file(&path).map_err(|source| ArchiveError::io(&path, source))?;
                Ok(false)
            }
            _ => Err(ArchiveError::Conflict(name.to_owned())),
        }
    }

    /// The first component of `parent` (relative to the root) that is a symlink or not a
    /// directory, if any. Components that do not exist yet are no obstacle.
    pub(super) fn parent_obstacle(&self, parent: &Path) -> Result<Option<Obstacle>, ArchiveError> {
        let mut rel = PathBuf::new();
        for component in parent.components() {
            rel.push(component);
            match self.kind_of(&rel)? {
                None => return Ok(None),
                Some(Kind::Dir) => {}
                Some(Kind::Symlink) => return Ok(Some(Obstacle::Symlink(rel))),
                Some(Kind::File | Kind::Other) => return Ok(Some(Obstacle::NotDir)),
            }
        }
        Ok(None)
    }

    /// What `rel` is on disk, without following a symlink at its end.
    pub(super) fn kind_of(&self, rel: &Path) -> Result<Option<Kind>, ArchiveError> {
        let path = self.root.join(rel);
        match fs::symlink_metadata(&path) {
            Ok(meta) => {
                let file_type = meta.file_type();
                Ok(Some(if file_type.is_symlink() {
                    Kind::Symlink
                } else if file_type.is_dir() {
                    Kind::Dir
                } else if file_type.is_file() {
                    Kind::File
                } else {
                    Kind::Other
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ArchiveError::io(&path, source)),
        }
    }
}
