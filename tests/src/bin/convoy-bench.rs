//! `convoy-bench`: the benchmarks behind BENCHMARKS.md. Each subcommand sets up a fresh
//! fleet in a temp dir (CA, certificates, configs), runs the real release binaries found
//! next to this executable, measures them through /proc, and repeats `--runs` times.
//!
//! - `link-memory`: coordinator memory per connected agent, with a swarm of simulated
//!   agents heartbeating every second.
//! - `floor-memory`: the same against a bare tonic server (the hidden `floor-server`
//!   mode of this binary), the floor to compare with.
//! - `agent-idle`: CPU and memory of one real idle agent with a given heartbeat.
//! - `fanout`: one no-op job to every agent of a swarm at once: time to the job's end,
//!   per-host latency and coordinator CPU.
//! - `rollout`: a rollout (canary, then 10 % waves) across N simulated agents over mTLS.
//! - `rollout-engine`: the coordinator's cost per host of a rollout over N fake hosts
//!   answering at once, in process and without the network.
//! - `connect-storm`: time until N agents are all registered, for several N.
//! - `ingest` / `echo-floor`: heartbeats at rising rates, their latency and CPU cost,
//!   against the coordinator and a bare echo server.
//! - `reconnect`: kill -9 the coordinator with N agents connected, restart it, time until
//!   every agent is back.
//! - `dead-agent`: time from an agent vanishing until it is shown offline.
//! - `handshake-flood`: an operator call and an agent reconnect while N TCP connections
//!   that never start TLS are held open, against none.
//! - `monitor`: the metrics history's CPU and store cost, `/metrics` scrape time and a
//!   fleet-wide `convoy metrics --selector` query, at N agents.
//! - `history-growth`: the metrics history's bytes on disk per host and tier, from N hosts
//!   at 1 Hz fed through the real writer with an injected clock; growth per day and bound.
//! - `selector-query`: the fleet-wide history query in process, beside a bare store scan.
//! - `ui`: `convoy ui`'s fleet page for N agents, timed in headless chromium.
//! - `enroll`: N hosts enrolling at once with one token against `convoy serve`.
//! - `revocation`: from an admin's `Revoke` until the revoked agent's live session ends.
//!
//! The scale benches start from a [`stage::Stage`]: `convoy serve` in its own process and
//! the swarm in this one.
//! - `deploy`: one real agent fetches, verifies and unpacks a large artifact: transfer
//!   rate against a bare `FetchArtifact` floor, phase times and agent memory.
//! - `backup`: one real agent backs up, restores and drills a set of mixed files through the
//!   CLI: throughput, agent CPU and memory, against tar/zstd/sha256sum floors.
//!
//! - `snapshot`: `convoy snapshot save`/`restore` of a store of N agents and M jobs and an
//!   artifact: time, memory growth while saving, file size, against a read of the data dir.
//!
//! The benches live in `tests/src/bench/`. Everything listens on 127.0.0.1 and every
//! child process is killed if the bench ends early (an error, a panic, Ctrl-C or
//! SIGTERM).

#[path = "../bench/backup.rs"]
mod backup;
#[path = "../bench/backup_data.rs"]
mod backup_data;
#[path = "../bench/capacity.rs"]
mod capacity;
#[path = "../bench/deploy.rs"]
mod deploy;
#[path = "../bench/enroll.rs"]
mod enroll;
#[path = "../bench/fanout.rs"]
mod fanout;
#[path = "../bench/fleet.rs"]
mod fleet;
#[path = "../bench/flood.rs"]
mod flood;
#[path = "../bench/floor.rs"]
mod floor;
#[path = "../bench/history_growth.rs"]
mod history_growth;
#[path = "../bench/idle.rs"]
mod idle;
#[path = "../bench/ingest.rs"]
mod ingest;
#[path = "../bench/journal.rs"]
mod journal;
#[path = "../bench/memory.rs"]
mod memory;
#[path = "../bench/monitor.rs"]
mod monitor;
#[path = "../bench/procfs.rs"]
mod procfs;
#[path = "../bench/recovery.rs"]
mod recovery;
#[path = "../bench/revocation.rs"]
mod revocation;
#[path = "../bench/rollout.rs"]
mod rollout;
#[path = "../bench/rollout_engine.rs"]
mod rollout_engine;
#[path = "../bench/snapshot.rs"]
mod snapshot;
#[path = "../bench/stage.rs"]
mod stage;
#[path = "../bench/storm.rs"]
mod storm;
#[path = "../bench/ui.rs"]
mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use convoy_tests::swarm;

