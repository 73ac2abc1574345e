//! `link-memory` and `floor-memory`: resident memory per connected agent of the
//! coordinator, and of a bare tonic mTLS server (the floor), with a swarm heartbeating.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use convoy_tests::swarm::{Swarm, SwarmConfig};
use tokio::time::Instant;

use crate::fleet::{Fleet, Target};
use crate::procfs::{cpu_percent, cpu_ticks, median, mib, proc_status_kib, secs};
use crate::stage::ConnectArgs;

#[derive(Debug, clap::Args)]
pub struct MemoryArgs {
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// How long heartbeats flow after every agent is online, before the second reading.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    settle: Duration,
    #[command(flatten)]
    connect: ConnectArgs,
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

pub async fn memory_bench(target: Target, args: &MemoryArgs) -> anyhow::Result<()> {
    let what = match target {
        Target::Coordinator => "convoy serve",
        Target::Floor => "bare tonic floor-server",
    };
    println!(
        "{what}: resident memory per agent with {} agents ({} connects in flight), {} s settle, {} runs",
        args.agents,
        args.connect.connect_concurrency,
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
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    #[allow(clippy::cast_precision_loss)]
    let machine = median(&cpu) / cores as f64;
    println!(
        "median: {:.1} KiB/agent, cpu {:.1}% of one core ({machine:.1}% of the machine's {cores} cores)",
        median(&per_agent),
        median(&cpu)
    );
    Ok(())
}

async fn memory_run(target: Target, args: &MemoryArgs) -> anyhow::Result<MemoryRun> {
    let fleet = Fleet::new(&[])?;
    let mut server = match target {
        Target::Coordinator => fleet.spawn_coordinator()?,
        Target::Floor => fleet.spawn_floor(false)?,
    };
    fleet.wait_ready(&mut server, target).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before_kib = proc_status_kib(server.pid(), "VmRSS")?;

    let config = SwarmConfig {
        connect_concurrency: args.connect.connect_concurrency,
        source_addresses: args.connect.source_addresses,
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
