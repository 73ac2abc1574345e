//! The post-deployment report, assembled: the timeline of a rollout (planned against
//! actual per wave, waits for an operator, who did what) from its replayed log, each
//! host's outcome, the rollback, and metric deltas of the hosts it deployed to, before
//! their update against after it (medians, the change, and a two-sided Mann–Whitney U
//! test at [`ALPHA`]). Pure: the shell (`rollout::report`) reads the log, the audit log
//! and the history, and passes them in with the time.

use std::collections::{BTreeMap, HashMap};

use convoy_proto::v1::{
    PlannedWave, ReportAction, ReportHost, ReportPause, ReportRollback, ReportWave,
    RolloutEventKind, RolloutHostState, RolloutReport, RolloutState,
};

/// Significance level of the two-sided test of each delta.
pub const ALPHA: f64 = 0.05;
/// Samples (per-minute averages) needed on each side before a delta is tested.
pub const MIN_SAMPLES: usize = 5;
/// How far before and after a host's update its samples are compared.
pub const WINDOW_MS: i64 = 3_600_000;
/// Hosts whose metrics are compared at most (failed ones first, then plan order).
pub const MAX_HOSTS: usize = 64;
/// The series every compared host is read for; its disks and app signals come after.
pub const BASE_SERIES: [&str; 3] = ["cpu", "mem", "load1"];

/// One applied log entry and the rollout as it stood after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub at: i64,
    pub kind: RolloutEventKind,
    pub host: String,
    /// The operator, for operator controls.
    pub by: String,
    pub state: RolloutState,
    /// 0-based current wave after the entry.
    pub wave: usize,
    /// What the rollout waits for, in words, on frames where the state changed.
    pub waiting_for: Option<String>,
}

/// The values of one series before an update and after it.
pub type BeforeAfter = (Vec<f64>, Vec<f64>);

/// One compared host's samples: per series, the values before its update and after.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostSamples {
    pub host: String,
    pub series: BTreeMap<String, BeforeAfter>,
}

/// Everything a report is made of. `header` carries the identity and the final counts
/// (id, app, version, selector, state, who and when, targets, failures and budget);
/// `hosts` the final state of each host with its wave, reason and previous version.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub header: RolloutReport,
    pub planned: Vec<PlannedWave>,
    pub bake_ms: i64,
    pub frames: Vec<Frame>,
    /// Final state and verdicts of each wave (`ReportWave` with only those filled).
    pub final_waves: Vec<ReportWave>,
    pub hosts: Vec<ReportHost>,
    /// Refused operator calls about this rollout, from the audit log.
    pub refused: Vec<ReportAction>,
    pub samples: Vec<HostSamples>,
    /// Hosts the rollout deployed to (the samples cover at most [`MAX_HOSTS`] of them).
    pub deployed_hosts: usize,
    pub now: i64,
}

/// The report. `summary` is filled in from the rest.
pub fn assemble(inputs: Inputs) -> RolloutReport {
    let Inputs {
        mut header,
        planned,
        bake_ms,
        frames,
        final_waves,
        mut hosts,
        refused,
        samples,
        deployed_hosts,
        now,
    } = inputs;
    let times = host_times(&frames);
    for host in &mut hosts {
        if let Some(t) = times.get(&host.host) {
            host.deployed_unix_ms = t.deployed;
            host.rolled_back_unix_ms = t.rolled_back;
        }
    }
    let mut waves = waves(&planned, bake_ms, &frames);
    for (wave, last) in waves.iter_mut().zip(final_waves) {
        wave.state = last.state;
        wave.analysis = last.analysis;
    }
    for host in &hosts {
        if let Some(wave) = waves.get_mut(host.wave as usize) {
            match host.state() {
                RolloutHostState::Succeeded => wave.succeeded += 1,
                RolloutHostState::Failed
                | RolloutHostState::Unreachable
                | RolloutHostState::RollbackFailed => wave.failed += 1,
                RolloutHostState::RolledBack if !host.reason.is_empty() => wave.failed += 1,
                _ => {}
            }
        }
    }
    header.updated = u32::try_from(
        hosts
            .iter()
            .filter(|h| h.state() == RolloutHostState::Succeeded)
            .count(),
    )
    .unwrap_or(u32::MAX);
    header.rollback = rollback(&frames, &hosts);
    header.pauses = pauses(&frames);
    header.actions = actions(&header, &frames, refused);
    header.waves = waves;
    header.hosts = hosts;
    header.compared_hosts = u32::try_from(samples.len()).unwrap_or(u32::MAX);
    header.deployed_hosts = u32::try_from(deployed_hosts).unwrap_or(u32::MAX);
    header.deltas = deltas(&samples, ALPHA);
    header.alpha = ALPHA;
    header.window_ms = WINDOW_MS;
    header.generated_unix_ms = now;
    header.summary = summary(&header, now);
    header
}

