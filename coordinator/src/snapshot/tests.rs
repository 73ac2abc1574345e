//! Snapshot save and restore against a real store in a temp dir: a round trip, and every
//! refusal (corrupt, truncated, newer format, non-empty target, hostile entries), each
//! leaving nothing behind.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use convoy_proto::v1::AgentRecord;

use super::restore::restore;
use super::save::{save, save_to_file};
use super::*;
use crate::store::Store;

/// A data dir with 50 agents, one artifact and one backup archive.
fn source() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for i in 0..50 {
        store
            .put_agent(&AgentRecord {
                id: format!("web-{i}"),
                ..Default::default()
            })
            .unwrap();
    }
    store.flush().unwrap();
    let artifact = b"release bytes".to_vec();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&artifact));
    std::fs::create_dir_all(dir.path().join("artifacts")).unwrap();
    std::fs::write(dir.path().join("artifacts").join(&sha), &artifact).unwrap();
    // An upload in progress is not a blob.
    std::fs::write(dir.path().join("artifacts/.upload-1"), b"half").unwrap();
    std::fs::create_dir_all(dir.path().join("backups/web-1")).unwrap();
    std::fs::write(
        dir.path().join("backups/web-1/b-1.tar.zst"),
        vec![7u8; 100_000],
    )
    .unwrap();
    std::fs::write(dir.path().join("backups/web-1/b-2.tar.zst.part"), b"x").unwrap();
    (dir, store)
}

fn snapshot(store: &Store, data: &Path, no_blobs: bool) -> (tempfile::TempDir, PathBuf, Header) {
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("coord.snap");
    let header = save_to_file(store, data, no_blobs, 1_700_000_000_000, &path).unwrap();
    (out, path, header)
}

