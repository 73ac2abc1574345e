//! `convoy rollout start|list|status|watch|pause|resume|promote|abort|rollback|history|report`.

mod start;
use start::{expect, start};
mod approve;
mod render;
pub mod report;
pub(crate) mod watch;

use std::time::Duration;

use clap::{Args, Subcommand};
use convoy_proto::v1::{
    ControlRolloutRequest, GetRolloutRequest, ListRolloutsRequest, RolloutControl,
    RolloutReportRequest, RolloutSpec, RolloutState, RolloutView, StartRolloutRequest,
};

use super::connect::{rollouts, rpc_error};
use super::{ConnectArgs, OutputFormat, UsageError};
use crate::cli::out;
use crate::rollout::record::parse_spec;
use crate::selector::Selector;

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Roll APP out to VERSION on every matching host, in canary waves behind gates.
    Start(Box<StartArgs>),
    /// Rollouts of every app, newest first.
    List {
        /// Only rollouts still going.
        #[arg(long)]
        active: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One rollout: waves, hosts per wave with state, gates, failures against the budget,
    /// and what it waits for.
    Status {
        /// The rollout id.
        id: String,
    },
    /// Live progress per wave until the rollout ends; exits 0 only if it succeeded, 3 if it
    /// stops to wait for an operator (paused or awaiting promotion).
    Watch {
        /// The rollout id.
        id: String,
        /// Keep following through pauses and the wait for promotion, until it ends.
        #[arg(long)]
        wait_through_pauses: bool,
    },
    /// Start no new hosts; those in flight finish.
    Pause {
        /// The rollout id.
        id: String,
    },
    /// Continue a paused rollout (after a failure pause, the failures so far are accepted).
    Resume {
        /// The rollout id.
        id: String,
    },
    /// Let a rollout go on past its canary wave.
    Promote {
        /// The rollout id.
        id: String,
    },
    /// Stop for good: no new hosts, nothing reverted. Always wins.
    Abort {
        /// The rollout id.
        id: String,
    },
    /// Return every host the rollout moved to its previous version, in waves. Works from
    /// any state but rolling_back/rolled_back, including aborted and failed.
    Rollback {
        /// The rollout id.
        id: String,
        /// Block until the rollback ends; exit 0 only if it rolled back cleanly.
        #[arg(long)]
        wait: bool,
        /// Roll back a succeeded rollout even though newer rollouts of the app came after
        /// it (without it, the refusal says what the rollback would do).
        #[arg(long)]
        force: bool,
    },
    /// The post-deployment report: timeline (planned against actual per wave, waits, who
    /// did what), each host's outcome, failures against the budget, the rollback, metric
    /// deltas of the updated hosts (hour before against after, with significance) and the
    /// canary verdicts. Stored when the rollout ends; computed now for one still going.
    /// -o markdown fits a pull-request comment; -o json is a stable shape.
    Report {
        /// The rollout id.
        id: String,
    },
    /// Approve a rollout awaiting approval (you must not be the operator who started it;
    /// the environment may ask for a role). Who approves is your certificate's name.
    Approve {
        /// The rollout id.
        id: String,
        /// Said with the approval (shown in status, the audit log and notifications).
        #[arg(long, value_name = "TEXT", default_value = "")]
        comment: String,
        /// Withdraw your approval instead.
        #[arg(long)]
        withdraw: bool,
    },
    /// Withdraw your approval of a rollout (the same as `approve --withdraw`).
    Unapprove {
        /// The rollout id.
        id: String,
    },
    /// Past rollouts of an app and their outcome.
    History {
        /// The app.
        app: String,
        /// At most this many, newest first.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The app.
    pub app: String,
    /// The version to roll out (pushed with `convoy release push`).
    #[arg(id = "release_version", value_name = "VERSION")]
    pub version: String,
    /// Label selector for the target hosts, e.g. 'role=web' ('id=web-1' names a host);
    /// with --env it narrows the environment's selector.
    #[arg(long, short = 's', default_value = "")]
    pub selector: String,
    /// The environment (`[[environments]]` in coordinator.toml) to roll out to: its
    /// selector, promotion rule (`requires`), approvals and window apply.
    #[arg(long, value_name = "NAME", default_value = "")]
    pub env: String,
    /// Start although the version has not succeeded in the environment --env requires
    /// (admin only; needs --reason, which is audited and kept with the rollout).
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why --force was needed.
    #[arg(long, value_name = "TEXT", requires = "force")]
    pub reason: Option<String>,
    /// Schedule the start: 'YYYY-MM-DD HH:MM' in the environment's timezone (UTC without
    /// --env), or with an offset ('2026-12-05 02:00+01:00'). It then runs only inside
    /// the environment's window, like any rollout there.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Only these hosts, by agent id: comma-separated or repeated; combines with
    /// --selector (both must match).
    #[arg(long = "host", value_name = "ID", value_delimiter = ',')]
    pub hosts: Vec<String>,
    /// The first wave: N hosts or P% (default 1).
    #[arg(long)]
    pub canary: Option<String>,
    /// Hosts per later wave: N or P% (default 10%). Also the size of rollback waves.
    #[arg(long, visible_alias = "concurrency")]
    pub batch: Option<String>,
    /// A ramp of cumulative shares instead of canary and batch, e.g. 1,10%,50%,100%.
    #[arg(long, conflicts_with = "canary")]
    pub steps: Option<String>,
    /// Failed hosts tolerated over the whole rollout: N or P% (default 0).
    #[arg(long, visible_alias = "max-errors")]
    pub max_failures: Option<String>,
    /// How long each finished wave must stay healthy, within its gates, before the next.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub bake: Duration,
    /// A metric gate checked on every host of a baking wave: cpu<90, mem<95, load1<8,
    /// disk</:90, cpu<1.5*baseline, an app signal APP.NAME: web.error_rate<0.01. Repeatable.
    #[arg(long = "gate", value_name = "EXPR")]
    pub gates: Vec<String>,
    /// Canary analysis at the end of each wave's bake (needs --bake): the wave's updated
    /// hosts against those not yet updated, over the bake, from the metrics history:
    /// cpu<=1.2*baseline, load1<=baseline+0.5, mem<90. Repeatable.
    #[arg(long = "analysis", value_name = "EXPR")]
    pub analysis: Vec<String>,
    /// An analysis still inconclusive (too few samples) after its bake was extended once
    /// counts as this.
    #[arg(long, default_value = "fail", value_parser = ["pass", "fail"])]
    pub inconclusive: String,
    /// Waves never mix values of this label; groups go one after another.
    #[arg(long)]
    pub group_by: Option<String>,
    /// When failures exceed the budget: pause (the operator decides) or rollback.
    #[arg(long, default_value = "pause", value_parser = ["pause", "rollback"])]
    pub on_failure: String,
    /// Go on after the canary bakes without waiting for `convoy rollout promote`.
    #[arg(long)]
    pub auto_promote: bool,
    /// Abort when a wait for promotion or a pause lasts longer than this.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub pause_timeout: Option<Duration>,
    /// Hosts offline when their turn comes: wait for them, or skip them.
    #[arg(long, default_value = "wait", value_parser = ["wait", "skip"])]
    pub offline: String,
    /// How long to wait for an offline host before counting it unreachable.
    #[arg(
        long,
        default_value = "10m",
        value_parser = humantime::parse_duration,
        visible_alias = "delivery-timeout"
    )]
    pub offline_timeout: Duration,
    /// Hosts skipped or unreachable that come back within this long after the rollout
    /// succeeded still get the version.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub late_window: Duration,
    /// Print the plan (waves and their hosts) and start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Block until the rollout ends; exit 0 only if it succeeded, 3 if it stops to wait
    /// for an operator (paused, or awaiting promotion).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: keep waiting through pauses and the wait for promotion, until the
    /// rollout ends.
    #[arg(long, requires = "wait")]
    pub wait_through_pauses: bool,
    /// Idempotency key: repeating a start with the same key returns the first rollout.
    #[arg(long, default_value = "")]
    pub request_id: String,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl StartArgs {
    fn spec(&self) -> RolloutSpec {
        RolloutSpec {
            app: self.app.clone(),
            version: self.version.clone(),
            selector: self.selector.clone(),
            canary: self.canary.clone().unwrap_or_default(),
            batch: self.batch.clone().unwrap_or_default(),
            steps: self.steps.clone().unwrap_or_default(),
            max_failures: self.max_failures.clone().unwrap_or_default(),
            bake_ms: millis(self.bake),
            gates: self.gates.clone(),
            group_by: self.group_by.clone().unwrap_or_default(),
            on_failure: self.on_failure.clone(),
            auto_promote: self.auto_promote,
            pause_timeout_ms: self.pause_timeout.map_or(0, millis),
            offline: self.offline.clone(),
            offline_timeout_ms: millis(self.offline_timeout).max(1),
            late_window_ms: millis(self.late_window).max(1),
            analysis: self.analysis.clone(),
            inconclusive: self.inconclusive.clone(),
            env: self.env.clone(),
            ..Default::default()
        }
    }
}

