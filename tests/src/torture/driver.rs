//! One torture run: start the fleet, run the workload, inject the seed's faults one after
//! the other (each followed by a wait until the whole fleet is back, which is timed), then
//! heal everything, let every acknowledged job finish, stop the processes cleanly and hand
//! the recorded history to the checker.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use convoy_tests::faultproxy::Faults;
use tokio_util::sync::CancellationToken;

use super::checker::{self, History};
use super::deploys;
use super::fleet::Fleet;
use super::schedule::{self, Fault, Mix};
use super::workload::{self, Record, lock};

/// How long the fleet gets to come back after one fault. The agent's reconnect backoff
/// caps at 60 s, so a run of faults can legitimately take that long.
const RECOVER: Duration = Duration::from_secs(90);

#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub faults: usize,
    pub agents: usize,
    pub mix: Mix,
    /// No new fault starts after this long.
    pub max_duration: Duration,
    /// Pause between two workload jobs.
    pub every: Duration,
    /// Pause between two backup runs.
    pub backup_every: Duration,
    /// Rollouts and backups beside the jobs.
    pub deploys: bool,
    /// Where the fleet lives; kept afterwards. A temp dir (deleted) when `None`.
    pub dir: Option<PathBuf>,
    /// Seconds agents a1 (ahead) and a2 (behind) have their clocks off.
    pub skew: Option<i64>,
    /// Disk-full faults on tmpfs data dirs (root only).
    pub disk: bool,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub injected: BTreeMap<&'static str, usize>,
    /// Time until every agent was online again, per fault kind.
    pub recovery: BTreeMap<&'static str, Vec<Duration>>,
    pub jobs_requested: usize,
    pub jobs_acked: usize,
    pub failed_calls: u64,
    pub commands: BTreeMap<String, usize>,
    pub side_runs: usize,
    pub rollouts: usize,
    pub rollout_states: BTreeMap<String, usize>,
    pub backup_jobs: usize,
    pub backups_verified: usize,
    pub violations: Vec<String>,
    /// Processes that exited by themselves during a disk-full fault (restarted).
    pub notes: Vec<String>,
    pub elapsed: Duration,
}

