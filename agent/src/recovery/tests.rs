//! Backup, restore and drill against an in-memory transport standing in for the
//! coordinator: round trips, refusals that change nothing, drills that leave live data alone.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::config::BackupSetConfig;

/// Stores uploads in memory and serves the last one back.
#[derive(Default)]
struct Memory {
    archive: Mutex<Vec<u8>>,
    manifest: Mutex<Vec<u8>>,
    trailer: Mutex<Option<UploadTrailer>>,
    downloads: Mutex<u32>,
    drills: Mutex<Vec<DrillOutcome>>,
    /// Served instead of the stored archive when set.
    served: Mutex<Option<Vec<u8>>>,
}

impl BackupTransport for Memory {
    fn upload(
        &self,
        _header: UploadHeader,
        mut parts: mpsc::Receiver<UploadPart>,
    ) -> BoxFuture<'_, Result<Uploaded, UploadError>> {
        Box::pin(async move {
            let (mut archive, mut manifest) = (Vec::new(), Vec::new());
            while let Some(part) = parts.recv().await {
                match part {
                    UploadPart::Data(d) => archive.extend_from_slice(&d),
                    UploadPart::Manifest(d) => manifest.extend_from_slice(&d),
                    UploadPart::Trailer(t) => {
                        assert_eq!(hex::encode(Sha256::digest(&archive)), t.archive_sha256);
                        assert_eq!(hex::encode(Sha256::digest(&manifest)), t.manifest_sha256);
                        let partial = !t.missing.is_empty() || !t.skipped.is_empty();
                        *self.archive.lock().unwrap() = archive;
                        *self.manifest.lock().unwrap() = manifest;
                        *self.trailer.lock().unwrap() = Some(t);
                        return Ok(Uploaded {
                            backup_id: "b-1".into(),
                            partial,
                        });
                    }
                }
            }
            Err(UploadError {
                message: "no trailer".into(),
                retry: false,
            })
        })
    }

    fn download<'a>(
        &'a self,
        _command_id: &'a str,
        _backup_id: &'a str,
        file: &'a mut tokio::fs::File,
        hasher: &'a mut Sha256,
    ) -> BoxFuture<'a, Result<BackupMeta, TransferError>> {
        Box::pin(async move {
            *self.downloads.lock().unwrap() += 1;
            let stored = self.archive.lock().unwrap().clone();
            let served = self
                .served
                .lock()
                .unwrap()
                .clone()
                .unwrap_or(stored.clone());
            file.write_all(&served).await.unwrap();
            hasher.update(&served);
            Ok(BackupMeta {
                backup_id: "b-1".into(),
                sha256: hex::encode(Sha256::digest(&stored)),
                size: stored.len() as u64,
                host: "db-1".into(),
                set: "data".into(),
            })
        })
    }

    fn report_drill<'a>(
        &'a self,
        outcome: &'a DrillOutcome,
    ) -> BoxFuture<'a, Result<(), TransferError>> {
        Box::pin(async move {
            self.drills.lock().unwrap().push(outcome.clone());
            Ok(())
        })
    }
}

struct Scene {
    _tmp: tempfile::TempDir,
    live: PathBuf,
    base: PathBuf,
    recovery: Recovery,
    transport: Memory,
}

