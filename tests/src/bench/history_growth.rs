//! `convoy-bench history-growth`: what the metrics history costs on disk, against its
//! stated bound ([`Bound`]). N hosts at 1 Hz (or `--heartbeat`) are fed through the real
//! writer ([`History::tick`], an injected clock running as fast as it can) into a real
//! store for a span of simulated time (days); the data dir (sled and the raw minute
//! files) is measured every simulated hour, as `du` counts it, and printed beside the
//! stated bound (ratio = on disk / bound). `--runs` repeats it on fresh stores and prints
//! the median of each hour.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use convoy_coordinator::history::bound::Bound;
use convoy_coordinator::history::{
    BASE_SERIES, History, HistoryConfig, MINUTE_MS, QUARTER_MS, Sample,
};
use convoy_coordinator::store::Store;

#[derive(Debug, Clone, clap::Args)]
pub struct GrowthArgs {
    /// Simulated hosts.
    #[arg(long, default_value_t = 1_000)]
    pub hosts: usize,
    /// Simulated time (longer than `--keep-1m` for the 1-minute tier to level off).
    #[arg(long, default_value = "3d", value_parser = humantime::parse_duration)]
    pub span: Duration,
    /// Each host's heartbeat (one sample per heartbeat).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub heartbeat: Duration,
    /// Disks per host (the history keeps up to 4).
    #[arg(long, default_value_t = 2)]
    pub disks: usize,
    /// Fleet size the stated bound is also printed for.
    #[arg(long, default_value_t = 10_000)]
    pub fleet: usize,
    /// Retention of the raw tier (`[history] keep_raw`).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub keep_raw: Duration,
    /// Retention of the 1-minute tier (`[history] keep_1m`).
    #[arg(long, default_value = "48h", value_parser = humantime::parse_duration)]
    pub keep_1m: Duration,
    /// Retention of the 15-minute tier (`[history] keep_15m`).
    #[arg(long, default_value = "90d", value_parser = humantime::parse_duration)]
    pub keep_15m: Duration,
    /// Runs on fresh stores; each hour's size is the median of the runs.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
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

/// The bound with the retention cut to what has elapsed (`hours` simulated): what the
/// store may hold by then.
fn bound_at(config: &HistoryConfig, hours: u64, host: &str, mounts: &[&str]) -> Bound {
    let elapsed = Duration::from_secs(hours * 3600);
    let cut = HistoryConfig {
        keep_raw: config.keep_raw.min(elapsed),
        keep_1m: config.keep_1m.min(elapsed),
        keep_15m: config.keep_15m.min(elapsed),
        ..*config
    };
    Bound::new(&cut, host, mounts)
}

/// One run: the data dir's size after each simulated hour, and the record bytes at the end.
fn one_run(
    args: &GrowthArgs,
    config: HistoryConfig,
    names: &[String],
    disks: &[String],
) -> anyhow::Result<(Vec<u64>, [u64; 4], f64)> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let store = Store::open(&data).context("cannot open the store")?;
    let (mut history, recorder) = History::new(store.clone(), config)?;
    // Start on a 15-minute boundary in the past, so every tier's windows are whole.
    let now = convoy_coordinator::clock::now_unix_ms();
    let span_ms = i64::try_from(args.span.as_millis())?;
    let t0 = (now - span_ms).div_euclid(QUARTER_MS) * QUARTER_MS;
    let seconds = span_ms / 1000;
    let every = usize::try_from(args.heartbeat.as_secs().max(1))?;
    let started = Instant::now();
    let mut sizes = Vec::new();
    for second in 0..seconds {
        let at = t0 + second * 1000;
        for (host, name) in names.iter().enumerate() {
            if (host + second as usize) % every != 0 {
                continue;
            }
            // Heartbeats spread over the second, as a fleet's are.
            let jitter = (host * 997 % 1000) as i64;
            anyhow::ensure!(
                recorder.record_sample(name, sample(host, at + jitter, disks)),
                "the history queue is full: fewer hosts per second, please"
            );
        }
        history.tick(at + 1000, &|_| true)?;
        if (second + 1) % 3600 == 0 {
            store.flush()?;
            sizes.push(dir_bytes(&data));
        }
        anyhow::ensure!(
            (second + 1) % 60 != 0 || started.elapsed() < Duration::from_secs(4 * 3600),
            "over 4 hours of real time: fewer hosts or a shorter span, please"
        );
    }
    history.finish()?;
    store.flush()?;
    Ok((
        sizes,
        store.history_bytes()?,
        started.elapsed().as_secs_f64(),
    ))
}

