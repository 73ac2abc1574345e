//! Shared fixtures for the backup tests: a source tree with every kind of entry, packing it
//! and unpacking the result with plain `tar` + `zstd`.

mod drill;
mod packing;
mod stream;
mod verify;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use super::{BackupSpec, PackReport, pack};

/// A deterministic pseudo-random byte stream (xorshift64), written in 1 MiB chunks.
pub(super) fn write_noise(path: &Path, len: usize, mut seed: u64) {
    let mut file = fs::File::create(path).unwrap();
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in chunk.chunks_mut(8) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let bytes = seed.to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
}

pub(super) fn write_file(path: &Path, data: &[u8], mode: u32) {
    fs::write(path, data).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

pub(super) fn mkdir(path: &Path, mode: u32) {
    fs::create_dir_all(path).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

pub(super) fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The archive path of a source path: absolute, without the leading `/`.
pub(super) fn arch(path: &Path) -> String {
    path.to_str().unwrap().trim_start_matches('/').to_owned()
}

/// A source tree and the spec that backs it up.
pub(super) struct Fixture {
    pub(super) dir: TempDir,
    /// `<dir>/src/app`, the configured directory.
    pub(super) app: PathBuf,
    pub(super) spec: BackupSpec,
}

/// Builds `<tmp>/src/app` with nested directories, an empty file, a 3 MiB binary file,
/// modes 0600 and 0755, a symlink and an excluded `*.tmp` file; the spec also names a
/// path that does not exist.
pub(super) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("src/app");
    mkdir(&app, 0o755);
    mkdir(&app.join("bin"), 0o755);
    mkdir(&app.join("data"), 0o750);
    mkdir(&app.join("data/nested/deep"), 0o700);
    write_file(&app.join("empty"), b"", 0o644);
    write_file(&app.join("secret"), b"s3cret\n", 0o600);
    write_file(&app.join("bin/tool"), b"#!/bin/sh\necho hi\n", 0o755);
    write_file(
        &app.join("data/nested/deep/note.txt"),
        b"deep note\n",
        0o640,
    );
    write_file(&app.join("data/scratch.tmp"), b"throwaway", 0o644);
    write_noise(&app.join("data/blob.bin"), 3 * (1 << 20) + 123, 0x5eed);
    symlink("data/nested/deep/note.txt", app.join("link")).unwrap();
    let spec = BackupSpec {
        paths: vec![app.clone(), dir.path().join("src/nope")],
        exclude: vec!["*.tmp".to_owned()],
    };
    Fixture { dir, app, spec }
}

pub(super) fn pack_to_vec(spec: &BackupSpec) -> (PackReport, Vec<u8>) {
    let mut out = Vec::new();
    let report = pack(spec, &mut out).unwrap();
    (report, out)
}

/// Unpacks a `.tar.zst` into a fresh directory with plain `tar` + `zstd`.
pub(super) fn unpack(archive: &[u8]) -> TempDir {
    let dest = tempfile::tempdir().unwrap();
    let decoder = zstd::stream::read::Decoder::new(archive).unwrap();
    tar::Archive::new(decoder).unpack(dest.path()).unwrap();
    dest
}
