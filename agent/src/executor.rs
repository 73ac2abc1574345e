//! Process executor: runs ONE allow-listed action as a child process and reports how it ended.
//!
//! This module only knows about processes. It knows nothing about gRPC/protobuf, journals or
//! configs: the caller decides *whether* an action may run, journals it, and turns the
//! [`OutputChunk`]s and the final [`RunReport`] into whatever it sends upstream.
//!
//! How a run works:
//! - `argv[0]` is looked up in `PATH` (like [`std::process::Command`]) and executed directly,
//!   never through a shell. `env` is added to the inherited environment, stdin is `/dev/null`,
//!   stdout and stderr are piped.
//! - The child leads its own process group, so a timeout or a cancellation ends the whole tree:
//!   SIGTERM to the group, up to `kill_grace` for the child to exit, then SIGKILL to the group.
//!   Once the child has exited, the group gets one more SIGKILL for grandchildren that ignored
//!   SIGTERM.
//! - stdout and stderr are read concurrently and forwarded chunk by chunk (each chunk is what one
//!   read of up to 32 KiB returned) through the bounded sender, so a slow receiver applies
//!   backpressure to the child. A dropped receiver does not block the child: output is then read
//!   and discarded.
//! - After the child exits, grandchildren may still hold the pipes open; they are read for at
//!   most 2 s more and then abandoned, so a run never hangs on them. Output that
//!   the receiver has not accepted by then is dropped as well.
//! - The child is always reaped. If the future returned by [`run`] is dropped before the child
//!   was reaped, its process group is SIGKILLed and tokio reaps the child in the background.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::pin::{Pin, pin};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::sync::mpsc::Sender;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long the pipes are still read after the child exited (grandchildren may hold them open).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// Largest chunk a single read returns.
const READ_BUF_LEN: usize = 32 * 1024;

/// One action to run: the program and its arguments, plus where and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActionSpec {
    /// `argv[0]` is the program (searched in `PATH` unless it contains a `/`), the rest its
    /// arguments. Never interpreted by a shell.
    pub(crate) argv: Vec<String>,
    /// Added to (and overriding) the agent's own environment.
    pub(crate) env: BTreeMap<String, String>,
    /// Working directory of the child; the agent's own if `None`.
    pub(crate) working_dir: Option<PathBuf>,
    /// Wall-clock limit, counted from spawn.
    pub(crate) timeout: Duration,
}

/// Which pipe a chunk of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputStream {
    Stdout,
    Stderr,
}

/// Bytes exactly as one read from the child's pipe returned them (not split on newlines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutputChunk {
    pub(crate) stream: OutputStream,
    pub(crate) data: Vec<u8>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Normal exit (0 = success).
    Exited { code: i32 },
    /// Killed by a signal the executor did not send.
    Signaled { signal: i32 },
    /// The executor killed it because `spec.timeout` passed.
    TimedOut,
    /// The executor killed it (or never started it) because `cancel` fired.
    Cancelled,
    /// The process could not be started (e.g. no such program; the message says which), or,
    /// very rarely, could not be waited for after starting (then `pid` is set).
    SpawnFailed(String),
}

/// Everything [`run`] learned about one run.
#[derive(Debug, Clone)]
pub(crate) struct RunReport {
    pub(crate) outcome: Outcome,
    /// From the call to [`run`] until it returned.
    pub(crate) duration: Duration,
    /// The child's pid, which is also its process-group id; `None` if nothing was spawned.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) pid: Option<u32>,
    /// True if the child outlived SIGTERM by `kill_grace` and its group got SIGKILL.
    pub(crate) escalated_to_sigkill: bool,
}

/// Why the executor stopped the child itself.
#[derive(Debug, Clone, Copy)]
enum Stop {
    TimedOut,
    Cancelled,
}

/// How the supervision phase ended.
enum Phase {
    Exited(io::Result<ExitStatus>),
    Stop(Stop),
}

/// Runs `spec` to completion, forwarding its output to `output`, and reports how it ended.
///
/// Never panics and never hangs on grandchildren: it returns once the child has been reaped and
/// its pipes are closed or about 2 s have passed since it exited. `cancel` may fire at
/// any time; if it already fired, nothing is spawned. The caller is expected to journal the
/// start before calling; the pid comes back in the [`RunReport`].
pub(crate) async fn run(
    spec: &ActionSpec,
    output: Sender<OutputChunk>,
    cancel: CancellationToken,
    kill_grace: Duration,
) -> RunReport {
    let started = Instant::now();
    let report = |outcome, pid, escalated_to_sigkill| RunReport {
        outcome,
        duration: started.elapsed(),
        pid,
        escalated_to_sigkill,
    };

    if cancel.is_cancelled() {
        return report(Outcome::Cancelled, None, false);
    }
    let Some((program, args)) = spec.argv.split_first() else {
        let message = "empty argv: no program to run".to_owned();
        return report(Outcome::SpawnFailed(message), None, false);
    };

    let mut child = match spawn(spec, program, args) {
        Ok(child) => child,
        Err(err) => {
            let message = format!("cannot start {program:?}: {err}");
            return report(Outcome::SpawnFailed(message), None, false);
        }
    };
    let timeout = tokio::time::sleep(spec.timeout);

    // `id()` is `Some` until the child has been waited for, so it is `Some` here.
    let pid = child.id();
    // The child called setpgid(0, 0), so its pid is also its process-group id.
    let group = pid
        .and_then(|pid| i32::try_from(pid).ok())
        .map(Pid::from_raw);
    // Declared after `child`, so on an early drop it fires while the child is not yet reaped
    // (the group id cannot have been reused by then).
    let mut guard = GroupGuard(group);

    let mut pump = pin!(pump_both(child.stdout.take(), child.stderr.take(), output));
    let mut pump_done = false;
    let mut timeout = pin!(timeout);

    let phase = loop {
        tokio::select! {
            biased;
            status = child.wait() => break Phase::Exited(status),
            () = &mut pump, if !pump_done => pump_done = true,
            () = cancel.cancelled() => break Phase::Stop(Stop::Cancelled),
            () = &mut timeout => break Phase::Stop(Stop::TimedOut),
        }
    };

    let (status, stop, escalated) = match phase {
        Phase::Exited(status) => (status, None, false),
        Phase::Stop(stop) => {
            let (status, escalated) =
                terminate(&mut child, group, kill_grace, &mut pump, &mut pump_done).await;
            (status, Some(stop), escalated)
        }
    };
    if status.is_ok() {
        // Reaped: from here on the group id may be reused, so the guard must not fire.
        guard.disarm();
    }

    if !pump_done {
        // Grandchildren may keep the pipes open forever; give them a bounded time.
        let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, &mut pump).await;
    }

    // On a failed wait the guard stays armed and SIGKILLs the group when this returns.
    report(outcome_of(stop, status, program), pid, escalated)
}

