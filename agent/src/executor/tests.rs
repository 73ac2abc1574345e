//! Tests for the executor. They use `/bin/sh -c` scripts to build process trees; the executor
//! itself never uses a shell.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::*;

/// Short grace so that escalation tests stay fast.
const GRACE: Duration = Duration::from_millis(300);
/// How long a killed process may take to disappear.
const GONE_WITHIN: Duration = Duration::from_secs(2);

fn spec(argv: &[&str]) -> ActionSpec {
    ActionSpec {
        argv: argv.iter().map(|arg| (*arg).to_owned()).collect(),
        env: BTreeMap::new(),
        working_dir: None,
        timeout: Duration::from_secs(10),
    }
}

fn sh(script: &str) -> ActionSpec {
    spec(&["/bin/sh", "-c", script])
}

struct Collected {
    report: RunReport,
    chunks: Vec<OutputChunk>,
}

impl Collected {
    fn bytes(&self, stream: OutputStream) -> Vec<u8> {
        self.chunks
            .iter()
            .filter(|chunk| chunk.stream == stream)
            .flat_map(|chunk| chunk.data.iter().copied())
            .collect()
    }

    fn text(&self, stream: OutputStream) -> String {
        String::from_utf8(self.bytes(stream)).expect("utf-8 output")
    }
}

/// Runs `spec` with a small channel (to exercise backpressure) and a concurrent collector.
async fn run_collect(spec: &ActionSpec, cancel: CancellationToken) -> Collected {
    let (tx, mut rx) = mpsc::channel(4);
    let collector = tokio::spawn(async move {
        let mut chunks = Vec::new();
        while let Some(chunk) = rx.recv().await {
            chunks.push(chunk);
        }
        chunks
    });
    let report = run(spec, tx, cancel, GRACE).await;
    let chunks = collector.await.expect("collector task");
    Collected { report, chunks }
}

/// Runs `spec` and cancels it (or drops it, if `drop_run`) once its first stdout line, a pid,
/// has arrived. Returns the report (if not dropped) and that pid.
async fn run_until_first_line(spec: &ActionSpec, drop_run: bool) -> (Option<RunReport>, i32) {
    let (tx, mut rx) = mpsc::channel::<OutputChunk>(4);
    let cancel = CancellationToken::new();
    let first_line = async {
        let mut stdout = String::new();
        while let Some(chunk) = rx.recv().await {
            if chunk.stream == OutputStream::Stdout {
                stdout.push_str(std::str::from_utf8(&chunk.data).expect("utf-8 output"));
                if let Some((line, _)) = stdout.split_once('\n') {
                    return line.trim().parse::<i32>().expect("a pid");
                }
            }
        }
        panic!("no pid line before the output closed");
    };
    let running = run(spec, tx, cancel.clone(), GRACE);
    tokio::pin!(running);
    let pid = tokio::select! {
        pid = first_line => pid,
        report = &mut running => panic!("run ended before printing a pid: {report:?}"),
    };
    if drop_run {
        return (None, pid);
    }
    cancel.cancel();
    (Some(running.await), pid)
}

/// True once `pid` no longer exists. A zombie also counts: it is dead and merely waits for a
/// reaper this test does not control (orphans are reparented to PID 1 or a subreaper).
fn is_gone(pid: i32) -> bool {
    match signal::kill(Pid::from_raw(pid), None) {
        Err(Errno::ESRCH) => true,
        _ => std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        }),
    }
}

