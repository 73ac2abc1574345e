//! `ingest` and `echo-floor`: heartbeats at rising rates (N agents, shorter and shorter
//! intervals), against the coordinator and against a bare echo server.
//!
//! How latency is observed. Each simulated heartbeat carries `sampled_at_unix_ms`, taken
//! as the swarm builds it, just before it is queued on the agent's stream. The coordinator
//! sets `last_seen_unix_ms` when its registry has applied a heartbeat, in the same call
//! that stores the metrics. Both clocks are this machine's, so for each agent listed by
//! `ListAgents`, `last_seen_unix_ms − metrics.sampled_at_unix_ms` is the delivery and
//! processing time of its latest heartbeat: the swarm's queue, h2 and TLS on both sides,
//! loopback, the coordinator's scheduling and its registry lock. The bench lists every
//! agent every 2 s during the window (one sample per agent per listing), which also costs
//! the coordinator some CPU. Against the echo floor the figure is a round trip instead:
//! the server answers each heartbeat with an `Ack` carrying its timestamp.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use convoy_proto::v1::ListAgentsRequest;
use convoy_tests::swarm::{Swarm, percentile};
use tokio::time::Instant;

use crate::fleet::{Fleet, Target};
use crate::procfs::{cpu_percent, cpu_ticks};
use crate::stage::{ConnectArgs, Stage, StageOptions};

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    /// Heartbeat intervals to try, one fresh coordinator and swarm each.
    #[arg(long, value_delimiter = ',', default_value = "2s,1s,500ms,250ms", value_parser = humantime::parse_duration)]
    intervals: Vec<Duration>,
    /// Measurement window per interval, after a 3 s warm-up.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    window: Duration,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// One rate's result.
struct Step {
    offered: f64,
    sent: f64,
    p50_ms: u32,
    p99_ms: u32,
    max_ms: u32,
    samples: usize,
    server_cpu: f64,
    bench_cpu: f64,
}

pub async fn ingest_bench(target: Target, args: &IngestArgs) -> anyhow::Result<()> {
    let what = match target {
        Target::Coordinator => "convoy serve (heartbeat -> registry, one way)",
        Target::Floor => "bare echo floor-server (heartbeat -> ack, round trip)",
    };
    println!(
        "heartbeat ingest: {what}; {} agents, intervals {:?}, {} s windows",
        args.agents,
        args.intervals,
        args.window.as_secs()
    );
    let mut steps = Vec::new();
    for &interval in &args.intervals {
        let step = match target {
            Target::Coordinator => coordinator_step(args, interval).await,
            Target::Floor => floor_step(args, interval).await,
        }
        .with_context(|| format!("interval {interval:?}"))?;
        println!(
            "interval {interval:?}: offered {:.0}/s, sent {:.0}/s; latency p50 {} / p99 {} / max {} ms \
             ({} samples); server cpu {:.1}% of one core, bench+swarm cpu {:.1}%",
            step.offered,
            step.sent,
            step.p50_ms,
            step.p99_ms,
            step.max_ms,
            step.samples,
            step.server_cpu,
            step.bench_cpu
        );
        steps.push((interval, step));
    }
    println!(
        "| interval | offered | sent | p50 | p99 | max | server CPU (one core) | swarm CPU | sustained |"
    );
    for (interval, s) in &steps {
        let sustained = s.sent >= 0.95 * s.offered && s.p99_ms < 100;
        println!(
            "| {interval:?} | {:.0}/s | {:.0}/s | {} ms | {} ms | {} ms | {:.1} % | {:.1} % | {} |",
            s.offered,
            s.sent,
            s.p50_ms,
            s.p99_ms,
            s.max_ms,
            s.server_cpu,
            s.bench_cpu,
            if sustained { "yes" } else { "no" }
        );
    }
    Ok(())
}

#[allow(clippy::cast_precision_loss)]
fn offered(agents: usize, interval: Duration) -> f64 {
    agents as f64 / interval.as_secs_f64()
}