/// A rollout that ended other than `succeeded` (or, for `rollback --wait`, `rolled_back`).
#[derive(Debug, thiserror::Error)]
#[error("rollout {id} {state}")]
pub struct RolloutNotSucceeded {
    pub id: String,
    pub state: String,
}

pub async fn run(
    command: RolloutCommand,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    match command {
        RolloutCommand::Start(args) => start(*args, connect, format).await,
        RolloutCommand::List { active, limit } => list("", active, limit, connect, format).await,
        RolloutCommand::History { app, limit } => list(&app, false, limit, connect, format).await,
        RolloutCommand::Report { id } => {
            let output = match format {
                OutputFormat::Table => crate::cli::OutputArg::Table,
                OutputFormat::Json => crate::cli::OutputArg::Json,
            };
            show_report(&id, connect, output).await
        }
        RolloutCommand::Status { id } => {
            let view = get(&id, connect).await?;
            render::print_view(&view, format)
        }
        RolloutCommand::Watch {
            id,
            wait_through_pauses,
        } => {
            let view = watch::watch(&id, connect, format, wait_through_pauses).await?;
            render::print_view(&view, format)?;
            expect(&view, RolloutState::Succeeded)
        }
        RolloutCommand::Pause { id } => {
            control(&id, RolloutControl::Pause, false, connect, format).await
        }
        RolloutCommand::Resume { id } => {
            control(&id, RolloutControl::Resume, false, connect, format).await
        }
        RolloutCommand::Promote { id } => {
            control(&id, RolloutControl::Promote, false, connect, format).await
        }
        RolloutCommand::Abort { id } => {
            control(&id, RolloutControl::Abort, false, connect, format).await
        }
        RolloutCommand::Approve {
            id,
            comment,
            withdraw,
        } => approve::approve(&id, &comment, withdraw, connect, format).await,
        RolloutCommand::Unapprove { id } => approve::approve(&id, "", true, connect, format).await,
        RolloutCommand::Rollback { id, wait, force } => {
            control_with(&id, RolloutControl::Rollback, wait, force, connect, format).await
        }
    }
}

