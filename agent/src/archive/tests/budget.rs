//! Archives that are too big, too many, truncated, garbage, or aimed at an existing
//! destination: each refused with nothing left behind.

use super::hostile::matches_err;
use super::*;

fn small_limits() -> Limits {
    Limits {
        max_total_bytes: 1024 * 1024,
        max_entries: 100,
        ..Limits::default()
    }
}

#[test]
fn declared_size_past_the_limit() {
    let scene = scene();
    // The header claims 2 GiB; the budget is checked before a single byte is read.
    let tar = Tar::new()
        .raw_sized(b"big", EntryType::Regular, b"", 2 << 30, b"tiny")
        .build();
    let err = scene.refuse_with(&tar, Compression::None, &small_limits());
    matches_err(&err, "TooLarge { limit: 1048576 }");
    let sum = Tar::new()
        .file("a", 0o644, &vec![1; 600 * 1024])
        .file("b", 0o644, &vec![2; 600 * 1024])
        .build();
    let err = scene.refuse_with(&gzip(&sum), Compression::Gzip, &small_limits());
    matches_err(&err, "TooLarge");
}

#[test]
fn lying_headers() {
    // A pax size that disagrees with the header would make parsers see different archives.
    let pax_lie = Tar::new().pax(&[("size", b"5000000")]).raw_sized(
        b"f",
        EntryType::Regular,
        b"",
        10,
        &vec![7; 2 * 1024 * 1024],
    );
    let scene = scene();
    let err = scene.refuse_with(&pax_lie.build(), Compression::None, &small_limits());
    matches_err(&err, "Corrupt(\"pax size disagrees");
    // A header declaring 10 bytes followed by 2 MiB: the rest parses as a broken header.
    let short = Tar::new().raw_sized(b"f", EntryType::Regular, b"", 10, &vec![7; 2 * 1024 * 1024]);
    let err = scene.refuse_with(&zstd(&short.build()), Compression::Zstd, &small_limits());
    matches_err(&err, "Corrupt");
}

#[test]
fn metadata_entries_count_towards_the_byte_budget() {
    let tar = Tar::new()
        .raw_sized(
            b"pax_global_header",
            EntryType::XGlobalHeader,
            b"",
            5 << 30,
            b"",
        )
        .build();
    matches_err(&refuse(&tar), "TooLarge");
}

#[test]
fn too_many_entries() {
    let mut tar = Tar::new();
    for i in 0..101 {
        tar = tar.file(&format!("f{i}"), 0o644, b"");
    }
    let err = scene().refuse_with(&tar.build(), Compression::None, &small_limits());
    matches_err(&err, "TooManyEntries { limit: 100 }");
}

#[test]
fn oversized_or_dangling_metadata() {
    let long = Tar::new().raw(
        b"././@LongLink",
        EntryType::GNULongName,
        b"",
        &vec![b'a'; 70_000],
    );
    matches_err(&refuse(&long.file("f", 0o644, b"x").build()), "Corrupt");
    let dangling = Tar::new()
        .file("f", 0o644, b"x")
        .pax(&[("path", b"g")])
        .build();
    matches_err(&refuse(&dangling), "Corrupt");
    let twice = Tar::new().pax(&[("path", b"g")]).pax(&[("path", b"h")]);
    matches_err(&refuse(&twice.file("f", 0o644, b"x").build()), "Corrupt");
}

#[test]
fn dest_already_exists() {
    let scene = scene();
    let tar = Tar::new().file("f", 0o644, b"x").build();
    fs::create_dir(&scene.dest).unwrap();
    let err = unpack(&tar[..], Compression::None, &scene.dest, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::Exists(p) if *p == scene.dest),
        "{err:?}"
    );
    assert_eq!(names_in(&scene.root), ["dest"]);
    assert_eq!(names_in(&scene.dest), Vec::<String>::new());
    fs::remove_dir(&scene.dest).unwrap();
    std::os::unix::fs::symlink(&scene.sentinel, &scene.dest).unwrap();
    let err = unpack(&tar[..], Compression::None, &scene.dest, &Limits::default()).unwrap_err();
    matches_err(&err, "Exists");
    assert_eq!(names_in(&scene.sentinel), Vec::<String>::new());
}

#[test]
fn garbage_bytes() {
    let scene = scene();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    let path = scene.tmp.path().join("garbage");
    fs::write(&path, &garbage).unwrap();
    let err = unpack_file(&path, &scene.dest, &Limits::default()).unwrap_err();
    matches_err(&err, "Unrecognised");
    fs::remove_file(&path).unwrap();
    scene.assert_untouched();
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let err = scene.refuse_with(&garbage, compression, &Limits::default());
        matches_err(&err, "Corrupt");
    }
}

#[test]
fn truncated_archives() {
    let tar = Tar::new()
        .file("a", 0o644, &binary_blob())
        .file("b", 0o644, b"last")
        .build();
    let scene = scene();
    let mid_data = &tar[..5000];
    let mid_header = &tar[..512 + 200_192 + 100];
    let at_boundary = &tar[..512 + 200_192 + 512 + 512];
    for cut in [mid_data, mid_header, at_boundary] {
        let err = scene.refuse_with(cut, Compression::None, &Limits::default());
        matches_err(&err, "Corrupt");
    }
    let gz = gzip(&tar);
    let err = scene.refuse_with(&gz[..gz.len() - 4], Compression::Gzip, &Limits::default());
    matches_err(&err, "Corrupt");
    let zst = zstd(&tar);
    let err = scene.refuse_with(&zst[..zst.len() / 2], Compression::Zstd, &Limits::default());
    matches_err(&err, "Corrupt");
}

#[test]
fn refusal_after_writes_removes_everything() {
    let scene = scene();
    let tar = Tar::new()
        .dir("ro/", 0o555)
        .file("ro/f", 0o644, &binary_blob())
        .symlink("link", "ro/f")
        .raw(b"zz/../../x", EntryType::Regular, b"", b"x")
        .build();
    let err = scene.refuse_with(&gzip(&tar), Compression::Gzip, &Limits::default());
    matches_err(&err, "ParentDir");
}

#[test]
fn everything_after_the_end_marker_is_read_and_checked() {
    // GNU tar pads archives to 10 KiB records; the padding is fine, and reading through it to
    // the end is what makes the decoders check their trailers.
    let mut padded = Tar::new().file("f", 0o644, b"x").build();
    padded.extend_from_slice(&[0; 64 * 1024]);
    let scene = scene();
    unpack(
        &gzip(&padded)[..],
        Compression::Gzip,
        &scene.dest,
        &Limits::default(),
    )
    .unwrap();
    let scene = super::scene();
    let gz = gzip(&padded);
    let err = scene.refuse_with(&gz[..gz.len() - 4], Compression::Gzip, &Limits::default());
    matches_err(&err, "Corrupt");
    padded.extend_from_slice(&vec![0; 17 * 1024 * 1024]);
    let err = scene.refuse_with(&zstd(&padded), Compression::Zstd, &Limits::default());
    matches_err(&err, "Corrupt(\"more than 16777216 bytes follow");
}
