//! Packing: what goes into the archive and the manifest, and what does not.

use std::io::Read;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use super::super::{BackupError, BackupSpec, EntryKind, MANIFEST_NAME, Manifest};
use super::super::{pack, read_embedded_manifest};
use super::{arch, fixture, pack_to_vec, sha256, unpack};

#[test]
fn manifest_lists_every_entry_in_sorted_order() {
    let fx = fixture();
    let (report, _) = pack_to_vec(&fx.spec);
    let app = arch(&fx.app);
    let paths: Vec<String> = report
        .manifest
        .files
        .iter()
        .map(|f| f.path.clone())
        .collect();
    let expected: Vec<String> = [
        "",
        "/bin",
        "/bin/tool",
        "/data",
        "/data/blob.bin",
        "/data/nested",
        "/data/nested/deep",
        "/data/nested/deep/note.txt",
        "/empty",
        "/link",
        "/secret",
    ]
    .iter()
    .map(|s| format!("{app}{s}"))
    .collect();
    assert_eq!(paths, expected);
}

#[test]
fn manifest_records_kinds_sizes_modes_and_hashes() {
    let fx = fixture();
    let (report, _) = pack_to_vec(&fx.spec);
    let m = &report.manifest;
    let get = |rel: &str| {
        let path = arch(&fx.app.join(rel));
        m.files.iter().find(|f| f.path == path).unwrap().clone()
    };
    let secret = get("secret");
    assert_eq!(
        (secret.kind, secret.size, secret.mode),
        (EntryKind::File, 7, 0o600)
    );
    assert_eq!(secret.sha256, sha256(b"s3cret\n"));
    assert!(secret.mtime > 0);
    let empty = get("empty");
    assert_eq!((empty.size, empty.sha256), (0, sha256(b"")));
    assert_eq!(get("bin/tool").mode, 0o755);
    assert_eq!(
        (get("data").kind, get("data").mode),
        (EntryKind::Dir, 0o750)
    );
    let target = "data/nested/deep/note.txt".to_owned();
    assert_eq!(get("link").kind, EntryKind::Symlink { target });
    let blob = std::fs::read(fx.app.join("data/blob.bin")).unwrap();
    assert_eq!(get("data/blob.bin").sha256, sha256(&blob));
    assert_eq!(m.total_bytes(), 7 + 18 + 10 + blob.len() as u64);
}

#[test]
fn missing_path_and_excludes_make_a_partial_backup_of_the_rest() {
    let fx = fixture();
    let (report, _) = pack_to_vec(&fx.spec);
    let m = &report.manifest;
    let nope = fx.dir.path().join("src/nope");
    assert_eq!(m.missing, vec![nope.to_str().unwrap().to_owned()]);
    assert!(m.skipped.is_empty(), "{:?}", m.skipped);
    assert!(m.is_partial());
    assert!(!m.files.iter().any(|f| f.path.ends_with(".tmp")));

    let complete = BackupSpec {
        paths: vec![fx.app.clone()],
        ..fx.spec.clone()
    };
    assert!(!pack_to_vec(&complete).0.manifest.is_partial());
}

#[test]
fn excludes_match_full_paths_and_prune_directories() {
    let fx = fixture();
    let spec = BackupSpec {
        paths: vec![fx.app.clone()],
        exclude: vec![
            "**/data/nested".to_owned(),
            format!("{}/bin/t*", fx.app.display()),
        ],
    };
    let (report, _) = pack_to_vec(&spec);
    let paths: Vec<&str> = report
        .manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    let excluded = |p: &&str| p.contains("nested") || p.ends_with("bin/tool");
    assert!(!paths.iter().any(excluded), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("data/scratch.tmp")));
    assert!(paths.iter().any(|p| p.ends_with("/bin")));
}

#[test]
fn embedded_manifest_is_the_last_entry_and_equals_the_returned_one() {
    let fx = fixture();
    let (report, bytes) = pack_to_vec(&fx.spec);
    assert_eq!(
        read_embedded_manifest(bytes.as_slice()).unwrap(),
        report.manifest
    );

    let decoder = zstd::stream::read::Decoder::new(bytes.as_slice()).unwrap();
    let mut tar = tar::Archive::new(decoder);
    let mut last = None;
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        last = Some((entry.path().unwrap().into_owned(), data));
    }
    let (path, data) = last.unwrap();
    assert_eq!(path, PathBuf::from(MANIFEST_NAME));
    assert_eq!(Manifest::from_json(&data).unwrap(), report.manifest);
}

