//! What operators see of a rollout: the [`RolloutView`] of a loaded machine, the record's
//! listing summary kept in step with it, and when a view is final.

use convoy_proto::v1::{
    RolloutApproval, RolloutHost, RolloutHostState, RolloutRecord, RolloutState, RolloutSummary,
    RolloutView, RolloutWave,
};

use super::codec::{host_state, record_state, state};
use crate::rollout::machine::{Hold, HostStatus, Rollout};

/// Whether a view is final: the rollout ended and no late host is still deploying. What
/// `WatchRollout` and the CLI's `watch` stop on.
pub(crate) fn is_settled(view: &RolloutView) -> bool {
    let ended = matches!(
        view.state(),
        RolloutState::Succeeded
            | RolloutState::Failed
            | RolloutState::Aborted
            | RolloutState::RolledBack
    );
    ended
        && view
            .late
            .iter()
            .all(|h| h.state() != RolloutHostState::Deploying)
}

/// Keeps the record's listing summary in step with the machine. Writes the enum state
/// only: a legacy name is dropped once the record is written again.
pub(crate) fn summarize(record: &mut RolloutRecord, machine: &Rollout, now: i64) {
    let current = machine.state();
    record.set_state(state(current));
    record.legacy_state.clear();
    record.failures = machine.failures();
    record.succeeded = machine.succeeded_hosts();
    record.current_wave = u32::try_from(machine.current_wave()).unwrap_or(u32::MAX);
    let over = current.is_terminal();
    if over && record.finished_unix_ms == 0 {
        record.finished_unix_ms = now;
    }
    if !over {
        record.finished_unix_ms = 0;
    }
    record.active = !over;
}

pub(crate) fn summary(record: &RolloutRecord) -> RolloutSummary {
    let spec = record.spec.clone().unwrap_or_default();
    let plan = record.plan.clone().unwrap_or_default();
    let targets: usize = plan.waves.iter().map(|w| w.hosts.len()).sum();
    let mut summary = RolloutSummary {
        id: record.id.clone(),
        app: spec.app,
        version: spec.version,
        created_by: record.created_by.clone(),
        created_unix_ms: record.created_unix_ms,
        finished_unix_ms: record.finished_unix_ms,
        targets: u32::try_from(targets).unwrap_or(u32::MAX),
        succeeded: record.succeeded,
        failures: record.failures,
        current_wave: record.current_wave,
        waves: u32::try_from(plan.waves.len()).unwrap_or(u32::MAX),
        env: spec.env,
        ..Default::default()
    };
    if let Some(current) = record_state(record) {
        summary.set_state(state(current));
    }
    summary
}

/// The operator's view of a rollout.
pub(crate) fn view(record: &RolloutRecord, machine: &Rollout) -> RolloutView {
    let status = machine.status();
    let spec = record.spec.clone().unwrap_or_default();
    let plan = record.plan.clone().unwrap_or_default();
    let waves = status
        .waves
        .iter()
        .enumerate()
        .map(|(index, wave)| {
            let mut out = RolloutWave {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                group: wave.group.clone().unwrap_or_default(),
                parallel: wave.parallel,
                hosts: wave.hosts.iter().map(host).collect(),
                analysis: machine
                    .wave_analysis(index)
                    .iter()
                    .map(super::analysis::to_proto)
                    .collect(),
                ..Default::default()
            };
            out.set_state(super::codec::wave_state(wave.state));
            out
        })
        .collect();
    let mut view = RolloutView {
        id: record.id.clone(),
        app: spec.app.clone(),
        version: spec.version.clone(),
        selector: spec.selector.clone(),
        created_by: record.created_by.clone(),
        created_unix_ms: record.created_unix_ms,
        finished_unix_ms: record.finished_unix_ms,
        failures: status.failures,
        failure_budget: status.failure_budget,
        current_wave: u32::try_from(status.current_wave).unwrap_or(u32::MAX),
        waiting_for: status.waiting_for,
        waves,
        already_current: plan.already_current.clone(),
        late: status.late.iter().map(host).collect(),
        bake_until_unix_ms: status.bake_until.unwrap_or(0),
        targets: u32::try_from(status.targets).unwrap_or(u32::MAX),
        matched: plan.matched,
        spec: Some(spec),
        ..Default::default()
    };
    view.set_state(state(status.state));
    let now = crate::clock::now_unix_ms();
    view.approvals = machine
        .approvals(now)
        .into_iter()
        .map(|(approval, counts)| RolloutApproval {
            by: approval.by,
            at_unix_ms: approval.at,
            comment: approval.comment,
            expired: !counts,
        })
        .collect();
    view.approvals_needed = machine.approvals_needed(now);
    match machine.hold() {
        Some(Hold::Window { next_open }) => view.hold_until_unix_ms = next_open.unwrap_or(0),
        Some(Hold::Freeze { until, reason }) => {
            view.hold_until_unix_ms = *until;
            view.freeze_reason = reason.clone();
        }
        None => {}
    }
    view
}

fn host(status: &HostStatus) -> RolloutHost {
    let mut host = RolloutHost {
        host: status.id.clone(),
        reason: status.reason.clone().unwrap_or_default(),
        previous_version: status.previous_version.clone().unwrap_or_default(),
        ..Default::default()
    };
    host.set_state(host_state(status.state));
    host
}
