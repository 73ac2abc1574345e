//! A disk that fills up during unpacking: the error is reported and nothing is left behind.
//! Uses a real 1 MiB tmpfs, so it needs root (as CI and the development machines run);
//! without the right to mount it says so and checks nothing.

use super::*;

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_the_unpack_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    fs::create_dir(&small).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&small)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (not root?)");
        return;
    }
    let _mount = Mount(small.clone());
    let blob = vec![7u8; 4 << 20];
    let tar = Tar::new()
        .file("a", 0o644, b"first")
        .file("big", 0o644, &blob)
        .build();
    let dest = small.join("release");
    let err = unpack(&tar[..], Compression::None, &dest, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    assert!(!dest.exists());
    assert_eq!(
        fs::read_dir(&small).unwrap().count(),
        0,
        "no partial directory left"
    );
}