/// CPU and heartbeat counters at the start of a window.
struct Window {
    at: Instant,
    server: u64,
    bench: u64,
    heartbeats: u64,
}

impl Window {
    fn open(server_pid: u32, swarm: &Swarm) -> anyhow::Result<Self> {
        Ok(Self {
            at: Instant::now(),
            server: cpu_ticks(server_pid)?,
            bench: cpu_ticks(std::process::id())?,
            heartbeats: swarm.heartbeats_sent(),
        })
    }

    #[allow(clippy::cast_precision_loss)]
    fn close(
        self,
        server_pid: u32,
        swarm: &Swarm,
        offered: f64,
        mut latencies: Vec<u32>,
    ) -> anyhow::Result<Step> {
        let elapsed = self.at.elapsed();
        let server = cpu_ticks(server_pid)? - self.server;
        let bench = cpu_ticks(std::process::id())? - self.bench;
        let sent = (swarm.heartbeats_sent() - self.heartbeats) as f64 / elapsed.as_secs_f64();
        latencies.sort_unstable();
        ensure!(!latencies.is_empty(), "no latency samples");
        Ok(Step {
            offered,
            sent,
            p50_ms: percentile(&latencies, 50).unwrap_or_default(),
            p99_ms: percentile(&latencies, 99).unwrap_or_default(),
            max_ms: latencies.last().copied().unwrap_or_default(),
            samples: latencies.len(),
            server_cpu: cpu_percent(server, elapsed),
            bench_cpu: cpu_percent(bench, elapsed),
        })
    }
}

async fn coordinator_step(args: &IngestArgs, interval: Duration) -> anyhow::Result<Step> {
    let mut options = StageOptions::new(args.agents, &args.connect);
    options.heartbeat = interval;
    options.offline_after = (interval * 10).max(Duration::from_secs(10));
    let stage = Stage::start(&options).await?;
    let mut admin = stage.fleet.admin().await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let window = Window::open(stage.coordinator.pid(), &stage.swarm)?;
    let since = convoy_coordinator::clock::now_unix_ms();
    let mut latencies = Vec::new();
    while window.at.elapsed() < args.window {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let agents = admin
            .list_agents(ListAgentsRequest::default())
            .await
            .context("ListAgents failed")?
            .into_inner()
            .agents;
        latencies.extend(agents.iter().filter_map(|agent| {
            let sampled = agent.metrics.as_ref()?.sampled_at_unix_ms;
            (sampled >= since)
                .then(|| u32::try_from(agent.last_seen_unix_ms - sampled).unwrap_or(u32::MAX))
        }));
    }
    let step = window.close(
        stage.coordinator.pid(),
        &stage.swarm,
        offered(args.agents, interval),
        latencies,
    )?;
    let report = stage.stop().await?;
    ensure!(report.dropped == 0, "sessions dropped:\n{report}");
    Ok(step)
}

async fn floor_step(args: &IngestArgs, interval: Duration) -> anyhow::Result<Step> {
    let fleet = Fleet::new(&[])?;
    let mut server = fleet.spawn_floor(true)?;
    fleet.wait_ready(&mut server, Target::Floor).await?;
    let options = StageOptions {
        heartbeat: interval,
        ..StageOptions::new(args.agents, &args.connect)
    };
    let mut swarm = Swarm::start(options.swarm_config(&fleet)).await?;
    let progress = swarm.settled(Duration::from_secs(300)).await;
    if progress.connected != args.agents {
        let report = swarm.stop().await;
        bail!(
            "only {} of {} agents connected:\n{report}",
            report.connected,
            args.agents
        );
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    swarm.take_echoes();
    let window = Window::open(server.pid(), &swarm)?;
    tokio::time::sleep(args.window).await;
    let echoes = swarm.take_echoes();
    let step = window.close(server.pid(), &swarm, offered(args.agents, interval), echoes)?;
    let report = swarm.stop().await;
    ensure!(report.dropped == 0, "sessions dropped:\n{report}");
    server.terminate(Duration::from_secs(30)).await?;
    Ok(step)
}
