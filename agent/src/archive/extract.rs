//! The walk over a tar stream: the byte and entry budgets, the end-of-archive checks, and
//! the writes into the partial directory. Metadata entries are applied by `meta`, and what is
//! already on disk is asked of `tree`.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use tar::{Archive, Entry, EntryType};

use super::meta::{Names, Pending};
use super::names::{self, BadName};
use super::tree::{Kind, Tree};
use super::{ArchiveError, Limits, LinkPolicy, UnpackReport};

/// Cap on what may follow the end-of-archive marker (record padding, compression trailers).
const MAX_TRAILING: u64 = 16 * 1024 * 1024;
/// Permission bits kept from headers: rwx for user, group and other plus sticky; setuid and
/// setgid are dropped.
const KEEP_MODE: u32 = 0o1777;

/// Extracts the decompressed tar stream `decoded` into the existing, empty directory `root`.
pub(super) fn run<R: Read>(
    decoded: R,
    root: &Path,
    limits: &Limits,
) -> Result<UnpackReport, ArchiveError> {
    let mut archive = Archive::new(Source {
        inner: decoded,
        eof: false,
    });
    let mut walk = Walk {
        tree: Tree { root },
        limits,
        report: UnpackReport::default(),
        entries: 0,
        declared: 0,
        pending: Pending::default(),
        dir_modes: Vec::new(),
        buf: vec![0; 64 * 1024],
    };
    for entry in archive.entries().map_err(corrupt)?.raw(true) {
        walk.entry(entry.map_err(corrupt)?)?;
    }
    if !walk.pending.is_empty() {
        return Err(ArchiveError::Corrupt(
            "archive ends with a metadata entry that describes no entry".into(),
        ));
    }
    let mut source = archive.into_inner();
    if source.eof {
        return Err(ArchiveError::Corrupt(
            "archive is truncated: it ends without an end-of-archive marker".into(),
        ));
    }
    // Reading to the end makes the decoders check their trailers (gzip's crc, zstd's frame end).
    let trailing =
        io::copy(&mut source.by_ref().take(MAX_TRAILING + 1), &mut io::sink()).map_err(corrupt)?;
    if trailing > MAX_TRAILING {
        return Err(ArchiveError::Corrupt(format!(
            "more than {MAX_TRAILING} bytes follow the end-of-archive marker"
        )));
    }
    walk.apply_dir_modes()?;
    Ok(walk.report)
}

pub(super) fn corrupt(e: io::Error) -> ArchiveError {
    ArchiveError::Corrupt(e.to_string())
}

/// The decompressed stream, remembering whether it ran dry: the tar crate takes end of input
/// at a header boundary for a clean end, but a whole archive ends with a zero block first.
struct Source<R> {
    inner: R,
    eof: bool,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        Ok(n)
    }
}

struct Walk<'a> {
    tree: Tree<'a>,
    limits: &'a Limits,
    report: UnpackReport,
    entries: u64,
    declared: u64,
    pending: Pending,
    dir_modes: Vec<(PathBuf, u32)>,
    buf: Vec<u8>,
}

