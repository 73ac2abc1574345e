//! The engine's plan and events as on-disk records and back, for replay: [`Plan`] ↔
//! `RolloutPlan`, [`Event`] ↔ `RolloutLogEntry`, and machine states ↔ their proto enums.

use convoy_proto::v1::{
    GateBaseline, GateView, PlannedHost, PlannedWave, RolloutEventKind, RolloutHostState,
    RolloutLogEntry, RolloutPlan, RolloutRecord, RolloutState, RolloutWaveState,
};

use crate::rollout::gate::{Baseline, MetricsView};
use crate::rollout::machine::{Event, Hold, HostState, State, WaveState};
use crate::rollout::plan::{self, Plan};

pub(crate) fn plan_to_record(plan: &Plan) -> RolloutPlan {
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

pub(crate) fn plan_from_record(version: &str, record: &RolloutPlan) -> Plan {
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
pub(crate) fn entry(at_unix_ms: i64, event: &Event) -> RolloutLogEntry {
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
                signals: view.signals.iter().cloned().collect(),
            });
            entry.baseline = Some(GateBaseline {
                cpu_percent: baseline.cpu_percent,
                mem_percent: baseline.mem_percent,
                load1: baseline.load1,
                disks: baseline.disks.iter().cloned().collect(),
                signals: baseline.signals.iter().cloned().collect(),
            });
            (K::Metrics, host.as_str(), "")
        }
        Event::LateSucceeded { host } => (K::LateSucceeded, host.as_str(), ""),
        Event::LateFailed { host, reason } => (K::LateFailed, host.as_str(), reason.as_str()),
        Event::Analysis { wave, results } => {
            entry.wave = u32::try_from(*wave).unwrap_or(u32::MAX);
            entry.analysis = results.iter().map(super::analysis::to_proto).collect();
            (K::Analysis, "", "")
        }
        Event::Tick => (K::Tick, "", ""),
        Event::Pause => (K::Pause, "", ""),
        Event::Resume => (K::Resume, "", ""),
        Event::Promote => (K::Promote, "", ""),
        Event::Abort => (K::Abort, "", ""),
        Event::Rollback => (K::Rollback, "", ""),
        Event::Approve { by, comment } => {
            entry.by = by.clone();
            (K::Approve, "", comment.as_str())
        }
        Event::Withdraw { by } => {
            entry.by = by.clone();
            (K::Withdraw, "", "")
        }
        Event::Hold { hold } => match hold {
            None => (K::Hold, "", ""),
            Some(Hold::Window { next_open }) => {
                entry.hold = "window".into();
                entry.hold_until_unix_ms = next_open.unwrap_or(0);
                (K::Hold, "", "")
            }
            Some(Hold::Freeze { until, reason }) => {
                entry.hold = "freeze".into();
                entry.hold_until_unix_ms = *until;
                (K::Hold, "", reason.as_str())
            }
        },
    };
    entry.kind = kind.into();
    entry.host = host.to_string();
    entry.reason = reason.to_string();
    entry
}

/// What a log entry means when replayed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Replayed {
    Start,
    Machine(Event),
    /// An entry this build does not know (written by a newer one): skipped.
    Unknown,
}

pub(crate) fn replayed(entry: &RolloutLogEntry) -> Replayed {
    use RolloutEventKind as K;
    let host = entry.host.clone();
    let reason = entry.reason.clone();
    let event = match RolloutEventKind::try_from(entry.kind).unwrap_or(K::Unspecified) {
        K::Unspecified => return Replayed::Unknown,
        K::Start => return Replayed::Start,
        K::LateSucceeded => Event::LateSucceeded { host },
        K::LateFailed => Event::LateFailed { host, reason },
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
                    signals: view.signals.into_iter().collect(),
                },
                baseline: Baseline {
                    cpu_percent: baseline.cpu_percent,
                    mem_percent: baseline.mem_percent,
                    load1: baseline.load1,
                    disks: baseline.disks.into_iter().collect(),
                    signals: baseline.signals.into_iter().collect(),
                },
            }
        }
        K::Analysis => Event::Analysis {
            wave: entry.wave as usize,
            results: entry
                .analysis
                .iter()
                .map(super::analysis::from_proto)
                .collect(),
        },
        K::Tick => Event::Tick,
        K::Pause => Event::Pause,
        K::Resume => Event::Resume,
        K::Promote => Event::Promote,
        K::Abort => Event::Abort,
        K::Rollback => Event::Rollback,
        K::Approve => Event::Approve {
            by: entry.by.clone(),
            comment: reason,
        },
        K::Withdraw => Event::Withdraw {
            by: entry.by.clone(),
        },
        K::Hold => Event::Hold {
            hold: match entry.hold.as_str() {
                "" => None,
                "freeze" => Some(Hold::Freeze {
                    until: entry.hold_until_unix_ms,
                    reason,
                }),
                // "window", and a kind this build does not know: hold, never run.
                _ => Some(Hold::Window {
                    next_open: Some(entry.hold_until_unix_ms).filter(|&at| at > 0),
                }),
            },
        },
    };
    Replayed::Machine(event)
}