fn write(path: &Path, data: &[u8], mode: u32) {
    fs::write(path, data).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A live tree with binary, empty and nested files, odd modes and links.
fn scene_with(extra_paths: &[&str], before: Vec<String>) -> Scene {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    let live = base.join("live");
    fs::create_dir_all(live.join("a/b/c")).unwrap();
    write(
        &live.join("binary.bin"),
        &(0..=255u8).cycle().take(300_000).collect::<Vec<_>>(),
        0o640,
    );
    write(&live.join("empty"), b"", 0o600);
    write(&live.join("a/b/c/deep.txt"), b"deep\n", 0o755);
    write(&live.join("skip.tmp"), b"excluded", 0o644);
    fs::set_permissions(live.join("a/b"), fs::Permissions::from_mode(0o700)).unwrap();
    symlink("/etc/hostname", live.join("abs-link")).unwrap();
    symlink("a/b/c/deep.txt", live.join("rel-link")).unwrap();
    let mut paths = vec![live.clone()];
    paths.extend(extra_paths.iter().map(|p| base.join(p)));
    let mut sets = BTreeMap::new();
    sets.insert(
        "data".to_string(),
        BackupSetConfig {
            paths,
            exclude: vec!["*.tmp".into()],
            before,
            before_timeout: Duration::from_secs(10),
            keep: 3,
        },
    );
    let recovery =
        Recovery::new(base.join("agent"), sets, 1 << 30).with_restore_policy(RestorePolicy {
            agent_id: "db-1".into(),
            roots: Some(vec![base.clone()]),
            accept_from: Vec::new(),
        });
    Scene {
        _tmp: tmp,
        live,
        base,
        recovery,
        transport: Memory::default(),
    }
}

fn scene() -> Scene {
    scene_with(&[], Vec::new())
}

fn quiet(_: String) {}

impl Scene {
    /// The message, as the command's result would carry it.
    async fn backup(&self) -> Result<String, String> {
        self.recovery
            .backup(
                "c-1",
                "data",
                &self.transport,
                &quiet,
                &CancellationToken::new(),
            )
            .await
            .map_err(|err| err.to_string())
    }

    async fn restore(&self, target: &Path, in_place: bool, force: bool) -> Result<String, String> {
        let request = RestoreRequest {
            backup_id: "b-1".into(),
            set: "data".into(),
            target_dir: if in_place {
                String::new()
            } else {
                target.to_string_lossy().into_owned()
            },
            in_place,
            force,
            source_host: "db-1".into(),
        };
        self.recovery
            .restore("c-2", &request, &self.transport, &quiet)
            .await
            .map_err(|err| err.to_string())
    }

    /// Where the live tree lands under a `--to` target.
    fn restored(&self, target: &Path) -> PathBuf {
        target.join(self.live.strip_prefix("/").unwrap())
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[tokio::test]
async fn round_trip_keeps_bytes_modes_and_links() {
    let scene = scene();
    let line = scene.backup().await.unwrap();
    assert!(line.contains("backup b-1 complete"), "{line}");
    let target = scene.base.join("restore");
    let line = scene.restore(&target, false, false).await.unwrap();
    assert!(line.contains("restored backup b-1 under"), "{line}");
    let got = scene.restored(&target);
    for (name, mode_bits) in [
        ("binary.bin", 0o640),
        ("empty", 0o600),
        ("a/b/c/deep.txt", 0o755),
    ] {
        assert_eq!(
            fs::read(got.join(name)).unwrap(),
            fs::read(scene.live.join(name)).unwrap()
        );
        assert_eq!(mode(&got.join(name)), mode_bits, "{name}");
    }
    assert_eq!(mode(&got.join("a/b")), 0o700);
    assert!(!got.join("skip.tmp").exists(), "excluded");
    assert_eq!(
        fs::read_link(got.join("abs-link")).unwrap(),
        Path::new("/etc/hostname")
    );
    assert_eq!(
        fs::read_link(got.join("rel-link")).unwrap(),
        Path::new("a/b/c/deep.txt")
    );
    assert!(!target.join(crate::backup::MANIFEST_NAME).exists());
    // Scratch space is gone.
    let leftovers: Vec<_> = fs::read_dir(scene.base.join("agent/recovery"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn non_empty_target_is_refused_without_force_before_any_download() {
    let scene = scene();
    scene.backup().await.unwrap();
    let target = scene.base.join("busy");
    fs::create_dir_all(&target).unwrap();
    fs::write(target.join("keep.txt"), b"mine").unwrap();
    let err = scene.restore(&target, false, false).await.unwrap_err();
    assert!(
        err.contains("is not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(*scene.transport.downloads.lock().unwrap(), 0);
    assert_eq!(fs::read_dir(&target).unwrap().count(), 1);
    // With force: restored beside what was there.
    scene.restore(&target, false, true).await.unwrap();
    assert_eq!(fs::read(target.join("keep.txt")).unwrap(), b"mine");
    assert!(scene.restored(&target).join("empty").exists());
}

#[tokio::test]
async fn bad_targets_are_refused() {
    let scene = scene();
    for (dir, in_place) in [
        ("", false),
        ("relative/dir", false),
        ("/a/../b", false),
        ("/x", true),
    ] {
        let request = RestoreRequest {
            backup_id: "b-1".into(),
            set: "data".into(),
            target_dir: dir.into(),
            in_place,
            force: false,
            source_host: String::new(),
        };
        let err = scene
            .recovery
            .restore("c", &request, &scene.transport, &quiet)
            .await
            .unwrap_err()
            .to_string();
        assert!(!err.is_empty());
    }
    let request = RestoreRequest {
        set: "nope".into(),
        in_place: true,
        ..Default::default()
    };
    let err = scene
        .recovery
        .restore("c", &request, &scene.transport, &quiet)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown backup set \"nope\""), "{err}");
    assert_eq!(*scene.transport.downloads.lock().unwrap(), 0);
}

#[tokio::test]
async fn in_place_restore_puts_files_back_and_leaves_others() {
    let scene = scene();
    scene.backup().await.unwrap();
    fs::write(scene.live.join("binary.bin"), b"damaged").unwrap();
    fs::remove_file(scene.live.join("a/b/c/deep.txt")).unwrap();
    fs::write(scene.live.join("new-since"), b"x").unwrap();
    // A link where the backup has a directory is replaced, not followed.
    let elsewhere = scene.base.join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::rename(scene.live.join("a"), scene.base.join("a-moved")).unwrap();
    symlink(&elsewhere, scene.live.join("a")).unwrap();
    let line = scene.restore(Path::new(""), true, false).await.unwrap();
    assert!(line.contains("in place"), "{line}");
    assert_eq!(
        fs::read(scene.live.join("binary.bin")).unwrap().len(),
        300_000
    );
    assert_eq!(
        fs::read(scene.live.join("a/b/c/deep.txt")).unwrap(),
        b"deep\n"
    );
    assert!(fs::symlink_metadata(scene.live.join("a")).unwrap().is_dir());
    assert_eq!(
        fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through the link"
    );
    assert!(scene.live.join("new-since").exists());
}

#[tokio::test]
async fn missing_path_makes_a_partial_backup() {
    let scene = scene_with(&["does-not-exist"], Vec::new());
    let err = scene.backup().await.unwrap_err();
    assert!(
        err.contains("is partial") && err.contains("does-not-exist"),
        "{err}"
    );
    let trailer = scene.transport.trailer.lock().unwrap().clone().unwrap();
    assert_eq!(trailer.missing.len(), 1);
    assert!(trailer.files > 5, "the rest was backed up");
}

#[tokio::test]
async fn a_failing_before_command_uploads_nothing() {
    let scene = scene_with(&[], vec!["false".into()]);
    let err = scene.backup().await.unwrap_err();
    assert!(
        err.contains("before command of set data exited with status 1"),
        "{err}"
    );
    assert!(scene.transport.trailer.lock().unwrap().is_none());
    let scene = scene_with(&[], vec!["true".into()]);
    scene.backup().await.unwrap();
}

#[tokio::test]
async fn drill_passes_and_leaves_live_data_untouched() {
    let scene = scene();
    scene.backup().await.unwrap();
    let before = snapshot(&scene.live);
    let line = scene
        .recovery
        .drill("c-3", "data", &scene.transport, &quiet)
        .await
        .unwrap();
    assert!(line.starts_with("drill passed: backup b-1"), "{line}");
    assert_eq!(snapshot(&scene.live), before);
    let drills = scene.transport.drills.lock().unwrap().clone();
    assert_eq!(drills.len(), 1);
    assert!(
        drills[0].ok && drills[0].files >= 8 && drills[0].bytes >= 300_005,
        "{:?}",
        drills[0]
    );
    assert_eq!(
        fs::read_dir(scene.base.join("agent/recovery"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn drill_and_restore_fail_loudly_on_a_corrupted_archive() {
    let scene = scene();
    scene.backup().await.unwrap();
    let mut bad = scene.transport.archive.lock().unwrap().clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0xff;
    *scene.transport.served.lock().unwrap() = Some(bad);
    let err = scene
        .recovery
        .drill("c-3", "data", &scene.transport, &quiet)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("backup b-1") && err.contains("corrupt"),
        "{err}"
    );
    let drills = scene.transport.drills.lock().unwrap().clone();
    assert!(!drills[0].ok);
    let target = scene.base.join("restore");
    let err = scene.restore(&target, false, false).await.unwrap_err();
    assert!(err.contains("corrupt"), "{err}");
    assert!(!target.exists());
}

#[tokio::test]
async fn restore_refuses_a_malicious_archive_and_writes_nothing() {
    let scene = scene();
    let sentinel = scene.base.join("sentinel");
    fs::create_dir_all(&sentinel).unwrap();
    for evil in [
        tar_zst(&[("../../sentinel/pwned", b"x".as_slice(), None)]),
        tar_zst(&[("/tmp/pwned-abs", b"x".as_slice(), None)]),
        tar_zst(&[
            ("link", b"".as_slice(), Some(sentinel.to_str().unwrap())),
            ("link/pwned", b"x".as_slice(), None),
        ]),
    ] {
        *scene.transport.archive.lock().unwrap() = evil;
        let target = scene.base.join("restore");
        let err = scene.restore(&target, false, false).await.unwrap_err();
        assert!(err.contains("refused"), "{err}");
        assert!(!target.exists());
        let err = scene.restore(Path::new(""), true, false).await.unwrap_err();
        assert!(err.contains("refused"), "{err}");
        assert_eq!(fs::read_dir(&sentinel).unwrap().count(), 0);
    }
    // Well-formed, but holding a path outside the set: refused in place.
    let outside = format!(
        "{}/x",
        scene
            .base
            .join("other")
            .to_str()
            .unwrap()
            .trim_start_matches('/')
    );
    let manifest = br#"{"files":[],"missing":[],"skipped":[]}"#;
    *scene.transport.archive.lock().unwrap() = tar_zst(&[
        (outside.as_str(), b"x".as_slice(), None),
        (".convoy-manifest.json", manifest.as_slice(), None),
    ]);
    let err = scene.restore(Path::new(""), true, false).await.unwrap_err();
    assert!(
        err.contains("outside this set's paths") || err.contains("does not match"),
        "{err}"
    );
    assert!(!scene.base.join("other").exists());
}

/// A tar.zst with raw names (so hostile ones get through the builder).
fn tar_zst(entries: &[(&str, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, link) in entries {
        let mut header = tar::Header::new_gnu();
        {
            let raw = header.as_old_mut();
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(link) = link {
                raw.linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
        }
        header.set_entry_type(if link.is_some() {
            tar::EntryType::Symlink
        } else {
            tar::EntryType::Regular
        });
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    zstd::encode_all(&builder.into_inner().unwrap()[..], 3).unwrap()
}

/// Every path under `root` with its bytes (or link target) and mode.
fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>, u32)> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let mut children: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        children.sort();
        for child in children {
            let meta = fs::symlink_metadata(&child).unwrap();
            let content = if meta.is_file() {
                fs::read(&child).unwrap()
            } else if meta.file_type().is_symlink() {
                fs::read_link(&child)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                pending.push(child.clone());
                Vec::new()
            };
            out.push((child, content, meta.permissions().mode()));
        }
    }
    out
}

#[tokio::test]
async fn a_target_outside_the_restore_roots_is_refused_before_any_download() {
    let scene = scene();
    scene.backup().await.unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    // Outside the roots outright, and inside them only by name through a symlink.
    symlink(elsewhere.path(), scene.base.join("escape")).unwrap();
    for target in [
        elsewhere.path().join("restore"),
        scene.base.join("escape/restore"),
    ] {
        let err = scene.restore(&target, false, false).await.unwrap_err();
        assert!(err.contains("outside the restore roots"), "{err}");
    }
    assert_eq!(*scene.transport.downloads.lock().unwrap(), 0);
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn another_hosts_backup_needs_accept_restores_from_and_a_matching_meta() {
    let mut scene = scene();
    scene.backup().await.unwrap();
    let target = scene.base.join("restore");
    let request = RestoreRequest {
        backup_id: "b-1".into(),
        set: "data".into(),
        target_dir: target.to_string_lossy().into_owned(),
        source_host: "db-2".into(),
        ..Default::default()
    };
    let err = scene
        .recovery
        .restore("c", &request, &scene.transport, &quiet)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not accept restores of host db-2"),
        "{err}"
    );
    assert_eq!(*scene.transport.downloads.lock().unwrap(), 0);
    // Accepted by the config, but the download is another host's (db-1's) backup.
    scene.recovery = std::mem::replace(
        &mut scene.recovery,
        Recovery::new(PathBuf::new(), BTreeMap::new(), 0),
    )
    .with_restore_policy(RestorePolicy {
        agent_id: "web-1".into(),
        roots: Some(vec![scene.base.clone()]),
        accept_from: vec!["db-*".into()],
    });
    let err = scene
        .recovery
        .restore("c", &request, &scene.transport, &quiet)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is host db-1's backup, the command named host db-2"),
        "{err}"
    );
    assert!(!target.exists());
}
