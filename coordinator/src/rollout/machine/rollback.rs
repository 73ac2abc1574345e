//! Rolling back: every host the rollout moved returns to its previous version, in waves
//! of the batch size, never all at once; hosts still deploying join when they finish.

use super::{Action, HostState, Rollout, State};

impl Rollout {
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
        let allowed = !matches!(
            self.phase,
            State::Aborted | State::Failed | State::RolledBack | State::RollingBack
        );
        if !allowed {
            return;
        }
        self.unwait_current_wave();
        self.phase = State::RollingBack;
        self.paused = None;
        self.halted = false;
        self.wait_since = None;
        self.bake_until = None;
        self.established_at = None;
        for &i in self.deployed.iter().rev() {
            if matches!(
                self.hosts[i].state,
                HostState::Succeeded | HostState::Failed
            ) {
                self.rollback_queue.push(i);
            }
        }
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
