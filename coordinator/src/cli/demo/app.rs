//! The demo's sample app: `convoy demo-app` (hidden), a real process with an HTTP health
//! check on a local port, and the release artifacts that run it.
//!
//! A release's `start` hook runs `convoy demo-app start`, which launches `convoy demo-app
//! serve` in the background (its own process group, output to a log file) and waits until it
//! has written its pid file; the `stop` hook runs `convoy demo-app stop`, which ends the
//! process named in the pid file. The port and the pid file come from the agent's
//! environment (`CONVOY_DEMO_PORT`, `CONVOY_DEMO_PIDFILE`), so each demo host runs its own
//! copy. The server also exits by itself once its pid file is gone or names another
//! process, so deleting the demo's directory never leaves it behind.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// How long `start` waits for the server to be listening, and `stop` for it to exit.
const START_WAIT: Duration = Duration::from_secs(5);
const STOP_WAIT: Duration = Duration::from_secs(5);
/// How often the server checks that its pid file still names it.
const PIDFILE_CHECK: Duration = Duration::from_millis(500);
/// The most of a request the server reads.
const MAX_REQUEST_BYTES: usize = 8 * 1024;

#[derive(Debug, Subcommand)]
pub enum DemoAppCommand {
    /// Start the sample app in the background (a release's start hook).
    Start {
        /// Local port to serve HTTP on.
        #[arg(long, env = "CONVOY_DEMO_PORT")]
        port: u16,
        /// Pid file of the running app (its log goes beside it).
        #[arg(long, env = "CONVOY_DEMO_PIDFILE")]
        pidfile: PathBuf,
        /// The version to report (set by the agent for hooks).
        #[arg(long = "app-version", env = "CONVOY_VERSION")]
        app_version: String,
        /// Answer /health with 500: a release that fails its health check.
        #[arg(long)]
        broken: bool,
    },
    /// Stop the app named in the pid file (a release's stop hook).
    Stop {
        /// Pid file of the running app.
        #[arg(long, env = "CONVOY_DEMO_PIDFILE")]
        pidfile: PathBuf,
    },
    /// Serve HTTP in the foreground: GET /health answers 200, or 500 when broken.
    Serve {
        /// Local port to serve HTTP on.
        #[arg(long)]
        port: u16,
        /// Pid file to write; the server exits when it no longer names it.
        #[arg(long)]
        pidfile: PathBuf,
        /// The version to report.
        #[arg(long = "app-version")]
        app_version: String,
        /// Answer /health with 500.
        #[arg(long)]
        broken: bool,
    },
}

pub async fn run(command: DemoAppCommand) -> anyhow::Result<()> {
    match command {
        DemoAppCommand::Start {
            port,
            pidfile,
            app_version,
            broken,
        } => start(port, &pidfile, &app_version, broken).await,
        DemoAppCommand::Stop { pidfile } => stop(&pidfile).await,
        DemoAppCommand::Serve {
            port,
            pidfile,
            app_version,
            broken,
        } => serve(port, &pidfile, &app_version, broken).await,
    }
}

fn read_pid(pidfile: &Path) -> Option<i32> {
    std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()
}

/// True if `pid` is a live (not zombie) demo-app server for `pidfile`: never signal a
/// process that merely reuses a recorded pid.
fn is_our_server(pid: i32, pidfile: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    cmdline.contains("demo-app")
        && cmdline.contains(&pidfile.display().to_string())
        && super::procs::alive(pid)
}

