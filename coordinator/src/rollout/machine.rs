//! The rollout state machine: `on_event(now, event) -> Vec<Action>`. It owns the order of
//! waves, bake times, promotion, the failure budget, pause/abort/rollback and offline
//! hosts. It does no I/O and reads no clock: the driver persists the [`Rollout`] after
//! every call, then carries out the actions, and sends `Tick` at each `WaitUntil`.
//!
//! Work per event is O(hosts in the current wave) at worst: hosts are found through an
//! index and each wave keeps its own counters.

use std::collections::BTreeMap;

use crate::rollout::gate::{self, Baseline, MetricsView};
use crate::rollout::plan::Plan;

mod analysis;
mod approvals;
mod controls;
mod host;
mod late;
mod progress;
mod queries;
mod rollback;
mod status;
mod types;

pub use analysis::AnalysisWindow;
use analysis::WaveAnalysis;
pub use approvals::Approval;
pub use controls::Refusal;
pub use host::HostState;
use host::{HostEntry, WaveEntry};
pub use status::{HostStatus, Status, WaveState, WaveStatus};
pub use types::{
    Action, AnalysisResult, Control, Event, Hold, Inconclusive, Offline, OnFailure, PauseCause,
    Settings, State,
};

/// Why a removed host was not waited for.
const REMOVED: &str = "removed from the fleet";

/// One rollout's whole state; the driver persists it after every call.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    version: String,
    settings: Settings,
    hosts: Vec<HostEntry>,
    waves: Vec<WaveEntry>,
    index: BTreeMap<String, usize>,
    /// Never `Paused`: a pause is `paused` on top of the phase.
    phase: State,
    paused: Option<PauseCause>,
    started: bool,
    /// The failure budget is exceeded: nothing new starts; in-flight hosts finish.
    halted: bool,
    wave: usize,
    bake_until: Option<i64>,
    promoted: bool,
    wait_since: Option<i64>,
    failures: u32,
    /// Failures the operator accepted by resuming after a failure pause.
    acknowledged: u32,
    budget: u32,
    batch_size: u32,
    deploying: u32,
    deployed: Vec<usize>,
    rollback_queue: Vec<usize>,
    rollback_next: usize,
    rollback_in_flight: u32,
    rollback_failed: u32,
    late: Vec<usize>,
    established_at: Option<i64>,
    last_wait: Option<i64>,
    /// Per wave: its canary analysis (empty without `--analysis`).
    analysis: Vec<WaveAnalysis>,
    /// Approvals given while it awaits approval, one per operator.
    approvals: Vec<Approval>,
    /// Why no new host may start now (window closed, freeze), as last logged.
    hold: Option<Hold>,
}

impl Rollout {
    pub fn new(plan: &Plan, settings: Settings) -> Rollout {
        let mut hosts = Vec::new();
        let mut waves = Vec::new();
        let mut index = BTreeMap::new();
        for (wave_index, wave) in plan.waves.iter().enumerate() {
            let mut members = Vec::new();
            for planned in &wave.hosts {
                index.insert(planned.id.clone(), hosts.len());
                members.push(hosts.len());
                hosts.push(HostEntry {
                    id: planned.id.clone(),
                    previous_version: planned.previous_version.clone(),
                    state: HostState::Pending,
                    online: planned.online,
                    wave: wave_index,
                    waiting_since: 0,
                    reason: None,
                    late_sent: false,
                    late_result: None,
                    removed: false,
                });
            }
            waves.push(WaveEntry {
                group: wave.group.clone(),
                open: u32::try_from(members.len()).unwrap_or(u32::MAX),
                hosts: members,
                parallel: wave.parallel.max(1),
                next: 0,
                in_flight: 0,
                waiting: 0,
                succeeded: 0,
            });
        }
        let budget = settings.max_failures.resolve(plan.targets());
        let phase = if settings.approvals > 0 {
            State::AwaitingApproval
        } else if settings.start_at.is_some() {
            State::Scheduled
        } else {
            State::Running
        };
        Rollout {
            version: plan.version.clone(),
            settings,
            hosts,
            waves,
            index,
            phase,
            paused: None,
            started: false,
            halted: false,
            wave: 0,
            bake_until: None,
            promoted: false,
            wait_since: None,
            failures: 0,
            acknowledged: 0,
            budget,
            batch_size: plan.batch_size.max(1),
            deploying: 0,
            deployed: Vec::new(),
            rollback_queue: Vec::new(),
            rollback_next: 0,
            rollback_in_flight: 0,
            rollback_failed: 0,
            late: Vec::new(),
            established_at: None,
            last_wait: None,
            analysis: vec![WaveAnalysis::default(); plan.waves.len()],
            approvals: Vec::new(),
            hold: None,
        }
    }

