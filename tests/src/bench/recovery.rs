//! `reconnect` and `dead-agent`: how fast the fleet view recovers. A coordinator killed
//! with SIGKILL and restarted while N agents are connected (they come back with the real
//! agent's backoff); and one agent vanishing, silently or by closing its connection,
//! until the coordinator shows it offline.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use convoy_proto::v1::{AgentState, GetAgentRequest};
use convoy_tests::swarm::Vanish;
use tokio::time::Instant;

use crate::procfs::median;
use crate::stage::{ConnectArgs, Stage, StageOptions};

#[derive(Debug, clap::Args)]
pub struct ReconnectArgs {
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// A run whose agents are not all back this long after the kill fails.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// How long the coordinator stays down before it is started again (0: at once). A
    /// long outage lets every agent's backoff reach its cap, which is what decides how
    /// fast the fleet is back after the coordinator returns.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    outage: Duration,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub async fn reconnect_bench(args: &ReconnectArgs) -> anyhow::Result<()> {
    println!(
        "reconnect storm: kill -9 the coordinator with {} agents connected, restart it {:?} \
         later; {} runs ({} connects in flight, {} source addresses)",
        args.agents,
        args.outage,
        args.runs,
        args.connect.connect_concurrency,
        args.connect.source_addresses
    );
    let mut back = Vec::new();
    let mut listed = Vec::new();
    let mut after_return = Vec::new();
    for run in 1..=args.runs {
        let (all_back, all_listed, restarted) = reconnect_run(args)
            .await
            .with_context(|| format!("run {run}"))?;
        back.push(all_back.as_secs_f64());
        listed.push(all_listed.as_secs_f64());
        after_return.push((all_back - restarted).as_secs_f64());
    }
    println!(
        "median: every agent back (Welcome) {:.2} s after the kill, listed online {:.2} s after; \
         {:.2} s after the coordinator's return (outage {:?})",
        median(&back),
        median(&listed),
        median(&after_return),
        args.outage
    );
    Ok(())
}

async fn reconnect_run(args: &ReconnectArgs) -> anyhow::Result<(Duration, Duration, Duration)> {
    let agents = args.agents;
    let mut options = StageOptions::new(agents, &args.connect);
    options.reconnect = true;
    let mut stage = Stage::start(&options).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let killed = Instant::now();
    stage.coordinator.kill9()?;
    let progress = stage
        .swarm
        .wait(Duration::from_secs(30), |p| p.online == 0)
        .await;
    let noticed = killed.elapsed();
    ensure!(
        progress.online == 0,
        "{} agents still online after the kill",
        progress.online
    );
    tokio::time::sleep(args.outage).await;
    stage.coordinator = stage.fleet.spawn_coordinator()?;
    let restarted = killed.elapsed();
    let progress = stage.swarm.wait(args.timeout, |p| p.online == agents).await;
    let all_back = killed.elapsed();
    ensure!(
        progress.online == agents,
        "only {} of {agents} agents back {:?} after the kill\n{}",
        progress.online,
        args.timeout,
        stage.coordinator.log_tail()
    );
    stage
        .fleet
        .wait_online(agents, Duration::from_secs(60))
        .await?;
    let all_listed = killed.elapsed();
    println!(
        "all {agents} agents saw the drop {:.2} s after the kill; restarted at {:.2} s; every agent \
         had its Welcome again at {:.2} s ({:.2} s after the restart) and was listed online at \
         {:.2} s ({} reconnects)",
        noticed.as_secs_f64(),
        restarted.as_secs_f64(),
        all_back.as_secs_f64(),
        (all_back - restarted).as_secs_f64(),
        all_listed.as_secs_f64(),
        progress.reconnects,
    );
    let report = stage.stop().await?;
    ensure!(
        report.failed == 0 && report.reconnects >= agents,
        "the swarm lost agents:\n{report}"
    );
    Ok((all_back, all_listed, restarted))
}

#[derive(Debug, clap::Args)]
pub struct DeadArgs {
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// The coordinator's heartbeat interval (and the swarm's).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    heartbeat: Duration,
    /// The coordinator's offline_after.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    offline_after: Duration,
    /// Agents made to vanish per mode, one after another.
    #[arg(long, default_value_t = 5)]
    trials: usize,
    #[command(flatten)]
    connect: ConnectArgs,
}

pub async fn dead_agent_bench(args: &DeadArgs) -> anyhow::Result<()> {
    println!(
        "dead-agent detection: {} agents, heartbeat {:?}, offline_after {:?}, {} trials per mode",
        args.agents, args.heartbeat, args.offline_after, args.trials
    );
    ensure!(
        2 * args.trials <= args.agents,
        "need at least two agents per trial"
    );
    let mut options = StageOptions::new(args.agents, &args.connect);
    options.heartbeat = args.heartbeat;
    options.offline_after = args.offline_after;
    let stage = Stage::start(&options).await?;
    let mut admin = stage.fleet.admin().await?;
    for (mode, how) in [("silent", Vanish::Silent), ("closed", Vanish::Closed)] {
        let mut seconds = Vec::new();
        for trial in 0..args.trials {
            let slot = 2 * trial + usize::from(how == Vanish::Closed);
            let index = slot * args.agents / (2 * args.trials);
            let id = stage
                .swarm
                .vanish(index, how)
                .context("agent index out of range")?;
            let vanished = Instant::now();
            loop {
                let state = admin
                    .get_agent(GetAgentRequest { id: id.clone() })
                    .await
                    .ok()
                    .and_then(|detail| detail.into_inner().agent)
                    .map(|agent| agent.state);
                if state == Some(AgentState::Offline as i32) {
                    break;
                }
                ensure!(
                    vanished.elapsed() < Duration::from_secs(60),
                    "{id} still not offline after 60 s\n{}",
                    stage.coordinator.log_tail()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let took = vanished.elapsed().as_secs_f64();
            println!(
                "{mode}: {id} shown offline {took:.3} s after it vanished ({:.2} heartbeat intervals)",
                took / args.heartbeat.as_secs_f64()
            );
            seconds.push(took);
            // Start the next trial at another phase of the heartbeat and the sweep.
            tokio::time::sleep(Duration::from_millis(1370)).await;
        }
        let max = seconds.iter().copied().fold(0.0, f64::max);
        println!(
            "{mode}: median {:.3} s, max {max:.3} s ({:.2} / {:.2} heartbeat intervals)",
            median(&seconds),
            median(&seconds) / args.heartbeat.as_secs_f64(),
            max / args.heartbeat.as_secs_f64()
        );
    }
    stage.stop().await?;
    Ok(())
}
