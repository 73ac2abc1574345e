//! The operator's view of a rollout: waves with their hosts, failures against the budget,
//! and what the rollout waits for, in words.

use super::{HostState, PauseCause, Rollout, State};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    pub id: String,
    pub state: HostState,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveStatus {
    pub group: Option<String>,
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
}

impl Rollout {
    pub fn status(&self) -> Status {
        let waves = self
            .waves
            .iter()
            .map(|wave| WaveStatus {
                group: wave.group.clone(),
                hosts: wave
                    .hosts
                    .iter()
                    .map(|&i| HostStatus {
                        id: self.hosts[i].id.clone(),
                        state: self.hosts[i].state,
                        reason: self.hosts[i].reason.clone(),
                    })
                    .collect(),
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
                None => "baking".to_string(),
            },
            (None, State::AwaitingPromotion) => "awaiting promotion".to_string(),
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
