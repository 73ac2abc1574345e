//! What the .deb packages ship besides the binaries: the committed man pages and shell
//! completions must be exactly what the programs generate from their clap definitions now,
//! and the generators refuse bad input clearly. (The units are checked in `main.rs`; the
//! packages themselves by `packaging/check-debs` in CI.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use convoy_tests::binary;

const REFRESH: &str =
    "run packaging/generate-docs and commit packaging/man and packaging/completions";

/// The programs, and the directory under packaging/man/ that holds each one's pages.
const PROGRAMS: [(&str, &str); 2] = [("convoy", "coordinator"), ("convoy-agent", "agent")];

fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging")
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(binary(program))
        .args(args)
        .env_remove("CONVOY_ADDR")
        .output()
        .expect("run the program")
}

fn stdout_of(program: &str, args: &[&str]) -> Vec<u8> {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Every file under `root` (recursively), by path relative to `root`.
fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn the_packaged_man_pages_and_completions_are_current() {
    let fresh = tempfile::tempdir().unwrap();
    let completions = fresh.path().join("completions");
    std::fs::create_dir_all(&completions).unwrap();
    for (program, man_dir) in PROGRAMS {
        let out = fresh.path().join("man").join(man_dir);
        stdout_of(program, &["man", "--out", out.to_str().unwrap()]);
        for (shell, name) in [
            ("bash", format!("{program}.bash")),
            ("zsh", format!("_{program}")),
            ("fish", format!("{program}.fish")),
        ] {
            let script = stdout_of(program, &["completions", shell]);
            assert!(!script.is_empty(), "{program} completions {shell}");
            std::fs::write(completions.join(name), script).unwrap();
        }
    }
    for kind in ["man", "completions"] {
        let committed = files_under(&packaging().join(kind));
        let generated = files_under(&fresh.path().join(kind));
        let mut stale = Vec::new();
        for (name, text) in &generated {
            match committed.get(name) {
                None => stale.push(format!("{name} is missing")),
                Some(old) if old != text => stale.push(format!("{name} differs")),
                Some(_) => {}
            }
        }
        for name in committed
            .keys()
            .filter(|name| !generated.contains_key(*name))
        {
            stale.push(format!("{name} is no longer generated"));
        }
        assert!(
            stale.is_empty(),
            "packaging/{kind} is stale ({}): {REFRESH}",
            stale.join(", ")
        );
    }
    // Every page names its program, and the main pages list the completions command.
    for (program, man_dir) in PROGRAMS {
        let page = std::fs::read_to_string(packaging().join(format!("man/{man_dir}/{program}.1")))
            .unwrap();
        assert!(
            page.contains("completions"),
            "{program}.1 lists completions"
        );
    }
}

#[test]
fn an_unknown_shell_or_an_unwritable_man_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    for (program, _) in PROGRAMS {
        let out = run(program, &["completions", "tcsh"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{program}: {stderr}");
        assert!(
            stderr.contains("invalid value 'tcsh'"),
            "{program}: {stderr}"
        );
        assert!(out.stdout.is_empty());

        let target = file.join("man");
        let out = run(program, &["man", "--out", target.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{program}: {stderr}");
        assert!(stderr.starts_with("error: cannot "), "{program}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{program}: {stderr}");
        assert!(!target.exists());
    }
}

/// Both packages install their man pages into man1: no page may be in both (dpkg refuses
/// to install the second package over the first's file).
#[test]
fn the_two_packages_install_no_man_page_twice() {
    let coordinator = files_under(&packaging().join("man/coordinator"));
    let agent = files_under(&packaging().join("man/agent"));
    let both: Vec<_> = coordinator
        .keys()
        .filter(|name| agent.contains_key(*name))
        .collect();
    assert!(both.is_empty(), "in both packages: {both:?}");
}
