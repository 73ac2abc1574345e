//! A swarm of simulated agents in one process, for load and memory benchmarks: each
//! agent has its own certificate (minted up front from the fleet CA, kept in memory) and
//! its own mTLS channel, and speaks the real protocol: Hello, Welcome, then a heartbeat
//! with a cheap synthetic [`MetricsSample`] every interval.
//!
//! It generates load and counts what happened; it never reconnects a dropped stream
//! (a drop is reported, not hidden) and never reads host metrics.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use convoy_coordinator::pki::{Ca, Validity};
use convoy_coordinator::registry::now_unix_ms;
use convoy_proto::MAX_AGENT_MESSAGE_BYTES;
use convoy_proto::identity::{AgentId, Identity};
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use convoy_proto::v1::{
    AgentMessage, Facts, Heartbeat, Hello, MetricsSample, agent_message, coordinator_message,
};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

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
        }
    }
}

/// Counts so far, updated as agents connect, fail or drop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub connected: usize,
    pub failed: usize,
    /// Streams that ended before the swarm was stopped.
    pub dropped: usize,
    /// From the start of connecting until the last agent had its Welcome.
    pub all_connected_after: Option<Duration>,
}

/// The summary after the swarm stopped.
#[derive(Debug, Clone, Default)]
pub struct SwarmReport {
    pub agents: usize,
    pub connected: usize,
    pub failed: usize,
    pub dropped: usize,
    pub all_connected_after: Option<Duration>,
    /// Per agent, from its first connect attempt to its Welcome (retries included).
    pub connect_p50: Option<Duration>,
    pub connect_p99: Option<Duration>,
    pub connect_max: Option<Duration>,
    pub heartbeats_sent: u64,
    /// The last error of one failed agent, as an example.
    pub example_error: Option<String>,
}

impl fmt::Display for SwarmReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Option<Duration>| {
            d.map_or_else(
                || "-".to_string(),
                |d| format!("{:.1} ms", d.as_secs_f64() * 1e3),
            )
        };
        writeln!(f, "agents:          {}", self.agents)?;
        writeln!(f, "connected:       {}", self.connected)?;
        writeln!(f, "failed:          {}", self.failed)?;
        writeln!(f, "dropped early:   {}", self.dropped)?;
        writeln!(f, "all connected:   {}", ms(self.all_connected_after))?;
        writeln!(
            f,
            "connect latency: p50 {}, p99 {}, max {}",
            ms(self.connect_p50),
            ms(self.connect_p99),
            ms(self.connect_max)
        )?;
        write!(f, "heartbeats sent: {}", self.heartbeats_sent)?;
        if let Some(err) = &self.example_error {
            write!(f, "\nexample error:   {err}")?;
        }
        Ok(())
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
}

struct AgentOutcome {
    connect_latency: Option<Duration>,
    heartbeats_sent: u64,
    error: Option<String>,
}

/// What one simulated agent needs.
struct SimAgent {
    index: usize,
    agent_id: AgentId,
    endpoint: Endpoint,
}

impl Swarm {
    /// Mints every agent's certificate, then starts connecting them.
    pub async fn start(config: SwarmConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(config.agents > 0, "a swarm needs at least one agent");
        anyhow::ensure!(
            config.connect_concurrency > 0 && config.connect_attempts > 0,
            "connect concurrency and attempts must be at least 1"
        );
        convoy_proto::tls::install_crypto_provider();
        let minting = config.clone();
        let agents = tokio::task::spawn_blocking(move || mint_agents(&minting))
            .await
            .context("certificate minting panicked")??;

        let stop = CancellationToken::new();
        let (progress_tx, progress) = watch::channel(Progress::default());
        let progress_tx = Arc::new(progress_tx);
        let connects = Arc::new(Semaphore::new(config.connect_concurrency));
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for agent in agents {
            let run = AgentRun {
                config: config.clone(),
                stop: stop.clone(),
                progress: progress_tx.clone(),
                connects: connects.clone(),
                started,
            };
            tasks.spawn(run.run(agent));
        }
        Ok(Self {
            agents: config.agents,
            stop,
            tasks,
            progress,
        })
    }

    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Waits until every agent has connected or given up, or `timeout` passes.
    pub async fn settled(&mut self, timeout: Duration) -> Progress {
        let agents = self.agents;
        let _ = tokio::time::timeout(
            timeout,
            self.progress.wait_for(|p| p.connected + p.failed >= agents),
        )
        .await;
        self.progress()
    }

