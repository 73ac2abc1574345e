//! A swarm of simulated agents in one process, for load and memory benchmarks: each
//! agent has its own certificate (minted up front from the fleet CA, kept in memory) and
//! its own mTLS channel, and speaks the real protocol: Hello, Welcome, then a heartbeat
//! with a cheap synthetic [`MetricsSample`](convoy_proto::v1::MetricsSample) every
//! interval, and the durable command pipeline: each `Command` is answered with
//! `CommandEvent`s (received, started, output, finished), kept until acked
//! ([`commands`]).
//!
//! Each agent allows the apps in [`SwarmConfig::apps`] and answers deploys and rollbacks
//! of them with fake ones ([`apps`]): afterwards it reports the new version, healthy, in
//! its heartbeats, so a deploy job or a rollout can run across the swarm. Connections are
//! spread over several 127.0.0.x source addresses (one address has about 28,000
//! ephemeral ports).
//!
//! It generates load and counts what happened; it never reads host metrics or runs
//! anything. A dropped stream is counted; it is reconnected only with
//! [`SwarmConfig::reconnect`] (for reconnect storms), as a real agent would.

mod agent;
pub mod apps;
pub mod commands;
mod report;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use convoy_coordinator::pki::{Ca, Validity};
use convoy_proto::identity::{AgentId, Identity};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use agent::{AgentOutcome, AgentRun, SimAgent};
pub use report::{SwarmReport, percentile};

/// The command id of the `Ack` with which a bare echo server (`convoy-bench floor-server
/// --echo`) answers each heartbeat; its `seq` is the heartbeat's `sampled_at_unix_ms`.
/// The coordinator never uses it (its command ids are `<job>/<agent>`).
pub const ECHO_COMMAND_ID: &str = "echo";

/// What to simulate and where.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    /// The coordinator's address, e.g. `https://127.0.0.1:7443`.
    pub coordinator: String,
    /// Directory holding the fleet CA's `ca.pem` and `ca.key`.
    pub ca_dir: PathBuf,
    pub agents: usize,
    pub heartbeat: Duration,
    /// Agent ids are this prefix and a zero-padded index.
    pub id_prefix: String,
    pub labels: BTreeMap<String, String>,
    /// Connects (TCP + TLS + Hello + Welcome) in flight at once.
    pub connect_concurrency: usize,
    /// Attempts per agent before it counts as failed.
    pub connect_attempts: u32,
    /// Time from a command's `Started` to its `Finished`; zero answers at once.
    pub command_delay: Duration,
    /// Share of agents (0.0 to 1.0, chosen evenly by index) whose commands fail with
    /// exit code 1.
    pub fail_share: f64,
    /// Apps every agent allows (fake deploys and rollbacks).
    pub apps: Vec<String>,
    /// Reconnect a dropped session (capped, jittered backoff, as the real agent).
    pub reconnect: bool,
    /// Spread connections over 127.0.0.1 ..= 127.0.0.N as source addresses; 0 lets the
    /// kernel choose (one address). Needs a loopback coordinator.
    pub source_addresses: u8,
    /// Percent used of a fake `/` disk every agent reports, as `f64` bits (0: no disk);
    /// shared, so a test can fill the disk while the swarm runs.
    pub disk_percent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Set load profiles: `(cpu %, mem %)` per agent index (an index past the end reports
    /// the synthetic numbers); shared, so a test can change the load while the swarm runs.
    pub load: std::sync::Arc<std::sync::Mutex<Vec<(f64, f64)>>>,
}

impl SwarmConfig {
    pub fn new(coordinator: impl Into<String>, ca_dir: impl Into<PathBuf>, agents: usize) -> Self {
        Self {
            coordinator: coordinator.into(),
            ca_dir: ca_dir.into(),
            agents,
            heartbeat: Duration::from_secs(1),
            id_prefix: "sim-".into(),
            labels: BTreeMap::from([("role".to_string(), "sim".to_string())]),
            connect_concurrency: 64,
            connect_attempts: 5,
            command_delay: Duration::ZERO,
            fail_share: 0.0,
            apps: vec!["sim".to_string()],
            reconnect: false,
            source_addresses: 8,
            disk_percent: std::sync::Arc::default(),
            load: std::sync::Arc::default(),
        }
    }
}

/// How an agent disappears ([`Swarm::vanish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vanish {
    /// A frozen host or a cut network: the connection stays open, nothing more is sent.
    /// The coordinator can only notice the missing heartbeats.
    Silent,
    /// A dead process: the connection is closed.
    Closed,
}

