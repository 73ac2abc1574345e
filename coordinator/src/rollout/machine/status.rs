//! The operator's view of a rollout: waves with their hosts, failures against the budget,
//! late convergence results, and what the rollout waits for, in words.

use super::{Hold, HostState, PauseCause, Rollout, State};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    pub id: String,
    pub state: HostState,
    pub reason: Option<String>,
    pub previous_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaveState {
    Pending,
    Running,
    Baking,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveStatus {
    pub group: Option<String>,
    pub state: WaveState,
    pub parallel: u32,
    pub hosts: Vec<HostStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    pub version: String,
    /// 0-based index of the current wave.
    pub current_wave: usize,
    pub waves: Vec<WaveStatus>,
    pub failures: u32,
    pub failure_budget: u32,
    /// What the rollout waits for, e.g. "baking until 08:12:00".
    pub waiting_for: String,
    /// When the current wave's bake ends (unix ms).
    pub bake_until: Option<i64>,
    pub targets: usize,
    /// Hosts sent a late convergence deploy: `Deploying` until its result, then
    /// `Succeeded` or `Failed` (with the reason).
    pub late: Vec<HostStatus>,
}

impl Rollout {
    pub fn status(&self) -> Status {
        let waves = self
            .waves
            .iter()
            .enumerate()
            .map(|(index, wave)| WaveStatus {
                group: wave.group.clone(),
                state: self.wave_state(index),
                parallel: wave.parallel,
                hosts: wave.hosts.iter().map(|&i| self.host_status(i)).collect(),
            })
            .collect();
        let late = self
            .late
            .iter()
            .filter(|&&i| self.hosts[i].late_sent)
            .map(|&i| {
                let host = &self.hosts[i];
                let (state, reason) = host
                    .late_result
                    .clone()
                    .unwrap_or((HostState::Deploying, String::new()));
                HostStatus {
                    id: host.id.clone(),
                    state,
                    reason: Some(reason).filter(|r| !r.is_empty()),
                    previous_version: host.previous_version.clone(),
                }
            })
            .collect();
        Status {
            state: self.state(),
            version: self.version.clone(),
            current_wave: self.wave,
            waves,
            failures: self.failures,
            failure_budget: self.budget,
            waiting_for: self.waiting_for(),
            bake_until: self.bake_until,
            targets: self.hosts.len(),
            late,
        }
    }

    fn host_status(&self, i: usize) -> HostStatus {
        let host = &self.hosts[i];
        HostStatus {
            id: host.id.clone(),
            state: host.state,
            reason: host.reason.clone(),
            previous_version: host.previous_version.clone(),
        }
    }

    fn wave_state(&self, index: usize) -> WaveState {
        use std::cmp::Ordering;
        let wave = &self.waves[index];
        match index.cmp(&self.wave) {
            Ordering::Less => WaveState::Done,
            Ordering::Greater => WaveState::Pending,
            Ordering::Equal if wave.open == 0 => match self.phase {
                State::Baking => WaveState::Baking,
                _ => WaveState::Done,
            },
            Ordering::Equal
                if self.state() == State::Running && wave.next == 0 && wave.in_flight == 0 =>
            {
                WaveState::Pending
            }
            Ordering::Equal => WaveState::Running,
        }
    }

    fn waiting_for(&self) -> String {
        match (self.paused, self.phase) {
            (_, phase) if phase.is_terminal() => format!("nothing: {}", phase.as_str()),
            (Some(PauseCause::Operator), _) => "paused by the operator: resume".to_string(),
            (Some(PauseCause::FailureBudget), _) => format!(
                "paused after {} failures (budget {}): resume, rollback or abort",
                self.failures, self.budget
            ),
            (None, State::Baking) => match self.bake_until {
                Some(at) => format!("baking wave {} until {}", self.wave + 1, clock(at)),
                None if self.analysis_due().is_some() => {
                    format!("canary analysis of wave {}", self.wave + 1)
                }
                None => "baking".to_string(),
            },
            (None, State::AwaitingPromotion) => "awaiting promotion".to_string(),
            (None, State::AwaitingApproval) => format!(
                "awaiting {} approval(s) from operators other than {}{}: convoy rollout approve",
                self.settings.approvals,
                self.settings.starter,
                self.settings
                    .approval_role
                    .as_ref()
                    .map(|role| format!(" with the {role} role"))
                    .unwrap_or_default()
            ),
            (None, State::Scheduled) => match self.settings.start_at {
                Some(at) => format!("scheduled: starts at {} UTC", clock(at)),
                None => "scheduled".to_string(),
            },
            (None, State::Running) if self.hold.is_some() => self.held_words(),
            (None, State::RollingBack) => format!(
                "rolling back: {} in flight, {} queued",
                self.rollback_in_flight,
                self.rollback_queue.len().saturating_sub(self.rollback_next)
            ),
            (None, _) if self.halted => {
                format!(
                    "failure budget exceeded: waiting for {} in-flight hosts",
                    self.deploying
                )
            }
            (None, _) => self.waiting_in_wave(),
        }
    }

    fn held_words(&self) -> String {
        let in_flight = if self.deploying > 0 {
            format!(" ({} in-flight hosts finish)", self.deploying)
        } else {
            String::new()
        };
        match &self.hold {
            Some(Hold::Window {
                next_open: Some(at),
            }) => format!(
                "outside the maintenance window: continues when it opens at {} UTC{in_flight}",
                clock(*at)
            ),
            Some(Hold::Window { next_open: None }) => {
                format!("outside the maintenance window, which never opens again{in_flight}")
            }
            Some(Hold::Freeze { until, reason }) => format!(
                "the environment is frozen until {} UTC ({reason}){in_flight}",
                clock(*until)
            ),
            None => String::new(),
        }
    }

    fn waiting_in_wave(&self) -> String {
        let Some(wave) = self.waves.get(self.wave) else {
            return "starting".to_string();
        };
        let offline: Vec<&str> = wave
            .hosts
            .iter()
            .filter(|&&i| self.hosts[i].state == HostState::Waiting)
            .map(|&i| self.hosts[i].id.as_str())
            .collect();
        match offline.as_slice() {
            [] => format!(
                "deploying wave {}: {} in flight",
                self.wave + 1,
                wave.in_flight
            ),
            [one] => format!("waiting for {one} to come online"),
            many => format!("waiting for {} hosts to come online", many.len()),
        }
    }
}

/// `HH:MM:SS` (UTC) of a unix-ms time.
pub fn clock(unix_ms: i64) -> String {
    let seconds = unix_ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}