    /// Closes every stream and waits for the agents to finish.
    pub async fn stop(mut self) -> SwarmReport {
        self.stop.cancel();
        let mut latencies = Vec::new();
        let mut heartbeats_sent = 0;
        let mut example_error = None;
        while let Some(outcome) = self.tasks.join_next().await {
            let Ok(outcome) = outcome else {
                example_error.get_or_insert_with(|| "a simulated agent panicked".to_string());
                continue;
            };
            latencies.extend(outcome.connect_latency);
            heartbeats_sent += outcome.heartbeats_sent;
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
            all_connected_after: progress.all_connected_after,
            connect_p50: percentile(&latencies, 50),
            connect_p99: percentile(&latencies, 99),
            connect_max: latencies.last().copied(),
            heartbeats_sent,
            example_error,
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], pct: usize) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn mint_agents(config: &SwarmConfig) -> anyhow::Result<Vec<SimAgent>> {
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
                .keep_alive_while_idle(true);
            Ok(SimAgent {
                index,
                agent_id,
                endpoint,
            })
        })
        .collect()
}

/// What every simulated agent's task shares.
struct AgentRun {
    config: SwarmConfig,
    stop: CancellationToken,
    progress: Arc<watch::Sender<Progress>>,
    connects: Arc<Semaphore>,
    started: Instant,
}

/// An open session: the request sender and the response stream.
struct Session {
    tx: mpsc::Sender<AgentMessage>,
    inbound: tonic::Streaming<convoy_proto::v1::CoordinatorMessage>,
}

impl AgentRun {
    async fn run(self, agent: SimAgent) -> AgentOutcome {
        let mut outcome = AgentOutcome {
            connect_latency: None,
            heartbeats_sent: 0,
            error: None,
        };
        let first_attempt = Instant::now();
        let mut session = None;
        for attempt in 0..self.config.connect_attempts {
            if attempt > 0 {
                // 200 ms doubling, capped at 5 s, spread by the agent's index so retries
                // do not come back in lockstep.
                let backoff = Duration::from_millis(200)
                    .saturating_mul(1 << attempt.min(5))
                    .min(Duration::from_secs(5))
                    + Duration::from_millis((agent.index as u64 * 7919) % 200);
                tokio::select! {
                    () = self.stop.cancelled() => return outcome,
                    () = tokio::time::sleep(backoff) => {}
                }
            }
            let Ok(_permit) = self.connects.acquire().await else {
                return outcome;
            };
            let attempt = tokio::select! {
                () = self.stop.cancelled() => return outcome,
                attempt = self.connect(&agent) => attempt,
            };
            match attempt {
                Ok(open) => {
                    session = Some(open);
                    break;
                }
                Err(err) => outcome.error = Some(format!("{}: {err:#}", agent.agent_id)),
            }
        }
        let Some(Session { tx, mut inbound }) = session else {
            self.progress.send_modify(|p| p.failed += 1);
            return outcome;
        };
        outcome.error = None;
        outcome.connect_latency = Some(first_attempt.elapsed());
        let agents = self.config.agents;
        let since_start = self.started.elapsed();
        self.progress.send_modify(|p| {
            p.connected += 1;
            if p.connected == agents {
                p.all_connected_after = Some(since_start);
            }
        });

        // Spread the heartbeats of the swarm evenly over one interval.
        let offset = self
            .config
            .heartbeat
            .mul_f64(agent.index as f64 / agents as f64);
        let mut ticker = tokio::time::interval_at(Instant::now() + offset, self.config.heartbeat);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let dropped = loop {
            tokio::select! {
                () = self.stop.cancelled() => break None,
                _ = ticker.tick() => {
                    let heartbeat = AgentMessage {
                        body: Some(agent_message::Body::Heartbeat(Heartbeat {
                            metrics: Some(synthetic_sample(agent.index, outcome.heartbeats_sent)),
                        })),
                    };
                    if tx.send(heartbeat).await.is_err() {
                        break Some("request stream closed".to_string());
                    }
                    outcome.heartbeats_sent += 1;
                }
                message = inbound.message() => match message {
                    Ok(Some(_)) => {}
                    Ok(None) => break Some("coordinator closed the stream".to_string()),
                    Err(status) => break Some(format!("stream failed: {status}")),
                },
            }
        };
        if let Some(why) = dropped {
            self.progress.send_modify(|p| p.dropped += 1);
            outcome.error = Some(format!("{}: {why}", agent.agent_id));
            return outcome;
        }
        // Closing our half ends the session; give the coordinator a moment to close its.
        drop(tx);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(Some(_)) = inbound.message().await {}
        })
        .await;
        outcome
    }

    /// One attempt: channel, Hello, Welcome.
    async fn connect(&self, agent: &SimAgent) -> anyhow::Result<Session> {
        let channel = agent.endpoint.connect().await.context("cannot connect")?;
        let mut client = AgentLinkClient::new(channel)
            .max_decoding_message_size(MAX_AGENT_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_AGENT_MESSAGE_BYTES);
        let (tx, rx) = mpsc::channel(4);
        let hello = AgentMessage {
            body: Some(agent_message::Body::Hello(Hello {
                agent_id: agent.agent_id.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                labels: self.config.labels.clone().into_iter().collect(),
                facts: Some(fake_facts(&agent.agent_id)),
                commands: Vec::new(),
                // Simulated agents allow one action, a no-op.
                actions: vec!["noop".to_string()],
            })),
        };
        tx.send(hello).await.context("request stream closed")?;
        let mut inbound = client
            .session(ReceiverStream::new(rx))
            .await
            .context("session refused")?
            .into_inner();
        let first = tokio::time::timeout(Duration::from_secs(10), inbound.message())
            .await
            .context("no welcome within 10s")?
            .context("stream failed before the welcome")?;
        let first = first.context("stream closed before the welcome")?;
        match first.body {
            Some(coordinator_message::Body::Welcome(_)) => Ok(Session { tx, inbound }),
            _ => anyhow::bail!("the first message was not a welcome"),
        }
    }
}