pub fn history_growth(args: &GrowthArgs) -> anyhow::Result<()> {
    let config = HistoryConfig {
        enabled: true,
        keep_raw: args.keep_raw,
        keep_1m: args.keep_1m,
        keep_15m: args.keep_15m,
    };
    config.validate().map_err(anyhow::Error::msg)?;
    let names: Vec<String> = (0..args.hosts).map(|i| format!("host-{i:05}")).collect();
    let disks: Vec<String> = ["/", "/var", "/data", "/srv"]
        .iter()
        .take(args.disks.min(4))
        .map(|m| m.to_string())
        .collect();
    let mounts: Vec<&str> = disks.iter().map(String::as_str).collect();
    let host = names.first().map(String::as_str).unwrap_or("host-00000");
    let mut runs = Vec::new();
    for run in 0..args.runs.max(1) {
        let (sizes, records, secs) = one_run(args, config, &names, &disks)?;
        let [raw, minute, quarter, fleet] = records;
        println!(
            "run {}: {} hosts × {} h, a sample every {} s ({} disks), in {:.0} s; records at the end: raw files {:.1} MiB (fleet rows {:.1}), 1m {:.1} MiB, 15m {:.1} MiB; data dir {:.1} MiB",
            run + 1,
            args.hosts,
            sizes.len(),
            args.heartbeat.as_secs().max(1),
            disks.len(),
            secs,
            raw as f64 / MIB,
            fleet as f64 / MIB,
            minute as f64 / MIB,
            quarter as f64 / MIB,
            sizes.last().copied().unwrap_or(0) as f64 / MIB,
        );
        runs.push(sizes);
    }
    let hours = runs.iter().map(Vec::len).min().unwrap_or(0);
    let bound = Bound::new(&config, host, &mounts);
    let stated = bound.on_disk(args.hosts as u64);
    println!(
        "hour | data dir (median of {}) | bound so far | ratio | stated bound | ratio",
        runs.len()
    );
    let mut worst: f64 = 0.0;
    for h in 0..hours {
        let at: Vec<f64> = runs.iter().map(|r| r[h] as f64).collect();
        let size = crate::procfs::median(&at);
        let so_far = bound_at(&config, h as u64 + 1, host, &mounts).on_disk(args.hosts as u64);
        worst = worst.max(size / stated as f64);
        let shown = h < 6 || (h + 1) % 6 == 0 || h + 1 == hours;
        if shown {
            println!(
                "{:>4} | {:>9.1} MiB | {:>9.1} MiB | {:.2} | {:>9.1} MiB | {:.3}",
                h + 1,
                size / MIB,
                so_far as f64 / MIB,
                size / so_far as f64,
                stated as f64 / MIB,
                size / stated as f64
            );
        }
    }
    let (raw, rows) = bound.per_host();
    println!(
        "per host: a raw minute {} B, a 1m/15m row {} B; at full retention {} raw minutes ({:.2} MiB) + {} 1m and {} 15m rows ({:.2} MiB)",
        bound.raw_minute,
        bound.row,
        bound.files,
        raw as f64 / MIB,
        bound.rows_1m,
        bound.rows_15m,
        rows as f64 / MIB
    );
    println!(
        "stated bound: {} hosts {:.2} GiB, {} hosts {:.1} GiB; highest ratio measured {:.3}",
        args.hosts,
        stated as f64 / GIB,
        args.fleet,
        bound.on_disk(args.fleet as u64) as f64 / GIB,
        worst
    );
    anyhow::ensure!(worst <= 1.0, "the data dir exceeded the stated bound");
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
        let now = convoy_coordinator::clock::now_unix_ms();
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
            // Most of the hour: minutes pass between the prefill and a slow run's scan.
            anyhow::ensure!(rows >= args.hosts * 50, "only {rows} rows");
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