    /// The state operators see: `paused` over a non-terminal phase; a running rollout
    /// that may start no new host shows why (`waiting_for_window`, `frozen`).
    pub fn state(&self) -> State {
        match (self.paused, self.phase, &self.hold) {
            (Some(_), phase, _) if !phase.is_terminal() => State::Paused,
            (_, State::Running, Some(Hold::Window { .. })) => State::WaitingForWindow,
            (_, State::Running, Some(Hold::Freeze { .. })) => State::Frozen,
            (_, phase, _) => phase,
        }
    }

    pub fn start(&mut self, now: i64) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            self.advance(now, &mut out);
        }
        out
    }

    pub fn on_event(&mut self, now: i64, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.started {
            // The driver logs the environment's hold before `Start`, so a rollout started
            // outside its window starts nothing.
            if let Event::Hold { hold } = event {
                self.hold = hold;
            }
            return out;
        }
        match event {
            Event::DeploySucceeded { host } => self.deploy_done(&host, None),
            Event::DeployFailed { host, reason } => self.deploy_done(&host, Some(reason)),
            Event::DeployUndelivered { host } => self.deploy_undelivered(&host),
            Event::RollbackSucceeded { host } => self.rollback_done(&host, None),
            Event::RollbackFailed { host, reason } => self.rollback_done(&host, Some(reason)),
            Event::HostOffline { host } => {
                if let Some(&i) = self.index.get(&host) {
                    self.hosts[i].online = false;
                }
            }
            Event::HostOnline { host } => self.host_online(now, &host, &mut out),
            Event::HostRemoved { host } => self.host_removed(&host),
            Event::Metrics {
                host,
                view,
                baseline,
            } => self.metrics(&host, &view, &baseline),
            Event::LateSucceeded { host } => {
                self.late_done(&host, HostState::Succeeded, String::new());
                // Only a record of the result: nothing moves.
                return out;
            }
            Event::LateFailed { host, reason } => {
                self.late_done(&host, HostState::Failed, reason);
                return out;
            }
            Event::Analysis { wave, results } => self.analysed(now, wave, results),
            Event::Tick => self.expire_offline(now),
            Event::Pause => self.pause(now),
            Event::Resume => self.resume(now),
            Event::Promote => self.promote(now, &mut out),
            Event::Abort => self.abort(&mut out),
            Event::Rollback => self.begin_rollback(),
            Event::Approve { by, comment } => self.approve(now, by, comment),
            Event::Withdraw { by } => self.approvals.retain(|a| a.by != by),
            Event::Hold { hold } => self.hold = hold,
        }
        self.advance(now, &mut out);
        out
    }

    fn can_start(&self) -> bool {
        self.phase == State::Running && self.paused.is_none() && !self.halted && self.hold.is_none()
    }

    fn over_budget(&self) -> bool {
        self.failures.saturating_sub(self.acknowledged) > self.budget
    }

    fn count_failure(&mut self) {
        self.failures += 1;
        let forward = matches!(
            self.phase,
            State::Running | State::Baking | State::AwaitingPromotion
        );
        if forward && self.over_budget() {
            self.halted = true;
        }
    }

    /// A host of wave `w` reached a done state (from in flight, or from pending).
    fn close_host(&mut self, i: usize, state: HostState, was_in_flight: bool) {
        let host = &mut self.hosts[i];
        let wave = &mut self.waves[host.wave];
        if host.state == HostState::Waiting {
            wave.waiting -= 1;
        }
        host.state = state;
        wave.open = wave.open.saturating_sub(1);
        if was_in_flight {
            wave.in_flight = wave.in_flight.saturating_sub(1);
        }
        match state {
            HostState::Succeeded => wave.succeeded += 1,
            HostState::Skipped | HostState::Unreachable => self.late.push(i),
            _ => {}
        }
    }

    fn deploy_done(&mut self, id: &str, failure: Option<String>) {
        let Some(&i) = self.index.get(id) else { return };
        if self.hosts[i].state != HostState::Deploying {
            return;
        }
        self.deploying -= 1;
        let failed = failure.is_some();
        self.hosts[i].reason = failure;
        let state = if failed {
            HostState::Failed
        } else {
            HostState::Succeeded
        };
        self.close_host(i, state, true);
        if failed {
            self.count_failure();
        }
        if self.phase == State::RollingBack {
            self.rollback_queue.push(i);
        }
    }

    fn deploy_undelivered(&mut self, id: &str) {
        let Some(&i) = self.index.get(id) else { return };
        if self.hosts[i].state != HostState::Deploying {
            return;
        }
        self.deploying -= 1;
        self.hosts[i].online = false;
        self.hosts[i].reason = Some("offline for the whole delivery timeout".to_string());
        // Never reached, so a rollback has nothing to undo there.
        self.close_host(i, HostState::Unreachable, true);
    }

    fn host_online(&mut self, now: i64, id: &str, out: &mut Vec<Action>) {
        let Some(&i) = self.index.get(id) else { return };
        self.hosts[i].online = true;
        let host = &self.hosts[i];
        if host.state == HostState::Waiting && host.wave == self.wave && self.can_start() {
            self.deploy(i, out);
        } else if matches!(host.state, HostState::Skipped | HostState::Unreachable) {
            self.converge_late(now, i, out);
        }
    }

    fn host_removed(&mut self, id: &str) {
        let Some(&i) = self.index.get(id) else { return };
        self.hosts[i].online = false;
        self.hosts[i].removed = true;
        if self.hosts[i].state == HostState::Waiting && !self.phase.is_terminal() {
            self.hosts[i].reason = Some(REMOVED.to_string());
            self.close_host(i, HostState::Unreachable, true);
        }
    }

    fn metrics(&mut self, id: &str, view: &MetricsView, baseline: &Baseline) {
        let Some(&i) = self.index.get(id) else { return };
        if !self.is_gated(i) {
            return;
        }
        if let Some(reason) = gate::check_all(&self.settings.gates, view, baseline) {
            self.waves[self.wave].succeeded -= 1;
            self.hosts[i].state = HostState::Failed;
            self.hosts[i].reason = Some(reason);
            self.count_failure();
        }
    }

    fn expire_offline(&mut self, now: i64) {
        if self.phase.is_terminal() || self.waves.is_empty() || self.waves[self.wave].waiting == 0 {
            return;
        }
        let timeout = self.settings.offline_timeout_ms;
        for position in 0..self.waves[self.wave].hosts.len() {
            let i = self.waves[self.wave].hosts[position];
            let host = &self.hosts[i];
            if host.state == HostState::Waiting && now.saturating_sub(host.waiting_since) >= timeout
            {
                self.close_host(i, HostState::Unreachable, true);
            }
        }
    }

    fn deploy(&mut self, i: usize, out: &mut Vec<Action>) {
        let host = &mut self.hosts[i];
        let wave = &mut self.waves[host.wave];
        if host.state == HostState::Waiting {
            wave.waiting -= 1;
        } else {
            wave.in_flight += 1;
        }
        host.state = HostState::Deploying;
        self.deploying += 1;
        self.deployed.push(i);
        out.push(Action::Deploy {
            host: host.id.clone(),
        });
    }

    fn fill(&mut self, now: i64, out: &mut Vec<Action>) {
        if !self.can_start() {
            return;
        }
        if self.waves[self.wave].waiting > 0 {
            for position in 0..self.waves[self.wave].hosts.len() {
                let i = self.waves[self.wave].hosts[position];
                if self.hosts[i].state == HostState::Waiting && self.hosts[i].online {
                    self.deploy(i, out);
                }
            }
        }
        loop {
            let wave = &self.waves[self.wave];
            if wave.in_flight >= wave.parallel || wave.next >= wave.hosts.len() {
                break;
            }
            let i = wave.hosts[wave.next];
            self.waves[self.wave].next += 1;
            if self.hosts[i].online {
                self.deploy(i, out);
            } else if self.hosts[i].removed {
                self.hosts[i].reason = Some(REMOVED.to_string());
                self.close_host(i, HostState::Skipped, false);
            } else if self.settings.offline == Offline::Skip {
                self.close_host(i, HostState::Skipped, false);
            } else {
                self.hosts[i].state = HostState::Waiting;
                self.hosts[i].waiting_since = now;
                self.waves[self.wave].waiting += 1;
                self.waves[self.wave].in_flight += 1;
            }
        }
    }

    fn enter_wave(&mut self, now: i64, wave: usize, out: &mut Vec<Action>) {
        self.wave = wave;
        self.phase = State::Running;
        self.bake_until = None;
        self.fill(now, out);
    }

    fn finish(&mut self, state: State, out: &mut Vec<Action>) {
        self.phase = state;
        self.bake_until = None;
        self.wait_since = None;
        out.push(Action::Finished { state });
    }
}

#[cfg(test)]
mod tests;