/// Counts so far, updated as agents connect, fail or drop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Agents that had a first Welcome.
    pub connected: usize,
    pub failed: usize,
    /// Streams that ended before the swarm was stopped.
    pub dropped: usize,
    /// Agents in a session now (Welcome received, stream not ended).
    pub online: usize,
    /// Sessions opened again after a drop.
    pub reconnects: usize,
    /// From the start of connecting until the last agent had its Welcome.
    pub all_connected_after: Option<Duration>,
}

/// Command traffic so far, over every agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommandCounts {
    /// `Command` messages received, duplicates included.
    pub commands: u64,
    /// Deliveries of a command id the agent had already seen (never run again).
    pub duplicates: u64,
    pub cancels: u64,
    /// `CommandEvent`s sent.
    pub events: u64,
    pub acks: u64,
}

/// One finished command, acked up to its `Finished`, and which agent ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTrace {
    pub agent: usize,
    pub trace: commands::Trace,
}

/// What the agents' tasks share with the swarm: counters and finished-command traces.
#[derive(Debug, Default)]
struct Shared {
    heartbeats: AtomicU64,
    commands: AtomicU64,
    duplicates: AtomicU64,
    cancels: AtomicU64,
    events: AtomicU64,
    acks: AtomicU64,
    traces: Mutex<Vec<CommandTrace>>,
    /// Round trips of heartbeats echoed by `convoy-bench floor-server --echo`, in ms.
    echoes: Mutex<Vec<u32>>,
}

impl Shared {
    fn record_echo(&self, round_trip_ms: u32) {
        self.echoes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(round_trip_ms);
    }

    fn record(&self, trace: CommandTrace) {
        self.traces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(trace);
    }

    fn counts(&self) -> CommandCounts {
        CommandCounts {
            commands: self.commands.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            cancels: self.cancels.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            acks: self.acks.load(Ordering::Relaxed),
        }
    }
}

/// Raises this process's open-file soft limit to the hard limit; returns the new limit.
/// Child processes inherit it.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// A running swarm.
pub struct Swarm {
    agents: usize,
    stop: CancellationToken,
    tasks: JoinSet<AgentOutcome>,
    progress: watch::Receiver<Progress>,
    shared: Arc<Shared>,
    fates: Vec<watch::Sender<Option<Vanish>>>,
    id_prefix: String,
}

impl Swarm {
    /// Mints every agent's certificate, then starts connecting them.
    pub async fn start(config: SwarmConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(config.agents > 0, "a swarm needs at least one agent");
        anyhow::ensure!(
            config.connect_concurrency > 0 && config.connect_attempts > 0,
            "connect concurrency and attempts must be at least 1"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&config.fail_share),
            "the failing share must be between 0.0 and 1.0, not {}",
            config.fail_share
        );
        for app in &config.apps {
            anyhow::ensure!(
                convoy_proto::labels::valid_action_name(app),
                "{app:?} is not a valid app name"
            );
        }
        convoy_proto::tls::install_crypto_provider();
        let minting = config.clone();
        let endpoints = tokio::task::spawn_blocking(move || mint_agents(&minting))
            .await
            .context("certificate minting panicked")??;

