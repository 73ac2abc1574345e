//! `journal`: the agent journal's write latency, the way the agent uses it per command:
//! admit (durable), mark started (durable), output chunks (committed without an fsync),
//! the flush before the session sends them (durable), finish (durable) and the ack (not
//! fsynced). Each operation is timed on its own; the raw floor is one 4 KiB write + fsync
//! of a plain file in the same directory (what a durable commit cannot beat).

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use convoy_agent::journal::Journal;
use convoy_proto::v1::{CommandState, Finished, OutputChunk, OutputStream, command_event};

use crate::procfs::median;

#[derive(Debug, clap::Args)]
pub struct JournalArgs {
    /// Commands per run.
    #[arg(long, default_value_t = 1000)]
    commands: usize,
    /// Output chunks per command (each followed by the flush before it is sent).
    #[arg(long, default_value_t = 2)]
    chunks: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where the journal lives (default: a temp dir under /tmp).
    #[arg(long)]
    dir: Option<PathBuf>,
}

const OPS: [&str; 7] = [
    "admit",
    "start",
    "output",
    "flush",
    "finish",
    "ack",
    "fsync floor",
];

/// Latencies in microseconds, per operation.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    // Nearest rank; the vectors are never empty (bounded loops of >= 1 command).
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn one_run(args: &JournalArgs) -> anyhow::Result<Vec<Vec<f64>>> {
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(&parent).context("temp dir")?;
    let journal = Journal::open(dir.path())?;
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); OPS.len()];
    let mut timed = |op: usize, f: &mut dyn FnMut() -> anyhow::Result<()>| {
        let start = Instant::now();
        let result = f();
        times[op].push(start.elapsed().as_secs_f64() * 1e6);
        result
    };
    for n in 0..args.commands.max(1) {
        let id = format!("bench/{n}");
        timed(0, &mut || {
            journal
                .admit(&id, "bench", "noop", 1 << 20)
                .map(drop)
                .map_err(Into::into)
        })?;
        timed(1, &mut || {
            journal.mark_started(&id).map(drop).map_err(Into::into)
        })?;
        for chunk in 0..args.chunks {
            let body = command_event::Body::Output(OutputChunk {
                stream: OutputStream::Stdout.into(),
                data: format!("line {chunk} of {id}\n").into_bytes(),
                offset: 0,
            });
            timed(2, &mut || {
                journal
                    .append(&id, body.clone())
                    .map(drop)
                    .map_err(Into::into)
            })?;
            timed(3, &mut || journal.flush().map_err(Into::into))?;
        }
        let finished = Finished {
            state: CommandState::Succeeded.into(),
            exit_code: Some(0),
            ..Default::default()
        };
        timed(4, &mut || {
            journal
                .finish(&id, finished.clone())
                .map(drop)
                .map_err(Into::into)
        })?;
        let last = 3 + args.chunks as u64;
        timed(5, &mut || journal.ack(&id, last).map_err(Into::into))?;
    }
    let floor = dir.path().join("floor");
    let mut file = std::fs::File::create(&floor)?;
    let block = [7u8; 4096];
    for _ in 0..args.commands.clamp(1, 1000) {
        timed(6, &mut || {
            file.write_all(&block)?;
            file.sync_data()?;
            Ok(())
        })?;
    }
    for op in &mut times {
        op.sort_by(f64::total_cmp);
    }
    Ok(times)
}

pub fn journal_bench(args: &JournalArgs) -> anyhow::Result<()> {
    println!(
        "journal: {} commands per run, {} output chunks each, {} runs",
        args.commands, args.chunks, args.runs
    );
    let mut p50s: Vec<Vec<f64>> = vec![Vec::new(); OPS.len()];
    let mut p99s: Vec<Vec<f64>> = vec![Vec::new(); OPS.len()];
    let mut per_command = Vec::new();
    for run in 1..=args.runs.max(1) {
        let times = one_run(args)?;
        let total: f64 = times[..6].iter().flatten().sum();
        per_command.push(total / args.commands.max(1) as f64);
        print!("run {run}:");
        for (op, values) in times.iter().enumerate() {
            p50s[op].push(percentile(values, 50.0));
            p99s[op].push(percentile(values, 99.0));
            print!(" {} p50 {:.0} µs;", OPS[op], percentile(values, 50.0));
        }
        println!(
            " per command {:.0} µs",
            per_command.last().copied().unwrap_or_default()
        );
    }
    println!("median of {} runs (µs):", args.runs.max(1));
    println!("{:<12} {:>10} {:>10}", "operation", "p50", "p99");
    for (op, name) in OPS.iter().enumerate() {
        println!(
            "{:<12} {:>10.0} {:>10.0}",
            name,
            median(&p50s[op]),
            median(&p99s[op])
        );
    }
    println!(
        "per command (all journal work): {:.0} µs",
        median(&per_command)
    );
    Ok(())
}
