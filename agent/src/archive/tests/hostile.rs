//! Hostile archives: each must be refused with its own error, leave no dest and no partial
//! directory behind, and write nothing outside (the scene's sentinel dir stays empty).

use super::*;

pub(super) fn matches_err(err: &ArchiveError, expected: &str) {
    let debug = format!("{err:?}");
    assert!(
        debug.starts_with(expected),
        "expected {expected}, got {debug}"
    );
}

#[test]
fn absolute_path() {
    let scene = scene();
    let target = scene.sentinel.join("pwned");
    let tar = Tar::new()
        .raw(
            target.as_os_str().as_encoded_bytes(),
            EntryType::Regular,
            b"",
            b"x",
        )
        .build();
    let err = scene.refuse_with(&tar, Compression::None, &Limits::default());
    assert!(matches!(&err, ArchiveError::AbsolutePath(p) if *p == target.to_string_lossy()));
    assert!(err.to_string().contains("absolute path"), "{err}");
}

#[test]
fn absolute_directory_path() {
    let tar = Tar::new()
        .raw(b"/etc/", EntryType::Directory, b"", b"")
        .build();
    matches_err(&refuse(&tar), "AbsolutePath(\"/etc/\")");
}

#[test]
fn parent_dir_component() {
    let tar = Tar::new()
        .raw(b"../x", EntryType::Regular, b"", b"x")
        .build();
    matches_err(&refuse(&tar), "ParentDir(\"../x\")");
}

#[test]
fn path_normalising_outside_the_root() {
    let tar = Tar::new()
        .dir("a/", 0o755)
        .raw(b"a/../../sentinel/x", EntryType::Regular, b"", b"x")
        .build();
    matches_err(&refuse(&tar), "ParentDir(\"a/../../sentinel/x\")");
}

#[test]
fn empty_names() {
    let tar = Tar::new().raw(b"", EntryType::Regular, b"", b"x").build();
    matches_err(&refuse(&tar), "EmptyName(\"\")");
    let tar = Tar::new().raw(b"./", EntryType::Symlink, b"x", b"").build();
    matches_err(&refuse(&tar), "EmptyName(\"./\")");
}

#[test]
fn symlink_to_absolute_path() {
    let tar = Tar::new()
        .raw(b"etc", EntryType::Symlink, b"/etc", b"")
        .build();
    let err = refuse(&tar);
    assert!(
        matches!(&err, ArchiveError::LinkEscapes { entry, target } if entry == "etc" && target == "/etc")
    );
    assert_eq!(
        err.to_string(),
        "symlink \"etc\" points outside the archive root: \"/etc\""
    );
}

#[test]
fn symlink_climbing_out() {
    let tar = Tar::new()
        .dir("a/", 0o755)
        .raw(b"a/out", EntryType::Symlink, b"../../outside", b"")
        .build();
    matches_err(
        &refuse(&tar),
        "LinkEscapes { entry: \"a/out\", target: \"../../outside\"",
    );
    let tar = Tar::new()
        .raw(b"out", EntryType::Symlink, b"../sentinel", b"")
        .build();
    matches_err(&refuse(&tar), "LinkEscapes");
}

#[test]
fn symlink_climbing_out_through_another_symlink() {
    // Lexically `s/../sentinel` is `sentinel` inside the root; really it is the root's parent.
    let tar = Tar::new()
        .symlink("s", ".")
        .raw(b"l", EntryType::Symlink, b"s/../../sentinel", b"")
        .build();
    matches_err(&refuse(&tar), "LinkEscapes");
    let tar = Tar::new()
        .raw(b"l", EntryType::Symlink, b"s/../x", b"")
        .symlink("s", ".")
        .build();
    matches_err(&refuse(&tar), "LinkEscapes");
}

#[test]
fn symlink_with_empty_target() {
    let tar = Tar::new().raw(b"l", EntryType::Symlink, b"", b"").build();
    matches_err(&refuse(&tar), "LinkEscapes");
}

#[test]
fn hard_link_to_absolute_path() {
    let tar = Tar::new()
        .raw(b"pw", EntryType::Link, b"/etc/passwd", b"")
        .build();
    matches_err(
        &refuse(&tar),
        "HardLinkEscapes { entry: \"pw\", target: \"/etc/passwd\" }",
    );
}

#[test]
fn hard_link_climbing_out() {
    let tar = Tar::new()
        .dir("a/", 0o755)
        .raw(b"a/x", EntryType::Link, b"../x", b"")
        .build();
    matches_err(
        &refuse(&tar),
        "HardLinkEscapes { entry: \"a/x\", target: \"../x\" }",
    );
}

#[test]
fn hard_link_to_anything_but_an_extracted_file() {
    let missing = Tar::new()
        .raw(b"h", EntryType::Link, b"later", b"")
        .file("later", 0o644, b"x");
    matches_err(&refuse(&missing.build()), "HardLinkEscapes");
    let to_dir = Tar::new()
        .dir("d/", 0o755)
        .raw(b"h", EntryType::Link, b"d", b"");
    matches_err(&refuse(&to_dir.build()), "HardLinkEscapes");
    let to_link = Tar::new().file("f", 0o644, b"x").symlink("s", "f");
    matches_err(
        &refuse(&to_link.raw(b"h", EntryType::Link, b"s", b"").build()),
        "HardLinkEscapes",
    );
    let through = Tar::new()
        .dir("d/", 0o755)
        .file("d/f", 0o644, b"x")
        .symlink("s", "d");
    matches_err(
        &refuse(&through.raw(b"h", EntryType::Link, b"s/f", b"").build()),
        "HardLinkEscapes",
    );
    let to_self = Tar::new()
        .file("f", 0o644, b"x")
        .raw(b"f", EntryType::Link, b"f", b"");
    matches_err(&refuse(&to_self.build()), "Conflict");
}

