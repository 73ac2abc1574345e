//! `connect-storm`: time until N simulated agents are all registered, from a standing
//! start (a fresh coordinator per run), for several N.

use std::time::Duration;

use anyhow::Context as _;

use crate::procfs::{median, mib, secs};
use crate::stage::{ConnectArgs, Stage, StageOptions};

#[derive(Debug, clap::Args)]
pub struct StormArgs {
    /// Swarm sizes, as a list.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000")]
    agents: Vec<usize>,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub async fn storm_bench(args: &StormArgs) -> anyhow::Result<()> {
    println!(
        "connect storm: {:?} agents, {} runs each ({} connects in flight, {} source addresses)",
        args.agents, args.runs, args.connect.connect_concurrency, args.connect.source_addresses
    );
    let mut summary = Vec::new();
    for &agents in &args.agents {
        let mut connected = Vec::new();
        let mut listed = Vec::new();
        let mut p99 = Vec::new();
        let mut cpu = Vec::new();
        for run in 1..=args.runs {
            let stage = Stage::start(&StageOptions::new(agents, &args.connect))
                .await
                .with_context(|| format!("{agents} agents, run {run}"))?;
            let storm = stage.storm;
            let report = stage.stop().await?;
            println!(
                "{agents} agents, run {run}: all connected after {:.2} s, listed online after {:.2} s; \
                 connect latency p50 {} / p99 {} / max {}; coordinator cpu {:.2} s, rss {:.1} MiB; \
                 {} connect failures",
                storm.all_connected_after.as_secs_f64(),
                storm.listed_after.as_secs_f64(),
                secs(report.connect_p50),
                secs(report.connect_p99),
                secs(report.connect_max),
                storm.coordinator_cpu_s,
                mib(storm.coordinator_rss_kib),
                report.failed,
            );
            connected.push(storm.all_connected_after.as_secs_f64());
            listed.push(storm.listed_after.as_secs_f64());
            p99.push(report.connect_p99.unwrap_or_default().as_secs_f64());
            cpu.push(storm.coordinator_cpu_s);
            // Let the closed sockets leave TIME_WAIT's way and the machine settle.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        summary.push((
            agents,
            median(&connected),
            median(&listed),
            median(&p99),
            median(&cpu),
        ));
    }
    println!("| agents | all connected (median) | listed online | connect p99 | coordinator CPU |");
    for (agents, connected, listed, p99, cpu) in summary {
        println!("| {agents} | {connected:.2} s | {listed:.2} s | {p99:.2} s | {cpu:.2} s |");
    }
    Ok(())
}