#[test]
fn archive_hash_and_size_describe_the_bytes_written() {
    let fx = fixture();
    let (report, bytes) = pack_to_vec(&fx.spec);
    assert_eq!(report.archive_bytes, bytes.len() as u64);
    assert_eq!(report.archive_sha256, sha256(&bytes));
    assert_eq!(&bytes[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
}

#[test]
fn packing_the_same_tree_twice_gives_the_same_bytes() {
    let fx = fixture();
    let (first, a) = pack_to_vec(&fx.spec);
    let (second, b) = pack_to_vec(&fx.spec);
    assert_eq!(a, b);
    assert_eq!(first, second);
}

#[test]
fn overlapping_and_untidy_paths_are_archived_once() {
    let fx = fixture();
    let untidy = PathBuf::from(format!("{}//", fx.app.display()));
    let spec = BackupSpec {
        paths: vec![fx.app.join("data"), untidy, fx.app.clone()],
        exclude: vec![],
    };
    let (report, _) = pack_to_vec(&spec);
    let mut paths: Vec<&str> = report
        .manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    let count = paths.len();
    paths.dedup();
    assert_eq!(paths.len(), count);
    assert_eq!(count, 12);
}

#[test]
fn special_files_are_skipped_and_listed() {
    let fx = fixture();
    let sock = fx.app.join("control.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let (report, bytes) = pack_to_vec(&fx.spec);
    let shown = sock.to_str().unwrap().to_owned();
    assert_eq!(
        report.manifest.skipped,
        vec![(shown, "special file (socket)".to_owned())]
    );
    assert!(
        !report
            .manifest
            .files
            .iter()
            .any(|f| f.path.ends_with("control.sock"))
    );
    // The rest is still a good archive.
    let restored = unpack(&bytes);
    let check = super::super::verify(restored.path(), &report.manifest).unwrap();
    assert!(check.passed(), "{:?}", check.problems);
}

#[test]
fn invalid_specs_fail_before_writing_anything() {
    for path in ["relative/dir", "/abs/../escape", ""] {
        let spec = BackupSpec {
            paths: vec![PathBuf::from(path)],
            exclude: vec![],
        };
        let mut out = Vec::new();
        let err = pack(&spec, &mut out).unwrap_err();
        assert!(matches!(err, BackupError::InvalidPath(_)), "{path}: {err}");
        assert!(out.is_empty());
    }
    let spec = BackupSpec {
        paths: vec![PathBuf::from("/tmp")],
        exclude: vec!["a[".to_owned()],
    };
    let mut out = Vec::new();
    let err = pack(&spec, &mut out).unwrap_err();
    assert!(matches!(err, BackupError::Exclude { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("invalid exclude pattern \"a[\""),
        "{err}"
    );
    assert!(out.is_empty());
}

#[test]
fn manifest_json_round_trips_and_rejects_garbage() {
    let fx = fixture();
    let (report, _) = pack_to_vec(&fx.spec);
    let json = report.manifest.to_json();
    assert_eq!(Manifest::from_json(&json).unwrap(), report.manifest);
    let err = Manifest::from_json(b"{\"files\": 3}").unwrap_err();
    assert!(err.to_string().starts_with("invalid manifest: "), "{err}");
    let text = String::from_utf8(json).unwrap();
    assert!(text.contains("\"type\":\"symlink\""), "{text}");
}

#[test]
fn an_archive_without_a_manifest_is_refused() {
    let mut plain = tar::Builder::new(zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(2);
    plain.append_data(&mut header, "x", &b"hi"[..]).unwrap();
    let bytes = plain.into_inner().unwrap().finish().unwrap();
    let err = read_embedded_manifest(bytes.as_slice()).unwrap_err();
    assert!(matches!(err, BackupError::NoManifest), "{err}");
}
