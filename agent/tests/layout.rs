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

/// Production text of a source: everything before its first inline `#[cfg(test)] mod … {`
/// (the agent's inline test modules sit at the end of their files).
fn production(text: &str) -> &str {
    let mut at = 0;
    while let Some(found) = text[at..].find("#[cfg(test)]\nmod ") {
        let start = at + found;
        let line_end = text[start + 13..]
            .find('\n')
            .map_or(text.len(), |n| start + 13 + n);
        if text[start..line_end].trim_end().ends_with('{') {
            return &text[..start];
        }
        at = line_end;
    }
    text
}

/// Production sources under `agent/src` (relative path, production text), unit tests left
/// out.
fn production_sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut out: Vec<(String, String)> = files
        .into_iter()
        .filter_map(|file| {
            let rel = file
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let is_test = rel.ends_with("/tests.rs") || rel.contains("/tests/");
            let text = std::fs::read_to_string(&file).unwrap();
            (!is_test).then(|| (rel, production(&text).to_string()))
        })
        .collect();
    out.sort();
    out
}

/// Signatures of `pub`/`pub(crate)`/`pub(super)` fns in `text` that return `Result<…,
/// String>`: a module's error crosses its boundary as a typed error (thiserror), never as
/// a bare String (ARCHITECTURE.md, "Errors").
fn string_errors(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        if !(code.starts_with("pub ") || code.starts_with("pub(")) || !code.contains("fn ") {
            continue;
        }
        // The signature runs to the line that opens the body or ends the declaration.
        let mut signature = String::new();
        for next in &lines[i..] {
            signature.push_str(next.trim());
            signature.push(' ');
            if next.trim_end().ends_with('{') || next.trim_end().ends_with(';') {
                break;
            }
        }
        let returns = signature.split("->").nth(1).unwrap_or("");
        if returns.contains("Result<") && returns.replace(' ', "").contains(",String>") {
            found.push(format!("line {}: {}", i + 1, code));
        }
    }
    found
}

#[test]
fn no_string_errors_cross_a_module_boundary() {
    let found: Vec<String> = production_sources()
        .into_iter()
        .flat_map(|(rel, text)| {
            string_errors(&text)
                .into_iter()
                .map(move |hit| format!("{rel} {hit}"))
        })
        .collect();
    assert!(
        found.is_empty(),
        "pub fns returning Result<_, String> (give the module a thiserror enum): {found:#?}"
    );
}

#[test]
fn the_string_error_scan_sees_multi_line_signatures() {
    let text = "pub(crate) async fn a(\n    x: u8,\n) -> Result<Option<u8>, String> {\n}\n\
                fn private() -> Result<(), String> {\n}\n\
                pub fn typed() -> Result<String, Error> {\n}\n";
    let found = string_errors(text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("line 1:"), "{found:?}");
}

/// Most lines a production source may have (inline test modules left out); STYLE.md asks
/// for files under ~400 lines, split by what the code does.
const MAX_PRODUCTION_LINES: usize = 450;

/// Files still over [`MAX_PRODUCTION_LINES`], each with why. Shrink this list.
const OVERSIZED: &[(&str, &str)] = &[];

#[test]
fn production_files_stay_small() {
    let over: Vec<String> = production_sources()
        .into_iter()
        .filter(|(rel, text)| {
            text.lines().count() > MAX_PRODUCTION_LINES
                && !OVERSIZED.iter().any(|(file, _)| file == rel)
        })
        .map(|(rel, text)| format!("{rel}: {} lines", text.lines().count()))
        .collect();
    assert!(
        over.is_empty(),
        "production files over {MAX_PRODUCTION_LINES} lines (split them by what the code does, \
         STYLE.md): {over:?}"
    );
}
