//! The sorted walk over a [`BackupSpec`]'s paths: validates and de-duplicates the configured
//! paths, applies the excludes, never follows symlinks, and records missing configured paths
//! and skipped entries in the manifest. Every entry worth archiving is handed to a visitor.

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{BackupError, BackupSpec, Manifest};

/// An entry the walk found and wants archived.
pub(super) struct Found<'a> {
    /// Where it is on this host.
    pub(super) source: &'a Path,
    /// Its archive path (the source path without the leading `/`).
    pub(super) archive: &'a str,
    /// Its `lstat` metadata.
    pub(super) meta: &'a Metadata,
}

/// A checked [`BackupSpec`], ready to walk.
pub(super) struct Walk {
    roots: Vec<PathBuf>,
    excludes: GlobSet,
}

impl Walk {
    /// Checks the spec: paths absolute and normalized, exclude patterns valid.
    pub(super) fn new(spec: &BackupSpec) -> Result<Walk, BackupError> {
        Ok(Walk {
            roots: roots(&spec.paths)?,
            excludes: excludes(&spec.exclude)?,
        })
    }

    /// Walks the paths in sorted depth-first order (a directory before its contents),
    /// calling `visit` for every regular file, directory and symlink that is not excluded.
    /// An error from `visit` stops the walk.
    pub(super) fn run(
        self,
        manifest: &mut Manifest,
        visit: impl FnMut(&Found<'_>, &mut Manifest) -> Result<(), BackupError>,
    ) -> Result<(), BackupError> {
        walk(self.roots, &self.excludes, manifest, visit)
    }
}

fn walk(
    roots: Vec<PathBuf>,
    excludes: &GlobSet,
    manifest: &mut Manifest,
    mut visit: impl FnMut(&Found<'_>, &mut Manifest) -> Result<(), BackupError>,
) -> Result<(), BackupError> {
    // (path, is a configured path); popped from the end, so pushed in reverse order.
    let mut pending: Vec<(PathBuf, bool)> = roots.into_iter().rev().map(|p| (p, true)).collect();
    while let Some((path, is_root)) = pending.pop() {
        let shown = path.to_string_lossy().into_owned();
        let Some(archive) = path.to_str().map(|s| s.trim_start_matches('/')) else {
            manifest
                .skipped
                .push((shown, "path is not valid utf-8".to_owned()));
            continue;
        };
        if is_excluded(excludes, &path, archive) {
            continue;
        }
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound && is_root => {
                manifest.missing.push(shown);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                manifest
                    .skipped
                    .push((shown, "vanished during backup".to_owned()));
                continue;
            }
            Err(e) => {
                manifest.skipped.push((shown, format!("unreadable: {e}")));
                continue;
            }
        };
        let kind = meta.file_type();
        if kind.is_dir() {
            let children = match sorted_children(&path) {
                Ok(children) => children,
                Err(e) => {
                    manifest.skipped.push((shown, format!("unreadable: {e}")));
                    continue;
                }
            };
            // The filesystem root has no archive path of its own; only its contents do.
            if !archive.is_empty() {
                visit(
                    &Found {
                        source: &path,
                        archive,
                        meta: &meta,
                    },
                    manifest,
                )?;
            }
            pending.extend(children.into_iter().rev().map(|c| (c, false)));
        } else if kind.is_file() || kind.is_symlink() {
            visit(
                &Found {
                    source: &path,
                    archive,
                    meta: &meta,
                },
                manifest,
            )?;
        } else {
            manifest
                .skipped
                .push((shown, format!("special file ({})", special_kind(&meta))));
        }
    }
    Ok(())
}

/// Checks that every configured path is absolute and normalized, then sorts them and drops
/// duplicates and paths inside another configured path.
fn roots(paths: &[PathBuf]) -> Result<Vec<PathBuf>, BackupError> {
    let mut roots = Vec::with_capacity(paths.len());
    for path in paths {
        let mut parts = path.components();
        let absolute = parts.next() == Some(Component::RootDir);
        if !absolute || !parts.all(|c| matches!(c, Component::Normal(_))) {
            return Err(BackupError::InvalidPath(path.clone()));
        }
        // Rebuilding from components drops doubled and trailing slashes.
        roots.push(path.components().collect::<PathBuf>());
    }
    roots.sort();
    let mut kept: Vec<PathBuf> = Vec::with_capacity(roots.len());
    for root in roots {
        if !kept.iter().any(|k| root.starts_with(k)) {
            kept.push(root);
        }
    }
    Ok(kept)
}

fn excludes(patterns: &[String]) -> Result<GlobSet, BackupError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|source| BackupError::Exclude {
            pattern: pattern.clone(),
            source,
        })?;
        builder.add(glob);
    }
    builder.build().map_err(|source| BackupError::Exclude {
        pattern: patterns.join(", "),
        source,
    })
}

/// Whether a pattern matches the entry's file name, absolute path or archive path.
fn is_excluded(excludes: &GlobSet, path: &Path, archive: &str) -> bool {
    if excludes.is_empty() {
        return false;
    }
    path.file_name().is_some_and(|name| excludes.is_match(name))
        || excludes.is_match(path)
        || excludes.is_match(archive)
}

/// The directory's entries, sorted by name bytes. Holds one directory's names at a time.
fn sorted_children(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut children = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()?;
    children.sort();
    Ok(children)
}

fn special_kind(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_fifo() {
        "fifo"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_block_device() {
        "block device"
    } else if kind.is_char_device() {
        "character device"
    } else {
        "unknown type"
    }
}
