//! `agent-idle`: CPU and resident memory of one real idle `convoy-agent` with a given
//! heartbeat (its `metrics_interval`: a full sysinfo sample and a heartbeat each time).

use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::time::Instant;

use crate::fleet::{Fleet, Target};
use crate::procfs::{cpu_percent, cpu_ticks, median, proc_status_kib};

struct IdleRun {
    cpu_percent: f64,
    rss_median_mib: f64,
    rss_max_mib: f64,
}

pub async fn agent_idle_bench(
    duration: Duration,
    heartbeat: Duration,
    runs: usize,
) -> anyhow::Result<()> {
    println!(
        "convoy-agent idle with metrics_interval = {}: {} s window after a 5 s warm-up, {runs} runs",
        humantime::format_duration(heartbeat),
        duration.as_secs()
    );
    let mut cpu = Vec::new();
    let mut rss_median = Vec::new();
    let mut rss_max = Vec::new();
    for run in 1..=runs {
        let result = agent_idle_run(duration, heartbeat)
            .await
            .with_context(|| format!("run {run}"))?;
        println!(
            "run {run}: cpu {:.3}% of one core, rss median {:.2} MiB, max {:.2} MiB",
            result.cpu_percent, result.rss_median_mib, result.rss_max_mib
        );
        cpu.push(result.cpu_percent);
        rss_median.push(result.rss_median_mib);
        rss_max.push(result.rss_max_mib);
    }
    println!(
        "median: cpu {:.3}% of one core, rss median {:.2} MiB, max {:.2} MiB",
        median(&cpu),
        median(&rss_median),
        median(&rss_max)
    );
    Ok(())
}

async fn agent_idle_run(duration: Duration, heartbeat: Duration) -> anyhow::Result<IdleRun> {
    const AGENT: &str = "idle-1";
    let fleet = Fleet::new(&[AGENT])?;
    fleet.write_agent_config(AGENT, heartbeat)?;
    let mut coordinator = fleet.spawn_coordinator()?;
    fleet
        .wait_ready(&mut coordinator, Target::Coordinator)
        .await?;
    let mut agent = fleet.spawn_agent(AGENT)?;
    let online = fleet.wait_online(1, Duration::from_secs(30));
    tokio::select! {
        result = online => result.with_context(|| agent.log_tail())?,
        () = agent.exited() => bail!("the agent exited early\n{}", agent.log_tail()),
    }
    tokio::time::sleep(Duration::from_secs(5)).await;

    let ticks_before = cpu_ticks(agent.pid())?;
    let window = Instant::now();
    let mut rss = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while window.elapsed() < duration {
        tick.tick().await;
        #[allow(clippy::cast_precision_loss)]
        rss.push(proc_status_kib(agent.pid(), "VmRSS")? as f64 / 1024.0);
    }
    let ticks_after = cpu_ticks(agent.pid())?;
    let elapsed = window.elapsed();

    agent.terminate(Duration::from_secs(10)).await?;
    coordinator.terminate(Duration::from_secs(30)).await?;
    Ok(IdleRun {
        cpu_percent: cpu_percent(ticks_after - ticks_before, elapsed),
        rss_median_mib: median(&rss),
        rss_max_mib: rss.iter().copied().fold(0.0, f64::max),
    })
}