async fn assert_gone(pid: i32) {
    let deadline = Instant::now() + GONE_WITHIN;
    while !is_gone(pid) {
        assert!(Instant::now() < deadline, "process {pid} still alive");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn expected_seq(from: u32, to: u32) -> String {
    (from..=to).map(|n| format!("{n}\n")).collect()
}

#[tokio::test]
async fn exit_zero_is_success() {
    let got = run_collect(&sh("exit 0"), CancellationToken::new()).await;
    assert_eq!(got.report.outcome, Outcome::Exited { code: 0 });
    assert!(got.report.pid.is_some());
    assert!(!got.report.escalated_to_sigkill);
}

#[tokio::test]
async fn exit_code_is_reported() {
    let got = run_collect(&sh("exit 3"), CancellationToken::new()).await;
    assert_eq!(got.report.outcome, Outcome::Exited { code: 3 });
}

#[tokio::test]
async fn program_is_found_in_path_and_stdin_is_empty() {
    // `cat` would wait forever on an inherited terminal; /dev/null gives it EOF at once.
    let mut cat = spec(&["cat"]);
    cat.timeout = Duration::from_secs(2);
    let got = run_collect(&cat, CancellationToken::new()).await;
    assert_eq!(got.report.outcome, Outcome::Exited { code: 0 });
    assert!(got.chunks.is_empty());
}

#[tokio::test]
async fn stdout_and_stderr_arrive_separately_complete_and_in_order() {
    let got = run_collect(
        &sh("seq 1 40000 & seq 100000 140000 >&2; wait"),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(got.report.outcome, Outcome::Exited { code: 0 });
    let stdout = got.text(OutputStream::Stdout);
    let stderr = got.text(OutputStream::Stderr);
    assert!(stdout.len() >= 200 * 1024, "only {} bytes", stdout.len());
    assert_eq!(stdout, expected_seq(1, 40000));
    assert_eq!(stderr, expected_seq(100000, 140000));
    assert!(got.chunks.len() > 2, "output was not streamed in chunks");
    assert!(
        got.chunks
            .iter()
            .all(|chunk| !chunk.data.is_empty() && chunk.data.len() <= 32 * 1024)
    );
}

#[tokio::test]
async fn env_and_working_dir_are_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut action = sh(r#"printf '%s\n' "$CONVOY_EXEC_TEST"; pwd -P; printf '%s\n' "$PATH""#);
    action
        .env
        .insert("CONVOY_EXEC_TEST".to_owned(), "hello world".to_owned());
    action.working_dir = Some(dir.path().to_owned());
    let got = run_collect(&action, CancellationToken::new()).await;
    assert_eq!(got.report.outcome, Outcome::Exited { code: 0 });
    let stdout = got.text(OutputStream::Stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let real_dir = dir.path().canonicalize().expect("canonical tempdir");
    assert_eq!(lines[0], "hello world");
    assert_eq!(lines[1], real_dir.to_str().expect("utf-8 path"));
    // The rest of the environment is inherited.
    assert_eq!(lines[2], std::env::var("PATH").unwrap_or_default());
}

#[tokio::test]
async fn missing_program_fails_to_spawn_naming_it() {
    let got = run_collect(
        &spec(&["convoy-no-such-program-42", "arg"]),
        CancellationToken::new(),
    )
    .await;
    match &got.report.outcome {
        Outcome::SpawnFailed(message) => {
            assert!(message.contains("convoy-no-such-program-42"), "{message}");
        }
        other => panic!("expected SpawnFailed, got {other:?}"),
    }
    assert_eq!(got.report.pid, None);
}

#[tokio::test]
async fn empty_argv_fails_to_spawn() {
    let got = run_collect(&spec(&[]), CancellationToken::new()).await;
    assert!(matches!(got.report.outcome, Outcome::SpawnFailed(_)));
    assert_eq!(got.report.pid, None);
}

#[tokio::test]
async fn timeout_kills_a_term_ignoring_child_and_its_grandchild() {
    // Both the shell and its grandchild ignore SIGTERM; only SIGKILL to the group ends them.
    // The grandchild prints its own pid once its trap is set.
    let mut action = sh(r#"trap "" TERM; sh -c 'echo $$; exec sleep 1000' & wait"#);
    action.timeout = Duration::from_secs(1);
    let got = run_collect(&action, CancellationToken::new()).await;
    assert_eq!(got.report.outcome, Outcome::TimedOut);
    assert!(got.report.escalated_to_sigkill);
    let grandchild: i32 = got.text(OutputStream::Stdout).trim().parse().expect("pid");
    assert_gone(grandchild).await;
    let leader = i32::try_from(got.report.pid.expect("pid")).expect("pid fits");
    assert_gone(leader).await;
    assert!(got.report.duration >= action.timeout);
}

#[tokio::test]
async fn child_that_exits_on_sigterm_is_not_escalated() {
    let mut action = spec(&["sleep", "1000"]);
    action.timeout = Duration::from_millis(200);
    let (tx, _rx) = mpsc::channel(4);
    // A long grace: the run must end as soon as the child dies, not when the grace is over.
    let report = run(
        &action,
        tx,
        CancellationToken::new(),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(report.outcome, Outcome::TimedOut);
    assert!(!report.escalated_to_sigkill);
    assert!(report.duration < Duration::from_secs(5), "{report:?}");
}

#[tokio::test]
async fn cancel_mid_run_kills_the_tree() {
    // The shell dies on SIGTERM (no escalation); its grandchild ignores SIGTERM and must be
    // taken down by the extra SIGKILL to the group after the shell exited.
    let action = sh(r#"sh -c 'trap "" TERM; echo $$; exec sleep 1000' & wait"#);
    let (report, grandchild) = run_until_first_line(&action, false).await;
    let report = report.expect("report");
    assert_eq!(report.outcome, Outcome::Cancelled);
    assert!(!report.escalated_to_sigkill);
    assert!(report.duration < Duration::from_secs(3), "{report:?}");
    assert_gone(grandchild).await;
}

#[tokio::test]
async fn dropping_the_run_kills_the_tree() {
    let action = sh(r#"sh -c 'trap "" TERM; echo $$; exec sleep 1000' & wait"#);
    let (report, grandchild) = run_until_first_line(&action, true).await;
    assert!(report.is_none());
    assert_gone(grandchild).await;
}

#[tokio::test]
async fn cancel_before_start_spawns_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("spawned");
    let action = spec(&["touch", marker.to_str().expect("utf-8 path")]);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let got = run_collect(&action, cancel).await;
    assert_eq!(got.report.outcome, Outcome::Cancelled);
    assert_eq!(got.report.pid, None);
    assert!(!got.report.escalated_to_sigkill);
    assert!(!marker.exists());
}

#[tokio::test]
async fn grandchild_holding_stdout_does_not_hang_the_run() {
    let got = run_collect(
        &sh("echo before; sleep 30 & exit 7"),
        CancellationToken::new(),
    )
    .await;
    let pid = got.report.pid.expect("pid");
    // Clean up the lingering grandchild: it is still in the child's process group.
    let group = Pid::from_raw(i32::try_from(pid).expect("pid fits"));
    let _ = signal::killpg(group, Signal::SIGKILL);
    assert_eq!(got.report.outcome, Outcome::Exited { code: 7 });
    assert!(
        got.report.duration < Duration::from_secs(4),
        "{:?}",
        got.report
    );
    assert_eq!(got.text(OutputStream::Stdout), "before\n");
}

#[tokio::test]
async fn death_by_foreign_signal_is_reported() {
    let got = run_collect(&sh("kill -9 $$"), CancellationToken::new()).await;
    assert_eq!(got.report.outcome, Outcome::Signaled { signal: 9 });
    assert!(!got.report.escalated_to_sigkill);
}

#[tokio::test]
async fn dropped_receiver_does_not_block_the_child() {
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    // 4 MiB would fill any pipe many times over if nobody read it, and closing the pipe instead
    // of draining it would kill the writer with SIGPIPE (exit 9 here).
    let action = sh("head -c 4194304 /dev/zero || exit 9; echo done >&2 || exit 9; exit 4");
    let report = run(&action, tx, CancellationToken::new(), GRACE).await;
    assert_eq!(report.outcome, Outcome::Exited { code: 4 });
}