pub async fn run(options: &Options) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let temp;
    let dir = match &options.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let mut outcome = Outcome::default();
    let mut fleet = Fleet::new(&dir, options.agents, options.skew, options.disk).await?;
    fleet.start_coordinator()?;
    for n in 0..options.agents {
        fleet.start_agent(n)?;
    }
    fleet
        .wait_recovered(Duration::from_secs(60))
        .await
        .context("the fleet never came up")?;

    let record = Arc::new(Mutex::new(Record::default()));
    let stop = CancellationToken::new();
    let prefix = format!("t{}", options.seed);
    let load = tokio::spawn(workload::run(
        fleet.cli(),
        record.clone(),
        prefix.clone(),
        options.every,
        stop.clone(),
    ));

    let deploy_record = Arc::new(Mutex::new(deploys::Record::default()));
    let mut deploy_tasks = Vec::new();
    if options.deploys {
        deploy_tasks.push(tokio::spawn(deploys::rollouts(
            fleet.cli(),
            deploy_record.clone(),
            prefix.clone(),
            dir.clone(),
            fleet.release_key(),
            stop.clone(),
        )));
        deploy_tasks.push(tokio::spawn(deploys::backups(
            fleet.cli(),
            deploy_record.clone(),
            prefix.clone(),
            options.backup_every,
            stop.clone(),
        )));
    }

    let schedule = schedule::generate(
        options.seed,
        options.faults,
        options.agents,
        options.mix,
        options.disk,
    );
    let deadline = started + options.max_duration;
    let mut side_jobs = Vec::new();
    for (i, fault) in schedule.iter().enumerate() {
        if Instant::now() > deadline {
            eprintln!("time is up after {i} faults");
            break;
        }
        *outcome.injected.entry(fault.kind()).or_default() += 1;
        let key = format!("{prefix}-f{i}");
        let result = inject(
            &mut fleet,
            fault,
            &record,
            key,
            &stop,
            &mut side_jobs,
            &mut outcome.notes,
        )
        .await;
        match result {
            Ok(took) => outcome.recovery.entry(fault.kind()).or_default().push(took),
            Err(err) => {
                outcome
                    .violations
                    .push(format!("after fault {i} ({fault:?}): {err:#}"));
                break;
            }
        }
        // A breath between faults, with the workload running.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    stop.cancel();
    let _ = load.await;
    for task in deploy_tasks {
        let _ = task.await;
    }
    for job in side_jobs {
        let _ = job.await;
    }
    fleet.heal_all();
    for n in 0..options.agents {
        if fleet.agents[n].proc.is_none() {
            fleet.start_agent(n)?;
        }
    }
    if let Err(err) = fleet.wait_recovered(RECOVER).await {
        outcome.violations.push(format!("after the run: {err:#}"));
    }
    let (requested, acked, failed_calls) = {
        let record = lock(&record);
        (
            record.requested.clone(),
            record.acked.clone(),
            record.failed_calls,
        )
    };
    outcome.jobs_requested = requested.len();
    outcome.jobs_acked = acked.len();
    outcome.failed_calls = failed_calls;
    wait_jobs_settled(&fleet, &acked, &mut outcome).await;
    let (rollouts_acked, backup_jobs) = {
        let record = deploys::lock(&deploy_record);
        (record.rollouts.clone(), record.backup_jobs.clone())
    };
    let backup_acked: Vec<workload::Acked> = backup_jobs
        .iter()
        .map(|job| workload::Acked {
            request_id: String::new(),
            job_id: job.clone(),
        })
        .collect();
    wait_jobs_settled(&fleet, &backup_acked, &mut outcome).await;
    let ends = deploys::rollouts_ended(&fleet.cli(), &rollouts_acked).await;
    outcome.rollouts = ends.len();
    outcome.backup_jobs = backup_jobs.len();
    for end in &ends {
        *outcome.rollout_states.entry(end.state.clone()).or_default() += 1;
    }

    // Stop everything cleanly; then the stores are closed and can be read.
    for agent in &mut fleet.agents {
        if let Some(proc) = agent.proc.take() {
            if let Err(err) = proc.stop(Duration::from_secs(20)) {
                outcome
                    .violations
                    .push(format!("agent {}: {err:#}", agent.id));
            }
        }
    }
    if let Some(proc) = fleet.coordinator.take() {
        if let Err(err) = proc.stop(Duration::from_secs(30)) {
            outcome.violations.push(format!("coordinator: {err:#}"));
        }
    }
    let mut history = History {
        acked,
        ..History::default()
    };
    // A store that does not reopen is a violation, reported with everything else.
    if let Err(err) = checker::read_coordinator(&mut history, &dir.join("data"), &requested) {
        outcome.violations.push(format!("{err:#}"));
    }
    for agent in &fleet.agents {
        if let Err(err) =
            checker::read_agent(&mut history, &agent.id, &agent.data_dir, &agent.side_log)
        {
            outcome.violations.push(format!("{err:#}"));
        }
    }
    for command in history.commands.values() {
        *outcome
            .commands
            .entry(format!("{:?}", command.state).to_lowercase())
            .or_default() += 1;
    }
    outcome.side_runs = history.side.values().map(Vec::len).sum();
    let deploy_logs = fleet
        .agents
        .iter()
        .map(|agent| (agent.id.clone(), deploys::read_deploys(&agent.data_dir)))
        .collect();
    outcome
        .violations
        .extend(deploys::check_rollouts(&ends, &deploy_logs));
    match deploys::check_backups(&dir.join("data"), &dir.join("restored")) {
        Ok((checked, violations)) => {
            outcome.backups_verified = checked;
            outcome.violations.extend(violations);
        }
        Err(err) => outcome.violations.push(format!("{err:#}")),
    }
    outcome.violations.extend(checker::check(&history));
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// Applies one fault, undoes it, and returns how long the fleet then took to have every
/// agent online again.
async fn inject(
    fleet: &mut Fleet,
    fault: &Fault,
    record: &Arc<Mutex<Record>>,
    key: String,
    stop: &CancellationToken,
    side_jobs: &mut Vec<tokio::task::JoinHandle<Option<String>>>,
    notes: &mut Vec<String>,
) -> anyhow::Result<Duration> {
    let hold = |faults: Faults, agent: usize, hold: Duration| {
        let proxy = &fleet.agents[agent].proxy;
        proxy.set(faults);
        async move { tokio::time::sleep(hold).await }
    };
    match *fault {
        Fault::KillCoordinator { down } => {
            if let Some(proc) = fleet.coordinator.take() {
                proc.kill9();
            }
            tokio::time::sleep(down).await;
            fleet.start_coordinator()?;
        }
        Fault::KillAgent { agent, down } => {
            if let Some(proc) = fleet.agents[agent].proc.take() {
                proc.kill9();
            }
            tokio::time::sleep(down).await;
            fleet.start_agent(agent)?;
        }
        Fault::KillAgentMidCommand { agent, after, down } => {
            let side = fleet.agents[agent].side_log.clone();
            let before = side_len(&side);
            let (cli, record, stop) = (fleet.cli(), record.clone(), stop.clone());
            let selector = format!("name={}", fleet.agents[agent].id);
            side_jobs.push(tokio::spawn(async move {
                workload::exec_until_acked(&cli, &record, &selector, "slow", key, &stop).await
            }));
            // Until one more command has started there (or 10 s: then it is a plain kill).
            let waited = Instant::now();
            while side_len(&side) == before && waited.elapsed() < Duration::from_secs(10) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(after).await;
            if let Some(proc) = fleet.agents[agent].proc.take() {
                proc.kill9();
            }
            tokio::time::sleep(down).await;
            fleet.start_agent(agent)?;
        }
        Fault::Latency {
            agent,
            latency,
            hold: time,
        } => {
            let faults = Faults {
                latency,
                ..Faults::default()
            };
            hold(faults, agent, time).await;
        }
        Fault::Bandwidth {
            agent,
            bytes_per_sec,
            hold: time,
        } => {
            let faults = Faults {
                bandwidth: Some(bytes_per_sec),
                ..Faults::default()
            };
            hold(faults, agent, time).await;
        }
        Fault::Reset { agent } => fleet.agents[agent].proxy.reset_all(),
        Fault::Blackhole { agent, hold: time } => {
            let faults = Faults {
                blackhole: true,
                ..Faults::default()
            };
            hold(faults, agent, time).await;
        }
        Fault::PartitionUp { agent, hold: time } => {
            let faults = Faults {
                stall_up: true,
                ..Faults::default()
            };
            hold(faults, agent, time).await;
        }
        Fault::PartitionDown { agent, hold: time } => {
            let faults = Faults {
                stall_down: true,
                ..Faults::default()
            };
            hold(faults, agent, time).await;
        }
        Fault::DiskFull { coordinator, hold } => {
            let Some(mount) = fleet.mounts.get(usize::from(!coordinator)).cloned() else {
                anyhow::bail!("a disk-full fault without --disk");
            };
            let filler = mount.join("filler");
            fill(&filler);
            tokio::time::sleep(hold).await;
            let _ = std::fs::remove_file(&filler);
            // A store or journal that hit the full disk makes its process exit non-zero
            // (at its next flush: the coordinator's periodic one comes within 5 s); like
            // systemd's Restart=on-failure, restart it, for a bounded window.
            let until = tokio::time::Instant::now() + DISK_SUPERVISION;
            while tokio::time::Instant::now() < until {
                for name in fleet.restart_exited()? {
                    notes.push(format!("{name} exited after its disk was full (restarted)"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    fleet.heal_all();
    fleet.wait_recovered(RECOVER).await
}

/// How long after a disk-full fault a process that exits is restarted, not a violation.
const DISK_SUPERVISION: Duration = Duration::from_secs(7);

/// Writes zeros to `path` until the file system is full (bounded by the tmpfs size).
fn fill(path: &std::path::Path) {
    use std::io::Write as _;
    let Ok(mut file) = std::fs::File::create(path) else {
        return;
    };
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        if file.write_all(&chunk).is_err() {
            break;
        }
    }
    let _ = file.sync_all();
}

fn side_len(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

/// Waits (bounded) until every acknowledged job has ended; those that did not are left
/// to the checker, which reports their unfinished commands.
async fn wait_jobs_settled(fleet: &Fleet, acked: &[workload::Acked], outcome: &mut Outcome) {
    let deadline = Instant::now() + Duration::from_secs(180);
    for job in acked {
        loop {
            let state = fleet
                .convoy(&["job", "show", &job.job_id, "-o", "json"])
                .await
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|job| job["state"].as_str().map(str::to_owned));
            if state.as_deref().is_some_and(|s| s != "running") {
                break;
            }
            if Instant::now() > deadline {
                outcome.violations.push(format!(
                    "job {} still not finished 180 s after the run",
                    job.job_id
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
