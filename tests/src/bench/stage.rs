//! The set-up every fleet-scale bench starts from: `convoy serve` (the release binary) in
//! its own process, and a swarm of simulated agents in this one, all connected and listed
//! online. A new bench (e.g. a rollout across N hosts: `apps` and `fail_share` are there
//! for it) starts a [`Stage`], drives the coordinator through [`Fleet::admin`], and ends
//! with [`Stage::stop`].
//!
//! File limits: `convoy-bench` raises its own open-file soft limit to the hard limit at
//! start (`ulimit -Hn`, 20,000 here), and the coordinator inherits it. 10,000 agents need
//! about 10,050 descriptors in each process.

use std::time::Duration;

use anyhow::{Context as _, bail};
use convoy_tests::swarm::{Progress, Swarm, SwarmConfig, SwarmReport};
use tokio::time::Instant;

use crate::fleet::{Fleet, Proc, Target};
use crate::procfs::{CLK_TCK, cpu_ticks, proc_status_kib};

/// How the swarm connects, shared by the scale benches' flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Swarm connects (TCP + TLS + Hello + Welcome) in flight at once.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// Source addresses 127.0.0.1 ..= 127.0.0.N for the swarm's connections; 0 = one,
    /// chosen by the kernel.
    #[arg(long, default_value_t = 8)]
    pub source_addresses: u8,
    /// How long every agent may take to be listed online with metrics (a busy machine
    /// needs longer).
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub online_timeout: Duration,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct StageOptions {
    pub agents: usize,
    /// The coordinator's `heartbeat_interval`, and the swarm's.
    pub heartbeat: Duration,
    pub offline_after: Duration,
    pub connect: ConnectArgs,
    pub reconnect: bool,
    pub apps: Vec<String>,
    pub command_delay: Duration,
    pub fail_share: f64,
    /// Appended to coordinator.toml before it starts (`[metrics]`, `[history]`, ...).
    pub extra_config: String,
    /// Written into the store before the coordinator starts: (hosts, span) of 1-minute
    /// history rows for the swarm's ids (`convoy-bench monitor`).
    pub prefill_history: Option<(usize, Duration)>,
}

impl StageOptions {
    pub fn new(agents: usize, connect: &ConnectArgs) -> Self {
        Self {
            agents,
            heartbeat: Duration::from_secs(1),
            offline_after: Duration::from_secs(10),
            connect: connect.clone(),
            reconnect: false,
            apps: vec!["sim".to_string()],
            command_delay: Duration::ZERO,
            fail_share: 0.0,
            extra_config: String::new(),
            prefill_history: None,
        }
    }

    pub fn swarm_config(&self, fleet: &Fleet) -> SwarmConfig {
        SwarmConfig {
            heartbeat: self.heartbeat,
            connect_concurrency: self.connect.connect_concurrency,
            source_addresses: self.connect.source_addresses,
            reconnect: self.reconnect,
            apps: self.apps.clone(),
            command_delay: self.command_delay,
            fail_share: self.fail_share,
            ..SwarmConfig::new(fleet.url(), fleet.ca_dir(), self.agents)
        }
    }
}

/// The connect storm that brought the stage up.
#[derive(Debug, Clone, Copy)]
pub struct Storm {
    /// From the first connect until the last agent had its Welcome (its registration is
    /// on the coordinator's disk), by the swarm's clock.
    pub all_connected_after: Duration,
    /// From the first connect until ListAgents listed every agent online with metrics
    /// (polled every 500 ms, so up to 0.5 s late).
    pub listed_after: Duration,
    /// Coordinator CPU time (user + system) from the first connect until all connected.
    pub coordinator_cpu_s: f64,
    /// Coordinator resident memory once all were listed.
    pub coordinator_rss_kib: u64,
}

pub struct Stage {
    pub fleet: Fleet,
    pub coordinator: Proc,
    pub swarm: Swarm,
    pub storm: Storm,
}

impl Stage {
    /// Starts the coordinator, then the swarm, and waits until every agent is connected
    /// and listed online.
    pub async fn start(options: &StageOptions) -> anyhow::Result<Self> {
        let fleet = Fleet::new(&[])?;
        fleet.set_agent_timing(options.heartbeat, options.offline_after)?;
        if !options.extra_config.is_empty() {
            fleet.append_config(&options.extra_config)?;
        }
        if let Some((hosts, span)) = options.prefill_history {
            crate::monitor::prefill(&fleet.dir().join("data"), hosts, span)?;
        }
        let mut coordinator = fleet.spawn_coordinator()?;
        fleet
            .wait_ready(&mut coordinator, Target::Coordinator)
            .await?;
        let ticks_before = cpu_ticks(coordinator.pid())?;
        // Minting happens inside start; connecting begins as it returns.
        let mut swarm = Swarm::start(options.swarm_config(&fleet)).await?;
        let connecting = Instant::now();
        let progress: Progress = swarm.settled(Duration::from_secs(300)).await;
        let ticks_after = cpu_ticks(coordinator.pid())?;
        if progress.connected != options.agents {
            let report = swarm.stop().await;
            bail!(
                "only {} of {} agents connected:\n{report}\n{}",
                report.connected,
                options.agents,
                coordinator.log_tail()
            );
        }
        fleet
            .wait_online(options.agents, options.connect.online_timeout)
            .await
            .with_context(|| coordinator.log_tail())?;
        let listed_after = connecting.elapsed();
        #[allow(clippy::cast_precision_loss)]
        let storm = Storm {
            all_connected_after: progress.all_connected_after.unwrap_or_default(),
            listed_after,
            coordinator_cpu_s: (ticks_after - ticks_before) as f64 / *CLK_TCK as f64,
            coordinator_rss_kib: proc_status_kib(coordinator.pid(), "VmRSS")?,
        };
        Ok(Self {
            fleet,
            coordinator,
            swarm,
            storm,
        })
    }

    /// Stops the swarm, then the coordinator (SIGTERM, must exit 0).
    pub async fn stop(mut self) -> anyhow::Result<SwarmReport> {
        let report = self.swarm.stop().await;
        self.coordinator.terminate(Duration::from_secs(60)).await?;
        Ok(report)
    }
}