impl Walk<'_> {
    fn entry<R: Read>(&mut self, mut entry: Entry<'_, R>) -> Result<(), ArchiveError> {
        let size = entry.size();
        let limit = self.limits.max_total_bytes;
        self.declared = (self.declared.checked_add(size))
            .filter(|total| *total <= limit)
            .ok_or(ArchiveError::TooLarge { limit })?;

        if self.pending.absorb(&mut entry)? {
            return Ok(());
        }
        let kind = entry.header().entry_type();

        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        let meta = std::mem::take(&mut self.pending);
        if kind == EntryType::XGlobalHeader {
            // Archive-wide comments such as `git archive`'s commit id: nothing to extract.
            return match meta.is_empty() {
                true => Ok(()),
                false => Err(ArchiveError::Corrupt(
                    "metadata entry followed by a pax global header".into(),
                )),
            };
        }

        let header = entry.header();
        let Names {
            name: raw_name,
            link: raw_link,
        } = meta.resolve(header, size)?;
        let name = names::lossy(&raw_name);
        let mode = header.mode().map_err(corrupt)? & KEEP_MODE;
        let mtime = header.mtime().map_err(corrupt)?;

        let rel = match names::relative(&raw_name) {
            Ok(rel) => rel,
            Err(BadName::Empty) => return Err(ArchiveError::EmptyName(name)),
            Err(BadName::Absolute) => return Err(ArchiveError::AbsolutePath(name)),
            Err(BadName::ParentDir) => return Err(ArchiveError::ParentDir(name)),
        };
        let is_dir = kind == EntryType::Directory
            || (matches!(kind, EntryType::Regular | EntryType::Continuous)
                && raw_name.ends_with(b"/"));
        if is_dir {
            return match rel {
                // `./`: the root is the partial directory itself and keeps its own mode.
                None => Ok(()),
                Some(rel) => self.dir(rel, &name, mode),
            };
        }
        match kind {
            EntryType::Char => return Err(special(name, "character device")),
            EntryType::Block => return Err(special(name, "block device")),
            EntryType::Fifo => return Err(special(name, "fifo")),
            EntryType::Regular | EntryType::Continuous | EntryType::Symlink | EntryType::Link => {}
            other => {
                return Err(ArchiveError::Unsupported {
                    entry: name,
                    kind: format!("{other:?}"),
                });
            }
        }
        let Some(rel) = rel else {
            return Err(ArchiveError::EmptyName(name));
        };
        match kind {
            EntryType::Symlink => self.symlink(&rel, name, raw_link),
            EntryType::Link => self.hard_link(&rel, name, raw_link),
            _ => self.file(&mut entry, &rel, &name, mode, mtime),
        }
    }

    fn dir(&mut self, rel: PathBuf, name: &str, mode: u32) -> Result<(), ArchiveError> {
        let existed = self.tree.prepare(&rel, name, Kind::Dir)?;
        if !existed {
            let path = self.tree.root.join(&rel);
            fs::create_dir(&path).map_err(|source| ArchiveError::io(&path, source))?;
            self.report.dirs += 1;
        }
        // Applied at the very end, so a read-only directory does not block its own contents.
        self.dir_modes.push((rel, mode));
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut Entry<'_, R>,
        rel: &Path,
        name: &str,
        mode: u32,
        mtime: u64,
    ) -> Result<(), ArchiveError> {
        let mtime = UNIX_EPOCH
            .checked_add(Duration::from_secs(mtime))
            .ok_or_else(|| ArchiveError::Corrupt(format!("entry {name:?} has an invalid mtime")))?;
        self.tree.prepare(rel, name, Kind::File)?;
        let path = self.tree.root.join(rel);
        let io_err = |source| ArchiveError::io(&path, source);
        // No parent is a symlink (checked by `prepare`) and `create_new` refuses to open an
        // existing name, symlink or not, so this never writes anywhere but a new file here.
        let mut file = (OpenOptions::new().write(true).create_new(true).mode(0o600))
            .open(&path)
            .map_err(io_err)?;
        let expected = entry.size();
        let mut written = 0u64;
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(corrupt(e)),
            };
            let limit = self.limits.max_total_bytes;
            if n as u64 > limit.saturating_sub(self.report.bytes) {
                return Err(ArchiveError::TooLarge { limit });
            }
            file.write_all(&self.buf[..n]).map_err(io_err)?;
            self.report.bytes += n as u64;
            written += n as u64;
        }
        if written != expected {
            return Err(ArchiveError::Corrupt(format!(
                "entry {name:?} is truncated"
            )));
        }
        file.set_modified(mtime).map_err(io_err)?;
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(io_err)?;
        self.report.files += 1;
        Ok(())
    }

    fn symlink(&mut self, rel: &Path, name: String, target: Vec<u8>) -> Result<(), ArchiveError> {
        let allowed = match self.limits.links {
            LinkPolicy::Contained => names::symlink_stays_inside(rel, &target),
            LinkPolicy::Verbatim => !target.is_empty(),
        };
        if !allowed {
            return Err(ArchiveError::LinkEscapes {
                entry: name,
                target: names::lossy(&target),
            });
        }
        self.tree.prepare(rel, &name, Kind::Symlink)?;
        let path = self.tree.root.join(rel);
        std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
            .map_err(|source| ArchiveError::io(&path, source))?;
        self.report.symlinks += 1;
        Ok(())
    }

    fn hard_link(&mut self, rel: &Path, name: String, target: Vec<u8>) -> Result<(), ArchiveError> {
        let escapes = |name: String| ArchiveError::HardLinkEscapes {
            entry: name,
            target: names::lossy(&target),
        };
        // Targets are archive-relative names, held to the same rules as entry names, and must
        // be a regular file reached without passing through a symlink.
        let Ok(Some(target_rel)) = names::relative(&target) else {
            return Err(escapes(name));
        };
        if let Some(parent) = target_rel.parent() {
            if self.tree.parent_obstacle(parent)?.is_some() {
                return Err(escapes(name));
            }
        }
        if self.tree.kind_of(&target_rel)? != Some(Kind::File) {
            return Err(escapes(name));
        }
        if target_rel == rel {
            return Err(ArchiveError::Conflict(name));
        }
        self.tree.prepare(rel, &name, Kind::File)?;
        let path = self.tree.root.join(rel);
        fs::hard_link(self.tree.root.join(&target_rel), &path)
            .map_err(|source| ArchiveError::io(&path, source))?;
        self.report.files += 1;
        Ok(())
    }

    /// Applies directory modes deepest first, so that a directory losing its search bit does
    /// not stop its children from being changed. Later entries for the same directory win.
    fn apply_dir_modes(&mut self) -> Result<(), ArchiveError> {
        self.dir_modes
            .sort_by_key(|(rel, _)| std::cmp::Reverse(rel.components().count()));
        for (rel, mode) in &self.dir_modes {
            let path = self.tree.root.join(rel);
            fs::set_permissions(&path, Permissions::from_mode(*mode))
                .map_err(|source| ArchiveError::io(&path, source))?;
        }
        Ok(())
    }
}

fn special(entry: String, kind: &'static str) -> ArchiveError {
    ArchiveError::SpecialFile { entry, kind }
}
