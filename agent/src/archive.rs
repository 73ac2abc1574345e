//! Safe extraction of release artifacts and backups: this module owns reading a tar archive
//! (plain, gzip or zstd) into a fresh directory, refusing anything that could write outside
//! it, create device files, or exhaust the disk or memory. It does no network I/O and knows
//! nothing of gRPC: callers hand it a reader or a file and a destination path.
//!
//! Extraction is all-or-nothing. Entries are written into `<dest>.partial-<random>` beside the
//! destination, and that directory is renamed to `dest` only after every entry passed; on any
//! error it is removed again, so a refused archive leaves nothing behind.
//!
//! Names and link targets are checked lexically in `names`; the walk over entries, the size
//! and count budgets and the writes live in `extract`, which applies GNU long-name and pax
//! metadata with `meta` and asks `tree` what is already on disk.

mod extract;
mod meta;
mod names;
mod tree;

#[cfg(test)]
mod tests;

use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The compression wrapped around a tar stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`.tar.gz`, `.tgz`).
    Gzip,
    /// Zstandard (`.tar.zst`).
    Zstd,
    /// A plain, uncompressed tar stream.
    None,
}

impl Compression {
    /// Recognises the compression from the first bytes of an archive: the gzip magic
    /// `1f 8b`, the zstd magic `28 b5 2f fd`, or a plain tar's `ustar` magic at offset 257
    /// (which needs at least 262 bytes). Returns `None` when the bytes match none of them.
    pub fn sniff(first_bytes: &[u8]) -> Option<Compression> {
        const GZIP: &[u8] = &[0x1f, 0x8b];
        const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
        const USTAR: &[u8] = b"ustar";
        if first_bytes.starts_with(GZIP) {
            Some(Compression::Gzip)
        } else if first_bytes.starts_with(ZSTD) {
            Some(Compression::Zstd)
        } else if first_bytes.get(257..262) == Some(USTAR) {
            Some(Compression::None)
        } else {
            None
        }
    }
}

/// What an extraction does with a symlink whose target leaves the destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LinkPolicy {
    /// Refuse the archive (releases): every link must resolve inside the destination.
    #[default]
    Contained,
    /// Keep every link exactly as archived, whatever its target (backups of `/etc` hold
    /// absolute links such as `/etc/alternatives/*`). A link is data: extraction still never
    /// writes through one, and names are checked as always.
    Verbatim,
}

/// How much an archive may expand to, and which links it may hold.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Ceiling on the sum of all entry sizes, both as declared by the headers and as read.
    pub max_total_bytes: u64,
    /// Ceiling on the number of entries (metadata entries describing a following entry,
    /// such as GNU long names and pax headers, are not counted).
    pub max_entries: u64,
    /// Symlinks pointing outside the destination: refused, or kept verbatim.
    pub links: LinkPolicy,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_bytes: 4 << 30,
            max_entries: 1_000_000,
            links: LinkPolicy::Contained,
        }
    }
}