use fleet::Target;
use memory::MemoryArgs;

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
    /// CPU and resident memory of one idle `convoy-agent`.
    AgentIdle {
        /// Measurement window, after a 5 s warm-up.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// The agent's heartbeat (`metrics_interval`).
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        heartbeat: Duration,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// N hosts enrolling at once with one token: wall time, latency, coordinator CPU.
    Enroll(enroll::EnrollArgs),
    /// From an admin's Revoke call until the revoked agent's live session ends.
    Revocation(revocation::RevocationArgs),
    /// A no-op job to every simulated agent at once: time until every result is stored.
    Fanout(fanout::FanoutArgs),
    /// One real agent deploys a large artifact: transfer rate, phase times, agent memory.
    Deploy(deploy::DeployArgs),
    /// One real agent backs up, restores and drills 1 GiB of mixed files: MB/s, CPU, memory.
    Backup(backup::BackupArgs),
    /// A rollout across N simulated agents: total time and coordinator CPU per host.
    Rollout(rollout::RolloutArgs),
    /// The coordinator's own cost per host of a rollout (fake instant agents, no network).
    RolloutEngine(rollout_engine::RolloutEngineArgs),
    /// Time until N simulated agents are all registered, from a fresh coordinator.
    ConnectStorm(storm::StormArgs),
    /// Heartbeats at rising rates: latency to the registry and coordinator CPU.
    Ingest(ingest::IngestArgs),
    /// The same heartbeat load against a bare bidirectional-stream echo server.
    EchoFloor(ingest::IngestArgs),
    /// Monitoring at scale: CPU with and without the metrics history, store growth,
    /// /metrics scrape time, `convoy metrics --selector` over every host.
    Monitor(monitor::MonitorArgs),
    /// `convoy ui`'s fleet page for N agents in headless chromium: first render, filter,
    /// sort; `convoy ui`'s resident memory.
    Ui(ui::UiArgs),
    /// The metrics history's store size: bytes per host per tier, growth per day, bound.
    HistoryGrowth(history_growth::GrowthArgs),
    /// The fleet-wide history query in process, beside a bare store scan (the floor).
    SelectorQuery(history_growth::SelectorArgs),
    /// `convoy report capacity --since 14d` in process over N hosts' prefilled history.
    CapacityReport(capacity::CapacityArgs),
    /// kill -9 the coordinator with N agents connected, restart it: time until all are back.
    Reconnect(recovery::ReconnectArgs),
    /// Time from an agent vanishing (silently, or closing its connection) to offline.
    DeadAgent(recovery::DeadArgs),
    /// An operator call and an agent reconnect while N idle TCP connections are held open.
    HandshakeFlood(flood::FloodArgs),
    /// The agent journal's write latency per operation, against a plain fsync.
    Journal(journal::JournalArgs),
    /// `convoy snapshot save` and `restore` of a store of N agents and M jobs: time,
    /// memory growth, file size, against reading the data dir once.
    Snapshot(snapshot::SnapshotArgs),
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
        /// Answer each heartbeat with an Ack carrying its timestamp.
        #[arg(long)]
        echo: bool,
    },
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
        echo,
    } = cli.command
    {
        return floor::floor_server(listen, &ca, &cert, &key, echo).await;
    }
    let files = swarm::raise_open_file_limit().context("cannot raise the open-file limit")?;
    println!(
        "open-file limit: {files}; clock ticks per second: {}",
        *procfs::CLK_TCK
    );
    // Dropping the bench future on Ctrl-C or SIGTERM (e.g. from `timeout`) kills the
    // children it started.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install a SIGTERM handler")?;
    tokio::select! {
        result = bench(cli.command) => result,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
        _ = term.recv() => bail!("terminated"),
    }
}

async fn bench(command: Bench) -> anyhow::Result<()> {
    match command {
        Bench::LinkMemory(args) => memory::memory_bench(Target::Coordinator, &args).await,
        Bench::FloorMemory(args) => memory::memory_bench(Target::Floor, &args).await,
        Bench::AgentIdle {
            duration,
            heartbeat,
            runs,
        } => idle::agent_idle_bench(duration, heartbeat, runs).await,
        Bench::Enroll(args) => enroll::enroll_bench(&args).await,
        Bench::Revocation(args) => revocation::revocation_bench(&args).await,
        Bench::Fanout(args) => fanout::fanout_bench(&args).await,
        Bench::Deploy(args) => deploy::deploy_bench(&args).await,
        Bench::Backup(args) => backup::backup_bench(&args).await,
        Bench::Rollout(args) => rollout::rollout_bench(&args).await,
        Bench::RolloutEngine(args) => rollout_engine::rollout_engine_bench(&args).await,
        Bench::ConnectStorm(args) => storm::storm_bench(&args).await,
        Bench::Ingest(args) => ingest::ingest_bench(Target::Coordinator, &args).await,
        Bench::EchoFloor(args) => ingest::ingest_bench(Target::Floor, &args).await,
        Bench::Monitor(args) => monitor::monitor_bench(&args).await,
        Bench::Ui(args) => ui::ui_bench(&args).await,
        Bench::SelectorQuery(args) => {
            tokio::task::spawn_blocking(move || history_growth::selector_query(&args)).await?
        }
        Bench::CapacityReport(args) => {
            tokio::task::spawn_blocking(move || capacity::capacity_report(&args)).await?
        }
        Bench::HistoryGrowth(args) => {
            tokio::task::spawn_blocking(move || history_growth::history_growth(&args)).await?
        }
        Bench::Reconnect(args) => recovery::reconnect_bench(&args).await,
        Bench::DeadAgent(args) => recovery::dead_agent_bench(&args).await,
        Bench::HandshakeFlood(args) => flood::flood_bench(&args).await,
        Bench::Journal(args) => journal::journal_bench(&args),
        Bench::Snapshot(args) => snapshot::snapshot_bench(&args),
        Bench::FloorServer { .. } => unreachable!("handled in main"),
    }
}
