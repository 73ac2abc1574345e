//! `convoy-bench capacity-report`: the server side of `convoy report capacity --since 14d`
//! in process (no network, no CLI) over N hosts whose history is prefilled as the tiers
//! would hold it after 14 days (15-minute rows, then 1-minute rows for the last 48 h),
//! wall and CPU time, beside the floor: reading the same rows with `query_host` alone.

use std::time::{Duration, Instant};

use convoy_coordinator::analysis::capacity::Thresholds;
use convoy_coordinator::capacity::{Request, report};
use convoy_coordinator::history::{
    BASE_SERIES, HistoryConfig, MINUTE_MS, QUARTER_MS, Sample, SeriesId, query_host, summarize,
};
use convoy_coordinator::registry::Registry;
use convoy_coordinator::selector::Selector;
use convoy_coordinator::store::Store;
use convoy_proto::v1::{AgentRecord, DiskUsage, Facts, MetricsSample};

#[derive(Debug, clap::Args)]
pub struct CapacityArgs {
    /// Hosts with a full history each.
    #[arg(long, default_value_t = 200)]
    pub hosts: usize,
    /// Days of history (the report's `--since`).
    #[arg(long, default_value_t = 14)]
    pub days: i64,
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

fn summary(
    at: i64,
    index: usize,
    step: i64,
) -> (i64, String, convoy_coordinator::history::Summary) {
    let mut base = [0.0f32; BASE_SERIES.len()];
    base[0] = ((index as i64 + step) % 100) as f32;
    base[1] = 30.0 + (step % 40) as f32;
    base[3] = 1.5;
    let sample = Sample {
        at_ms: at,
        base,
        disks: vec![("/".into(), 40.0 + step as f32 / 1_000.0)],
    };
    (
        at,
        String::new(),
        summarize(std::slice::from_ref(&sample)).unwrap_or_default(),
    )
}

pub fn capacity_report(args: &CapacityArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let config = HistoryConfig::default();
    let now = convoy_coordinator::clock::now_unix_ms();
    let width = args.hosts.saturating_sub(1).to_string().len();
    let ids: Vec<String> = (0..args.hosts)
        .map(|i| format!("sim-{i:0width$}"))
        .collect();
    for id in &ids {
        store.put_agent(&AgentRecord {
            id: id.clone(),
            labels: [("role".to_string(), "sim".to_string())].into(),
            facts: Some(Facts {
                cpus: 4,
                ..Default::default()
            }),
            last_metrics: Some(MetricsSample {
                disks: vec![DiskUsage {
                    mount: "/".into(),
                    used_bytes: 40,
                    total_bytes: 100,
                }],
                ..Default::default()
            }),
            ..Default::default()
        })?;
    }
    let from = now - args.days * 86_400_000;
    let minute_from = now - 48 * 3_600_000;
    let started = Instant::now();
    let mut at = from.div_euclid(QUARTER_MS) * QUARTER_MS;
    let mut step = 0i64;
    while at < minute_from {
        let rows: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let (at, _, s) = summary(at, i, step);
                (at, id.clone(), s)
            })
            .collect();
        store.put_history_quarters(&rows)?;
        at += QUARTER_MS;
        step += 1;
    }
    let mut at = minute_from.div_euclid(MINUTE_MS) * MINUTE_MS;
    while at < now {
        let rows: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let (at, _, s) = summary(at, i, step);
                (at, id.clone(), Vec::new(), s)
            })
            .collect();
        store.put_history_minutes(&rows)?;
        at += MINUTE_MS;
        step += 1;
    }
    store.flush()?;
    println!(
        "prefilled {} hosts × {} days in {:.0} s",
        args.hosts,
        args.days,
        started.elapsed().as_secs_f64()
    );
    let registry = Registry::load(store.clone(), Duration::from_secs(13))?;
    let request = Request {
        selector: Selector::parse("role=sim").map_err(|e| anyhow::anyhow!(e.render()))?,
        group_by: None,
        name: "role=sim".into(),
        since_ms: args.days * 86_400_000,
        thresholds: Thresholds::default(),
    };
    let pid = std::process::id();
    let timed = |work: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<(f64, f64)> {
        let (ticks, started) = (crate::procfs::cpu_ticks(pid)?, Instant::now());
        work()?;
        let wall = started.elapsed().as_secs_f64() * 1000.0;
        let cpu = (crate::procfs::cpu_ticks(pid)? - ticks) as f64 * 1000.0
            / *crate::procfs::CLK_TCK as f64;
        Ok((wall, cpu))
    };
    let series: Vec<SeriesId> = ["cpu", "mem", "load1", "disk:/"]
        .iter()
        .map(|s| SeriesId::parse(s).map_err(anyhow::Error::msg))
        .collect::<Result<_, _>>()?;
    let (mut full, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let now = convoy_coordinator::clock::now_unix_ms();
        full.push(timed(&mut || {
            let answer = report(&store, &config, &registry, &request, now)?;
            let group = answer
                .groups
                .first()
                .ok_or_else(|| anyhow::anyhow!("no group"))?;
            anyhow::ensure!(group.report.hosts_with_data == args.hosts, "short answer");
            Ok(())
        })?);
        let step = convoy_coordinator::capacity::step_for(args.days * 86_400_000);
        floor.push(timed(&mut || {
            for id in &ids {
                query_host(&store, &config, id, &series, (from, now + 1, step), now)?;
            }
            Ok(())
        })?);
    }
    let med = |v: &[(f64, f64)], cpu: bool| {
        let values: Vec<f64> = v.iter().map(|(w, c)| if cpu { *c } else { *w }).collect();
        crate::procfs::median(&values)
    };
    println!(
        "capacity report over {} hosts × {} days, in process: median {:.0} ms wall, {:.0} ms CPU (runs: {:?})",
        args.hosts,
        args.days,
        med(&full, false),
        med(&full, true),
        full.iter().map(|(w, _)| w.round()).collect::<Vec<_>>()
    );
    println!(
        "floor, query_host alone for the same hosts and series: median {:.0} ms wall, {:.0} ms CPU",
        med(&floor, false),
        med(&floor, true)
    );
    Ok(())
}
