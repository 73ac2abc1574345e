//! `convoy-bench monitor`: the cost of monitoring at fleet scale. N simulated agents at
//! 1 Hz against a release `convoy serve`, twice: with the metrics history on and off.
//! Reports the coordinator's CPU over a window (the difference is what the history adds),
//! the data dir's growth over the window (`history-growth` measures the history's bytes
//! per host and tier over simulated hours), the `/metrics` scrape time
//! and the time of `convoy metrics --selector ... --since 1h --agg p95` over every host
//! (from an hour of 1-minute rows written into the store before the start).

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use convoy_coordinator::history::{BASE_SERIES, MINUTE_MS, Sample, summarize};
use convoy_coordinator::store::Store;

use crate::fleet::sibling_binary;
use crate::procfs::{CLK_TCK, cpu_ticks, median};
use crate::stage::{ConnectArgs, Stage, StageOptions};

#[derive(Debug, Clone, clap::Args)]
pub struct MonitorArgs {
    #[arg(long, default_value_t = 10_000)]
    pub agents: usize,
    /// CPU is measured over this window (after a 15 s warm-up); at least 2 minutes so it
    /// holds minute closes.
    #[arg(long, default_value = "150s", value_parser = humantime::parse_duration)]
    pub window: Duration,
    #[arg(long, default_value_t = 10)]
    pub scrapes: usize,
    #[arg(long, default_value_t = 5)]
    pub queries: usize,
    /// Only the selector query (and scrapes): no CPU window, no run without history.
    #[arg(long)]
    pub query_only: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// An hour (or `span`) of 1-minute rows for `sim-…` hosts, ending now.
pub fn prefill(data_dir: &Path, hosts: usize, span: Duration) -> anyhow::Result<()> {
    let store = Store::open(data_dir).context("cannot open the store to prefill")?;
    let now = convoy_coordinator::clock::now_unix_ms();
    let end = now.div_euclid(MINUTE_MS) * MINUTE_MS;
    let minutes = i64::try_from(span.as_secs() / 60).unwrap_or(60);
    let width = hosts.saturating_sub(1).to_string().len();
    for minute in 0..minutes {
        let at = end - (minutes - minute) * MINUTE_MS;
        let rows: Vec<_> = (0..hosts)
            .map(|index| {
                let mut base = [0.0f32; BASE_SERIES.len()];
                base[0] = ((index as i64 + minute) % 100) as f32;
                let sample = Sample {
                    at_ms: at,
                    base,
                    disks: vec![("/".into(), 40.0)],
                };
                let summary = summarize(std::slice::from_ref(&sample)).unwrap_or_default();
                (at, format!("sim-{index:0width$}"), Vec::new(), summary)
            })
            .collect();
        store.put_history_minutes(&rows)?;
    }
    store.flush()?;
    Ok(())
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn scrape(port: u16) -> anyhow::Result<usize> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = Vec::new();
    stream.read_to_end(&mut body)?;
    anyhow::ensure!(body.starts_with(b"HTTP/1.1 200"), "scrape failed");
    Ok(body.len())
}

struct Phase {
    cpu_percent: f64,
    dir_growth_per_day_mib: f64,
    scrape_ms: Vec<f64>,
    scrape_bytes: usize,
    query_ms: Vec<f64>,
}

async fn phase(args: &MonitorArgs, history: bool) -> anyhow::Result<Phase> {
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut options = StageOptions::new(args.agents, &args.connect);
    options.extra_config = format!(
        "[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n[history]\nenabled = {history}\n"
    );
    if history {
        options.prefill_history = Some((args.agents, Duration::from_secs(3600)));
    }
    let stage = Stage::start(&options).await?;
    let pid = stage.coordinator.pid();
    let data = stage.fleet.dir().join("data");
    tokio::time::sleep(Duration::from_secs(15)).await;
    let (ticks0, size0, start) = (cpu_ticks(pid)?, dir_bytes(&data), Instant::now());
    if !args.query_only {
        tokio::time::sleep(args.window).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (ticks1, size1) = (cpu_ticks(pid)?, dir_bytes(&data));
    let cpu_percent = (ticks1 - ticks0) as f64 / *CLK_TCK as f64 / elapsed * 100.0;
    let growth = (size1 as f64 - size0 as f64) / elapsed * 86_400.0 / (1024.0 * 1024.0);
    let mut scrape_ms = Vec::new();
    let mut scrape_bytes = 0;
    for _ in 0..args.scrapes {
        let started = Instant::now();
        scrape_bytes = tokio::task::spawn_blocking(move || scrape(metrics_port)).await??;
        scrape_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let mut query_ms = Vec::new();
    if history {
        let convoy = sibling_binary("convoy")?;
        let operator = stage.fleet.operator().clone();
        for _ in 0..args.queries {
            let started = Instant::now();
            let out = std::process::Command::new(&convoy)
                .args([
                    "metrics",
                    "--selector",
                    "role=sim",
                    "cpu",
                    "--since",
                    "1h",
                    "--agg",
                    "p95",
                    "-o",
                    "json",
                ])
                .env("CONVOY_ADDR", stage.fleet.url())
                .env("CONVOY_CA", stage.fleet.ca_dir().join("ca.pem"))
                .env("CONVOY_CERT", &operator.cert)
                .env("CONVOY_KEY", &operator.key)
                .output()?;
            query_ms.push(started.elapsed().as_secs_f64() * 1000.0);
            let text = String::from_utf8_lossy(&out.stdout);
            anyhow::ensure!(
                out.status.success() && text.contains(&format!("\"hosts\": {}", args.agents)),
                "convoy metrics --selector: {}{}",
                text.chars().take(300).collect::<String>(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    stage.stop().await?;
    Ok(Phase {
        cpu_percent,
        dir_growth_per_day_mib: growth,
        scrape_ms,
        scrape_bytes,
        query_ms,
    })
}

pub async fn monitor_bench(args: &MonitorArgs) -> anyhow::Result<()> {
    let with = phase(args, true).await?;
    if args.query_only {
        println!(
            "convoy metrics --selector role=sim cpu --since 1h --agg p95 over {} hosts: median {:.0} ms (runs: {:?})",
            args.agents,
            median(&with.query_ms),
            with.query_ms.iter().map(|v| v.round()).collect::<Vec<_>>()
        );
        return Ok(());
    }
    let without = phase(args, false).await?;
    println!(
        "agents: {}, heartbeat 1 s, window {:?}",
        args.agents, args.window
    );
    println!(
        "coordinator CPU: {:.1} % with history, {:.1} % without: history adds {:.1} % of one core",
        with.cpu_percent,
        without.cpu_percent,
        with.cpu_percent - without.cpu_percent
    );
    println!(
        "data dir growth (extrapolated to a day): {:.0} MiB with history, {:.0} MiB without",
        with.dir_growth_per_day_mib, without.dir_growth_per_day_mib
    );
    println!(
        "/metrics scrape: median {:.1} ms ({} bytes) with history, {:.1} ms without",
        median(&with.scrape_ms),
        with.scrape_bytes,
        median(&without.scrape_ms)
    );
    println!(
        "convoy metrics --selector role=sim cpu --since 1h --agg p95: median {:.0} ms (runs: {:?})",
        median(&with.query_ms),
        with.query_ms.iter().map(|v| v.round()).collect::<Vec<_>>()
    );
    Ok(())
}
