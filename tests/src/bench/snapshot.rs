//! `snapshot`: `convoy snapshot save`'s engine (`snapshot::save::save`) over a store of N
//! agents and M jobs with output, plus one artifact blob, written to a file: time, rate,
//! and how much the process's resident memory grows while it runs (sampled every 5 ms),
//! then `restore` of the file into a new dir. The raw floor is reading every byte of the
//! data dir once with sha256 (what any copy must at least do).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use convoy_coordinator::store::Store;
use convoy_proto::v1::{AgentRecord, CommandRecord, JobRecord};
use sha2::Digest as _;

use crate::procfs::{median, proc_status_kib};

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    #[arg(long, default_value_t = 20_000)]
    jobs: usize,
    /// One artifact blob of this many MiB.
    #[arg(long, default_value_t = 64)]
    artifact_mib: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

fn populate(dir: &Path, args: &SnapshotArgs) -> anyhow::Result<Store> {
    let store = Store::open(dir)?;
    for i in 0..args.agents {
        store.put_agent(&AgentRecord {
            id: format!("host-{i:05}"),
            version: "0.1.0".into(),
            labels: [("role".to_string(), "web".to_string())].into(),
            ..Default::default()
        })?;
    }
    for j in 0..args.jobs {
        let command = CommandRecord {
            id: format!("c-{j:06}"),
            job_id: format!("j-{j:06}"),
            agent_id: format!("host-{:05}", j % args.agents.max(1)),
            ..Default::default()
        };
        store.put_command(&command)?;
        store.put_job(&JobRecord {
            id: format!("j-{j:06}"),
            action: "uptime".into(),
            created_unix_ms: 1_700_000_000_000 + j as i64,
            command_ids: vec![command.id.clone()],
            ..Default::default()
        })?;
    }
    store.flush()?;
    let artifacts = dir.join("artifacts");
    std::fs::create_dir_all(&artifacts)?;
    // Incompressible, like a real compressed artifact (xorshift64).
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let blob: Vec<u8> = (0..args.artifact_mib * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let sha = hex::encode(sha2::Sha256::digest(&blob));
    std::fs::write(artifacts.join(sha), blob)?;
    Ok(store)
}

/// Every byte under `dir`, read once and hashed: the floor.
fn read_all(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            total += read_all(&path)?;
        } else {
            let mut hasher = sha2::Sha256::new();
            total += std::io::copy(&mut std::fs::File::open(&path)?, &mut hasher)?;
        }
    }
    Ok(total)
}

/// Runs `f` while sampling this process's VmRSS; returns its result and the peak growth.
fn peak_growth<T>(f: impl FnOnce() -> T) -> anyhow::Result<(T, u64)> {
    let pid = std::process::id();
    let base = proc_status_kib(pid, "VmRSS")?;
    let peak = Arc::new(AtomicU64::new(base));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = std::thread::spawn({
        let (peak, done) = (peak.clone(), done.clone());
        move || {
            while !done.load(Ordering::Relaxed) {
                if let Ok(rss) = proc_status_kib(pid, "VmRSS") {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    let result = f();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    Ok((result, peak.load(Ordering::Relaxed).saturating_sub(base)))
}

pub fn snapshot_bench(args: &SnapshotArgs) -> anyhow::Result<()> {
    let data = tempfile::tempdir().context("temp dir")?;
    let store = populate(data.path(), args)?;
    let on_disk = read_all(data.path())?;
    println!(
        "snapshot: {} agents, {} jobs, {} MiB artifact; data dir {:.1} MiB",
        args.agents,
        args.jobs,
        args.artifact_mib,
        on_disk as f64 / 1048576.0
    );
    let (mut save_s, mut growth_mib, mut size_mib, mut restore_s, mut floor_s) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 1..=args.runs.max(1) {
        let out = tempfile::tempdir()?;
        let file = out.path().join("coord.snap");
        let start = Instant::now();
        let (header, growth) = peak_growth(|| {
            convoy_coordinator::snapshot::save::save_to_file(
                &store,
                data.path(),
                false,
                1_700_000_000_000,
                &file,
            )
        })?;
        let header = header?;
        let took = start.elapsed().as_secs_f64();
        let size = std::fs::metadata(&file)?.len();
        let start = Instant::now();
        convoy_coordinator::snapshot::restore::restore(&file, &out.path().join("restored"))?;
        let restore = start.elapsed().as_secs_f64();
        let start = Instant::now();
        read_all(data.path())?;
        let floor = start.elapsed().as_secs_f64();
        println!(
            "run {run}: save {took:.2} s ({:.0} MiB/s of data dir), RSS +{:.1} MiB, file {:.1} MiB, {} records; restore {restore:.2} s; floor (read + sha256 of the data dir) {floor:.2} s",
            on_disk as f64 / 1048576.0 / took,
            growth as f64 / 1024.0,
            size as f64 / 1048576.0,
            header.trees.values().sum::<u64>(),
        );
        save_s.push(took);
        growth_mib.push(growth as f64 / 1024.0);
        size_mib.push(size as f64 / 1048576.0);
        restore_s.push(restore);
        floor_s.push(floor);
    }
    println!(
        "median: save {:.2} s, RSS growth {:.1} MiB, file {:.1} MiB, restore {:.2} s, floor {:.2} s",
        median(&save_s),
        median(&growth_mib),
        median(&size_mib),
        median(&restore_s),
        median(&floor_s)
    );
    Ok(())
}