        let stop = CancellationToken::new();
        let (progress_tx, progress) = watch::channel(Progress::default());
        let progress_tx = Arc::new(progress_tx);
        let connects = Arc::new(Semaphore::new(config.connect_concurrency));
        let shared = Arc::new(Shared::default());
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        let mut fates = Vec::with_capacity(endpoints.len());
        for (index, (agent_id, endpoint)) in endpoints.into_iter().enumerate() {
            let (fate_tx, fate) = watch::channel(None);
            fates.push(fate_tx);
            let agent = SimAgent {
                index,
                agent_id,
                endpoint,
                fate,
            };
            let run = AgentRun {
                config: config.clone(),
                stop: stop.clone(),
                progress: progress_tx.clone(),
                connects: connects.clone(),
                shared: shared.clone(),
                started,
            };
            tasks.spawn(run.run(agent));
        }
        Ok(Self {
            agents: config.agents,
            stop,
            tasks,
            progress,
            shared,
            fates,
            id_prefix: config.id_prefix.clone(),
        })
    }

    /// Makes agent `index` vanish: it stops heartbeating and never comes back. Returns
    /// its id, or None for an index out of range.
    pub fn vanish(&self, index: usize, how: Vanish) -> Option<String> {
        let fate = self.fates.get(index)?;
        fate.send_replace(Some(how));
        let width = self.agents.saturating_sub(1).to_string().len();
        Some(format!("{}{index:0width$}", self.id_prefix))
    }

    /// Waits until `done` holds for the progress, or `timeout` passes; returns the
    /// progress either way.
    pub async fn wait(&mut self, timeout: Duration, done: impl Fn(&Progress) -> bool) -> Progress {
        let _ = tokio::time::timeout(timeout, self.progress.wait_for(|p| done(p))).await;
        self.progress()
    }

    /// Heartbeats sent so far, by every agent.
    pub fn heartbeats_sent(&self) -> u64 {
        self.shared.heartbeats.load(Ordering::Relaxed)
    }

    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Command traffic so far.
    pub fn command_counts(&self) -> CommandCounts {
        self.shared.counts()
    }

    /// Takes the traces of commands finished and acked since the last call.
    pub fn take_traces(&self) -> Vec<CommandTrace> {
        std::mem::take(
            &mut *self
                .shared
                .traces
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Takes the echo round trips (ms) measured since the last call.
    pub fn take_echoes(&self) -> Vec<u32> {
        std::mem::take(
            &mut *self
                .shared
                .echoes
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Waits until every agent has connected or given up, or `timeout` passes.
    pub async fn settled(&mut self, timeout: Duration) -> Progress {
        let agents = self.agents;
        self.wait(timeout, |p| p.connected + p.failed >= agents)
            .await
    }

    /// Closes every stream and waits for the agents to finish.
    pub async fn stop(mut self) -> SwarmReport {
        self.stop.cancel();
        let mut latencies = Vec::new();
        let mut heartbeats_sent = 0;
        let mut commands_open = 0;
        let mut example_error = None;
        while let Some(outcome) = self.tasks.join_next().await {
            let Ok(outcome) = outcome else {
                example_error.get_or_insert_with(|| "a simulated agent panicked".to_string());
                continue;
            };
            latencies.extend(outcome.connect_latency);
            heartbeats_sent += outcome.heartbeats_sent;
            commands_open += outcome.commands_open;
            if example_error.is_none() {
                example_error = outcome.error;
            }
        }
        latencies.sort_unstable();
        let progress = self.progress();
        SwarmReport {
            agents: self.agents,
            connected: progress.connected,
            failed: progress.failed,
            dropped: progress.dropped,
            reconnects: progress.reconnects,
            all_connected_after: progress.all_connected_after,
            connect_p50: percentile(&latencies, 50),
            connect_p99: percentile(&latencies, 99),
            connect_max: latencies.last().copied(),
            heartbeats_sent,
            commands: self.shared.counts(),
            commands_open,
            example_error,
        }
    }
}

/// The source address of agent `index`: 127.0.0.1 ..= 127.0.0.N in turn, or None.
fn source_address(index: usize, count: u8) -> Option<IpAddr> {
    let count = usize::from(count);
    (count > 0).then(|| {
        let last = u8::try_from(index % count + 1).unwrap_or(u8::MAX);
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    })
}

/// Each agent's id and endpoint (its own certificate, its source address).
fn mint_agents(config: &SwarmConfig) -> anyhow::Result<Vec<(AgentId, Endpoint)>> {
    if config.source_addresses > 0 {
        let host = config
            .coordinator
            .parse::<tonic::transport::Uri>()
            .ok()
            .and_then(|uri| uri.host().map(str::to_string))
            .unwrap_or_default();
        anyhow::ensure!(
            host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback()),
            "source addresses 127.0.0.x need a coordinator on a 127.x.x.x address, not {:?} \
             (use --source-addresses 0)",
            config.coordinator
        );
    }
    let ca = Ca::load(&config.ca_dir)
        .with_context(|| format!("cannot load the CA from {}", config.ca_dir.display()))?;
    let validity = Validity::days(1)?;
    let width = config.agents.saturating_sub(1).to_string().len();
    (0..config.agents)
        .map(|index| {
            let agent_id = AgentId::new(format!("{}{index:0width$}", config.id_prefix))
                .context("invalid --id-prefix")?;
            let issued = ca
                .issue(&Identity::Agent(agent_id.clone()), &[], validity)
                .with_context(|| format!("cannot issue a certificate for {agent_id}"))?;
            let tls = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca.cert_pem()))
                .identity(tonic::transport::Identity::from_pem(
                    issued.cert_pem,
                    issued.key_pem,
                ));
            let endpoint = Endpoint::from_shared(config.coordinator.clone())
                .with_context(|| format!("invalid coordinator address {:?}", config.coordinator))?
                .tls_config(tls)
                .context("cannot set up TLS")?
                .connect_timeout(Duration::from_secs(10))
                .http2_keep_alive_interval(Duration::from_secs(30))
                .keep_alive_timeout(Duration::from_secs(20))
                .keep_alive_while_idle(true)
                .local_address(source_address(index, config.source_addresses));
            Ok((agent_id, endpoint))
        })
        .collect()
}
