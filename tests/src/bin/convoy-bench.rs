//! `convoy-bench`: the benchmarks behind BENCHMARKS.md. Each subcommand sets up a fresh
//! fleet in a temp dir (CA, certificates, configs), runs the real release binaries found
//! next to this executable, measures them through /proc, and repeats `--runs` times.
//!
//! - `link-memory`: coordinator memory per connected agent, with a swarm of simulated
//!   agents heartbeating every second.
//! - `floor-memory`: the same against a bare tonic server (the hidden `floor-server`
//!   mode of this binary), the floor to compare with.
//! - `agent-idle`: CPU and memory of one real idle agent with a 1 s heartbeat.
//!
//! Everything listens on 127.0.0.1 and every child process is killed if the bench ends
//! early (an error, a panic or Ctrl-C).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use clap::{Parser, Subcommand};
use convoy_coordinator::pki::{self, Ca};
use convoy_proto::identity::{AgentId, Identity, Role};
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::agent_link_server::{AgentLink, AgentLinkServer};
use convoy_proto::v1::{
    AgentMessage, AgentState, AgentSummary, CoordinatorMessage, ListAgentsRequest, Welcome,
    WhoAmIRequest, agent_message, coordinator_message,
};
use convoy_tests::CertFiles;
use convoy_tests::swarm::{self, Swarm, SwarmConfig};
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::{Certificate, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

#[derive(Debug, Parser)]
#[command(name = "convoy-bench", about = "Convoy's benchmarks, on loopback")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Coordinator (`convoy serve`) resident memory per connected agent.
    LinkMemory(MemoryArgs),
    /// Resident memory per connection of a bare tonic mTLS server: the floor.
    FloorMemory(MemoryArgs),
    /// CPU and resident memory of one idle `convoy-agent` with a 1 s heartbeat.
    AgentIdle {
        /// Measurement window, after a 5 s warm-up.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        duration: Duration,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Internal: the bare tonic server that floor-memory measures.
    #[command(hide = true)]
    FloorServer {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        ca: PathBuf,
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct MemoryArgs {
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// How long heartbeats flow after every agent is online, before the second reading.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// Swarm connects in flight at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    convoy_proto::tls::install_crypto_provider();
    if let Bench::FloorServer {
        listen,
        ca,
        cert,
        key,
    } = cli.command
    {
        return floor_server(listen, &ca, &cert, &key).await;
    }
    let files = swarm::raise_open_file_limit().context("cannot raise the open-file limit")?;
    println!(
        "open-file limit: {files}; clock ticks per second: {}",
        *CLK_TCK
    );
    // Dropping the bench future on Ctrl-C kills the children it started.
    tokio::select! {
        result = bench(cli.command) => result,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}

async fn bench(command: Bench) -> anyhow::Result<()> {
    match command {
        Bench::LinkMemory(args) => memory_bench(Target::Coordinator, &args).await,
        Bench::FloorMemory(args) => memory_bench(Target::Floor, &args).await,
        Bench::AgentIdle { duration, runs } => agent_idle_bench(duration, runs).await,
        Bench::FloorServer { .. } => unreachable!("handled in main"),
    }
}

// ---------------------------------------------------------------- memory per agent

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Coordinator,
    Floor,
}

struct MemoryRun {
    rss_before_kib: u64,
    rss_after_kib: u64,
    peak_kib: u64,
    kib_per_agent: f64,
    cpu_percent: f64,
    all_connected_after: Option<Duration>,
    connect_p99: Option<Duration>,
}

async fn memory_bench(target: Target, args: &MemoryArgs) -> anyhow::Result<()> {
    let what = match target {
        Target::Coordinator => "convoy serve",
        Target::Floor => "bare tonic floor-server",
    };
    println!(
        "{what}: resident memory per agent with {} agents ({} connects in flight), {} s settle, {} runs",
        args.agents,
        args.connect_concurrency,
        args.settle.as_secs(),
        args.runs
    );
    let mut per_agent = Vec::new();
    let mut cpu = Vec::new();
    for run in 1..=args.runs {
        let result = memory_run(target, args)
            .await
            .with_context(|| format!("run {run}"))?;
        println!(
            "run {run}: rss before {:.1} MiB, after {:.1} MiB (peak {:.1} MiB) -> {:.1} KiB/agent; \
             cpu {:.1}% of one core; all connected after {}, connect p99 {}",
            mib(result.rss_before_kib),
            mib(result.rss_after_kib),
            mib(result.peak_kib),
            result.kib_per_agent,
            result.cpu_percent,
            secs(result.all_connected_after),
            secs(result.connect_p99),
        );
        per_agent.push(result.kib_per_agent);
        cpu.push(result.cpu_percent);
    }
    println!(
        "median: {:.1} KiB/agent, cpu {:.1}% of one core",
        median(&per_agent),
        median(&cpu)
    );
    Ok(())
}

async fn memory_run(target: Target, args: &MemoryArgs) -> anyhow::Result<MemoryRun> {
    let fleet = Fleet::new(&[])?;
    let mut server = match target {
        Target::Coordinator => fleet.spawn_coordinator()?,
        Target::Floor => fleet.spawn_floor()?,
    };
    fleet.wait_ready(&mut server, target).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before_kib = proc_status_kib(server.pid(), "VmRSS")?;

    let config = SwarmConfig {
        connect_concurrency: args.connect_concurrency,
        ..SwarmConfig::new(fleet.url(), fleet.ca_dir(), args.agents)
    };
    let mut swarm = Swarm::start(config).await?;
    let progress = swarm.settled(Duration::from_secs(60)).await;
    if progress.connected != args.agents {
        let report = swarm.stop().await;
        bail!(
            "only {} of {} agents connected:\n{report}\n{}",
            report.connected,
            args.agents,
            server.log_tail()
        );
    }
    if target == Target::Coordinator {
        fleet
            .wait_online(args.agents, Duration::from_secs(60))
            .await?;
    }

    let ticks_before = cpu_ticks(server.pid())?;
    let window = Instant::now();
    tokio::time::sleep(args.settle).await;
    let ticks_after = cpu_ticks(server.pid())?;
    let elapsed = window.elapsed();
    let rss_after_kib = proc_status_kib(server.pid(), "VmRSS")?;
    let peak_kib = proc_status_kib(server.pid(), "VmHWM")?;

    let report = swarm.stop().await;
    ensure!(
        report.dropped == 0,
        "{} sessions dropped during the run:\n{report}\n{}",
        report.dropped,
        server.log_tail()
    );
    server.terminate(Duration::from_secs(30)).await?;
    #[allow(clippy::cast_precision_loss)]
    Ok(MemoryRun {
        rss_before_kib,
        rss_after_kib,
        peak_kib,
        kib_per_agent: rss_after_kib.saturating_sub(rss_before_kib) as f64 / args.agents as f64,
        cpu_percent: cpu_percent(ticks_after - ticks_before, elapsed),
        all_connected_after: report.all_connected_after,
        connect_p99: report.connect_p99,
    })
}

// ---------------------------------------------------------------------- agent idle

struct IdleRun {
    cpu_percent: f64,
    rss_median_mib: f64,
    rss_max_mib: f64,
}

async fn agent_idle_bench(duration: Duration, runs: usize) -> anyhow::Result<()> {
    println!(
        "convoy-agent idle with metrics_interval = 1s: {} s window after a 5 s warm-up, {runs} runs",
        duration.as_secs()
    );
    let mut cpu = Vec::new();
    let mut rss_median = Vec::new();
    let mut rss_max = Vec::new();
    for run in 1..=runs {
        let result = agent_idle_run(duration)
            .await
            .with_context(|| format!("run {run}"))?;
        println!(
            "run {run}: cpu {:.3}% of one core, rss median {:.2} MiB, max {:.2} MiB",
            result.cpu_percent, result.rss_median_mib, result.rss_max_mib
        );
        cpu.push(result.cpu_percent);
        rss_median.push(result.rss_median_mib);
        rss_max.push(result.rss_max_mib);
    }
    println!(
        "median: cpu {:.3}% of one core, rss median {:.2} MiB, max {:.2} MiB",
        median(&cpu),
        median(&rss_median),
        median(&rss_max)
    );
    Ok(())
}

async fn agent_idle_run(duration: Duration) -> anyhow::Result<IdleRun> {
    const AGENT: &str = "idle-1";
    let fleet = Fleet::new(&[AGENT])?;
    let mut coordinator = fleet.spawn_coordinator()?;
    fleet
        .wait_ready(&mut coordinator, Target::Coordinator)
        .await?;
    let mut agent = fleet.spawn_agent(AGENT)?;
    let online = fleet.wait_online(1, Duration::from_secs(30));
    tokio::select! {
        result = online => result.with_context(|| agent.log_tail())?,
        () = agent.exited() => bail!("the agent exited early\n{}", agent.log_tail()),
    }
    tokio::time::sleep(Duration::from_secs(5)).await;

    let ticks_before = cpu_ticks(agent.pid())?;
    let window = Instant::now();
    let mut rss = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while window.elapsed() < duration {
        tick.tick().await;
        #[allow(clippy::cast_precision_loss)]
        rss.push(proc_status_kib(agent.pid(), "VmRSS")? as f64 / 1024.0);
    }
    let ticks_after = cpu_ticks(agent.pid())?;
    let elapsed = window.elapsed();

    agent.terminate(Duration::from_secs(10)).await?;
    coordinator.terminate(Duration::from_secs(30)).await?;
    Ok(IdleRun {
        cpu_percent: cpu_percent(ticks_after - ticks_before, elapsed),
        rss_median_mib: median(&rss),
        rss_max_mib: rss.iter().copied().fold(0.0, f64::max),
    })
}

// ---------------------------------------------------------------- fleet and processes

/// A fleet in a temp dir: CA, server and operator certificates, agent certificates and
/// configs, and the coordinator's config on a free loopback port.
struct Fleet {
    dir: TempDir,
    port: u16,
    operator: CertFiles,
}

impl Fleet {
    fn new(agents: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("cannot create a temp dir")?;
        let pki_dir = dir.path().join("pki");
        pki::init_ca(&pki_dir, 30, false)?;
        let ca = Ca::load(&pki_dir)?;
        let sans = ["127.0.0.1".to_string(), "localhost".to_string()];
        let server = Identity::Server("coordinator".into());
        pki::issue_to_dir(&ca, &server, "coordinator", &sans, 30, &pki_dir, false)?;
        let operator = Identity::Operator {
            name: "bench".into(),
            role: Role::Viewer,
        };
        let (cert, key) = pki::issue_to_dir(&ca, &operator, "bench", &[], 30, &pki_dir, false)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("cannot find a free port")?
            .port();
        let fleet = Self {
            dir,
            port,
            operator: CertFiles { cert, key },
        };
        fleet.write(
            "coordinator.toml",
            &format!(
                "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n\
                 [tls]\nca = \"pki/ca.pem\"\ncert = \"pki/coordinator.pem\"\nkey = \"pki/coordinator.key\"\n\
                 [agents]\nheartbeat_interval = \"1s\"\noffline_after = \"10s\"\n"
            ),
        )?;
        for id in agents {
            let identity = Identity::Agent(AgentId::new(*id)?);
            pki::issue_to_dir(&ca, &identity, id, &[], 30, &pki_dir, false)?;
            fleet.write(
                &format!("{id}.toml"),
                &format!(
                    "coordinator = \"{}\"\ndata_dir = \"{id}-data\"\nmetrics_interval = \"1s\"\n\
                     [tls]\nca = \"pki/ca.pem\"\ncert = \"pki/{id}.pem\"\nkey = \"pki/{id}.key\"\n\
                     [labels]\nrole = \"bench\"\n",
                    fleet.url()
                ),
            )?;
        }
        Ok(fleet)
    }

    fn write(&self, name: &str, text: &str) -> anyhow::Result<()> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn ca_dir(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    fn spawn_coordinator(&self) -> anyhow::Result<Proc> {
        Proc::spawn(
            "convoy",
            &sibling_binary("convoy")?,
            self.dir.path(),
            &["serve", "--config", "coordinator.toml"],
        )
    }

    fn spawn_agent(&self, id: &str) -> anyhow::Result<Proc> {
        let config = format!("{id}.toml");
        Proc::spawn(
            "convoy-agent",
            &sibling_binary("convoy-agent")?,
            self.dir.path(),
            &["run", "--config", &config],
        )
    }

    fn spawn_floor(&self) -> anyhow::Result<Proc> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let listen = format!("127.0.0.1:{}", self.port);
        Proc::spawn(
            "floor-server",
            &exe,
            self.dir.path(),
            &[
                "floor-server",
                "--listen",
                &listen,
                "--ca",
                "pki/ca.pem",
                "--cert",
                "pki/coordinator.pem",
                "--key",
                "pki/coordinator.key",
            ],
        )
    }

    async fn admin(&self) -> anyhow::Result<AdminClient<tonic::transport::Channel>> {
        let ca = self.ca_dir().join(pki::CA_CERT_FILE);
        let channel = convoy_tests::channel(&self.url(), &ca, Some(&self.operator)).await?;
        Ok(AdminClient::new(channel))
    }

    /// Waits until `server` completes an mTLS handshake (and, for the coordinator, answers
    /// an admin call). This also warms up its TLS before the baseline reading.
    async fn wait_ready(&self, server: &mut Proc, target: Target) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            server.ensure_running()?;
            let ready = match target {
                Target::Coordinator => match self.admin().await {
                    Ok(mut admin) => admin.who_am_i(WhoAmIRequest {}).await.is_ok(),
                    Err(_) => false,
                },
                Target::Floor => {
                    let ca = self.ca_dir().join(pki::CA_CERT_FILE);
                    convoy_tests::channel(&self.url(), &ca, Some(&self.operator))
                        .await
                        .is_ok()
                }
            };
            if ready {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "{} did not get ready within 30s\n{}",
                server.name,
                server.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the coordinator lists `count` online agents that sent metrics.
    async fn wait_online(&self, count: usize, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut admin = self.admin().await?;
        loop {
            let agents: Vec<AgentSummary> = admin
                .list_agents(ListAgentsRequest::default())
                .await
                .map(|response| response.into_inner().agents)
                .unwrap_or_default();
            let online = agents
                .iter()
                .filter(|a| a.state == i32::from(AgentState::Online) && a.metrics.is_some())
                .count();
            if online == count {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "the coordinator lists {online} of {count} agents online after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// A release binary next to this one (target/release/).
fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let path = exe
        .parent()
        .context("this executable has no directory")?
        .join(name);
    ensure!(
        path.exists(),
        "{} is missing: run `cargo build --release --workspace` first",
        path.display()
    );
    Ok(path)
}

/// A child process, killed when dropped unless it was terminated cleanly.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(
        name: &'static str,
        program: &Path,
        dir: &Path,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).context("cannot create a log file")?;
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        Ok(Self { name, child, log })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("last lines of {}'s log:\n{tail}", self.name)
    }

    fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited early: {status}\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    /// Resolves when the process has exited (polling).
    async fn exited(&mut self) {
        while matches!(self.child.try_wait(), Ok(None)) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then checks it exits 0 within `timeout`.
    async fn terminate(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let signalled = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("cannot run kill")?;
        ensure!(signalled.success(), "kill -TERM {} failed", self.pid());
        let exited = tokio::time::timeout(timeout, self.exited()).await;
        ensure!(
            exited.is_ok(),
            "{} did not exit within {timeout:?} of SIGTERM",
            self.name
        );
        let status = self.child.wait()?;
        ensure!(
            status.success(),
            "{} exited with {status} after SIGTERM\n{}",
            self.name,
            self.log_tail()
        );
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ------------------------------------------------------------------------- /proc

/// Clock ticks per second for /proc/<pid>/stat times, asked once of `getconf CLK_TCK`
/// (100 on every Linux we run on, which is also the fallback).
static CLK_TCK: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
});

/// A `Vm*` line of /proc/<pid>/status, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in {path}"))
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // The command name may hold spaces; fields after it are fixed. utime and stime are
    // fields 14 and 15, i.e. the 12th and 13th after the closing parenthesis.
    let after_name = &stat[stat.rfind(')').context("malformed stat")? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |at: usize| -> anyhow::Result<u64> {
        fields
            .get(at)
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("malformed {path}"))
    };
    Ok(field(11)? + field(12)?)
}

/// Share of one core, in percent.
#[allow(clippy::cast_precision_loss)]
fn cpu_percent(ticks: u64, elapsed: Duration) -> f64 {
    ticks as f64 / *CLK_TCK as f64 / elapsed.as_secs_f64() * 100.0
}

#[allow(clippy::cast_precision_loss)]
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn secs(duration: Option<Duration>) -> String {
    duration.map_or_else(|| "-".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

// -------------------------------------------------------------------- floor server

/// `AgentLink` with nothing behind it: answers the Hello with a Welcome, keeps the
/// response stream open and reads and drops heartbeats. No registry, no store.
struct FloorLink {
    stop: CancellationToken,
    tracker: TaskTracker,
}

#[tonic::async_trait]
impl AgentLink for FloorLink {
    type SessionStream = ReceiverStream<Result<CoordinatorMessage, Status>>;

    async fn session(
        &self,
        request: Request<Streaming<AgentMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let mut inbound = request.into_inner();
        let agent_id = match inbound.message().await?.and_then(|m| m.body) {
            Some(agent_message::Body::Hello(hello)) => hello.agent_id,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be a hello",
                ));
            }
        };
        let (tx, rx) = mpsc::channel(1);
        let welcome = CoordinatorMessage {
            body: Some(coordinator_message::Body::Welcome(Welcome {
                agent_id,
                heartbeat_interval_ms: 1000,
                offline_after_ms: 10_000,
                server_time_unix_ms: convoy_coordinator::registry::now_unix_ms(),
            })),
        };
        // The queue is empty, so this cannot fail for lack of room.
        let _ = tx.try_send(Ok(welcome));
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = async { while let Ok(Some(_)) = inbound.message().await {} } => {}
            }
            drop(tx);
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

async fn floor_server(
    listen: SocketAddr,
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> anyhow::Result<()> {
    let read = |path: &Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let tls = ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            read(cert)?,
            read(key)?,
        ))
        .client_ca_root(Certificate::from_pem(read(ca)?));
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let service = AgentLinkServer::new(FloorLink {
        stop: stop.clone(),
        tracker: tracker.clone(),
    })
    .max_decoding_message_size(convoy_proto::MAX_AGENT_MESSAGE_BYTES)
    .max_encoding_message_size(convoy_proto::MAX_AGENT_MESSAGE_BYTES);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install a SIGTERM handler")?;
    let signalled = stop.clone();
    let server = Server::builder()
        .tls_config(tls)
        .context("invalid TLS configuration")?
        .add_service(service)
        .serve_with_shutdown(listen, async move {
            term.recv().await;
            signalled.cancel();
        });
    let grace_expired = async {
        stop.cancelled().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    };
    tokio::select! {
        result = server => result.context("floor server failed")?,
        () = grace_expired => eprintln!("grace period expired; closing remaining connections"),
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn reads_this_process_from_proc() {
        let pid = std::process::id();
        assert!(proc_status_kib(pid, "VmRSS").unwrap() > 0);
        assert!(proc_status_kib(pid, "VmNothing").is_err());
        cpu_ticks(pid).unwrap();
    }
}
