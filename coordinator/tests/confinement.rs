//! Guard rails for the coordinator's layering (ARCHITECTURE.md, "Confinement"): the
//! transport, the store engine and the wall clock each live behind one seam, and the pure
//! engines touch none of them. These tests read the sources, so a new `use tonic` in the
//! wrong module fails CI instead of waiting for a reviewer to notice.

use std::path::{Path, PathBuf};

/// Production sources under `coordinator/src`, as paths relative to it (`grpc/admin.rs`).
/// Test modules (`tests.rs`, anything under a `tests/` directory) are left out: tests may
/// build requests, open stores and read the clock however they like.
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut out: Vec<(String, String)> = files
        .into_iter()
        .filter_map(|path| {
            let rel = path
                .strip_prefix(&root)
                .expect("walked under root")
                .to_string_lossy()
                .into_owned();
            let is_test = rel.ends_with("tests.rs")
                || rel.split('/').any(|part| part == "tests")
                || rel.ends_with("/test_support.rs");
            if is_test {
                return None;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            Some((rel, strip_test_modules(&text)))
        })
        .collect();
    out.sort();
    assert!(
        out.len() > 50,
        "found only {} sources: wrong root?",
        out.len()
    );
    out
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The text without an inline `#[cfg(test)] mod tests { ... }`, which by convention ends a
/// file (`#[cfg(test)] mod tests;` pointing at a file is kept: it is one line of nothing).
fn strip_test_modules(text: &str) -> String {
    let mut at = 0;
    while let Some(found) = text[at..].find("#[cfg(test)]\nmod ") {
        let start = at + found;
        let line_end = text[start + 13..]
            .find('\n')
            .map_or(text.len(), |n| start + 13 + n);
        if text[start..line_end].trim_end().ends_with('{') {
            return text[..start].to_string();
        }
        at = line_end;
    }
    text.to_string()
}

/// Lines (1-based) of `text` that mention `needle` outside `//` comments.
fn mentions(text: &str, needle: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split("//").next().unwrap_or("");
            code.contains(needle)
        })
        .map(|(i, _)| i + 1)
        .collect()
}

fn under(rel: &str, allowed: &[&str]) -> bool {
    allowed.iter().any(|a| {
        if let Some(dir) = a.strip_suffix("/**") {
            rel.starts_with(&format!("{dir}/"))
        } else {
            rel == *a
        }
    })
}

fn violations(needles: &[&str], allowed: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (rel, text) in sources() {
        if under(&rel, allowed) {
            continue;
        }
        for needle in needles {
            for line in mentions(&text, needle) {
                found.push(format!("coordinator/src/{rel}:{line}: {needle}"));
            }
        }
    }
    found
}

#[test]
fn tonic_stays_in_the_grpc_layer_and_the_cli() {
    // `registry.rs` holds each live session's outbound channel, whose item type is what
    // tonic's response stream carries (`Result<CoordinatorMessage, Status>`).
    let allowed = [
        "grpc.rs",
        "grpc/**",
        "server.rs",
        "server/**",
        "cli.rs",
        "cli/**",
        "registry.rs",
    ];
    let found = violations(&["tonic::", "use tonic"], &allowed);
    assert!(
        found.is_empty(),
        "tonic outside grpc/, server, cli/ and registry.rs's session channel:\n{}",
        found.join("\n")
    );
}

#[test]
fn sled_stays_in_the_store() {
    let found = violations(&["sled::", "use sled"], &["store.rs", "store/**"]);
    assert!(
        found.is_empty(),
        "sled outside store.rs and store/:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_wall_clock_is_read_in_clock_rs_only() {
    let found = violations(
        &["SystemTime::now", "Utc::now", "Local::now"],
        &["clock.rs"],
    );
    assert!(
        found.is_empty(),
        "wall-clock reads outside clock.rs (use crate::clock):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_pure_engines_do_no_io_and_read_no_clock() {
    // The job scheduler's plan, the selector grammar, the analysis statistics and the rate
    // knobs: decisions from inputs, `now` passed in, so the table tests cover every rule.
    // (The rollout engine has its own, stricter scan: `rollout::tests`.)
    let pure = [
        "dispatch/plan.rs",
        "selector.rs",
        "analysis.rs",
        "analysis/**",
        "rate.rs",
    ];
    let forbidden = [
        "tokio",
        "tonic",
        "sled",
        "std::fs",
        "std::net",
        "now_unix_ms()",
        "SystemTime",
        "Instant::now",
        "crate::store",
        "crate::registry",
        "crate::grpc",
    ];
    let mut found = Vec::new();
    for (rel, text) in sources() {
        if !under(&rel, &pure) {
            continue;
        }
        for needle in forbidden {
            for line in mentions(&text, needle) {
                found.push(format!("coordinator/src/{rel}:{line}: {needle}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a pure engine reaches for I/O, a clock or a shell module:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_sees_what_it_should() {
    // The rules above pass vacuously if the scan reads nothing: make sure it finds the
    // seams themselves.
    let all = sources();
    let find = |rel: &str| {
        &all.iter()
            .find(|(r, _)| r == rel)
            .unwrap_or_else(|| panic!("{rel} not scanned"))
            .1
    };
    assert!(!mentions(find("store.rs"), "sled::").is_empty());
    assert!(!mentions(find("clock.rs"), "SystemTime::now").is_empty());
    assert!(!mentions(find("grpc/admin.rs"), "tonic::").is_empty());
    assert!(
        !mentions("    let x = tokio::spawn(); // fine", "tokio").is_empty(),
        "code before a comment counts"
    );
    assert!(mentions("// tokio in a comment", "tokio").is_empty());
    let file = "use a;\n#[cfg(test)]\nmod tests;\nfn late() { tonic::x() }\n";
    assert!(
        strip_test_modules(file).contains("late"),
        "an out-of-line test module ends nothing"
    );
    let inline = "use a;\n#[cfg(test)]\nmod tests {\n    use tonic::x;\n}\n";
    assert!(
        !strip_test_modules(inline).contains("tonic"),
        "an inline test module is left out"
    );
}

/// Most lines a production source may have (test modules left out); STYLE.md asks for
/// files under ~400 lines, split by what the code does.
const MAX_PRODUCTION_LINES: usize = 450;

/// Files still over [`MAX_PRODUCTION_LINES`], each with why it is not split yet. Shrink
/// this list; never grow it without a reason.
const OVERSIZED: &[(&str, &str)] = &[
    (
        "grpc/admin.rs",
        "operator service handlers; being extended concurrently (release coordination), split after that lands",
    ),
    (
        "exposition.rs",
        "the metrics exposition; being extended concurrently (post-deployment report), split after that lands",
    ),
];

#[test]
fn production_files_stay_small() {
    let mut over = Vec::new();
    for (rel, text) in sources() {
        let lines = text.lines().count();
        let allowed = OVERSIZED.iter().any(|(file, _)| *file == rel);
        if lines > MAX_PRODUCTION_LINES && !allowed {
            over.push(format!("{rel}: {lines} lines"));
        }
    }
    assert!(
        over.is_empty(),
        "production files over {MAX_PRODUCTION_LINES} lines (split them by what the code does, \
         STYLE.md): {over:?}"
    );
    let sizes = sources();
    for (file, _) in OVERSIZED {
        let lines = sizes
            .iter()
            .find(|(rel, _)| rel == file)
            .map_or(0, |(_, text)| text.lines().count());
        assert!(
            lines > MAX_PRODUCTION_LINES,
            "{file} is {lines} lines now: take it off OVERSIZED"
        );
    }
}
