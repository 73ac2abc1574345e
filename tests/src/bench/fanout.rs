//! `fanout`: one no-op job to every agent of a swarm, all at once. Measures the time from
//! sending `StartJob` to the job's end (every host succeeded, every result stored), each
//! host's latency on the coordinator's clock, the coordinator's CPU time, and where the
//! time goes (from the swarm's own timestamps: the same clock, one machine).

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{
    CommandState, GetJobRequest, Job, JobEvent, JobState, StartJobRequest, WatchJobRequest,
    job_event,
};
use convoy_tests::swarm::commands::OK_OUTPUT;
use convoy_tests::swarm::{CommandTrace, Swarm, SwarmConfig, percentile};
use tokio::time::Instant;
use tonic::transport::Channel;

use crate::fleet::{Fleet, Proc, Target};
use crate::procfs::{CLK_TCK, cpu_ticks, median, secs};
use crate::stage::ConnectArgs;

#[derive(Debug, clap::Args)]
pub struct FanoutArgs {
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// Jobs to run, one after another, against the same coordinator and swarm.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Time each simulated command takes from Started to Finished.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    command_delay: Duration,
    /// A job that has not ended this long after StartJob fails the bench.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    job_timeout: Duration,
    /// Heartbeats only, before the first run and between runs.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pause: Duration,
}

/// Milliseconds at the 50th and 99th percentile and the maximum.
#[derive(Debug, Clone, Copy)]
struct Spread {
    p50: i64,
    p99: i64,
    max: i64,
}

impl Spread {
    fn of(mut values: Vec<i64>) -> Self {
        values.sort_unstable();
        let at = |pct| percentile(&values, pct).unwrap_or(-1);
        Self {
            p50: at(50),
            p99: at(99),
            max: values.last().copied().unwrap_or(-1),
        }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {} / p99 {} / max {} ms",
            self.p50, self.p99, self.max
        )
    }
}

struct FanoutRun {
    /// Sending StartJob until WatchJob's Finished event arrived, by the bench's clock.
    total: Duration,
    /// The StartJob call alone.
    start_call: Duration,
    /// finished_unix_ms − created_unix_ms of each host.
    hosts: Spread,
    /// The job's own created → finished, on the coordinator's clock.
    job_ms: i64,
    coordinator_cpu_s: f64,
    bench_cpu_s: f64,
    /// Job created → the command arrived at the simulated agent.
    delivered: Spread,
    /// The agent sent Finished → the ack for it arrived (stored and flushed).
    acked: Spread,
    /// The last host's Finished → the job's finished_unix_ms.
    last_to_job_end_ms: i64,
    watch_events: usize,
    /// Commands the coordinator sent again (not received within its resend interval),
    /// which the agents ignored.
    duplicates: u64,
}

pub async fn fanout_bench(args: &FanoutArgs) -> anyhow::Result<()> {
    println!(
        "fan-out: no-op job to {} simulated agents, all at once, {} runs ({} connects in flight, \
         command delay {:?})",
        args.agents, args.runs, args.connect.connect_concurrency, args.command_delay
    );
    let fleet = Fleet::new(&[])?;
    let mut coordinator = fleet.spawn_coordinator()?;
    fleet
        .wait_ready(&mut coordinator, Target::Coordinator)
        .await?;
    let config = SwarmConfig {
        connect_concurrency: args.connect.connect_concurrency,
        source_addresses: args.connect.source_addresses,
        command_delay: args.command_delay,
        ..SwarmConfig::new(fleet.url(), fleet.ca_dir(), args.agents)
    };
    let mut swarm = Swarm::start(config).await?;
    let progress = swarm.settled(Duration::from_secs(120)).await;
    if progress.connected != args.agents {
        let report = swarm.stop().await;
        bail!(
            "only {} of {} agents connected:\n{report}\n{}",
            report.connected,
            args.agents,
            coordinator.log_tail()
        );
    }
    println!(
        "connect storm: all {} agents had their Welcome after {}",
        args.agents,
        secs(progress.all_connected_after)
    );
    fleet
        .wait_online(args.agents, Duration::from_secs(60))
        .await?;
    tokio::time::sleep(args.pause).await;

    let mut admin = fleet.admin().await?;
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let result = fanout_run(&mut admin, &swarm, &coordinator, args)
            .await
            .with_context(|| format!("run {run}\n{}", coordinator.log_tail()))?;
        println!(
            "run {run}: total {:.0} ms (StartJob call {:.0} ms, job created->finished {} ms); \
             host latency {}; coordinator cpu {:.2} s, bench+swarm cpu {:.2} s",
            ms(result.total),
            ms(result.start_call),
            result.job_ms,
            result.hosts,
            result.coordinator_cpu_s,
            result.bench_cpu_s,
        );
        println!(
            "       created->delivered {}; finished->acked {}; last finish->job end {} ms; \
             {} watch events; {} duplicate deliveries",
            result.delivered,
            result.acked,
            result.last_to_job_end_ms,
            result.watch_events,
            result.duplicates
        );
        runs.push(result);
        tokio::time::sleep(args.pause).await;
    }
    print_medians(&runs);

    let report = swarm.stop().await;
    println!("{report}");
    ensure!(
        report.dropped == 0 && report.commands_open == 0,
        "sessions dropped or commands left unacked"
    );
    coordinator.terminate(Duration::from_secs(30)).await?;
    Ok(())
}

