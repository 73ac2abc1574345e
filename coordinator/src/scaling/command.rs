//! Runs a scaling policy's `command` on the coordinator host: in its own process group,
//! with the `CONVOY_SCALE_*` variables, stdin closed, a timeout (then SIGKILL to the
//! group), and its output captured within a fixed bound (the first and last
//! [`HALF_OUTPUT`] bytes of each stream).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio_util::sync::CancellationToken;

/// Output kept per stream: this many bytes from its start and from its end.
pub const HALF_OUTPUT: usize = 1024;

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    /// "exit 0", "exit 3", "killed by signal 9", "timed out after 5m", "cannot start: ...".
    pub result: String,
    /// stdout then stderr, each cut to its first and last [`HALF_OUTPUT`] bytes.
    pub output: String,
}

/// The first and last bytes of a stream, and how many were left out between.
#[derive(Debug, Default)]
struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    dropped: u64,
}

impl Capture {
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.head.len() < HALF_OUTPUT {
                self.head.push(b);
                continue;
            }
            if self.tail.len() == HALF_OUTPUT {
                self.tail.pop_front();
                self.dropped += 1;
            }
            self.tail.push_back(b);
        }
    }

    fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!("\n[... {} bytes left out ...]\n", self.dropped));
        }
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        text.push_str(&String::from_utf8_lossy(&tail));
        text
    }
}

async fn capture(mut stream: impl AsyncRead + Unpin) -> Capture {
    let mut capture = Capture::default();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        capture.push(&buf[..n]);
    }
    capture
}

fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    // The child leads its own group (process_group(0)), so its pid is the group id.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Runs `argv` with `env` added to the coordinator's environment, until it exits, the
/// timeout passes or `shutdown` fires (then its whole process group is killed).
pub async fn run(
    argv: &[String],
    env: &[(&str, String)],
    timeout: Duration,
    shutdown: &CancellationToken,
) -> Outcome {
    let Some((program, args)) = argv.split_first() else {
        return Outcome {
            ok: false,
            result: "cannot start: empty command".into(),
            output: String::new(),
        };
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            return Outcome {
                ok: false,
                result: format!("cannot start {program:?}: {err}"),
                output: String::new(),
            };
        }
    };
    let pid = child.id();
    let stdout = child.stdout.take().map(|s| tokio::spawn(capture(s)));
    let stderr = child.stderr.take().map(|s| tokio::spawn(capture(s)));
    let (ok, result) = tokio::select! {
        status = child.wait() => match status {
            Ok(status) => match status.code() {
                Some(code) => (code == 0, format!("exit {code}")),
                None => (false, format!("killed by a signal ({status})")),
            },
            Err(err) => (false, format!("cannot wait for the command: {err}")),
        },
        () = tokio::time::sleep(timeout) => {
            kill_group(pid);
            (false, format!("timed out after {}", humantime::format_duration(timeout)))
        }
        () = shutdown.cancelled() => {
            kill_group(pid);
            (false, "interrupted: the coordinator stopped".into())
        }
    };
    // Killed or not, the group is gone or finished: end any child it left holding the
    // pipes, then collect what they wrote.
    kill_group(pid);
    let _ = child.wait().await;
    let mut output = String::new();
    for (name, task) in [("stdout", stdout), ("stderr", stderr)] {
        let Some(task) = task else { continue };
        let text = task.await.map(|c| c.text()).unwrap_or_default();
        if !text.is_empty() {
            output.push_str(&format!("[{name}]\n{text}"));
            if !output.ends_with('\n') {
                output.push('\n');
            }
        }
    }
    Outcome { ok, result, output }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(line: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), line.into()]
    }

    #[tokio::test]
    async fn exit_codes_env_and_output_are_reported() {
        let token = CancellationToken::new();
        let env = [("CONVOY_SCALE_DESIRED", "7".to_string())];
        let done = run(
            &sh("echo to $CONVOY_SCALE_DESIRED; echo oops >&2; exit 3"),
            &env,
            Duration::from_secs(10),
            &token,
        )
        .await;
        assert_eq!((done.ok, done.result.as_str()), (false, "exit 3"));
        assert_eq!(done.output, "[stdout]\nto 7\n[stderr]\noops\n");
        let fine = run(&sh("true"), &[], Duration::from_secs(10), &token).await;
        assert_eq!((fine.ok, fine.result.as_str()), (true, "exit 0"));
        let missing = run(
            &["/nonexistent/scale".to_string()],
            &[],
            Duration::from_secs(10),
            &token,
        )
        .await;
        assert!(
            !missing.ok && missing.result.starts_with("cannot start"),
            "{missing:?}"
        );
    }

    #[tokio::test]
    async fn a_slow_command_is_killed_with_its_children_at_the_timeout() {
        let started = std::time::Instant::now();
        let done = run(
            &sh("sleep 30 & sleep 30"),
            &[],
            Duration::from_millis(300),
            &CancellationToken::new(),
        )
        .await;
        assert_eq!(done.result, "timed out after 300ms");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the background child too"
        );
    }

    #[tokio::test]
    async fn output_is_cut_to_its_head_and_tail() {
        let done = run(
            &sh("head -c 10000 /dev/zero | tr '\\0' a; printf END"),
            &[],
            Duration::from_secs(10),
            &CancellationToken::new(),
        )
        .await;
        assert!(done.ok, "{done:?}");
        assert!(done.output.contains("bytes left out"), "{}", done.output);
        assert!(done.output.trim_end().ends_with("END"));
        assert!(
            done.output.len() < 2 * HALF_OUTPUT + 100,
            "{}",
            done.output.len()
        );
    }
}
