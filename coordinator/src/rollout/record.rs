//! Between the pure engine and what is stored or shown: a [`RolloutSpec`] checked into a
//! plan strategy and machine settings, the plan and the machine's events as on-disk
//! records (and back, for replay), and the operator's [`RolloutView`] of a machine.

use std::collections::BTreeMap;
use std::time::Duration;

use convoy_proto::v1::{
    GateBaseline, GateView, PlannedHost, PlannedWave, RolloutEventKind, RolloutHost,
    RolloutLogEntry, RolloutPlan, RolloutRecord, RolloutSpec, RolloutSummary, RolloutView,
    RolloutWave,
};

use crate::dispatch::rate::{Rate, RateError};
use crate::rollout::gate::{Baseline, Gate, GateError, MetricsView};
use crate::rollout::machine::{Event, HostState, Offline, OnFailure, Rollout, Settings, State};
use crate::rollout::plan::{self, Plan, PlanError, Strategy};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Rate(#[from] RateError),
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error("invalid --on-failure {0:?}: expected pause or rollback")]
    OnFailure(String),
    #[error("invalid --offline {0:?}: expected wait or skip")]
    Offline(String),
}

/// The spec's knobs, checked: how to cut waves and how the machine behaves.
pub fn parse_spec(spec: &RolloutSpec) -> Result<(Strategy, Settings), SpecError> {
    let optional = |text: &str| (!text.trim().is_empty()).then(|| text.to_string());
    let strategy = Strategy::parse(
        optional(&spec.canary).as_deref(),
        optional(&spec.batch).as_deref(),
        optional(&spec.steps).as_deref(),
        optional(&spec.group_by).as_deref(),
    )?;
    let defaults = Settings::default();
    let max_failures = match optional(&spec.max_failures) {
        Some(text) => Rate::parse(&text, "--max-failures", true)?,
        None => defaults.max_failures,
    };
    let gates = spec
        .gates
        .iter()
        .map(|g| Gate::parse(g))
        .collect::<Result<Vec<_>, _>>()?;
    let on_failure = match spec.on_failure.trim() {
        "" | "pause" => OnFailure::Pause,
        "rollback" => OnFailure::Rollback,
        other => return Err(SpecError::OnFailure(other.to_string())),
    };
    let offline = match spec.offline.trim() {
        "" | "wait" => Offline::Wait,
        "skip" => Offline::Skip,
        other => return Err(SpecError::Offline(other.to_string())),
    };
    let ms = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    let settings = Settings {
        max_failures,
        bake_ms: ms(spec.bake_ms),
        gates,
        auto_promote: spec.auto_promote,
        on_failure,
        pause_timeout_ms: (spec.pause_timeout_ms > 0).then(|| ms(spec.pause_timeout_ms)),
        offline,
        offline_timeout_ms: match spec.offline_timeout_ms {
            0 => defaults.offline_timeout_ms,
            value => ms(value),
        },
        late_window_ms: match spec.late_window_ms {
            0 => defaults.late_window_ms,
            value => ms(value),
        },
    };
    Ok((strategy, settings))
}

/// How long the commands of a rollout wait for an offline host: as long as the rollout
/// itself waits for one.
pub fn delivery_timeout(settings: &Settings) -> Duration {
    Duration::from_millis(u64::try_from(settings.offline_timeout_ms).unwrap_or(u64::MAX))
}

