//! Guard rail: the pure engine (`machine`, `plan`, `gate`) imports no async runtime, RPC
//! stack, database or wire type, and reads no clock: time is the `now` it is given. This
//! test reads their sources (test files aside) and fails on any of those names.

use std::path::{Path, PathBuf};

/// Names the engine's production code may not mention, and why.
const FORBIDDEN: &[(&str, &str)] = &[
    ("tokio", "an async runtime"),
    ("tonic", "the RPC stack"),
    ("sled", "the database"),
    ("convoy_proto", "wire types (record.rs converts)"),
    ("SystemTime", "a clock"),
    ("Instant", "a clock"),
    ("now_unix_ms", "a clock"),
    ("OffsetDateTime::now", "a clock"),
    ("std::fs", "file I/O"),
    ("std::net", "network I/O"),
    ("std::thread", "threads"),
    ("rand::", "randomness"),
];

/// The forbidden names a source text mentions, with their line numbers. Code after a
/// `#[cfg(test)]` line is a test and not looked at.
fn violations(text: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        for (name, _) in FORBIDDEN {
            let hit = code.match_indices(name).any(|(at, _)| {
                let before = code[..at].chars().next_back();
                let after = code[at + name.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !word(before) && !word(after)
            });
            if hit {
                found.push((number + 1, *name));
            }
        }
    }
    found
}

/// `machine.rs`, `plan.rs`, `gate.rs` and every non-test file under their directories.
fn engine_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rollout");
    let mut files = Vec::new();
    for module in ["machine", "plan", "gate"] {
        files.push(root.join(format!("{module}.rs")));
        let mut dirs = vec![root.join(module)];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name == "tests" || name == "tests.rs" {
                    continue;
                }
                if path.is_dir() {
                    dirs.push(path);
                } else if name.ends_with(".rs") {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    files
}

#[test]
fn the_engine_does_no_io_and_reads_no_clock() {
    let files = engine_sources();
    assert!(
        files.len() >= 10,
        "the engine's sources were not found: {files:?}"
    );
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (line, name) in violations(&text) {
            let why = FORBIDDEN
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("", |f| f.1);
            problems.push(format!("{}:{line}: {name} ({why})", file.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "the pure rollout engine must not use:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_guard_catches_what_it_forbids() {
    let bad = "use tokio::sync::mpsc;\nfn f() { let t = std::time::SystemTime::now(); }\n\
               fn g() { crate::clock::now_unix_ms() }\nuse sled::Db;";
    let names: Vec<&str> = violations(bad).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["tokio", "SystemTime", "now_unix_ms", "sled"]);
    // Words that merely contain a name, comments and test code are fine.
    let fine = "let tokio_like = 1; // tokio here is a comment\nfn sledge() {}\n\
                #[cfg(test)]\nuse tokio::test;";
    assert!(violations(fine).is_empty(), "{:?}", violations(fine));
}
