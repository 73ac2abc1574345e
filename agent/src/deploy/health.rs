//! Health checks: runs a release's [`HealthSpec`] probe until it passes or gives up.
//! [`probe_once`] is the single probe, shared with the monitor (`deploy::monitor`).
//!
//! How [`wait_healthy`] works:
//! - The first probe starts at once, the next ones every `interval` (start to start; a probe
//!   that overran its interval is followed right away).
//! - It is Healthy as soon as one probe passes. It is Unhealthy after `retries` failed probes
//!   (so at most `retries` probes), when `deadline` has passed since the start, or when it is
//!   cancelled; `last_error` says why.
//! - Each probe is limited to min(interval × 5, time left before the deadline).
//! - TCP: a connection to `127.0.0.1:<port>` passes. HTTP: a hand-written HTTP/1.1 GET
//!   (`Connection: close`); a 2xx status line passes; at most 8 KiB are read.
//! - Command: argv run directly (no shell) in `working_dir`, with `env` added to the agent's
//!   environment and stdin/stdout/stderr on `/dev/null`; exit 0 passes. A relative program with
//!   a `/` (`./bin/check`) is taken from `working_dir`. The check leads its own process group;
//!   a check that overruns its limit, or is cancelled or dropped mid-run, has the whole group
//!   SIGKILLed (through the `kill` utility: std offers no safe `killpg`), and `kill_on_drop`
//!   backs that up for the check itself.

mod http;

use http::probe_http;
pub(crate) use http::{connect, parse_status_line};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use super::manifest::{HealthSpec, HttpTarget, Probe};

/// The most an HTTP probe reads while looking for the status line.
const MAX_RESPONSE_BYTES: usize = 8 * 1024;
/// How long a killed check may take to be reaped.
const REAP_GRACE: Duration = Duration::from_secs(2);
/// Stands in for a deadline too far away to represent.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Why one probe failed (or why a connection or an HTTP status line could not be had); the
/// text is what the deploy's message and the monitor's log say, unchanged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeError {
    #[error("no connection to {addr} within {limit:?}")]
    ConnectTimeout { addr: SocketAddr, limit: Duration },
    #[error("connection refused on {0}")]
    ConnectionRefused(SocketAddr),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no address to connect to")]
    NoAddress,
    #[error(transparent)]
    Url(#[from] super::manifest::UrlError),
    #[error("http status {status} from {url}")]
    HttpStatus { status: u16, url: String },
    #[error("no http response from {url} within {limit:?}")]
    HttpTimeout { url: String, limit: Duration },
    #[error("cannot send http request to {url}: {source}")]
    Send { url: String, source: std::io::Error },
    #[error("cannot read http response from {url}: {source}")]
    Read { url: String, source: std::io::Error },
    #[error("no http status line in the first 8 KiB from {url}")]
    NoStatusLine { url: String },
    #[error("connection closed before an http status line from {url}")]
    ClosedEarly { url: String },
    #[error("malformed http status line from {url}: {line:?}")]
    MalformedStatusLine { url: String, line: String },
    #[error("check has an empty argv")]
    EmptyArgv,
    #[error("cannot start check {program:?}: {source}")]
    Start {
        program: String,
        source: std::io::Error,
    },
    #[error("cannot wait for check: {0}")]
    Wait(std::io::Error),
    #[error("check exited with status {0}")]
    Exited(i32),
    #[error("check was killed by signal {0}")]
    Signalled(i32),
    #[error("check failed: {0}")]
    Failed(ExitStatus),
    #[error("check did not finish within {0:?} and was killed")]
    CheckTimeout(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HealthOutcome {
    Healthy { attempts: u32 },
    Unhealthy { attempts: u32, last_error: String },
}

// Read by the health tests; the deployer matches on the variants.
#[cfg(test)]
impl HealthOutcome {
    pub(crate) fn is_healthy(&self) -> bool {
        matches!(self, HealthOutcome::Healthy { .. })
    }

    /// Probes that finished (a probe cut short by a cancel does not count).
    pub(crate) fn attempts(&self) -> u32 {
        match self {
            HealthOutcome::Healthy { attempts } | HealthOutcome::Unhealthy { attempts, .. } => {
                *attempts
            }
        }
    }
}

impl fmt::Display for HealthOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HealthOutcome::Healthy { attempts } => write!(f, "healthy after {attempts} probe(s)"),
            HealthOutcome::Unhealthy {
                attempts,
                last_error,
            } => write!(f, "unhealthy after {attempts} probe(s): {last_error}"),
        }
    }
}