pub fn plan_to_record(plan: &Plan) -> RolloutPlan {
    RolloutPlan {
        matched: plan.matched,
        already_current: plan.already_current.clone(),
        batch_size: plan.batch_size,
        waves: plan
            .waves
            .iter()
            .map(|wave| PlannedWave {
                group: wave.group.clone(),
                parallel: wave.parallel,
                hosts: wave
                    .hosts
                    .iter()
                    .map(|h| PlannedHost {
                        id: h.id.clone(),
                        previous_version: h.previous_version.clone(),
                        online: h.online,
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn plan_from_record(version: &str, record: &RolloutPlan) -> Plan {
    Plan {
        version: version.to_string(),
        matched: record.matched,
        already_current: record.already_current.clone(),
        batch_size: record.batch_size,
        waves: record
            .waves
            .iter()
            .map(|wave| plan::Wave {
                group: wave.group.clone(),
                parallel: wave.parallel,
                hosts: wave
                    .hosts
                    .iter()
                    .map(|h| plan::PlannedHost {
                        id: h.id.clone(),
                        previous_version: h.previous_version.clone(),
                        online: h.online,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// A log entry for a machine event.
pub fn entry(at_unix_ms: i64, event: &Event) -> RolloutLogEntry {
    use RolloutEventKind as K;
    let mut entry = RolloutLogEntry {
        at_unix_ms,
        ..Default::default()
    };
    let (kind, host, reason) = match event {
        Event::DeploySucceeded { host } => (K::DeploySucceeded, host.as_str(), ""),
        Event::DeployFailed { host, reason } => (K::DeployFailed, host.as_str(), reason.as_str()),
        Event::DeployUndelivered { host } => (K::DeployUndelivered, host.as_str(), ""),
        Event::RollbackSucceeded { host } => (K::RollbackSucceeded, host.as_str(), ""),
        Event::RollbackFailed { host, reason } => {
            (K::RollbackFailed, host.as_str(), reason.as_str())
        }
        Event::HostOffline { host } => (K::HostOffline, host.as_str(), ""),
        Event::HostOnline { host } => (K::HostOnline, host.as_str(), ""),
        Event::HostRemoved { host } => (K::HostRemoved, host.as_str(), ""),
        Event::Metrics {
            host,
            view,
            baseline,
        } => {
            entry.view = Some(GateView {
                cpu_percent: view.cpu_percent,
                mem_percent: view.mem_percent,
                load1: view.load1,
                disks: view.disks.iter().cloned().collect(),
                healthy: view.healthy,
            });
            entry.baseline = Some(GateBaseline {
                cpu_percent: baseline.cpu_percent,
                mem_percent: baseline.mem_percent,
                load1: baseline.load1,
                disks: baseline.disks.iter().cloned().collect(),
            });
            (K::Metrics, host.as_str(), "")
        }
        Event::Tick => (K::Tick, "", ""),
        Event::Pause => (K::Pause, "", ""),
        Event::Resume => (K::Resume, "", ""),
        Event::Promote => (K::Promote, "", ""),
        Event::Abort => (K::Abort, "", ""),
        Event::Rollback => (K::Rollback, "", ""),
    };
    entry.kind = kind.into();
    entry.host = host.to_string();
    entry.reason = reason.to_string();
    entry
}

/// What a log entry means when replayed.
#[derive(Debug, Clone, PartialEq)]
pub enum Replayed {
    Start,
    Machine(Event),
    Late {
        host: String,
        ok: bool,
        reason: String,
    },
    /// An entry this build does not know (written by a newer one): skipped.
    Unknown,
}

pub fn replayed(entry: &RolloutLogEntry) -> Replayed {
    use RolloutEventKind as K;
    let host = entry.host.clone();
    let reason = entry.reason.clone();
    let event = match RolloutEventKind::try_from(entry.kind).unwrap_or(K::Unspecified) {
        K::Unspecified => return Replayed::Unknown,
        K::Start => return Replayed::Start,
        K::LateSucceeded => {
            return Replayed::Late {
                host,
                ok: true,
                reason,
            };
        }
        K::LateFailed => {
            return Replayed::Late {
                host,
                ok: false,
                reason,
            };
        }
        K::DeploySucceeded => Event::DeploySucceeded { host },
        K::DeployFailed => Event::DeployFailed { host, reason },
        K::DeployUndelivered => Event::DeployUndelivered { host },
        K::RollbackSucceeded => Event::RollbackSucceeded { host },
        K::RollbackFailed => Event::RollbackFailed { host, reason },
        K::HostOffline => Event::HostOffline { host },
        K::HostOnline => Event::HostOnline { host },
        K::HostRemoved => Event::HostRemoved { host },
        K::Metrics => {
            let view = entry.view.clone().unwrap_or_default();
            let baseline = entry.baseline.clone().unwrap_or_default();
            Event::Metrics {
                host,
                view: MetricsView {
                    cpu_percent: view.cpu_percent,
                    mem_percent: view.mem_percent,
                    load1: view.load1,
                    disks: view.disks.into_iter().collect(),
                    healthy: view.healthy,
                },
                baseline: Baseline {
                    cpu_percent: baseline.cpu_percent,
                    mem_percent: baseline.mem_percent,
                    load1: baseline.load1,
                    disks: baseline.disks.into_iter().collect(),
                },
            }
        }
        K::Tick => Event::Tick,
        K::Pause => Event::Pause,
        K::Resume => Event::Resume,
        K::Promote => Event::Promote,
        K::Abort => Event::Abort,
        K::Rollback => Event::Rollback,
    };
    Replayed::Machine(event)
}

/// Whether a view is final: the rollout ended and no late host is still deploying. What
/// `WatchRollout` and the CLI's `watch` stop on.
pub fn is_settled(view: &RolloutView) -> bool {
    let ended = [
        State::Succeeded,
        State::Failed,
        State::Aborted,
        State::RolledBack,
    ]
    .iter()
    .any(|s| s.as_str() == view.state);
    ended && view.late.iter().all(|h| h.state != "deploying")
}

/// Result of a late convergence deploy: `(state, reason)`.
pub type LateResults = BTreeMap<String, (String, String)>;

/// Keeps the record's listing summary in step with the machine.
pub fn summarize(record: &mut RolloutRecord, machine: &Rollout, now: i64) {
    let state = machine.state();
    record.state = state.as_str().to_string();
    record.failures = machine.failures;
    record.succeeded = count_succeeded(machine);
    record.current_wave = u32::try_from(machine.wave).unwrap_or(u32::MAX);
    let over = state.is_terminal();
    if over && record.finished_unix_ms == 0 {
        record.finished_unix_ms = now;
    }
    if !over {
        record.finished_unix_ms = 0;
    }
    record.active = !over;
}

fn count_succeeded(machine: &Rollout) -> u32 {
    let count = machine
        .hosts
        .iter()
        .filter(|h| h.state == HostState::Succeeded)
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

pub fn summary(record: &RolloutRecord) -> RolloutSummary {
    let spec = record.spec.clone().unwrap_or_default();
    let plan = record.plan.clone().unwrap_or_default();
    let targets: usize = plan.waves.iter().map(|w| w.hosts.len()).sum();
    RolloutSummary {
        id: record.id.clone(),
        app: spec.app,
        version: spec.version,
        state: record.state.clone(),
        created_by: record.created_by.clone(),
        created_unix_ms: record.created_unix_ms,
        finished_unix_ms: record.finished_unix_ms,
        targets: u32::try_from(targets).unwrap_or(u32::MAX),
        succeeded: record.succeeded,
        failures: record.failures,
        current_wave: record.current_wave,
        waves: u32::try_from(plan.waves.len()).unwrap_or(u32::MAX),
    }
}

/// The operator's view of a rollout.
pub fn view(record: &RolloutRecord, machine: &Rollout, late: &LateResults) -> RolloutView {
    let status = machine.status();
    let spec = record.spec.clone().unwrap_or_default();
    let plan = record.plan.clone().unwrap_or_default();
    let state = machine.state();
    let waves = status
        .waves
        .iter()
        .enumerate()
        .map(|(index, wave)| RolloutWave {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            group: wave.group.clone().unwrap_or_default(),
            state: wave_state(machine, index, state).to_string(),
            parallel: machine.waves[index].parallel,
            hosts: wave
                .hosts
                .iter()
                .map(|h| RolloutHost {
                    host: h.id.clone(),
                    state: h.state.as_str().to_string(),
                    reason: h.reason.clone().unwrap_or_default(),
                    previous_version: machine
                        .index
                        .get(&h.id)
                        .and_then(|&i| machine.hosts[i].previous_version.clone())
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    let late_hosts = machine
        .late
        .iter()
        .map(|&i| &machine.hosts[i])
        .filter(|h| h.late_sent)
        .map(|h| {
            let (state, reason) = late
                .get(&h.id)
                .cloned()
                .unwrap_or_else(|| ("deploying".to_string(), String::new()));
            RolloutHost {
                host: h.id.clone(),
                state,
                reason,
                previous_version: h.previous_version.clone().unwrap_or_default(),
            }
        })
        .collect();
    RolloutView {
        id: record.id.clone(),
        app: spec.app.clone(),
        version: spec.version.clone(),
        selector: spec.selector.clone(),
        state: state.as_str().to_string(),
        created_by: record.created_by.clone(),
        created_unix_ms: record.created_unix_ms,
        finished_unix_ms: record.finished_unix_ms,
        failures: status.failures,
        failure_budget: status.failure_budget,
        current_wave: u32::try_from(status.current_wave).unwrap_or(u32::MAX),
        waiting_for: status.waiting_for,
        waves,
        already_current: plan.already_current.clone(),
        late: late_hosts,
        bake_until_unix_ms: machine.bake_until.unwrap_or(0),
        targets: u32::try_from(machine.hosts.len()).unwrap_or(u32::MAX),
        matched: plan.matched,
        spec: Some(spec),
    }
}

fn wave_state(machine: &Rollout, index: usize, state: State) -> &'static str {
    use std::cmp::Ordering;
    let wave = &machine.waves[index];
    match index.cmp(&machine.wave) {
        Ordering::Less => "done",
        Ordering::Greater => "pending",
        Ordering::Equal if wave.open == 0 => match machine.phase {
            State::Baking => "baking",
            _ => "done",
        },
        Ordering::Equal if state == State::Running && wave.next == 0 && wave.in_flight == 0 => {
            "pending"
        }
        Ordering::Equal => "running",
    }
}