/// How a run ended: a stop the executor made wins over the exit status it caused.
fn outcome_of(stop: Option<Stop>, status: std::io::Result<ExitStatus>, program: &str) -> Outcome {
    match (stop, status) {
        (Some(Stop::TimedOut), _) => Outcome::TimedOut,
        (Some(Stop::Cancelled), _) => Outcome::Cancelled,
        (None, Ok(status)) => classify(status),
        (None, Err(err)) => Outcome::SpawnFailed(format!("cannot wait for {program:?}: {err}")),
    }
}

/// Starts `program` in its own process group (its pid is the group id), with no stdin,
/// piped output, and killed if the handle is dropped.
fn spawn(spec: &ActionSpec, program: &str, args: &[String]) -> std::io::Result<Child> {
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &spec.working_dir {
        command.current_dir(dir);
    }
    command.spawn()
}

/// Ends the child's process group after a timeout or cancellation, keeping the output flowing
/// meanwhile. Returns the child's wait status and whether SIGKILL was needed.
async fn terminate<F: Future<Output = ()>>(
    child: &mut Child,
    group: Option<Pid>,
    kill_grace: Duration,
    pump: &mut Pin<&mut F>,
    pump_done: &mut bool,
) -> (io::Result<ExitStatus>, bool) {
    signal_tree(child, group, Signal::SIGTERM);
    let mut grace = pin!(tokio::time::sleep(kill_grace));
    let mut escalated = false;
    let status = loop {
        tokio::select! {
            biased;
            status = child.wait() => break status,
            () = pump.as_mut(), if !*pump_done => *pump_done = true,
            () = &mut grace, if !escalated => {
                signal_tree(child, group, Signal::SIGKILL);
                escalated = true;
            }
        }
    };
    // The child is gone, but grandchildren that ignored SIGTERM may remain in its group. The
    // child was reaped just now, so the group id is still held by any surviving member, and if
    // none survives its reuse within these microseconds would need a full pid wrap-around.
    signal_tree(child, group, Signal::SIGKILL);
    (status, escalated)
}

/// Sends `signal` to the child's whole process group, or, should the group id be unknown (it
/// never is in practice), SIGKILL to the child alone.
fn signal_tree(child: &mut Child, group: Option<Pid>, signal: Signal) {
    match group {
        // ESRCH: the group is already empty. EPERM (a member changed uid) cannot be helped.
        Some(group) => {
            let _ = killpg(group, signal);
        }
        None if signal == Signal::SIGKILL => {
            let _ = child.start_kill();
        }
        None => {}
    }
}

/// Maps a wait status to an [`Outcome`].
fn classify(status: ExitStatus) -> Outcome {
    match (status.code(), status.signal()) {
        (Some(code), _) => Outcome::Exited { code },
        (None, Some(signal)) => Outcome::Signaled { signal },
        // A status from waitpid without WUNTRACED is always an exit or a death by signal; keep
        // the raw value rather than inventing a meaning.
        (None, None) => Outcome::Exited {
            code: status.into_raw(),
        },
    }
}

/// SIGKILLs a process group when dropped, unless disarmed.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

/// Forwards both pipes concurrently until both reach end of file.
async fn pump_both(
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    output: Sender<OutputChunk>,
) {
    tokio::join!(
        pump(stdout, OutputStream::Stdout, output.clone()),
        pump(stderr, OutputStream::Stderr, output),
    );
}

/// Forwards one pipe chunk by chunk until end of file. If the receiver is gone, keeps reading
/// and discarding so the child never blocks on a full pipe.
async fn pump<R: AsyncRead + Unpin>(
    reader: Option<R>,
    stream: OutputStream,
    output: Sender<OutputChunk>,
) {
    let Some(mut reader) = reader else {
        return;
    };
    let mut buf = vec![0_u8; READ_BUF_LEN];
    let mut forward = true;
    loop {
        match reader.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) if forward => {
                let chunk = OutputChunk {
                    stream,
                    data: buf[..n].to_vec(),
                };
                forward = output.send(chunk).await.is_ok();
            }
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            // A broken pipe read cannot recover; treat it as end of file.
            Err(_) => return,
        }
    }
}
