//! `convoy-bench history-growth`: what the metrics history costs on disk. N hosts at 1 Hz
//! (or `--heartbeat`)
//! are fed through the real writer ([`History::tick`], an injected clock running as fast
//! as it can) into a real store for a span of simulated time; the sled directory is
//! measured every simulated minute and the per-tier record bytes at the end. From those it
//! states the bytes per host of each tier and extrapolates, with the retention tiers, the
//! store's growth per day and its bound at steady state.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use convoy_coordinator::history::{
    BASE_SERIES, History, HistoryConfig, MINUTE_MS, QUARTER_MS, Sample,
};
use convoy_coordinator::store::Store;

#[derive(Debug, Clone, clap::Args)]
pub struct GrowthArgs {
    /// Simulated hosts (the bound is per host; the fleet figure is scaled from it).
    #[arg(long, default_value_t = 2_000)]
    pub hosts: usize,
    /// Simulated time at 1 Hz; more than `keep_raw` (1 h) so pruning runs in steady state.
    #[arg(long, default_value = "90m", value_parser = humantime::parse_duration)]
    pub span: Duration,
    /// Each host's heartbeat (one sample per heartbeat).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub heartbeat: Duration,
    /// Disks per host (the history keeps up to 4).
    #[arg(long, default_value_t = 2)]
    pub disks: usize,
    /// Fleet size the per-host figures are scaled to.
    #[arg(long, default_value_t = 10_000)]
    pub fleet: usize,
}

/// Bytes the files under `dir` occupy on disk (allocated blocks, as `du` counts them: sled
/// punches holes where it frees segments, so the files' lengths overstate it).
pub fn dir_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// A plausible, varying sample: values that do not compress to nothing.
fn sample(host: usize, at_ms: i64, disks: &[String]) -> Sample {
    let t = (at_ms / 1000) as usize;
    let wave = |k: usize| ((host * 7_919 + t * (k + 1) * 104_729) % 10_000) as f32 / 100.0;
    let mut base = [0.0f32; BASE_SERIES.len()];
    for (k, v) in base.iter_mut().enumerate() {
        *v = wave(k);
    }
    Sample {
        at_ms,
        base,
        disks: disks
            .iter()
            .enumerate()
            .map(|(k, m)| (m.clone(), wave(10 + k)))
            .collect(),
    }
}

const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = MIB * 1024.0;

pub fn history_growth(args: &GrowthArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let store = Store::open(&data).context("cannot open the store")?;
    let config = HistoryConfig::default();
    let (mut history, recorder) = History::new(store.clone(), config)?;
    let names: Vec<String> = (0..args.hosts).map(|i| format!("host-{i:05}")).collect();
    let disks: Vec<String> = ["/", "/var", "/data", "/srv"]
        .iter()
        .take(args.disks.min(4))
        .map(|m| m.to_string())
        .collect();
    // Start on a 15-minute boundary in the past, so every tier's windows are whole.
    let now = convoy_coordinator::registry::now_unix_ms();
    let span_ms = i64::try_from(args.span.as_millis())?;
    let t0 = (now - span_ms).div_euclid(QUARTER_MS) * QUARTER_MS;
    let seconds = span_ms / 1000;
    let every = usize::try_from(args.heartbeat.as_secs().max(1))?;
    let started = Instant::now();
    let empty = dir_bytes(&data);
    let mut sizes: Vec<(i64, u64)> = Vec::new();
    for second in 0..seconds {
        let at = t0 + second * 1000;
        for (host, name) in names.iter().enumerate() {
            if (host + second as usize) % every != 0 {
                continue;
            }
            // Heartbeats spread over the second, as a fleet's are.
            let jitter = (host * 997 % 1000) as i64;
            anyhow::ensure!(
                recorder.record_sample(name, sample(host, at + jitter, &disks)),
                "the history queue is full: fewer hosts per second, please"
            );
        }
        history.tick(at + 1000, &|_| true)?;
        if (at + 1000) % MINUTE_MS == 0 {
            store.flush()?;
            sizes.push(((second + 1) / 60, dir_bytes(&data)));
        }
    }
    history.finish()?;
    store.flush()?;
    let elapsed = started.elapsed();
    let end = dir_bytes(&data);
    let [raw, minute, quarter, fleet_rows] = store.history_bytes()?;
    let records = (raw + minute + quarter + fleet_rows) as f64;
    let overhead = (end - empty) as f64 / records;
    let hosts = args.hosts as f64;
    let minutes = (seconds / 60) as f64;
    let raw_minutes = minutes.min(config.keep_raw.as_secs_f64() / 60.0);
    let quarters = (minutes / 15.0).floor().max(1.0);
    // Record bytes per host: one minute of raw samples, one 1-minute row, one 15-minute row.
    let raw_per_min = raw as f64 / hosts / raw_minutes;
    // The fleet rows (every host's 1-minute summary once more, kept as long as raw).
    let fleet_per_min = fleet_rows as f64 / hosts / raw_minutes;
    let row_1m = minute as f64 / hosts / minutes;
    let row_15m = quarter as f64 / hosts / quarters;
    let keep = |d: Duration, width: f64| d.as_secs_f64() / width;
    let steady_records = (raw_per_min + fleet_per_min) * keep(config.keep_raw, 60.0)
        + row_1m * keep(config.keep_1m, 60.0)
        + row_15m * keep(config.keep_15m, 900.0);
    let steady = steady_records * overhead;
    let day1 = overhead * ((raw_per_min + fleet_per_min) * 60.0 + row_1m * 1440.0 + row_15m * 96.0);
    let day2 = overhead * (row_1m * 1440.0 + row_15m * 96.0);
    let later = overhead * (row_15m * 96.0);
    let fleet = args.fleet as f64;
    println!(
        "{} hosts × {} min, a sample every {} s ({} disks), through History::tick in {:.1} s",
        args.hosts,
        minutes,
        every,
        disks.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "sled dir: {:.1} MiB empty, {:.1} MiB at the end; history records {:.1} MiB (raw {:.1}, 1m {:.1}, 15m {:.1}, fleet 1m {:.1}): {:.2}× on disk",
        empty as f64 / MIB,
        end as f64 / MIB,
        records / MIB,
        raw as f64 / MIB,
        minute as f64 / MIB,
        quarter as f64 / MIB,
        fleet_rows as f64 / MIB,
        overhead
    );
    let tail: Vec<String> = sizes
        .iter()
        .filter(|(m, _)| m % 10 == 0)
        .map(|(m, b)| format!("{m} min: {:.0} MiB", *b as f64 / MIB))
        .collect();
    println!("dir size: {}", tail.join(", "));
    println!(
        "record bytes per host: raw {:.0} B per minute, 1m row {:.0} B, 15m row {:.0} B, fleet 1m entry {:.0} B",
        raw_per_min, row_1m, row_15m, fleet_per_min
    );
    println!(
        "per host on disk: day 1 +{:.2} MiB, day 2 +{:.2} MiB, days 3-90 +{:.3} MiB/day, steady state (1 h raw, 48 h of 1m, 90 d of 15m) {:.2} MiB",
        day1 / MIB,
        day2 / MIB,
        later / MIB,
        steady / MIB
    );
    println!(
        "{} hosts: day 1 +{:.1} GiB, day 2 +{:.1} GiB, days 3-90 +{:.2} GiB/day, bound {:.1} GiB",
        args.fleet,
        day1 * fleet / GIB,
        day2 * fleet / GIB,
        later * fleet / GIB,
        steady * fleet / GIB
    );
    Ok(())
}