/// Probes every `interval` until one probe passes (Healthy), or `retries` consecutive probes
/// failed, or `deadline` passed since start, or `cancel` fired (Unhealthy; `last_error` says
/// why, e.g. "connection refused on 127.0.0.1:8080", "http status 503 from
/// http://127.0.0.1:8080/healthz", "check exited with status 1", "deadline of 60s passed; last
/// probe: ...", "cancelled").
///
/// Command probes run with `working_dir` and `env` (argv, no shell); each probe attempt is
/// limited to min(interval*5, remaining deadline) and its process group is killed if it overruns.
pub(crate) async fn wait_healthy(
    spec: &HealthSpec,
    working_dir: &Path,
    env: &BTreeMap<String, String>,
    cancel: CancellationToken,
) -> HealthOutcome {
    let started = Instant::now();
    let deadline = later(started, spec.deadline);
    let mut attempts = 0u32;
    let mut last_error: Option<String> = None;
    let give_up = |attempts: u32, why: String, last: &Option<String>| HealthOutcome::Unhealthy {
        attempts,
        last_error: match last {
            Some(last) => format!("{why}; last probe: {last}"),
            None => why,
        },
    };
    loop {
        let attempt_start = Instant::now();
        if attempt_start >= deadline {
            let why = format!("deadline of {:?} passed", spec.deadline);
            return give_up(attempts, why, &last_error);
        }
        let limit = probe_limit(spec).min(deadline - attempt_start);
        let result = tokio::select! {
            biased;
            () = cancel.cancelled() => return give_up(attempts, "cancelled".into(), &last_error),
            result = probe_once(&spec.probe, limit, working_dir, env) => result,
        };
        attempts += 1;
        match result {
            Ok(()) => return HealthOutcome::Healthy { attempts },
            Err(err) if attempts >= spec.retries => {
                return HealthOutcome::Unhealthy {
                    attempts,
                    last_error: err.to_string(),
                };
            }
            Err(err) => last_error = Some(err.to_string()),
        }
        let next = later(attempt_start, spec.interval).min(deadline);
        tokio::select! {
            biased;
            () = cancel.cancelled() => return give_up(attempts, "cancelled".into(), &last_error),
            () = sleep_until(next) => {}
        }
    }
}

/// A duration rounded to the nearest millisecond, for messages.
fn rounded(duration: Duration) -> Duration {
    let millis = (duration.as_micros() + 500) / 1000;
    Duration::from_millis(millis.try_into().unwrap_or(u64::MAX))
}

fn later(from: Instant, by: Duration) -> Instant {
    from.checked_add(by)
        .or_else(|| from.checked_add(FAR_FUTURE))
        .unwrap_or(from)
}

/// The most one probe of `spec` may take: five intervals.
pub(crate) fn probe_limit(spec: &HealthSpec) -> Duration {
    spec.interval.saturating_mul(5)
}

/// One probe, within `limit`; the error is the human-readable reason it failed. Both
/// [`wait_healthy`] and the running-release monitor probe through this one function.
pub(crate) async fn probe_once(
    probe: &Probe,
    limit: Duration,
    working_dir: &Path,
    env: &BTreeMap<String, String>,
) -> Result<(), ProbeError> {
    match probe {
        Probe::Tcp(port) => probe_tcp(*port, limit).await,
        Probe::Http(url) => probe_http(url, limit).await,
        Probe::Command(argv) => probe_command(argv, limit, working_dir, env).await,
    }
}

async fn probe_tcp(port: u16, limit: Duration) -> Result<(), ProbeError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match timeout(limit, connect(&[addr])).await {
        Ok(result) => result.map(drop),
        Err(_) => Err(ProbeError::ConnectTimeout {
            addr,
            limit: rounded(limit),
        }),
    }
}

async fn probe_command(
    argv: &[String],
    limit: Duration,
    working_dir: &Path,
    env: &BTreeMap<String, String>,
) -> Result<(), ProbeError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(ProbeError::EmptyArgv);
    };
    let mut command = tokio::process::Command::new(resolve_program(program, working_dir));
    command
        .args(args)
        .current_dir(working_dir)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| ProbeError::Start {
        program: program.clone(),
        source,
    })?;
    // Declared after `child`, so it is dropped first: the group is killed while the check,
    // still unreaped, keeps its pid (and so the group id) from being reused.
    let mut group = GroupKiller(child.id());
    let outcome = tokio::select! {
        status = child.wait() => Some(status),
        () = sleep(limit) => None,
    };
    match outcome {
        Some(status) => {
            group.disarm();
            let status = status.map_err(ProbeError::Wait)?;
            exit_result(status)
        }
        None => {
            group.kill();
            // The group's SIGKILL already ended it; this covers a missing `kill` utility.
            let _ = child.start_kill();
            let _ = timeout(REAP_GRACE, child.wait()).await;
            Err(ProbeError::CheckTimeout(rounded(limit)))
        }
    }
}

/// `./bin/check` is relative to `working_dir`; `check` is looked up in `PATH`.
fn resolve_program(program: &str, working_dir: &Path) -> PathBuf {
    let path = Path::new(program);
    if program.contains('/') && path.is_relative() {
        working_dir.join(path)
    } else {
        path.to_path_buf()
    }
}

fn exit_result(status: ExitStatus) -> Result<(), ProbeError> {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        Ok(())
    } else if let Some(code) = status.code() {
        Err(ProbeError::Exited(code))
    } else if let Some(signal) = status.signal() {
        Err(ProbeError::Signalled(signal))
    } else {
        Err(ProbeError::Failed(status))
    }
}

/// SIGKILLs a check's process group when dropped, unless disarmed once the check was reaped.
struct GroupKiller(Option<u32>);

impl GroupKiller {
    fn disarm(&mut self) {
        self.0 = None;
    }

    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // The whole group: the check and anything it started. A failure (already
            // gone) leaves nothing to do; `kill_on_drop` is the backup for the check itself.
            if let Ok(pgid) = i32::try_from(pgid) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pgid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests;