/// `convoy rollout report RID`: table, JSON or Markdown.
pub async fn show_report(
    id: &str,
    connect: &ConnectArgs,
    output: crate::cli::OutputArg,
) -> anyhow::Result<()> {
    let mut client = rollouts(connect).await?;
    let report = client
        .get_rollout_report(RolloutReportRequest { id: id.to_string() })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    match output {
        crate::cli::OutputArg::Json => {
            out!(
                "{}",
                serde_json::to_string_pretty(&report::to_json(&report))?
            );
        }
        crate::cli::OutputArg::Markdown => out!("{}", report::markdown(&report)),
        _ => out!("{}", report::tables(&report)),
    }
    Ok(())
}

async fn get(id: &str, connect: &ConnectArgs) -> anyhow::Result<RolloutView> {
    let mut client = rollouts(connect).await?;
    Ok(client
        .get_rollout(GetRolloutRequest { id: id.to_string() })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner())
}

async fn list(
    app: &str,
    active_only: bool,
    limit: u32,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = rollouts(connect).await?;
    let list = client
        .list_rollouts(ListRolloutsRequest {
            app: app.to_string(),
            active_only,
            limit,
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    render::print_list(&list.rollouts, !app.is_empty(), format)
}

async fn control(
    id: &str,
    control: RolloutControl,
    wait: bool,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    control_with(id, control, wait, false, connect, format).await
}

async fn control_with(
    id: &str,
    control: RolloutControl,
    wait: bool,
    force: bool,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = rollouts(connect).await?;
    let view = client
        .control_rollout(ControlRolloutRequest {
            id: id.to_string(),
            control: control.into(),
            force,
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    if wait {
        let view = watch::watch(id, connect, format, false).await?;
        render::print_view(&view, format)?;
        return expect(&view, RolloutState::RolledBack);
    }
    match format {
        OutputFormat::Json => render::print_view(&view, format),
        OutputFormat::Table => {
            out!(
                "rollout {} is {}: {}",
                view.id,
                view.state().name(),
                view.waiting_for
            );
            Ok(())
        }
    }
}
