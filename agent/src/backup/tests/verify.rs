//! Verifying a restored tree: a clean restore passes, each kind of damage is reported for
//! exactly the entry that has it.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::super::{BackupError, FileEntry, Manifest, PackReport, verify};
use super::{arch, fixture, pack_to_vec, unpack};

/// Packs the fixture, unpacks it, and returns the report, the restore and the restored
/// location of `<app>`.
fn restored() -> (PackReport, tempfile::TempDir, std::path::PathBuf) {
    let fx = fixture();
    let (report, bytes) = pack_to_vec(&fx.spec);
    let restore = unpack(&bytes);
    let app = restore.path().join(arch(&fx.app));
    (report, restore, app)
}

fn problems(root: &Path, manifest: &Manifest) -> Vec<String> {
    verify(root, manifest).unwrap().problems
}

fn rel(report: &PackReport, suffix: &str) -> String {
    let f = report
        .manifest
        .files
        .iter()
        .find(|f| f.path.ends_with(suffix));
    f.map(|f| f.path.clone()).unwrap()
}

#[test]
fn a_clean_restore_passes() {
    let (report, restore, app) = restored();
    let check = verify(restore.path(), &report.manifest).unwrap();
    assert!(check.passed(), "{:?}", check.problems);
    assert_eq!(check.files_checked, report.manifest.files.len() as u64);
    assert_eq!(check.bytes_checked, report.manifest.total_bytes());
    // Modes came back with the files.
    let mode = |p: &str| {
        fs::symlink_metadata(app.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!((mode("secret"), mode("bin/tool")), (0o600, 0o755));
    assert!(restore.path().join(super::super::MANIFEST_NAME).is_file());
}

#[test]
fn a_corrupted_file_is_reported_alone() {
    let (report, restore, app) = restored();
    let blob = app.join("data/blob.bin");
    let mut data = fs::read(&blob).unwrap();
    data[1 << 20] ^= 0xff;
    fs::write(&blob, &data).unwrap();
    let expected = format!("{}: sha256 mismatch", rel(&report, "/data/blob.bin"));
    assert_eq!(problems(restore.path(), &report.manifest), vec![expected]);
}

#[test]
fn a_changed_mode_is_reported() {
    let (report, restore, app) = restored();
    fs::set_permissions(app.join("secret"), fs::Permissions::from_mode(0o644)).unwrap();
    let expected = format!("{}: mode 0644, expected 0600", rel(&report, "/secret"));
    assert_eq!(problems(restore.path(), &report.manifest), vec![expected]);
}

#[test]
fn a_missing_file_is_reported() {
    let (report, restore, app) = restored();
    fs::remove_file(app.join("data/nested/deep/note.txt")).unwrap();
    let expected = format!("{}: missing", rel(&report, "/note.txt"));
    assert_eq!(problems(restore.path(), &report.manifest), vec![expected]);
}

#[test]
fn a_resized_file_an_extra_file_and_a_retargeted_link_are_reported() {
    let (report, restore, app) = restored();
    fs::write(app.join("empty"), b"now full").unwrap();
    fs::write(app.join("data/stray"), b"?").unwrap();
    fs::remove_file(app.join("link")).unwrap();
    symlink("secret", app.join("link")).unwrap();
    let expected = vec![
        format!("{}: size 8, expected 0", rel(&report, "/empty")),
        format!(
            "{}: symlink to secret, expected data/nested/deep/note.txt",
            rel(&report, "/link")
        ),
        format!("{}/stray: unexpected file", rel(&report, "/data")),
    ];
    assert_eq!(problems(restore.path(), &report.manifest), expected);
}

#[test]
fn a_file_in_place_of_a_directory_is_reported() {
    let (report, restore, app) = restored();
    fs::remove_dir_all(app.join("bin")).unwrap();
    fs::write(app.join("bin"), b"not a dir").unwrap();
    let expected = vec![
        format!("{}: expected a directory", rel(&report, "/bin")),
        format!("{}: missing", rel(&report, "/bin/tool")),
    ];
    assert_eq!(problems(restore.path(), &report.manifest), expected);
}

#[test]
fn unsafe_manifest_paths_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |path: &str| FileEntry {
        path: path.to_owned(),
        size: 0,
        mode: 0o644,
        mtime: 0,
        sha256: String::new(),
        kind: super::super::EntryKind::File,
    };
    let manifest = Manifest {
        files: vec![entry("/etc/passwd"), entry("../outside"), entry("")],
        ..Manifest::default()
    };
    let check = verify(dir.path(), &manifest).unwrap();
    assert_eq!(check.files_checked, 0);
    assert_eq!(
        check.problems,
        vec![
            "/etc/passwd: invalid path in manifest",
            "../outside: invalid path in manifest",
            ": invalid path in manifest",
        ]
    );
}

#[test]
fn a_missing_root_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = verify(&dir.path().join("gone"), &Manifest::default()).unwrap_err();
    assert!(matches!(err, BackupError::Read { .. }), "{err}");
    assert!(err.to_string().starts_with("reading "), "{err}");
}