async fn fanout_run(
    admin: &mut AdminClient<Channel>,
    swarm: &Swarm,
    coordinator: &Proc,
    args: &FanoutArgs,
) -> anyhow::Result<FanoutRun> {
    swarm.take_traces();
    let duplicates_before = swarm.command_counts().duplicates;
    let bench_before = cpu_ticks(std::process::id())?;
    let ticks_before = cpu_ticks(coordinator.pid())?;
    let sent = Instant::now();
    let job = admin
        .start_job(StartJobRequest {
            action: "noop".into(),
            selector: String::new(),
            concurrency: String::new(),
            ..Default::default()
        })
        .await
        .context("StartJob failed")?
        .into_inner();
    let start_call = sent.elapsed();
    let mut watch_events = 0;
    let watched = tokio::time::timeout(args.job_timeout, async {
        let mut events = admin
            .watch_job(WatchJobRequest { id: job.id.clone() })
            .await
            .context("WatchJob failed")?
            .into_inner();
        loop {
            match events.message().await.context("WatchJob stream failed")? {
                Some(JobEvent {
                    body: Some(job_event::Body::Finished(job)),
                }) => return anyhow::Ok(job),
                Some(_) => watch_events += 1,
                None => bail!("WatchJob ended without the finished job"),
            }
        }
    })
    .await;
    let total = sent.elapsed();
    let ticks_after = cpu_ticks(coordinator.pid())?;
    let bench_after = cpu_ticks(std::process::id())?;
    let finished = match watched {
        Ok(result) => result?,
        Err(_) => bail!("job {} did not end within {:?}", job.id, args.job_timeout),
    };
    // The finished job as stored, with each host's output tail.
    let stored = admin
        .get_job(GetJobRequest {
            id: job.id.clone(),
            tail_bytes: 16,
        })
        .await
        .context("GetJob failed")?
        .into_inner();
    verify(&finished, args.agents).context("the watched job")?;
    verify(&stored, args.agents).context("the stored job")?;
    if let Some(host) = stored.hosts.iter().find(|h| h.output_tail != OK_OUTPUT) {
        bail!("host {} stored output {:?}", host.host, host.output_tail);
    }

    let traces = acked_traces(swarm, &job.id, args.agents).await?;
    let created = stored.created_unix_ms;
    let last_finish = stored.hosts.iter().map(|h| h.finished_unix_ms).max();
    #[allow(clippy::cast_precision_loss)]
    let cpu_s = |ticks: u64| ticks as f64 / *CLK_TCK as f64;
    Ok(FanoutRun {
        total,
        start_call,
        hosts: Spread::of(
            stored
                .hosts
                .iter()
                .map(|h| h.finished_unix_ms - created)
                .collect(),
        ),
        job_ms: stored.finished_unix_ms - created,
        coordinator_cpu_s: cpu_s(ticks_after - ticks_before),
        bench_cpu_s: cpu_s(bench_after - bench_before),
        delivered: Spread::of(traces.iter().map(|t| t.arrived_unix_ms - created).collect()),
        acked: Spread::of(
            traces
                .iter()
                .map(|t| t.acked_unix_ms - t.finished_unix_ms)
                .collect(),
        ),
        last_to_job_end_ms: stored.finished_unix_ms - last_finish.unwrap_or(created),
        watch_events,
        duplicates: swarm.command_counts().duplicates - duplicates_before,
    })
}

#[allow(clippy::cast_precision_loss)]
fn print_medians(runs: &[FanoutRun]) {
    let med = |f: fn(&FanoutRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    println!(
        "median: total {:.0} ms; host latency p50 {:.0} / p99 {:.0} / max {:.0} ms; \
         coordinator cpu {:.2} s",
        med(|r| ms(r.total)),
        med(|r| r.hosts.p50 as f64),
        med(|r| r.hosts.p99 as f64),
        med(|r| r.hosts.max as f64),
        med(|r| r.coordinator_cpu_s),
    );
}

/// Every host of `job` succeeded with exit code 0, and the job says so.
fn verify(job: &Job, agents: usize) -> anyhow::Result<()> {
    let bad: Vec<String> = job
        .hosts
        .iter()
        .filter(|h| {
            h.state != CommandState::Succeeded as i32
                || h.exit_code != Some(0)
                || h.finished_unix_ms == 0
        })
        .take(5)
        .map(|h| {
            format!(
                "{}: {:?} exit {:?} {:?}",
                h.host,
                CommandState::try_from(h.state).unwrap_or(CommandState::Unspecified),
                h.exit_code,
                h.message
            )
        })
        .collect();
    let counts = job.counts.unwrap_or_default();
    ensure!(
        job.state == JobState::Succeeded as i32
            && job.hosts.len() == agents
            && counts.succeeded as usize == agents
            && bad.is_empty(),
        "job {} ended {:?} with {} hosts, counts {counts:?}; not succeeded: {bad:?}",
        job.id,
        JobState::try_from(job.state).unwrap_or(JobState::Unspecified),
        job.hosts.len()
    );
    Ok(())
}

/// The swarm's traces of this job's commands, once every agent has its Finished acked.
async fn acked_traces(
    swarm: &Swarm,
    job_id: &str,
    agents: usize,
) -> anyhow::Result<Vec<convoy_tests::swarm::commands::Trace>> {
    let prefix = format!("{job_id}/");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut traces = Vec::new();
    loop {
        traces.extend(
            swarm
                .take_traces()
                .into_iter()
                .map(|CommandTrace { trace, .. }| trace)
                .filter(|t| t.command_id.starts_with(&prefix)),
        );
        if traces.len() >= agents {
            return Ok(traces);
        }
        ensure!(
            Instant::now() < deadline,
            "only {} of {agents} agents had their result acked",
            traces.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