#[derive(Debug, Clone, clap::Args)]
pub struct SelectorArgs {
    /// Hosts with an hour of 1-minute rows each.
    #[arg(long, default_value_t = 10_000)]
    pub hosts: usize,
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

/// `convoy-bench selector-query`: the server side of `convoy metrics --selector role=sim
/// cpu --since 1h --agg p95` in process (no network, no CLI), wall and CPU time, beside
/// the floor: a bare sled scan of the same rows that reads nothing out of them.
pub fn selector_query(args: &SelectorArgs) -> anyhow::Result<()> {
    use convoy_coordinator::history::query::Agg;
    use convoy_coordinator::history::{SeriesId, query_selector};
    use convoy_coordinator::store::history::Tier;

    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    crate::monitor::prefill(&data, args.hosts, Duration::from_secs(3600))?;
    let store = Store::open(&data)?;
    let config = HistoryConfig::default();
    let width = args.hosts.saturating_sub(1).to_string().len();
    let hosts: std::collections::HashSet<String> = (0..args.hosts)
        .map(|i| format!("sim-{i:0width$}"))
        .collect();
    let cpu = SeriesId::parse("cpu").map_err(anyhow::Error::msg)?;
    let pid = std::process::id();
    let timed = |work: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<(f64, f64)> {
        let (ticks, started) = (crate::procfs::cpu_ticks(pid)?, Instant::now());
        work()?;
        let wall = started.elapsed().as_secs_f64() * 1000.0;
        let cpu = (crate::procfs::cpu_ticks(pid)? - ticks) as f64 * 1000.0
            / *crate::procfs::CLK_TCK as f64;
        Ok((wall, cpu))
    };
    let (mut query, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let now = convoy_coordinator::registry::now_unix_ms();
        query.push(timed(&mut || {
            let (points, covered) = query_selector(
                &store,
                &config,
                &hosts,
                &cpu,
                Agg::Quantile(0.95),
                (now - 3_600_000, now + 1, MINUTE_MS),
                now,
            )?;
            anyhow::ensure!(covered == args.hosts && !points.is_empty(), "short answer");
            Ok(())
        })?);
        floor.push(timed(&mut || {
            let mut rows = 0usize;
            store.history_scan(Tier::Minute, now - 3_600_000, now + 1, |_, _, _| rows += 1)?;
            anyhow::ensure!(rows >= args.hosts * 59, "only {rows} rows");
            Ok(())
        })?);
    }
    let med = |v: &[(f64, f64)], cpu: bool| {
        let values: Vec<f64> = v.iter().map(|(w, c)| if cpu { *c } else { *w }).collect();
        crate::procfs::median(&values)
    };
    println!(
        "selector query over {} hosts × 1 h of 1-minute rows, in process: median {:.0} ms wall, {:.0} ms CPU (runs: {:?})",
        args.hosts,
        med(&query, false),
        med(&query, true),
        query.iter().map(|(w, _)| w.round()).collect::<Vec<_>>()
    );
    println!(
        "floor, a bare sled scan of the same rows: median {:.0} ms wall, {:.0} ms CPU",
        med(&floor, false),
        med(&floor, true)
    );
    Ok(())
}
