//! Writing a backup: the walk's entries go into a tar stream, through zstd, through a
//! hashing writer, into the caller's writer; the manifest is appended last.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;

use tar::{EntryType, Header};

use super::stream::{HashingWriter, SizedSource};
use super::walk::{Found, Walk};
use super::{BackupError, BackupSpec, EntryKind, FileEntry, MANIFEST_NAME, Manifest, ZSTD_LEVEL};

/// What [`pack`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackReport {
    /// Every archived entry, the missing paths and the skipped entries.
    pub manifest: Manifest,
    /// The lowercase hex sha256 of the compressed archive, exactly as written to `out`.
    pub archive_sha256: String,
    /// The number of compressed bytes written to `out`.
    pub archive_bytes: u64,
}

type Archive<W> = tar::Builder<zstd::stream::write::Encoder<'static, HashingWriter<W>>>;

/// Walks the spec's paths (no following symlinks; symlinks archived as symlinks; special
/// files skipped and listed) and writes a `.tar.zst` stream to `out`, hashing each file while
/// it streams (each file is read once) and the whole archive as it is written. Nothing is
/// staged: no temporary file, no in-memory copy of a file or of the archive.
///
/// The manifest is also appended as the last archive entry, [`MANIFEST_NAME`]. Entries come
/// in a deterministic sorted order. A file that grows while it is read is archived at the
/// size it had when opened; one that shrinks or fails mid-read is zero-filled to that size,
/// described in the manifest as archived, and listed in [`Manifest::skipped`].
///
/// Hard links are archived as separate copies and sparse files at their full size; a
/// directory that cannot be listed is skipped with its contents.
///
/// Errors only for an invalid spec or a failed write to `out`; after a write error `out`
/// holds a truncated archive. Unreadable or missing entries make the backup partial
/// ([`Manifest::is_partial`]) instead.
pub fn pack(spec: &BackupSpec, out: impl Write) -> Result<PackReport, BackupError> {
    let walk = Walk::new(spec)?;
    let encoder = zstd::stream::write::Encoder::new(HashingWriter::new(out), ZSTD_LEVEL)
        .map_err(BackupError::Write)?;
    let mut archive = tar::Builder::new(encoder);
    let mut manifest = Manifest::default();
    walk.run(&mut manifest, |found, manifest| {
        append(&mut archive, found, manifest)
    })?;

    let json = manifest.to_json();
    let mut header = Header::new_gnu();
    header.set_entry_type(EntryType::Regular);
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(0);
    archive
        .append_data(&mut header, MANIFEST_NAME, json.as_slice())
        .map_err(BackupError::Write)?;

    let encoder = archive.into_inner().map_err(BackupError::Write)?;
    let hashing = encoder.finish().map_err(BackupError::Write)?;
    let (archive_sha256, archive_bytes) = hashing.finish().map_err(BackupError::Write)?;
    Ok(PackReport {
        manifest,
        archive_sha256,
        archive_bytes,
    })
}

/// Archives one entry and records it in the manifest. Entry-level problems go to
/// `manifest.skipped`; only write errors are returned.
fn append<W: Write>(
    archive: &mut Archive<W>,
    found: &Found<'_>,
    manifest: &mut Manifest,
) -> Result<(), BackupError> {
    let shown = found.source.to_string_lossy();
    let kind = found.meta.file_type();
    if kind.is_dir() {
        let mut header = header_for(found.meta, EntryType::Directory);
        archive
            .append_data(&mut header, found.archive, io::empty())
            .map_err(BackupError::Write)?;
        manifest
            .files
            .push(entry(found, found.meta, 0, String::new(), EntryKind::Dir));
    } else if kind.is_symlink() {
        let target = match fs::read_link(found.source) {
            Ok(target) => target,
            Err(e) => return skip(manifest, &shown, &format!("unreadable: {e}")),
        };
        let Some(target) = target.to_str() else {
            return skip(manifest, &shown, "symlink target is not valid utf-8");
        };
        let mut header = header_for(found.meta, EntryType::Symlink);
        archive
            .append_link(&mut header, found.archive, target)
            .map_err(BackupError::Write)?;
        let kind = EntryKind::Symlink {
            target: target.to_owned(),
        };
        manifest
            .files
            .push(entry(found, found.meta, 0, String::new(), kind));
    } else {
        let file = match File::open(found.source) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return skip(manifest, &shown, "vanished during backup");
            }
            Err(e) => return skip(manifest, &shown, &format!("unreadable: {e}")),
        };
        // The size, mode and times of what was opened, which must still be the regular
        // file the walk saw (not swapped for another file or a link in between).
        let meta = match file.metadata() {
            Ok(meta) => meta,
            Err(e) => return skip(manifest, &shown, &format!("unreadable: {e}")),
        };
        let same =
            meta.is_file() && meta.dev() == found.meta.dev() && meta.ino() == found.meta.ino();
        if !same {
            return skip(manifest, &shown, "changed during backup: replaced");
        }
        let mut header = header_for(&meta, EntryType::Regular);
        header.set_size(meta.len());
        let mut source = SizedSource::new(file, meta.len());
        archive
            .append_data(&mut header, found.archive, &mut source)
            .map_err(BackupError::Write)?;
        let (sha256, problem) = source.finish();
        manifest
            .files
            .push(entry(found, &meta, meta.len(), sha256, EntryKind::File));
        if let Some(problem) = problem {
            manifest.skipped.push((shown.into_owned(), problem));
        }
    }
    Ok(())
}

fn skip(manifest: &mut Manifest, path: &str, why: &str) -> Result<(), BackupError> {
    manifest.skipped.push((path.to_owned(), why.to_owned()));
    Ok(())
}

fn header_for(meta: &fs::Metadata, kind: EntryType) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(0);
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(u64::from(meta.uid()));
    header.set_gid(u64::from(meta.gid()));
    header.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    header
}

fn entry(
    found: &Found<'_>,
    meta: &fs::Metadata,
    size: u64,
    sha256: String,
    kind: EntryKind,
) -> FileEntry {
    FileEntry {
        path: found.archive.to_owned(),
        size,
        mode: meta.mode() & 0o7777,
        mtime: meta.mtime(),
        sha256,
        kind,
    }
}
