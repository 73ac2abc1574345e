//! `convoy-torture`: a real coordinator and real agents on loopback, a workload of jobs,
//! rollouts and backups running throughout, and a seeded schedule of faults (kill -9 of the coordinator and of
//! agents, mid-command too; latency, bandwidth limits, resets, half-open blackholes and
//! one-way partitions through a fault-injecting proxy; with `--disk`, full disks on tmpfs;
//! with `--skew`, agents whose clocks are off). After the run, a checker verifies
//! the invariants from the recorded history (see `torture/checker.rs`). Bounded in faults
//! and time; a failing run prints its seed, and `--seed` replays the same schedule.
//!
//! Exit status: 0 when every invariant held, 1 on a violation, 2 on a usage error.

#[path = "../torture/checker.rs"]
mod checker;
#[path = "../torture/deploys.rs"]
mod deploys;
#[path = "../torture/driver.rs"]
mod driver;
#[path = "../torture/fleet.rs"]
mod fleet;
#[path = "../torture/schedule.rs"]
mod schedule;
#[path = "../torture/workload.rs"]
mod workload;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MixArg {
    All,
    Kills,
    Network,
}

/// Kill, partition and slow down a real fleet, then check what it recorded.
#[derive(Debug, Parser)]
#[command(name = "convoy-torture")]
struct Args {
    /// Seed of the fault schedule (default: from the clock; always printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Faults to inject.
    #[arg(long, default_value_t = 50)]
    faults: usize,
    /// Real agents.
    #[arg(long, default_value_t = 3)]
    agents: usize,
    /// Which faults to draw from.
    #[arg(long, value_enum, default_value = "all")]
    mix: MixArg,
    /// No new fault starts after this long (the final checks come on top).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    max_duration: Duration,
    /// Pause between two workload jobs.
    #[arg(long, default_value = "300ms", value_parser = humantime::parse_duration)]
    every: Duration,
    /// Pause between two backup runs of the fleet (rollouts run back to back).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    backup_every: Duration,
    /// Only `convoy exec` jobs: no rollouts, no backups.
    #[arg(long)]
    jobs_only: bool,
    /// Keep the fleet's files (logs, stores, side logs) in this directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Run agent a1's wall clock this far ahead and a2's this far behind (libfaketime).
    #[arg(long, value_parser = humantime::parse_duration)]
    skew: Option<Duration>,
    /// Put the coordinator's and a0's data dirs on small tmpfs mounts and fill them up now
    /// and then (needs root).
    #[arg(long)]
    disk: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if args.agents == 0 || args.agents > 32 {
        eprintln!("--agents must be between 1 and 32");
        return std::process::ExitCode::from(2);
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let options = driver::Options {
        seed,
        faults: args.faults,
        agents: args.agents,
        mix: match args.mix {
            MixArg::All => schedule::Mix::All,
            MixArg::Kills => schedule::Mix::Kills,
            MixArg::Network => schedule::Mix::Network,
        },
        max_duration: args.max_duration,
        every: args.every,
        backup_every: args.backup_every,
        deploys: !args.jobs_only,
        dir: args.dir,
        skew: args.skew.map(|d| d.as_secs() as i64),
        disk: args.disk,
    };
    println!(
        "convoy-torture: seed {seed}, {} faults ({:?}), {} agents",
        options.faults, args.mix, options.agents
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("convoy-torture: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(driver::run(&options)) {
        Ok(outcome) => {
            print_outcome(&outcome);
            if outcome.violations.is_empty() {
                println!("convoy-torture: no violations (seed {seed})");
                std::process::ExitCode::SUCCESS
            } else {
                for violation in &outcome.violations {
                    println!("VIOLATION: {violation}");
                }
                println!(
                    "convoy-torture: {} violations; replay with --seed {seed}",
                    outcome.violations.len()
                );
                std::process::ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("convoy-torture: {err:#}\nconvoy-torture: replay with --seed {seed}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn print_outcome(outcome: &driver::Outcome) {
    println!("ran for {:.1?}", outcome.elapsed);
    println!("faults injected:");
    for (kind, count) in &outcome.injected {
        let times = outcome.recovery.get(kind).cloned().unwrap_or_default();
        let mut sorted = times.clone();
        sorted.sort();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        let max = sorted.last().copied().unwrap_or_default();
        println!("  {kind:<40} {count:>5}   recovery median {median:>8.2?}  max {max:>8.2?}");
    }
    println!(
        "jobs: {} requested, {} acknowledged ({} CLI calls failed and were retried with the same key)",
        outcome.jobs_requested, outcome.jobs_acked, outcome.failed_calls
    );
    println!("commands by final state: {:?}", outcome.commands);
    println!(
        "rollouts: {} acknowledged, by end state {:?}; backups: {} jobs, {} complete backups restored and verified",
        outcome.rollouts, outcome.rollout_states, outcome.backup_jobs, outcome.backups_verified
    );
    println!("runs in the side logs: {}", outcome.side_runs);
    for note in &outcome.notes {
        println!("note: {note}");
    }
}