/// The state a stored record's summary names. Records written before the state was an
/// enum carry its name in `legacy_state`; `None` when neither says anything known.
pub(crate) fn record_state(record: &RolloutRecord) -> Option<State> {
    let stored = RolloutState::try_from(record.state).unwrap_or(RolloutState::Unspecified);
    let stored = match stored {
        RolloutState::Unspecified => RolloutState::from_name(&record.legacy_state)?,
        known => known,
    };
    state_from(stored)
}

pub(crate) fn state(state: State) -> RolloutState {
    match state {
        State::Running => RolloutState::Running,
        State::Baking => RolloutState::Baking,
        State::AwaitingPromotion => RolloutState::AwaitingPromotion,
        State::Paused => RolloutState::Paused,
        State::Succeeded => RolloutState::Succeeded,
        State::Failed => RolloutState::Failed,
        State::Aborted => RolloutState::Aborted,
        State::RollingBack => RolloutState::RollingBack,
        State::RolledBack => RolloutState::RolledBack,
        State::AwaitingApproval => RolloutState::AwaitingApproval,
        State::Scheduled => RolloutState::Scheduled,
        State::WaitingForWindow => RolloutState::WaitingForWindow,
        State::Frozen => RolloutState::Frozen,
    }
}

fn state_from(state: RolloutState) -> Option<State> {
    Some(match state {
        RolloutState::Unspecified => return None,
        RolloutState::Running => State::Running,
        RolloutState::Baking => State::Baking,
        RolloutState::AwaitingPromotion => State::AwaitingPromotion,
        RolloutState::Paused => State::Paused,
        RolloutState::Succeeded => State::Succeeded,
        RolloutState::Failed => State::Failed,
        RolloutState::Aborted => State::Aborted,
        RolloutState::RollingBack => State::RollingBack,
        RolloutState::RolledBack => State::RolledBack,
        RolloutState::AwaitingApproval => State::AwaitingApproval,
        RolloutState::Scheduled => State::Scheduled,
        RolloutState::WaitingForWindow => State::WaitingForWindow,
        RolloutState::Frozen => State::Frozen,
    })
}

pub(crate) fn host_state(state: HostState) -> RolloutHostState {
    match state {
        HostState::Pending => RolloutHostState::Pending,
        HostState::Waiting => RolloutHostState::Waiting,
        HostState::Deploying => RolloutHostState::Deploying,
        HostState::Succeeded => RolloutHostState::Succeeded,
        HostState::Failed => RolloutHostState::Failed,
        HostState::Unreachable => RolloutHostState::Unreachable,
        HostState::Skipped => RolloutHostState::Skipped,
        HostState::RollingBack => RolloutHostState::RollingBack,
        HostState::RolledBack => RolloutHostState::RolledBack,
        HostState::RollbackFailed => RolloutHostState::RollbackFailed,
    }
}

pub(crate) fn wave_state(state: WaveState) -> RolloutWaveState {
    match state {
        WaveState::Pending => RolloutWaveState::Pending,
        WaveState::Running => RolloutWaveState::Running,
        WaveState::Baking => RolloutWaveState::Baking,
        WaveState::Done => RolloutWaveState::Done,
    }
}

#[cfg(test)]
mod tests;