/// When each host's deploy finished (the last time, succeeded or not) and when it was
/// rolled back; `ran` when a deploy really ran on it (not merely undeliverable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostTimes {
    pub deployed: i64,
    pub rolled_back: i64,
    pub ran: bool,
}

pub fn host_times(frames: &[Frame]) -> HashMap<String, HostTimes> {
    use RolloutEventKind as K;
    let mut out: HashMap<String, HostTimes> = HashMap::new();
    for frame in frames {
        let slot = || HostTimes::default();
        match frame.kind {
            K::DeploySucceeded | K::DeployFailed | K::LateSucceeded | K::LateFailed => {
                let t = out.entry(frame.host.clone()).or_insert_with(slot);
                t.deployed = frame.at;
                t.ran = true;
            }
            K::DeployUndelivered => {
                out.entry(frame.host.clone()).or_insert_with(slot).deployed = frame.at;
            }
            K::RollbackSucceeded | K::RollbackFailed => {
                out.entry(frame.host.clone())
                    .or_insert_with(slot)
                    .rolled_back = frame.at;
            }
            _ => {}
        }
    }
    out
}

/// The hosts whose metrics are compared: those a deploy ran on, the ones with a reason
/// (failed, rolled back after a failure) first, then in plan order; at most `max`.
pub fn compared(
    hosts: &[ReportHost],
    times: &HashMap<String, HostTimes>,
    max: usize,
) -> Vec<String> {
    let ran: Vec<&ReportHost> = hosts
        .iter()
        .filter(|h| times.get(&h.host).is_some_and(|t| t.ran))
        .collect();
    let (failed, rest): (Vec<&ReportHost>, Vec<&ReportHost>) =
        ran.into_iter().partition(|h| !h.reason.is_empty());
    failed
        .into_iter()
        .chain(rest)
        .take(max)
        .map(|h| h.host.clone())
        .collect()
}

/// The two windows of a host updated at `deployed`: the `window` before, and from the
/// update until `window` later, its rollback, or `now`, whichever comes first (empty when
/// that is not after the update).
pub fn windows(times: HostTimes, now: i64, window: i64) -> [(i64, i64); 2] {
    let start = times.deployed;
    let mut end = start.saturating_add(window).min(now);
    if times.rolled_back > start {
        end = end.min(times.rolled_back);
    }
    [
        (start.saturating_sub(window), start),
        (start, end.max(start)),
    ]
}

/// Per wave: the plan (hosts, parallelism, bake) and what happened (started, bake
/// started, ended). A wave starts when it becomes the current one (the first at the
/// start), bakes on its first `baking` frame, and ends when the next one starts or, the
/// last, when the rollout succeeds. A wave the rollout stopped in has no end.
pub fn waves(planned: &[PlannedWave], bake_ms: i64, frames: &[Frame]) -> Vec<ReportWave> {
    let first = |pred: &dyn Fn(&Frame) -> bool| frames.iter().find(|f| pred(f)).map_or(0, |f| f.at);
    let last = planned.len().saturating_sub(1);
    planned
        .iter()
        .enumerate()
        .map(|(w, plan)| ReportWave {
            index: u32::try_from(w).unwrap_or(u32::MAX),
            group: plan.group.clone().unwrap_or_default(),
            planned_hosts: u32::try_from(plan.hosts.len()).unwrap_or(u32::MAX),
            parallel: plan.parallel,
            planned_bake_ms: bake_ms,
            started_unix_ms: if w == 0 {
                first(&|f| f.kind == RolloutEventKind::Start)
            } else {
                first(&|f| f.wave >= w)
            },
            bake_started_unix_ms: first(&|f| f.wave == w && f.state == RolloutState::Baking),
            ended_unix_ms: if w == last {
                first(&|f| f.state == RolloutState::Succeeded)
            } else {
                first(&|f| f.wave > w)
            },
            ..Default::default()
        })
        .collect()
}

/// Stretches spent paused, awaiting promotion or approval, scheduled, frozen or waiting for
/// a window, with why.
pub fn pauses(frames: &[Frame]) -> Vec<ReportPause> {
    let waits = |s: RolloutState| {
        matches!(
            s,
            RolloutState::Paused
                | RolloutState::AwaitingPromotion
                | RolloutState::AwaitingApproval
                | RolloutState::Scheduled
                | RolloutState::WaitingForWindow
                | RolloutState::Frozen
        )
    };
    let mut out: Vec<ReportPause> = Vec::new();
    let mut previous = RolloutState::Unspecified;
    for frame in frames {
        if frame.state != previous {
            if waits(previous) {
                if let Some(open) = out.last_mut() {
                    open.to_unix_ms = frame.at;
                    if !frame.by.is_empty() {
                        open.cause.push_str(&format!(
                            "; {} by {}",
                            kind_name(frame.kind),
                            frame.by
                        ));
                    }
                }
            }
            if waits(frame.state) {
                let cause = match (frame.state, frame.kind) {
                    (RolloutState::Paused, RolloutEventKind::Pause) => {
                        format!("paused by {}", frame.by)
                    }
                    (RolloutState::AwaitingPromotion, _) => "awaiting promotion".to_string(),
                    (RolloutState::AwaitingApproval, _) => "awaiting approval".to_string(),
                    (RolloutState::Scheduled, _) => "scheduled".to_string(),
                    (RolloutState::WaitingForWindow, _) => "waiting for a window".to_string(),
                    (RolloutState::Frozen, _) => "frozen".to_string(),
                    _ => frame
                        .waiting_for
                        .clone()
                        .unwrap_or_else(|| "paused".to_string()),
                };
                out.push(ReportPause {
                    from_unix_ms: frame.at,
                    to_unix_ms: 0,
                    cause,
                });
            }
            previous = frame.state;
        }
    }
    out
}

