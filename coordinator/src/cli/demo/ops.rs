//! The demo's calls to its coordinator, through the same gRPC clients as the CLI: waiting
//! for the fleet, running a job to its end (with a progress bar on a terminal), starting a
//! rollout and reading back what each host runs.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::{Context as _, bail};
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{
    AgentState, GetJobRequest, HostRelease, Job, ListAgentsRequest, ReleaseStatusRequest,
    RolloutSpec, RolloutView, StartRolloutRequest, WatchJobRequest, job_event,
};
use indicatif::{ProgressBar, ProgressStyle};
use tonic::transport::Channel;

use super::Mode;
use crate::cli::connect::{admin, rollouts, rpc_error};
use crate::cli::output::command_state_name;
use crate::cli::rollouts::watch;
use crate::cli::{ConnectArgs, OutputFormat};

/// Longest the demo waits for any one thing (agents online, a job, a settled status).
pub const STEP_DEADLINE: Duration = Duration::from_secs(60);

/// Waits until `count` agents matching `selector` are online and have sent metrics.
pub async fn wait_online(
    connect: &ConnectArgs,
    selector: &str,
    count: usize,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + STEP_DEADLINE;
    loop {
        // The coordinator may still be binding its services: retry connecting too.
        if let Ok(mut client) = admin(connect).await {
            let agents = client
                .list_agents(ListAgentsRequest {
                    selector: selector.to_string(),
                })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner()
                .agents;
            let ready = agents
                .iter()
                .filter(|a| a.state == AgentState::Online as i32 && a.metrics.is_some())
                .count();
            if ready == count {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{count} agents did not come online within {STEP_DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Follows a started job until it finishes; returns its final state.
pub async fn wait_job(
    client: &mut AdminClient<Channel>,
    connect: &ConnectArgs,
    job: Job,
    label: &str,
    mode: Mode,
) -> anyhow::Result<Job> {
    let total = job.counts.as_ref().map_or(0, |c| c.total);
    let bar = (mode == Mode::Interactive && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(u64::from(total)).with_style(
            ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let mut events = client
        .watch_job(WatchJobRequest { id: job.id.clone() })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let mut states: BTreeMap<String, &'static str> = BTreeMap::new();
    let watched = tokio::time::timeout(STEP_DEADLINE, async {
        while let Some(event) = events
            .message()
            .await
            .map_err(|status| rpc_error(&connect.addr, status))?
        {
            match event.body {
                Some(job_event::Body::Host(host)) => {
                    states.insert(host.host.clone(), command_state_name(host.state));
                    if let Some(bar) = &bar {
                        let done = states
                            .values()
                            .filter(|s| !matches!(**s, "pending" | "delivered" | "running"))
                            .count();
                        bar.set_position(done as u64);
                        bar.set_message(format!(
                            "{}: {}",
                            host.host,
                            command_state_name(host.state)
                        ));
                    }
                }
                Some(job_event::Body::Finished(_)) => break,
                _ => {}
            }
        }
        Ok::<(), anyhow::Error>(())
    })
    .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    watched
        .with_context(|| format!("job {} did not finish within {STEP_DEADLINE:?}", job.id))??;
    Ok(client
        .get_job(GetJobRequest {
            id: job.id.clone(),
            tail_bytes: 0,
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner())
}

/// One line per host that did not succeed: `host: state (message)`.
pub fn job_problems(job: &Job) -> Vec<String> {
    job.hosts
        .iter()
        .filter(|h| command_state_name(h.state) != "succeeded")
        .map(|h| {
            format!(
                "{}: {} ({})",
                h.host,
                command_state_name(h.state),
                h.message
            )
        })
        .collect()
}

/// The demo's rollout flags: canary waves zone by zone, each gated on health, promoted
/// by themselves.
pub fn rollout_spec(version: &str, on_failure: &str) -> RolloutSpec {
    RolloutSpec {
        app: super::fleet::APP.into(),
        version: version.into(),
        selector: "role=web".into(),
        canary: "1".into(),
        batch: "2".into(),
        max_failures: "0".into(),
        bake_ms: 1000,
        gates: vec!["health=ok".into()],
        group_by: "zone".into(),
        on_failure: on_failure.into(),
        auto_promote: true,
        offline: "wait".into(),
        offline_timeout_ms: 60_000,
        late_window_ms: 60_000,
        ..Default::default()
    }
}

/// The command line an operator would type for [`rollout_spec`].
pub fn rollout_command(version: &str, on_failure: &str) -> String {
    format!(
        "convoy rollout start web {version} --selector role=web --group-by zone --canary 1 \
         --batch 2 --bake 1s --gate health=ok --auto-promote --on-failure {on_failure} --wait"
    )
}

/// Starts a rollout, prints its plan and follows it to its end (bars on a terminal in
/// interactive mode, plain lines otherwise).
pub async fn rollout(
    connect: &ConnectArgs,
    spec: RolloutSpec,
    mode: Mode,
) -> anyhow::Result<RolloutView> {
    let mut client = rollouts(connect).await?;
    let started = client
        .start_rollout(StartRolloutRequest {
            spec: Some(spec),
            dry_run: false,
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    for line in &started.plan {
        say!("    {line}");
    }
    say!("    rollout {} started", started.id);
    let follow = watch::watch_styled(
        &started.id,
        connect,
        OutputFormat::Table,
        mode == Mode::Script,
        true,
    );
    tokio::time::timeout(STEP_DEADLINE * 2, follow)
        .await
        .with_context(|| format!("rollout {} did not end in time", started.id))?
}

/// What each host runs, once every host reports `version` healthy (or the deadline passes:
/// then the last answer, for the checks to judge).
pub async fn settled_versions(
    connect: &ConnectArgs,
    version: &str,
) -> anyhow::Result<BTreeMap<String, HostRelease>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut client = admin(connect).await?;
    loop {
        let hosts = client
            .release_status(ReleaseStatusRequest {
                app: super::fleet::APP.into(),
                selector: "role=web".into(),
            })
            .await
            .map_err(|status| rpc_error(&connect.addr, status))?
            .into_inner()
            .hosts;
        let settled = hosts.len() == super::fleet::HOSTS.len()
            && hosts.iter().all(|h| h.version == version && h.healthy);
        if settled || tokio::time::Instant::now() >= deadline {
            return Ok(hosts.into_iter().map(|h| (h.host.clone(), h)).collect());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