/// What an extraction produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackReport {
    /// Regular files, hard links included.
    pub files: u64,
    /// Directories that had their own entry (the root `./` entry is not counted).
    pub dirs: u64,
    pub symlinks: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Why an archive was refused or could not be extracted.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("destination {} already exists", .0.display())]
    Exists(PathBuf),
    #[error("unrecognised archive format: neither gzip, zstd nor tar")]
    Unrecognised,
    #[error("entry {0:?} has an empty name")]
    EmptyName(String),
    #[error("entry {0:?} has an absolute path")]
    AbsolutePath(String),
    #[error("entry {0:?} has a parent-directory component")]
    ParentDir(String),
    #[error("symlink {entry:?} points outside the archive root: {target:?}")]
    LinkEscapes { entry: String, target: String },
    #[error("hard link {entry:?} does not point at a file extracted earlier: {target:?}")]
    HardLinkEscapes { entry: String, target: String },
    #[error("entry {entry:?} would be written through symlink {link:?}")]
    ThroughSymlink { entry: String, link: String },
    #[error("entry {0:?} conflicts with an earlier entry of another kind")]
    Conflict(String),
    #[error("entry {entry:?} is a {kind}, which is not allowed")]
    SpecialFile { entry: String, kind: &'static str },
    #[error("entry {entry:?} has unsupported type {kind}")]
    Unsupported { entry: String, kind: String },
    #[error("archive expands past the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("archive has more than {limit} entries")]
    TooManyEntries { limit: u64 },
    #[error("malformed archive: {0}")]
    Corrupt(String),
    #[error("i/o error on {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl ArchiveError {
    fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ArchiveError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Extracts the archive read from `reader` into `dest`, which must not exist yet: it is
/// created as `<dest>.partial-<random>` next to it, filled, then renamed to `dest` only if every
/// entry passed. On any error the partial directory is removed: a refused archive leaves nothing behind.
///
/// The parent of `dest` must exist. Between the final check that `dest` is still absent and
/// the rename there is a window in which another process could create an empty directory at
/// `dest`, which the rename would replace; nothing else is ever overwritten.
pub fn unpack(
    reader: impl Read,
    compression: Compression,
    dest: &Path,
    limits: &Limits,
) -> Result<UnpackReport, ArchiveError> {
    ensure_absent(dest)?;
    let partial = create_partial(dest)?;
    let result = match compression {
        Compression::Gzip => extract::run(flate2::read::GzDecoder::new(reader), &partial, limits),
        Compression::Zstd => match zstd::stream::read::Decoder::new(reader) {
            Ok(decoder) => extract::run(decoder, &partial, limits),
            Err(source) => Err(ArchiveError::io(&partial, source)),
        },
        Compression::None => extract::run(BufReader::new(reader), &partial, limits),
    }
    .and_then(|report| {
        ensure_absent(dest)?;
        fs::rename(&partial, dest).map_err(|source| ArchiveError::io(dest, source))?;
        Ok(report)
    });
    if result.is_err() {
        remove_partial(&partial);
    }
    result
}

/// Convenience: opens the file, sniffs compression from its first bytes, calls unpack.
pub(crate) fn unpack_file(
    archive: &Path,
    dest: &Path,
    limits: &Limits,
) -> Result<UnpackReport, ArchiveError> {
    let mut file = fs::File::open(archive).map_err(|source| ArchiveError::io(archive, source))?;
    let mut head = Vec::with_capacity(512);
    (&mut file)
        .take(512)
        .read_to_end(&mut head)
        .map_err(|source| ArchiveError::io(archive, source))?;
    let compression = Compression::sniff(&head).ok_or(ArchiveError::Unrecognised)?;
    unpack(io::Cursor::new(head).chain(file), compression, dest, limits)
}

fn ensure_absent(dest: &Path) -> Result<(), ArchiveError> {
    match fs::symlink_metadata(dest) {
        Ok(_) => Err(ArchiveError::Exists(dest.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ArchiveError::io(dest, source)),
    }
}

/// Creates the empty `<dest>.partial-<random>` directory beside `dest`.
fn create_partial(dest: &Path) -> Result<PathBuf, ArchiveError> {
    let name = dest.file_name().ok_or_else(|| {
        let source = io::Error::new(io::ErrorKind::InvalidInput, "destination has no file name");
        ArchiveError::io(dest, source)
    })?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut attempt = 0;
    loop {
        let mut partial_name = OsString::from(name);
        partial_name.push(format!(".partial-{}", random_suffix()));
        let partial = parent.join(partial_name);
        match fs::create_dir(&partial) {
            Ok(()) => return Ok(partial),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(source) => return Err(ArchiveError::io(&partial, source)),
        }
    }
}

/// 64 unpredictable-enough bits: std's `RandomState` is seeded from the OS per thread and
/// bumped per call; the clock and pid make collisions across processes unlikely too, and
/// `create_dir` failing on an existing name covers the rest.
fn random_suffix() -> String {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// Best-effort removal of a partial directory. Directory modes are only applied at the very
/// end, but if that step failed half-way some directories may be unwritable for a non-root
/// agent, so on failure make every directory owner-writable and try once more.
fn remove_partial(partial: &Path) {
    if fs::remove_dir_all(partial).is_ok() {
        return;
    }
    make_dirs_writable(partial);
    let _ = fs::remove_dir_all(partial);
}

fn make_dirs_writable(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let Ok(read_dir) = fs::read_dir(dir) else {
        return;
    };
    for child in read_dir.flatten() {
        // `DirEntry::file_type` does not follow symlinks, so links are never walked into.
        if child.file_type().is_ok_and(|t| t.is_dir()) {
            make_dirs_writable(&child.path());
        }
    }
}