/// Rewrites a snapshot's entries through `change(name, bytes) -> Option<(name, bytes)>`
/// (None drops the entry).
fn rewrite(path: &Path, change: impl Fn(&str, Vec<u8>) -> Option<(String, Vec<u8>)>) {
    let input = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(zstd::Decoder::new(input).unwrap());
    let mut out = tar::Builder::new(zstd::Encoder::new(Vec::new(), 1).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if let Some((name, bytes)) = change(&name, bytes) {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            out.append_data(&mut header, name, bytes.as_slice())
                .unwrap();
        }
    }
    let bytes = out.into_inner().unwrap().finish().unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Appends a raw entry (any name bytes, any type) right after the intro.
fn with_hostile_entry(path: &Path, name: &[u8], kind: tar::EntryType, link: Option<&str>) {
    let input = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(zstd::Decoder::new(input).unwrap());
    let mut out = tar::Builder::new(zstd::Encoder::new(Vec::new(), 1).unwrap());
    for (i, entry) in archive.entries().unwrap().enumerate() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.append(&header, bytes.as_slice()).unwrap();
        if i == 0 {
            header = tar::Header::new_gnu();
            header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
            header.set_entry_type(kind);
            header.set_mode(0o644);
            if let Some(link) = link {
                header.set_link_name(link).unwrap();
                header.set_size(0);
                header.set_cksum();
                out.append(&header, &[][..]).unwrap();
            } else {
                header.set_size(4);
                header.set_cksum();
                out.append(&header, &b"evil"[..]).unwrap();
            }
        }
    }
    let bytes = out.into_inner().unwrap().finish().unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The target and its parent hold nothing new after a refused restore.
fn assert_nothing_written(target: &Path, before: &[String]) {
    assert!(!target.exists() || std::fs::read_dir(target).unwrap().next().is_none());
    assert_eq!(listing(target.parent().unwrap()), before);
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_snapshot_restores_the_store_and_the_blobs() {
    let (data, store) = source();
    let (_out, path, header) = snapshot(&store, data.path(), false);
    assert_eq!(header.records("agents"), 50);
    assert_eq!(header.records("meta"), 1);
    let blobs: Vec<&str> = header.blobs.iter().map(|b| b.path.as_str()).collect();
    assert_eq!(blobs.len(), 2, "{blobs:?}");
    assert!(blobs.contains(&"backups/web-1/b-1.tar.zst"));

    let target = tempfile::tempdir().unwrap();
    let restored_dir = target.path().join("data");
    let restored = restore(&path, &restored_dir).unwrap();
    assert_eq!(restored.header, header);
    for blob in &header.blobs {
        let bytes = std::fs::read(restored_dir.join(&blob.path)).unwrap();
        assert_eq!(bytes, std::fs::read(data.path().join(&blob.path)).unwrap());
    }
    assert!(!restored_dir.join("artifacts/.upload-1").exists());
    drop(store);
    let copy = Store::open(&restored_dir).unwrap();
    assert_eq!(copy.agents().unwrap().len(), 50);
    // Only the restored dir is left beside it.
    assert_eq!(listing(target.path()), vec!["data".to_string()]);
}

#[test]
fn a_no_blobs_snapshot_lists_the_blobs() {
    let (data, store) = source();
    let (_out, path, header) = snapshot(&store, data.path(), true);
    assert!(!header.blobs_included);
    let target = tempfile::tempdir().unwrap();
    let restored = restore(&path, &target.path().join("d")).unwrap();
    assert_eq!(restored.manifest, header.blobs);
    assert!(!target.path().join("d/artifacts").exists());
}

#[test]
fn memory_stays_bounded_by_streaming_to_any_writer() {
    // A writer that only counts: nothing is collected on the way.
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (data, store) = source();
    let mut count = Count(0);
    save(&store, data.path(), false, 1, &mut count).unwrap();
    assert!(count.0 > 100, "{}", count.0);
}

#[test]
fn a_corrupt_snapshot_is_refused_and_nothing_is_written() {
    let (data, store) = source();
    let (_out, path, _) = snapshot(&store, data.path(), false);
    rewrite(&path, |name, mut bytes| {
        if name.starts_with("blobs/backups/") {
            bytes[10] ^= 1;
        }
        Some((name.to_string(), bytes))
    });
    let target = tempfile::tempdir().unwrap();
    let before = listing(target.path());
    let err = restore(&path, &target.path().join("d")).unwrap_err();
    assert!(matches!(err, SnapshotError::Mismatch(_)), "{err}");
    assert!(
        err.to_string()
            .contains("blobs/backups/web-1/b-1.tar.zst: sha256"),
        "{err}"
    );
    assert_nothing_written(&target.path().join("d"), &before);
}

#[test]
fn a_truncated_snapshot_is_refused_and_nothing_is_written() {
    let (data, store) = source();
    let (_out, path, _) = snapshot(&store, data.path(), false);
    let bytes = std::fs::read(&path).unwrap();
    for cut in [bytes.len() - 20, bytes.len() / 2, 10] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let target = tempfile::tempdir().unwrap();
        let before = listing(target.path());
        let err = restore(&path, &target.path().join("d")).unwrap_err();
        assert!(
            matches!(err, SnapshotError::Truncated(_) | SnapshotError::Corrupt(_)),
            "cut at {cut}: {err}"
        );
        assert_nothing_written(&target.path().join("d"), &before);
    }
    // The header dropped: the archive is well formed but incomplete.
    std::fs::write(&path, &bytes).unwrap();
    rewrite(&path, |name, bytes| {
        (name != HEADER).then(|| (name.to_string(), bytes))
    });
    let target = tempfile::tempdir().unwrap();
    let err = restore(&path, &target.path().join("d")).unwrap_err();
    assert!(matches!(err, SnapshotError::Truncated(_)), "{err}");
}

#[test]
fn a_newer_format_is_refused_and_nothing_is_written() {
    let (data, store) = source();
    let (_out, path, _) = snapshot(&store, data.path(), false);
    rewrite(&path, |name, bytes| {
        if name == INTRO {
            let mut intro: Intro = serde_json::from_slice(&bytes).unwrap();
            intro.format = FORMAT + 1;
            return Some((name.to_string(), serde_json::to_vec(&intro).unwrap()));
        }
        Some((name.to_string(), bytes))
    });
    let target = tempfile::tempdir().unwrap();
    let before = listing(target.path());
    let err = restore(&path, &target.path().join("d")).unwrap_err();
    assert!(
        matches!(err, SnapshotError::NewerFormat { found: 2 }),
        "{err}"
    );
    assert!(err.to_string().contains("newer convoy"), "{err}");
    assert_nothing_written(&target.path().join("d"), &before);
}

#[test]
fn a_non_empty_data_dir_is_refused_and_left_alone() {
    let (data, store) = source();
    let (_out, path, _) = snapshot(&store, data.path(), false);
    let target = tempfile::tempdir().unwrap();
    std::fs::write(target.path().join("keep.txt"), b"mine").unwrap();
    let before = listing(target.path());
    let err = restore(&path, target.path()).unwrap_err();
    assert!(matches!(err, SnapshotError::NotEmpty(_)), "{err}");
    assert_eq!(listing(target.path()), before);
    // An empty existing dir is fine.
    let empty = tempfile::tempdir().unwrap();
    restore(&path, empty.path()).unwrap();
}

#[test]
fn hostile_entries_are_refused_and_nothing_is_written() {
    let cases: [(&[u8], tar::EntryType, Option<&str>, &str); 6] = [
        (
            b"/etc/evil",
            tar::EntryType::Regular,
            None,
            "plain relative",
        ),
        (
            b"blobs/backups/../../evil",
            tar::EntryType::Regular,
            None,
            "plain relative",
        ),
        (
            b"blobs/backups/h/link",
            tar::EntryType::Symlink,
            Some("/etc/passwd"),
            "regular file",
        ),
        (
            b"blobs/backups/h/hard",
            tar::EntryType::Link,
            Some("/etc/passwd"),
            "regular file",
        ),
        (
            b"blobs/backups/h/dev",
            tar::EntryType::Char,
            None,
            "regular file",
        ),
        (
            b"unknown/entry",
            tar::EntryType::Regular,
            None,
            "not an entry",
        ),
    ];
    let (data, store) = source();
    for (name, kind, link, says) in cases {
        let (_out, path, _) = snapshot(&store, data.path(), false);
        with_hostile_entry(&path, name, kind, link);
        let target = tempfile::tempdir().unwrap();
        let before = listing(target.path());
        let err = restore(&path, &target.path().join("d")).unwrap_err();
        assert!(
            matches!(err, SnapshotError::Hostile { .. }) && err.to_string().contains(says),
            "{}: {err}",
            String::from_utf8_lossy(name)
        );
        assert_nothing_written(&target.path().join("d"), &before);
        assert!(!Path::new("/etc/evil").exists());
    }
}

#[test]
fn entry_names() {
    assert_eq!(classify(INTRO), Ok(Part::Intro));
    assert_eq!(
        classify("store/agents/000003"),
        Ok(Part::Tree {
            tree: "agents".into(),
            index: 3
        })
    );
    assert_eq!(
        classify("blobs/backups/web-1/b-1.tar.zst"),
        Ok(Part::Blob("backups/web-1/b-1.tar.zst".into()))
    );
    for bad in [
        "store/agents/3",
        "store/Agents/000001",
        "blobs/artifacts/notasha",
        "blobs/backups/.hidden/x",
        "blobs/backups/h/..",
        "./header.json",
        "header.json/",
        "",
    ] {
        assert!(classify(bad).is_err(), "{bad}");
    }
}
