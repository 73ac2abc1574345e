//! Rolling back: every host the rollout moved returns to its previous version, in waves
//! of the batch size, never all at once; hosts still deploying join when they finish.
//! An operator may roll back from any state but `rolling_back` and `rolled_back`: a
//! running, paused, succeeded, aborted or failed rollout (a failed rollback retries the
//! hosts whose rollback failed). An old succeeded rollout with newer rollouts of the same
//! app after it needs `force` ([`Rollout::check_rollback`], in `controls.rs`).

use super::{Action, HostState, Rollout, State};

impl Rollout {
    /// The hosts a rollback would move now, and the version each returns to.
    pub fn rollback_preview(&self) -> Vec<(String, Option<String>)> {
        self.rollback_candidates()
            .into_iter()
            .map(|i| {
                (
                    self.hosts[i].id.clone(),
                    self.hosts[i].previous_version.clone(),
                )
            })
            .collect()
    }

    /// Hosts this rollout moved (or tried to), newest first, that are not back yet.
    pub(super) fn rollback_candidates(&self) -> Vec<usize> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for &i in self.deployed.iter().rev() {
            let movable = matches!(
                self.hosts[i].state,
                HostState::Succeeded | HostState::Failed | HostState::RollbackFailed
            );
            if movable && seen.insert(i) {
                out.push(i);
            }
        }
        out
    }

    pub(super) fn rollback_done(&mut self, id: &str, failure: Option<String>) {
        let Some(&i) = self.index.get(id) else { return };
        if self.hosts[i].state != HostState::RollingBack {
            return;
        }
        self.rollback_in_flight -= 1;
        self.hosts[i].state = if failure.is_some() {
            self.rollback_failed += 1;
            HostState::RollbackFailed
        } else {
            HostState::RolledBack
        };
        if failure.is_some() {
            self.hosts[i].reason = failure;
        }
    }

    pub(super) fn begin_rollback(&mut self) {
        if matches!(self.phase, State::RolledBack | State::RollingBack) {
            return;
        }
        self.unwait_current_wave();
        self.phase = State::RollingBack;
        self.paused = None;
        self.halted = false;
        self.wait_since = None;
        self.bake_until = None;
        self.established_at = None;
        // A retry after a failed rollback starts a fresh queue: the hosts whose rollback
        // failed go again, the ones already back stay.
        self.rollback_queue = self.rollback_candidates();
        self.rollback_next = 0;
        self.rollback_failed = 0;
    }

    pub(super) fn rollback_step(&mut self, out: &mut Vec<Action>) {
        while self.paused.is_none()
            && self.rollback_in_flight < self.batch_size
            && self.rollback_next < self.rollback_queue.len()
        {
            let i = self.rollback_queue[self.rollback_next];
            self.rollback_next += 1;
            self.rollback_in_flight += 1;
            self.hosts[i].state = HostState::RollingBack;
            out.push(Action::RollbackHost {
                host: self.hosts[i].id.clone(),
                to: self.hosts[i].previous_version.clone(),
            });
        }
        let drained = self.rollback_next >= self.rollback_queue.len();
        if drained && self.rollback_in_flight == 0 && self.deploying == 0 {
            let end = if self.rollback_failed > 0 {
                State::Failed
            } else {
                State::RolledBack
            };
            self.finish(end, out);
        }
    }
}
