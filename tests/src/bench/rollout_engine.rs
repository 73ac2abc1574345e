//! `rollout-engine`: the coordinator's own cost per host of a rollout, without the
//! network. The real store, registry, dispatcher, scheduler and rollout driver run in
//! this process; N fake agents are sessions whose queues a task drains, answering every
//! deploy at once (received, started, succeeded) through the dispatcher's own entry
//! point. Wall time is then bounded by the engine alone, and the process's CPU time over
//! the rollout, divided by N, is the engine's overhead per host (an upper bound: it
//! includes the fake agents).
//!
//! Also times the pure state machine alone over the same plan, for scale.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use convoy_coordinator::dispatch::Dispatcher;
use convoy_coordinator::registry::Registry;
use convoy_coordinator::rollout::driver::Rollouts;
use convoy_coordinator::store::Store;
use convoy_proto::identity::AgentId;
use convoy_proto::v1::{
    AppStatus, CommandEvent, CommandState, Finished, Hello, Received, Release, RolloutSpec,
    Started, command_event, coordinator_message,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::procfs::{CLK_TCK, cpu_ticks, median};

#[derive(Debug, clap::Args)]
pub struct RolloutEngineArgs {
    #[arg(long, default_value_t = 10_000)]
    hosts: usize,
    /// Hosts per wave after the canary.
    #[arg(long, default_value = "10%")]
    batch: String,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// A rollout that has not succeeded this long after its start fails the bench.
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

struct Run {
    wall: Duration,
    cpu: Duration,
    machine_only: Duration,
    waves: usize,
}

pub async fn rollout_engine_bench(args: &RolloutEngineArgs) -> anyhow::Result<()> {
    println!(
        "rollout engine: {} hosts, canary 1, batch {}, instant fake deploys, no network",
        args.hosts, args.batch
    );
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let result = one_run(args).await?;
        println!(
            "run {run}: {} waves, wall {:.2} s, process CPU {:.2} s = {:.1} µs/host; machine alone {:.1} ms = {:.2} µs/host",
            result.waves,
            result.wall.as_secs_f64(),
            result.cpu.as_secs_f64(),
            result.cpu.as_secs_f64() * 1e6 / args.hosts as f64,
            result.machine_only.as_secs_f64() * 1e3,
            result.machine_only.as_secs_f64() * 1e6 / args.hosts as f64,
        );
        runs.push(result);
    }
    let per_host = |d: Duration| d.as_secs_f64() * 1e6 / args.hosts as f64;
    println!(
        "median: wall {:.2} s, CPU {:.1} µs/host (target < 1000), machine alone {:.2} µs/host",
        median(
            &runs
                .iter()
                .map(|r| r.wall.as_secs_f64())
                .collect::<Vec<_>>()
        ),
        median(&runs.iter().map(|r| per_host(r.cpu)).collect::<Vec<_>>()),
        median(
            &runs
                .iter()
                .map(|r| per_host(r.machine_only))
                .collect::<Vec<_>>()
        ),
    );
    Ok(())
}

async fn one_run(args: &RolloutEngineArgs) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    store.put_release(&Release {
        app: "web".into(),
        version: "2.0".into(),
        sha256: "0".repeat(64),
        size: 1,
        ..Default::default()
    })?;
    let registry = Arc::new(Registry::load(store.clone(), Duration::from_secs(3600))?);
    let dispatcher = Arc::new(Dispatcher::load(store.clone(), registry.clone(), 1 << 20)?);
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let rollouts = Rollouts::start(
        store.clone(),
        registry.clone(),
        dispatcher.clone(),
        &tracker,
        shutdown.clone(),
    )
    .await?;
    tracker.spawn(convoy_coordinator::dispatch::scheduler::run(
        dispatcher.clone(),
        shutdown.clone(),
    ));
    // The fake agents: one queue each, drained by one task that answers at once.
    let (answers_tx, mut answers) = mpsc::unbounded_channel::<(String, String)>();
    for i in 0..args.hosts {
        let id = format!("sim-{i:05}");
        let (sender, mut queue) = mpsc::channel(64);
        registry.connect(
            &AgentId::new(id.clone())?,
            Hello {
                agent_id: id.clone(),
                version: "bench".into(),
                apps: vec![AppStatus {
                    app: "web".into(),
                    version: "1.0".into(),
                    healthy: true,
                    ..Default::default()
                }],
                ..Default::default()
            },
            None,
            sender,
        )?;
        let answers_tx = answers_tx.clone();
        tracker.spawn(async move {
            while let Some(Ok(message)) = queue.recv().await {
                if let Some(coordinator_message::Body::Command(command)) = message.body {
                    let _ = answers_tx.send((id.clone(), command.command_id));
                }
            }
        });
    }
    let answering = {
        let dispatcher = dispatcher.clone();
        tracker.spawn(async move {
            while let Some((agent, command_id)) = answers.recv().await {
                let now = convoy_coordinator::clock::now_unix_ms();
                let bodies = [
                    command_event::Body::Received(Received {}),
                    command_event::Body::Started(Started { pid: 1 }),
                    command_event::Body::Finished(Finished {
                        state: CommandState::Succeeded.into(),
                        exit_code: Some(0),
                        ..Default::default()
                    }),
                ];
                for (seq, body) in bodies.into_iter().enumerate() {
                    let event = CommandEvent {
                        command_id: command_id.clone(),
                        seq: seq as u64 + 1,
                        at_unix_ms: now,
                        body: Some(body),
                    };
                    if let Err(err) = dispatcher.on_event(&agent, &event) {
                        eprintln!("fake agent {agent}: {err}");
                    }
                }
            }
        })
    };

    let cpu_before = cpu_ticks(std::process::id())?;
    let started_at = Instant::now();
    let started = rollouts
        .start_rollout(
            RolloutSpec {
                app: "web".into(),
                version: "2.0".into(),
                batch: args.batch.clone(),
                auto_promote: true,
                ..Default::default()
            },
            false,
            String::new(),
            "bench".into(),
        )
        .await?;
    let view = loop {
        let view = rollouts.get(&started.id).await?;
        if view.state().name() == "succeeded" {
            break view;
        }
        if matches!(
            view.state().name(),
            "failed" | "aborted" | "rolled_back" | "paused"
        ) {
            bail!(
                "rollout ended {}: {}",
                view.state().name(),
                view.waiting_for
            );
        }
        if started_at.elapsed() > args.timeout {
            bail!(
                "rollout not done after {:?}: {}",
                args.timeout,
                view.waiting_for
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let wall = started_at.elapsed();
    let cpu_ticks_used = cpu_ticks(std::process::id())? - cpu_before;
    let waves = view.waves.len();
    shutdown.cancel();
    drop(answers_tx);
    tracker.close();
    drop(rollouts);
    answering.abort();
    let _ = tokio::time::timeout(Duration::from_secs(10), tracker.wait()).await;

    let machine_only = machine_alone(args.hosts, &args.batch).context("machine alone")?;
    Ok(Run {
        wall,
        cpu: Duration::from_secs_f64(cpu_ticks_used as f64 / *CLK_TCK as f64),
        machine_only,
        waves,
    })
}

/// The pure machine over the same plan: every deploy succeeds as soon as it is asked for.
fn machine_alone(hosts: usize, batch: &str) -> anyhow::Result<Duration> {
    use convoy_coordinator::rollout::machine::{Action, Event, Rollout, Settings};
    use convoy_coordinator::rollout::plan::{self, Strategy};
    use convoy_coordinator::selector::Selector;
    let fleet: Vec<plan::Host> = (0..hosts)
        .map(|i| plan::Host {
            id: format!("sim-{i:05}"),
            version: Some("1.0".into()),
            healthy: true,
            online: true,
            ..Default::default()
        })
        .collect();
    let strategy = Strategy::parse(None, Some(batch), None, None)?;
    let plan = plan::build("2.0", &Selector::parse("")?, &fleet, &strategy)?;
    let started = std::time::Instant::now();
    let mut rollout = Rollout::new(
        &plan,
        Settings {
            auto_promote: true,
            ..Settings::default()
        },
    );
    let mut pending: Vec<Action> = rollout.start(0);
    let mut now = 0;
    while let Some(action) = pending.pop() {
        if let Action::Deploy { host } = action {
            now += 1;
            pending.extend(rollout.on_event(now, Event::DeploySucceeded { host }));
        }
    }
    let took = started.elapsed();
    if rollout.state().as_str() != "succeeded" {
        bail!("the machine ended {}", rollout.state().as_str());
    }
    Ok(took)
}
