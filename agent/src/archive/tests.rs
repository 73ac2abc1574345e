//! Real archives built with the tar crate, with the helpers shared by the suites: well-formed
//! archives in `happy`, hostile names, links and entry types in `hostile`, and size, count,
//! truncation and destination checks in `budget`.

mod budget;
mod full_disk;
mod happy;
mod hostile;

use super::*;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use tar::{Builder, EntryType, Header};
use tempfile::TempDir;

const MTIME: u64 = 1_600_000_000;

/// Builds a tar stream; `raw` writes names and link names straight into the header bytes,
/// which is how the hostile archives get names that `Header::set_path` would refuse.
struct Tar(Builder<Vec<u8>>);

impl Tar {
    fn new() -> Self {
        Tar(Builder::new(Vec::new()))
    }

    fn header(kind: EntryType, mode: u32, size: u64) -> Header {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(MTIME);
        header
    }

    fn dir(mut self, path: &str, mode: u32) -> Self {
        let mut header = Self::header(EntryType::Directory, mode, 0);
        self.0.append_data(&mut header, path, io::empty()).unwrap();
        self
    }

    fn file(mut self, path: &str, mode: u32, data: &[u8]) -> Self {
        let mut header = Self::header(EntryType::Regular, mode, data.len() as u64);
        self.0.append_data(&mut header, path, data).unwrap();
        self
    }

    fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut header = Self::header(EntryType::Symlink, 0o777, 0);
        self.0.append_link(&mut header, path, target).unwrap();
        self
    }

    fn hard_link(mut self, path: &str, target: &str) -> Self {
        let mut header = Self::header(EntryType::Link, 0o644, 0);
        self.0.append_link(&mut header, path, target).unwrap();
        self
    }

    /// An entry whose header declares `size` but is followed by `data`, whatever its length.
    fn raw_sized(
        mut self,
        name: &[u8],
        kind: EntryType,
        link: &[u8],
        size: u64,
        data: &[u8],
    ) -> Self {
        let mut header = Self::header(kind, 0o644, size);
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        header.set_cksum();
        self.0.append(&header, data).unwrap();
        self
    }

    fn raw(self, name: &[u8], kind: EntryType, link: &[u8], data: &[u8]) -> Self {
        self.raw_sized(name, kind, link, data.len() as u64, data)
    }

    fn pax(mut self, pairs: &[(&str, &[u8])]) -> Self {
        self.0.append_pax_extensions(pairs.iter().copied()).unwrap();
        self
    }

    fn build(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn gzip(tar: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(tar).unwrap();
    encoder.finish().unwrap()
}

fn zstd(tar: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(tar, 3).unwrap()
}

fn compress(tar: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::Gzip => gzip(tar),
        Compression::Zstd => zstd(tar),
        Compression::None => tar.to_vec(),
    }
}

/// A temp dir holding `root/` (the parent of `dest`) and an empty `sentinel/` beside it,
/// which hostile archives aim at.
struct Scene {
    tmp: TempDir,
    root: PathBuf,
    sentinel: PathBuf,
    dest: PathBuf,
}

fn scene() -> Scene {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let sentinel = tmp.path().join("sentinel");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&sentinel).unwrap();
    let dest = root.join("dest");
    Scene {
        tmp,
        root,
        sentinel,
        dest,
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

impl Scene {
    /// Nothing was left behind or written outside: no dest, no `*.partial-*` sibling, the
    /// sentinel still empty, and the temp dir holding exactly what the scene put there.
    fn assert_untouched(&self) {
        assert!(
            fs::symlink_metadata(&self.dest).is_err(),
            "dest was created"
        );
        assert_eq!(names_in(&self.root), Vec::<String>::new(), "left in root");
        assert_eq!(
            names_in(&self.sentinel),
            Vec::<String>::new(),
            "written outside"
        );
        assert_eq!(names_in(self.tmp.path()), ["root", "sentinel"]);
    }

    fn refuse_with(
        &self,
        archive: &[u8],
        compression: Compression,
        limits: &Limits,
    ) -> ArchiveError {
        let err = unpack(archive, compression, &self.dest, limits).unwrap_err();
        self.assert_untouched();
        err
    }
}

/// Unpacks a plain tar with default limits into a fresh scene, expecting refusal, and checks
/// that nothing was left behind.
fn refuse(tar: &[u8]) -> ArchiveError {
    scene().refuse_with(tar, Compression::None, &Limits::default())
}

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn binary_blob() -> Vec<u8> {
    (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

#[test]
fn sniff_recognises_magics() {
    let tar = Tar::new().file("a", 0o644, b"x").build();
    assert_eq!(Compression::sniff(&tar), Some(Compression::None));
    assert_eq!(Compression::sniff(&gzip(&tar)), Some(Compression::Gzip));
    assert_eq!(Compression::sniff(&zstd(&tar)), Some(Compression::Zstd));
    assert_eq!(
        Compression::sniff(&tar[..261]),
        None,
        "ustar magic needs 262 bytes"
    );
    assert_eq!(Compression::sniff(b""), None);
    assert_eq!(Compression::sniff(&[0u8; 1024]), None);
    assert_eq!(Compression::sniff(b"PK\x03\x04 a zip file"), None);
}

#[test]
fn symlink_targets_are_checked_lexically() {
    let inside =
        |link: &str, target: &str| names::symlink_stays_inside(Path::new(link), target.as_bytes());
    assert!(inside("l", "x"));
    assert!(inside("l", "."));
    assert!(inside("a/l", ".."));
    assert!(inside("a/b/l", "../../x/./y"));
    assert!(!inside("l", ".."));
    assert!(!inside("a/l", "../../x"));
    assert!(!inside("l", "/etc"));
    assert!(!inside("l", ""));
    assert!(
        !inside("a/l", "x/../y"),
        "a `..` after a normal component may climb out of a symlink"
    );
}

#[test]
fn entry_names_are_normalised() {
    use names::{BadName, relative};
    assert_eq!(relative(b"./a//b/./c/"), Ok(Some(PathBuf::from("a/b/c"))));
    assert_eq!(relative(b"./"), Ok(None));
    assert_eq!(relative(b""), Err(BadName::Empty));
    assert_eq!(relative(b"/etc/passwd"), Err(BadName::Absolute));
    assert_eq!(relative(b"a/../b"), Err(BadName::ParentDir));
}