/// What started the rollback, when, and how it went.
pub fn rollback(frames: &[Frame], hosts: &[ReportHost]) -> Option<ReportRollback> {
    let at = frames
        .iter()
        .position(|f| f.state == RolloutState::RollingBack)?;
    let start = &frames[at];
    let trigger = match start.kind {
        RolloutEventKind::Rollback => format!("operator {}", start.by),
        RolloutEventKind::Analysis => "canary analysis failed (--on-failure rollback)".to_string(),
        _ => "failures past the budget (--on-failure rollback)".to_string(),
    };
    let count = |state| {
        u32::try_from(hosts.iter().filter(|h| h.state() == state).count()).unwrap_or(u32::MAX)
    };
    Some(ReportRollback {
        started_unix_ms: start.at,
        finished_unix_ms: frames[at..]
            .iter()
            .find(|f| f.state == RolloutState::RolledBack)
            .map_or(0, |f| f.at),
        trigger,
        rolled_back: count(RolloutHostState::RolledBack),
        failed: count(RolloutHostState::RollbackFailed),
    })
}

/// The operator's word for a log entry's kind.
pub fn kind_name(kind: RolloutEventKind) -> &'static str {
    use RolloutEventKind as K;
    match kind {
        K::Start => "start",
        K::Pause => "pause",
        K::Resume => "resume",
        K::Promote => "promote",
        K::Abort => "abort",
        K::Rollback => "rollback",
        K::Analysis => "analysis",
        K::DeploySucceeded => "deploy succeeded",
        K::DeployFailed => "deploy failed",
        K::DeployUndelivered => "deploy undelivered",
        K::RollbackSucceeded => "rollback succeeded",
        K::RollbackFailed => "rollback failed",
        K::HostOffline => "host offline",
        K::HostOnline => "host online",
        K::HostRemoved => "host removed",
        K::Metrics => "gate failed",
        K::Tick => "deadline",
        K::LateSucceeded => "late deploy succeeded",
        K::LateFailed => "late deploy failed",
        K::Approve => "approve",
        K::Withdraw => "withdraw approval",
        K::Hold => "hold",
        K::Unspecified => "unknown",
    }
}

/// Who did what: the start, every operator control, what the coordinator did by itself
/// (halts, rollbacks, the end), and refused calls; in time order.
pub fn actions(
    header: &RolloutReport,
    frames: &[Frame],
    refused: Vec<ReportAction>,
) -> Vec<ReportAction> {
    let mut out = vec![ReportAction {
        at_unix_ms: header.created_unix_ms,
        by: header.created_by.clone(),
        action: "start".to_string(),
        ok: true,
        detail: format!(
            "{} {} on {} hosts",
            header.app, header.version, header.targets
        ),
    }];
    let mut previous = RolloutState::Running;
    for frame in frames {
        if !frame.by.is_empty() {
            out.push(ReportAction {
                at_unix_ms: frame.at,
                by: frame.by.clone(),
                action: kind_name(frame.kind).to_string(),
                ok: true,
                detail: format!("then {}", frame.state.name()),
            });
        } else if frame.state != previous
            && matches!(
                frame.state,
                RolloutState::Paused
                    | RolloutState::RollingBack
                    | RolloutState::Failed
                    | RolloutState::Aborted
                    | RolloutState::Succeeded
                    | RolloutState::RolledBack
            )
        {
            let why = match frame.kind {
                RolloutEventKind::Start | RolloutEventKind::Tick => String::new(),
                kind if frame.host.is_empty() => format!(" after {}", kind_name(kind)),
                kind => format!(" after {} on {}", kind_name(kind), frame.host),
            };
            out.push(ReportAction {
                at_unix_ms: frame.at,
                by: "convoy".to_string(),
                action: frame.state.name().replace('_', " "),
                ok: true,
                detail: format!("{}{why}", frame.waiting_for.clone().unwrap_or_default())
                    .trim()
                    .to_string(),
            });
        }
        previous = frame.state;
    }
    out.extend(refused);
    out.sort_by_key(|a| a.at_unix_ms);
    out
}

mod deltas;

pub use deltas::{delta, delta_text, deltas, duration, number, summary, worst};

#[cfg(test)]
mod tests;