#[test]
fn write_through_symlink() {
    let tar = Tar::new()
        .dir("sub/", 0o755)
        .symlink("l", "sub")
        .raw(b"l/f", EntryType::Regular, b"", b"x")
        .build();
    matches_err(
        &refuse(&tar),
        "ThroughSymlink { entry: \"l/f\", link: \"l\" }",
    );
    let deeper = Tar::new().dir("sub/", 0o755).symlink("l", "sub");
    matches_err(
        &refuse(&deeper.dir("l/d/", 0o755).build()),
        "ThroughSymlink",
    );
    let link = Tar::new()
        .dir("sub/", 0o755)
        .file("f", 0o644, b"x")
        .symlink("l", "sub");
    matches_err(
        &refuse(&link.raw(b"l/h", EntryType::Link, b"f", b"").build()),
        "ThroughSymlink",
    );
    let nested = Tar::new().symlink("l", ".").symlink("l/m", ".");
    matches_err(&refuse(&nested.build()), "ThroughSymlink");
}

#[test]
fn entries_changing_type() {
    let over_link = Tar::new()
        .dir("sub/", 0o755)
        .symlink("x", "sub")
        .file("x", 0o644, b"x");
    matches_err(&refuse(&over_link.build()), "Conflict(\"x\")");
    let over_dir = Tar::new().dir("d/", 0o755).file("d", 0o644, b"x");
    matches_err(&refuse(&over_dir.build()), "Conflict(\"d\")");
    let dir_over_file = Tar::new().file("f", 0o644, b"x").dir("f/", 0o755);
    matches_err(&refuse(&dir_over_file.build()), "Conflict");
    let link_over_file = Tar::new().file("f", 0o644, b"x").symlink("f", "g");
    matches_err(&refuse(&link_over_file.build()), "Conflict(\"f\")");
    let link_over_link = Tar::new().symlink("l", "a").symlink("l", "b");
    matches_err(&refuse(&link_over_link.build()), "Conflict(\"l\")");
    let under_file = Tar::new().file("f", 0o644, b"x").file("f/g", 0o644, b"y");
    matches_err(&refuse(&under_file.build()), "Conflict(\"f/g\")");
}

#[test]
fn device_files_and_fifos() {
    for (kind, name) in [
        (EntryType::Char, "character device"),
        (EntryType::Block, "block device"),
        (EntryType::Fifo, "fifo"),
    ] {
        let tar = Tar::new().raw(b"dev/thing", kind, b"", b"").build();
        let err = refuse(&tar);
        assert!(
            matches!(&err, ArchiveError::SpecialFile { entry, kind } if entry == "dev/thing" && *kind == name),
            "{err:?}"
        );
    }
}

#[test]
fn other_entry_types() {
    for kind in [
        EntryType::GNUSparse,
        EntryType::new(b'V'),
        EntryType::new(b'Z'),
    ] {
        let tar = Tar::new().raw(b"odd", kind, b"", b"").build();
        matches_err(&refuse(&tar), "Unsupported { entry: \"odd\"");
    }
}

#[test]
fn hostile_names_hidden_in_metadata() {
    let pax = Tar::new()
        .pax(&[("path", b"../evil")])
        .file("innocent", 0o644, b"x");
    matches_err(&refuse(&pax.build()), "ParentDir(\"../evil\")");
    let gnu = Tar::new().raw(
        b"././@LongLink",
        EntryType::GNULongName,
        b"",
        b"/tmp/evil\0",
    );
    matches_err(
        &refuse(&gnu.file("innocent", 0o644, b"x").build()),
        "AbsolutePath(\"/tmp/evil\")",
    );
    let link = Tar::new()
        .pax(&[("linkpath", b"/etc")])
        .symlink("l", "fine");
    matches_err(&refuse(&link.build()), "LinkEscapes");
}

#[test]
fn verbatim_links_keep_absolute_targets_but_never_write_through_them() {
    let verbatim = Limits {
        links: LinkPolicy::Verbatim,
        ..Limits::default()
    };
    // Kept as data: the link exists with its original target, nothing else is touched.
    let first = scene();
    let tar = Tar::new()
        .raw(b"etc", EntryType::Symlink, b"/etc", b"")
        .raw(b"up", EntryType::Symlink, b"../../outside", b"")
        .build();
    let report = unpack(&tar[..], Compression::None, &first.dest, &verbatim).unwrap();
    assert_eq!(report.symlinks, 2);
    assert_eq!(
        fs::read_link(first.dest.join("etc")).unwrap(),
        Path::new("/etc")
    );
    // A later entry beneath such a link is refused, so nothing lands outside.
    let second = scene();
    let target = second.sentinel.to_string_lossy().into_owned();
    let tar = Tar::new()
        .raw(b"out", EntryType::Symlink, target.as_bytes(), b"")
        .raw(b"out/pwned", EntryType::Regular, b"", b"x")
        .build();
    let err = second.refuse_with(&tar, Compression::None, &verbatim);
    matches_err(&err, "ThroughSymlink");
    // Names are checked as always.
    let tar = Tar::new()
        .raw(b"../x", EntryType::Regular, b"", b"x")
        .build();
    let err = second.refuse_with(&tar, Compression::None, &verbatim);
    matches_err(&err, "ParentDir");
    let tar = Tar::new().raw(b"l", EntryType::Symlink, b"", b"").build();
    matches_err(
        &second.refuse_with(&tar, Compression::None, &verbatim),
        "LinkEscapes",
    );
}
