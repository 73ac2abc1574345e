//! `convoy demo`, as a newcomer runs it: `--script` tells the whole story, checks it and
//! exits 0 in under two minutes; the interactive demo keeps its fleet running until SIGINT
//! (Ctrl-C) and then stops it. Either way no agent or app process and no temp dir is left.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use convoy_tests::binary;

/// The fleet dir the demo announces on its first line.
fn fleet_dir(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("convoy demo: a throwaway fleet in "))
        .unwrap_or_else(|| panic!("no fleet dir line in:\n{stdout}"));
    PathBuf::from(line.trim())
}

/// Agent pids the demo printed (`agent web-a1 (zone a): pid 123, ...`).
fn agent_pids(stdout: &str) -> Vec<i32> {
    stdout
        .lines()
        .filter_map(|line| line.trim().strip_prefix("agent "))
        .filter_map(|rest| rest.split("pid ").nth(1))
        .filter_map(|rest| rest.split(',').next()?.trim().parse().ok())
        .collect()
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().next());
        !matches!(state, None | Some("Z" | "X"))
    })
}

/// Live processes whose command line or working directory points into `dir`.
fn processes_in(dir: &Path) -> Vec<String> {
    let needle = dir.display().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if !alive(pid) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
            .unwrap_or_default();
        let cwd = std::fs::read_link(entry.path().join("cwd"))
            .map(|cwd| cwd.display().to_string())
            .unwrap_or_default();
        if cmdline.contains(&needle) || cwd.starts_with(&format!("{needle}/")) || cwd == needle {
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}

fn assert_nothing_left(stdout: &str) {
    let dir = fleet_dir(stdout);
    assert!(!dir.exists(), "{} was not deleted", dir.display());
    let pids = agent_pids(stdout);
    assert_eq!(pids.len(), 5, "five agent pids printed:\n{stdout}");
    for pid in pids {
        assert!(!alive(pid), "agent pid {pid} is still running");
    }
    // The apps were started by hooks in their own process groups: find them by path.
    let left = processes_in(&dir);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn demo_script_tells_the_story_checks_it_and_leaves_nothing_behind() {
    let started = Instant::now();
    let out = Command::new(binary("convoy"))
        .args(["demo", "--script"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("convoy demo --script took {elapsed:.1?}");
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    for check in [
        "[pass] 5 agents online in 2 zones",
        "[pass] web 1.0 deployed and healthy on every host",
        "[pass] web 2.0 rolled out: rollout succeeded",
        "[pass] waves never mixed zones; the canary wave was one host",
        "[pass] web 2.0 running and healthy on every host",
        "[pass] web 3.0 stopped at the canary and rolled back by itself",
        "[pass] no other host was touched (never deployed, never downloaded 3.0)",
        "[pass] every host, the canary too, is back on web 2.0 and healthy",
        "[pass] backup complete and listed by the coordinator",
        "[pass] recovery drill restored the backup and every file matched",
        "[pass] clean-up: no process left, temp dir deleted",
    ] {
        assert!(stdout.contains(check), "missing {check:?} in:\n{stdout}");
    }
    assert!(
        stdout.contains("demo: 11 of 11 checks passed"),
        "summary line missing:\n{stdout}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    // Rollout progress is plain lines on stderr, never progress bars.
    assert!(stderr.contains("rolled_back"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no terminal escapes: {stderr}");
    assert!(
        elapsed < Duration::from_secs(120),
        "the scripted demo took {elapsed:?}"
    );
    assert_nothing_left(&stdout);
}

fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Interrupts the demo if the test fails half-way, so it still cleans up its fleet.
struct Interrupted(Option<u32>);

impl Drop for Interrupted {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
        }
    }
}

#[test]
fn interactive_demo_runs_until_sigint_then_stops_everything() {
    let mut child = Command::new(binary("convoy"))
        .arg("demo")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut interrupted = Interrupted(Some(pid));
    let stdout = child.stdout.take().unwrap();
    // Read lines on a thread, so the deadline below holds even if the demo stalls.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(150);
    // The last line before it waits: "Send SIGINT or SIGTERM to stop the fleet and delete …".
    while !seen.contains("to stop the fleet and delete") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(_) => {
                panic!("the demo never said the fleet is live:\n{seen}");
            }
        }
    }
    assert!(
        seen.contains("export CONVOY_ADDR=https://127.0.0.1:"),
        "{seen}"
    );
    assert!(seen.contains("export CONVOY_CERT="), "{seen}");
    let dir = fleet_dir(&seen);
    // The fleet really is live: the operator certificate it printed works.
    let ca = dir.join("pki/ca.pem");
    let addr = seen
        .lines()
        .find_map(|l| l.trim().strip_prefix("export CONVOY_ADDR="))
        .unwrap()
        .to_string();
    let agents = Command::new(binary("convoy"))
        .args(["agents", "--selector", "zone=b"])
        .env("CONVOY_ADDR", &addr)
        .env("CONVOY_CA", &ca)
        .env("CONVOY_CERT", dir.join("pki/demo.pem"))
        .env("CONVOY_KEY", dir.join("pki/demo.key"))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&agents.stdout);
    assert!(
        agents.status.success() && table.contains("web-b1") && table.contains("web-b2"),
        "{table}{}",
        String::from_utf8_lossy(&agents.stderr)
    );

    interrupt(pid);
    let deadline = Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // It exited: nothing left to interrupt (its pid may be reused from here on).
    interrupted.0 = None;
    reader.join().unwrap();
    while let Ok(line) = rx.try_recv() {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert!(exit.success(), "exit {exit:?}:\n{seen}");
    assert!(seen.contains("temp dir deleted"), "{seen}");
    assert_nothing_left(&seen);
}

#[test]
fn demo_without_the_agent_binary_says_how_to_build_it() {
    let dir = tempfile::tempdir().unwrap();
    let convoy = dir.path().join("convoy");
    if std::fs::hard_link(binary("convoy"), &convoy).is_err() {
        std::fs::copy(binary("convoy"), &convoy).unwrap();
    }
    let out = Command::new(&convoy)
        .args(["demo", "--script"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("convoy-agent not found")
            && stderr.contains("cargo build --release -p convoy-coordinator -p convoy-agent"),
        "{stderr}"
    );
    // Refused before anything was created.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn demo_with_its_stdout_closed_still_cleans_up() {
    // `convoy demo --script | head -1`: the reader goes away after the first line.
    let mut child = Command::new(binary("convoy"))
        .args(["demo", "--script"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let dir = fleet_dir(&first);
    let deadline = Instant::now() + Duration::from_secs(120);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if Instant::now() > deadline {
            interrupt(child.id());
            panic!("the demo did not finish with its stdout closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(!dir.exists(), "{} was not deleted", dir.display());
    let left = processes_in(&dir);
    assert!(left.is_empty(), "left behind: {left:?}");
}
