//! Well-formed archives: every kind of entry lands where and how the archive says.

use super::*;

fn long_name() -> String {
    format!("app/{}/deep.txt", "n".repeat(150))
}

fn rich_archive() -> Vec<u8> {
    Tar::new()
        .dir("./", 0o755)
        .dir("app/", 0o755)
        .dir("app/bin/", 0o755)
        .file("app/bin/run", 0o755, b"#!/bin/sh\necho hi\n")
        .file("app/etc/conf", 0o600, b"secret=1\n")
        .file("app/empty", 0o644, b"")
        .file("app/blob.bin", 0o644, &binary_blob())
        .file(&long_name(), 0o644, b"long")
        .symlink("app/current", "bin/run")
        .symlink("app/etc/bin", "../bin")
        .hard_link("app/again", "app/bin/run")
        .build()
}

fn check_rich(dest: &Path, report: &UnpackReport) {
    let app = dest.join("app");
    assert_eq!(
        fs::read(app.join("bin/run")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    assert_eq!(fs::read(app.join("etc/conf")).unwrap(), b"secret=1\n");
    assert_eq!(fs::read(app.join("empty")).unwrap(), b"");
    assert_eq!(fs::read(app.join("blob.bin")).unwrap(), binary_blob());
    assert_eq!(fs::read(dest.join(long_name())).unwrap(), b"long");
    assert_eq!(mode_of(&app.join("bin/run")), 0o755);
    assert_eq!(mode_of(&app.join("etc/conf")), 0o600);
    let mtime = fs::metadata(app.join("bin/run"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(mtime, UNIX_EPOCH + std::time::Duration::from_secs(MTIME));
    assert_eq!(
        fs::read_link(app.join("current")).unwrap(),
        Path::new("bin/run")
    );
    assert_eq!(
        fs::read(app.join("current")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    assert_eq!(
        fs::read_link(app.join("etc/bin")).unwrap(),
        Path::new("../bin")
    );
    assert!(app.join("etc/bin/run").is_file());
    let run = fs::metadata(app.join("bin/run")).unwrap();
    let again = fs::metadata(app.join("again")).unwrap();
    assert_eq!((run.dev(), run.ino()), (again.dev(), again.ino()));
    let expected = UnpackReport {
        files: 6,
        dirs: 2,
        symlinks: 2,
        bytes: 18 + 9 + 200_000 + 4,
    };
    assert_eq!(*report, expected);
}

#[test]
fn unpack_file_sniffs_every_compression() {
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let scene = scene();
        let archive = scene.tmp.path().join("release.archive");
        fs::write(&archive, compress(&rich_archive(), compression)).unwrap();
        let report = unpack_file(&archive, &scene.dest, &Limits::default()).unwrap();
        check_rich(&scene.dest, &report);
        assert_eq!(
            names_in(&scene.root),
            ["dest"],
            "{compression:?} left a partial dir"
        );
    }
}

#[test]
fn unpack_reads_from_any_reader() {
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let scene = scene();
        let bytes = compress(&rich_archive(), compression);
        let report = unpack(&bytes[..], compression, &scene.dest, &Limits::default()).unwrap();
        check_rich(&scene.dest, &report);
    }
}

#[test]
fn missing_parent_of_dest_is_an_io_error() {
    let scene = scene();
    let tar = Tar::new().file("f", 0o644, b"x").build();
    let dest = scene.root.join("missing/dest");
    let err = unpack(&tar[..], Compression::None, &dest, &Limits::default()).unwrap_err();
    assert!(matches!(err, ArchiveError::Io { .. }), "{err}");
    scene.assert_untouched();
}

#[test]
fn setuid_and_setgid_bits_are_stripped() {
    let scene = scene();
    let tar = Tar::new()
        .dir("shared/", 0o2775)
        .dir("tmp/", 0o1777)
        .file("shared/su", 0o4755, b"#!/bin/sh\n")
        .file("shared/sg", 0o2711, b"#!/bin/sh\n")
        .build();
    unpack(&tar[..], Compression::None, &scene.dest, &Limits::default()).unwrap();
    assert_eq!(mode_of(&scene.dest.join("shared/su")), 0o755);
    assert_eq!(mode_of(&scene.dest.join("shared/sg")), 0o711);
    assert_eq!(mode_of(&scene.dest.join("shared")), 0o775);
    assert_eq!(mode_of(&scene.dest.join("tmp")), 0o1777);
}

#[test]
fn read_only_directories_get_their_mode_after_their_contents() {
    let scene = scene();
    let tar = Tar::new()
        .dir("ro/", 0o555)
        .dir("ro/inner/", 0o500)
        .file("ro/inner/f", 0o444, b"data")
        .build();
    unpack(&tar[..], Compression::None, &scene.dest, &Limits::default()).unwrap();
    assert_eq!(fs::read(scene.dest.join("ro/inner/f")).unwrap(), b"data");
    assert_eq!(mode_of(&scene.dest.join("ro")), 0o555);
    assert_eq!(mode_of(&scene.dest.join("ro/inner")), 0o500);
    assert_eq!(mode_of(&scene.dest.join("ro/inner/f")), 0o444);
    for dir in ["ro/inner", "ro"] {
        fs::set_permissions(scene.dest.join(dir), fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn pax_metadata_is_applied_and_global_headers_skipped() {
    let scene = scene();
    let long = format!("pax/{}", "p".repeat(180));
    let tar = Tar::new()
        .raw(
            b"pax_global_header",
            EntryType::XGlobalHeader,
            b"",
            b"52 comment=0123456789abcdef0123456789abcdef01234567\n",
        )
        .pax(&[("path", long.as_bytes())])
        .file("short-name", 0o644, b"via pax")
        .pax(&[("linkpath", long.as_bytes()), ("size", b"0")])
        .symlink("pax-link", "ignored")
        .build();
    let report = unpack(&tar[..], Compression::None, &scene.dest, &Limits::default()).unwrap();
    assert_eq!(fs::read(scene.dest.join(&long)).unwrap(), b"via pax");
    assert!(!scene.dest.join("short-name").exists());
    assert_eq!(
        fs::read_link(scene.dest.join("pax-link")).unwrap(),
        Path::new(&long)
    );
    assert_eq!((report.files, report.symlinks), (1, 1));
}

#[test]
fn metadata_entries_do_not_count_towards_max_entries() {
    let scene = scene();
    let tar = Tar::new().file(&long_name(), 0o644, b"x").build();
    let limits = Limits {
        max_entries: 1,
        ..Limits::default()
    };
    unpack(&tar[..], Compression::None, &scene.dest, &limits).unwrap();
}

#[test]
fn archive_exactly_at_the_limits_is_accepted() {
    let scene = scene();
    let tar = Tar::new()
        .file("a", 0o644, &[1; 600])
        .file("b", 0o644, &[2; 400])
        .build();
    let limits = Limits {
        max_total_bytes: 1000,
        max_entries: 2,
        ..Limits::default()
    };
    let report = unpack(&tar[..], Compression::None, &scene.dest, &limits).unwrap();
    assert_eq!(report.bytes, 1000);
}

#[test]
fn duplicate_file_is_replaced_and_duplicate_dir_kept() {
    let scene = scene();
    let tar = Tar::new()
        .dir("d/", 0o700)
        .file("d/f", 0o644, b"first")
        .dir("d/", 0o750)
        .file("d/f", 0o600, b"second")
        .build();
    let report = unpack(&tar[..], Compression::None, &scene.dest, &Limits::default()).unwrap();
    assert_eq!(fs::read(scene.dest.join("d/f")).unwrap(), b"second");
    assert_eq!(mode_of(&scene.dest.join("d/f")), 0o600);
    assert_eq!(mode_of(&scene.dest.join("d")), 0o750);
    assert_eq!(report.dirs, 1);
}