fn fake_facts(agent_id: &AgentId) -> Facts {
    Facts {
        hostname: agent_id.to_string(),
        os: "Simulated Linux".into(),
        os_version: "1".into(),
        kernel: "6.0.0-sim".into(),
        arch: "x86_64".into(),
        cpus: 4,
        mem_total_bytes: 8 << 30,
        boot_time_unix: 1_700_000_000,
    }
}

/// Plausible, varying numbers without reading the host.
fn synthetic_sample(index: usize, sequence: u64) -> MetricsSample {
    let wobble = ((index as u64 + sequence) % 50) as f64;
    MetricsSample {
        sampled_at_unix_ms: now_unix_ms(),
        cpu_percent: 5.0 + wobble,
        load1: 0.1 + wobble / 100.0,
        load5: 0.2,
        load15: 0.3,
        mem_used_bytes: (2 << 30) + sequence * 4096,
        mem_total_bytes: 8 << 30,
        swap_used_bytes: 0,
        swap_total_bytes: 0,
        disks: Vec::new(),
        net_rx_bytes_per_sec: 1000.0 + wobble,
        net_tx_bytes_per_sec: 500.0 + wobble,
        uptime_secs: 100_000 + sequence,
        process_count: 120,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 50), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&values, 99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&values[..1], 99), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&[], 50), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_swarm_comes_online_and_leaves_cleanly() {
        use convoy_proto::identity::Role;
        use convoy_proto::v1::{AgentState, ListAgentsRequest};

        let pki = crate::TestPki::new();
        let coordinator = crate::TestCoordinator::start(&pki).await;
        let mut config = SwarmConfig::new(coordinator.url(), pki.dir(), 20);
        config.heartbeat = Duration::from_millis(100);
        config.connect_concurrency = 4;
        let mut swarm = Swarm::start(config).await.unwrap();
        let progress = swarm.settled(Duration::from_secs(30)).await;
        assert_eq!((progress.connected, progress.failed), (20, 0));
        assert!(progress.all_connected_after.is_some());

        let operator = pki.operator("bench", Role::Viewer);
        let admin = coordinator.admin(&pki, &operator).await;
        let agents = crate::wait_for("20 agents with metrics", Duration::from_secs(10), || {
            let mut admin = admin.clone();
            async move {
                let agents = admin
                    .list_agents(ListAgentsRequest {
                        selector: "role=sim".into(),
                    })
                    .await
                    .ok()?
                    .into_inner()
                    .agents;
                let ready = agents
                    .iter()
                    .all(|a| a.state == i32::from(AgentState::Online) && a.metrics.is_some());
                (agents.len() == 20 && ready).then_some(agents)
            }
        })
        .await;
        assert_eq!(agents[0].id, "sim-00");
        assert_eq!(agents[19].id, "sim-19");

        let report = swarm.stop().await;
        assert_eq!((report.connected, report.dropped), (20, 0), "{report}");
        assert!(report.heartbeats_sent >= 20, "{report}");
        assert!(report.connect_p50 <= report.connect_p99);
        crate::wait_for("agents offline", Duration::from_secs(10), || {
            let mut admin = admin.clone();
            async move {
                let agents = admin
                    .list_agents(ListAgentsRequest::default())
                    .await
                    .ok()?
                    .into_inner()
                    .agents;
                agents
                    .iter()
                    .all(|a| a.state == i32::from(AgentState::Offline))
                    .then_some(())
            }
        })
        .await;
        drop(admin);
        coordinator.stop().await;
    }
}