async fn start(port: u16, pidfile: &Path, version: &str, broken: bool) -> anyhow::Result<()> {
    stop(pidfile).await?;
    let log_path = pidfile.with_extension("log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let exe = std::env::current_exe().context("cannot find the convoy executable")?;
    let mut command = std::process::Command::new(exe);
    command
        .args(["demo-app", "serve", "--port", &port.to_string()])
        .arg("--pidfile")
        .arg(pidfile)
        .args(["--app-version", version])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().context("cannot share the log file")?)
        .stderr(log)
        // Its own group: the hook's group is ended with the hook, the app must outlive it.
        .process_group(0);
    if broken {
        command.arg("--broken");
    }
    let mut child = command.spawn().context("cannot start the demo app")?;
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    let deadline = tokio::time::Instant::now() + START_WAIT;
    loop {
        if read_pid(pidfile) == Some(pid) {
            println!("demo app {version} listening on 127.0.0.1:{port} (pid {pid})");
            return Ok(());
        }
        if let Some(status) = child.try_wait().context("cannot check the demo app")? {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(3).collect();
            bail!(
                "the demo app exited at once ({status}): {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            );
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the demo app did not start listening within {START_WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stop(pidfile: &Path) -> anyhow::Result<()> {
    let Some(pid) = read_pid(pidfile) else {
        return Ok(());
    };
    if is_our_server(pid, pidfile) {
        terminate(pid, STOP_WAIT).await;
        println!("demo app (pid {pid}) stopped");
    }
    match std::fs::remove_file(pidfile) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("cannot remove {}", pidfile.display())),
    }
}

/// SIGTERM, up to `grace` for the process to go, then SIGKILL.
pub(super) async fn terminate(pid: i32, grace: Duration) {
    let target = Pid::from_raw(pid);
    let _ = kill(target, Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    while super::procs::alive(pid) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if super::procs::alive(pid) {
        let _ = kill(target, Signal::SIGKILL);
    }
}

async fn serve(port: u16, pidfile: &Path, version: &str, broken: bool) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let me = std::process::id();
    write_pidfile(pidfile, me)?;
    eprintln!("demo app {version} serving on 127.0.0.1:{port} (pid {me}, broken: {broken})");
    let mut signals = convoy_proto::service::StopSignals::install()
        .context("cannot install a SIGTERM handler")?;
    let mut check = tokio::time::interval(PIDFILE_CHECK);
    loop {
        tokio::select! {
            signal = signals.next() => {
                eprintln!("{signal}: exiting");
                return Ok(());
            }
            _ = check.tick() => {
                if read_pid(pidfile) != i32::try_from(me).ok() {
                    eprintln!("pid file gone or taken over: exiting");
                    return Ok(());
                }
            }
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    // One short exchange at a time: a health endpoint needs no more.
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        answer(stream, version, broken),
                    )
                    .await;
                }
            }
        }
    }
}

fn write_pidfile(pidfile: &Path, pid: u32) -> anyhow::Result<()> {
    let temp = pidfile.with_extension("pid.new");
    let mut file =
        std::fs::File::create(&temp).with_context(|| format!("cannot write {}", temp.display()))?;
    writeln!(file, "{pid}")?;
    std::fs::rename(&temp, pidfile).with_context(|| format!("cannot write {}", pidfile.display()))
}

async fn answer(mut stream: TcpStream, version: &str, broken: bool) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_REQUEST_BYTES {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        request.extend_from_slice(&buffer[..read]);
    }
    let request = String::from_utf8_lossy(&request);
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/health" if broken => ("500 Internal Server Error", format!("broken {version}\n")),
        "/health" => ("200 OK", format!("ok {version}\n")),
        "/" => ("200 OK", format!("convoy demo app, version {version}\n")),
        _ => ("404 Not Found", "not found\n".to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Writes `web-VERSION.tar.gz` into `dir`: a `convoy.toml` whose hooks run this executable's
/// `demo-app start` (with `--broken` for a bad release) and `demo-app stop`, and a page.
/// The health check is per host (its port), so it lives in each agent's `[apps.web.health]`.
pub fn build_release(dir: &Path, version: &str, broken: bool) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the convoy executable")?;
    let exe = exe.display().to_string();
    let mut start = vec![exe.clone(), "demo-app".into(), "start".into()];
    if broken {
        start.push("--broken".into());
    }
    let stop = vec![exe, "demo-app".into(), "stop".into()];
    let mut hooks = toml::Table::new();
    hooks.insert("start".into(), start.into());
    hooks.insert("stop".into(), stop.into());
    let mut manifest = toml::Table::new();
    manifest.insert("hooks".into(), hooks.into());
    let manifest = toml::to_string(&manifest).context("cannot write convoy.toml")?;
    let page = format!("convoy demo app {version}\n");

    let path = dir.join(format!("web-{version}.tar.gz"));
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::fast(),
    ));
    for (name, contents) in [("convoy.toml", manifest), ("index.txt", page)] {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder
            .append_data(&mut header, name, contents.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
