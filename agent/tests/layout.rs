//! The agent's confinement rules from ARCHITECTURE.md, checked mechanically over its
//! source: only the link to the coordinator (`session.rs` and `session/`) and the one-shot
//! enrollment client (`enroll.rs`) may use tonic; and a kind of command is decoded from the
//! wire only at that edge (`command.rs`), so nothing after it matches on the proto's
//! `command::Action`.

use std::path::{Path, PathBuf};

/// Modules (paths under `agent/src`) that may name tonic.
const TONIC_ALLOWED: &[&str] = &["session.rs", "session/", "enroll.rs"];

/// Modules that may match on the wire's `command::Action`.
const ACTION_DECODERS: &[&str] = &["command.rs"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Files under `agent/src` (relative, `/`-separated) whose non-comment lines contain
/// `needle`, except those `allowed` names (a file, or a directory ending in `/`) and unit
/// tests (`tests.rs`, `tests/`).
fn offenders(needle: &str, allowed: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut found = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let is_test = rel.ends_with("/tests.rs") || rel.contains("/tests/");
        if is_test
            || allowed
                .iter()
                .any(|a| rel == *a || (a.ends_with('/') && rel.starts_with(a)))
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let used = text
            .lines()
            .map(str::trim_start)
            .filter(|line| !line.starts_with("//"))
            .any(|line| line.contains(needle));
        if used {
            found.push(rel);
        }
    }
    found.sort();
    found
}

#[test]
fn only_the_session_and_enrollment_speak_grpc() {
    let found = offenders("tonic", TONIC_ALLOWED);
    assert!(
        found.is_empty(),
        "tonic used outside {TONIC_ALLOWED:?} (see ARCHITECTURE.md): {found:?}"
    );
}

#[test]
fn commands_are_decoded_from_the_wire_in_one_place() {
    let found = offenders("command::Action", ACTION_DECODERS);
    assert!(
        found.is_empty(),
        "the wire's command::Action matched outside {ACTION_DECODERS:?}: decode it once \
         into command::AgentCommand instead: {found:?}"
    );
}

#[test]
fn the_check_itself_sees_the_modules_it_allows() {
    // Guards against a rename that would make the tests above pass vacuously.
    assert!(offenders("tonic", &[]).contains(&"session.rs".to_string()));
    assert_eq!(offenders("command::Action", &[]), ["command.rs"]);
}
