//! How a rollout moves on by itself after each event: waves complete and bake, the
//! canary waits for promotion, a failure halt turns into a pause or a rollback, waits time
//! out, and the driver learns when to send the next `Tick`.

use super::{Action, HostState, OnFailure, PauseCause, Rollout, State};

impl Rollout {
    /// Moves the rollout as far as it can go at `now`, then asks for the next tick.
    pub(super) fn advance(&mut self, now: i64, out: &mut Vec<Action>) {
        loop {
            if self.halted && self.deploying == 0 {
                self.halted = false;
                match self.settings.on_failure {
                    OnFailure::Pause => {
                        self.paused = Some(PauseCause::FailureBudget);
                        self.wait_since.get_or_insert(now);
                    }
                    OnFailure::Rollback => self.begin_rollback(),
                }
            }
            let before = (self.phase, self.wave);
            match self.phase {
                State::AwaitingApproval | State::Scheduled => self.pre_start(now),
                State::Running if self.waves.is_empty() => self.finish(State::Succeeded, out),
                // Paused (or halted) means nothing moves forward: no wave completes, no
                // bake ends, until the operator resumes.
                State::Running if self.paused.is_some() || self.halted => {}
                State::Running => {
                    self.fill(now, out);
                    if self.waves[self.wave].open == 0 {
                        if self.waves[self.wave].succeeded > 0 && self.settings.bake_ms > 0 {
                            self.phase = State::Baking;
                            self.bake_until = Some(now.saturating_add(self.settings.bake_ms));
                            self.analysis[self.wave].bake_started = Some(now);
                        } else {
                            self.wave_baked(now, out);
                        }
                    }
                }
                State::Baking
                    if self.paused.is_none() && self.bake_until.is_some_and(|at| now >= at) =>
                {
                    self.bake_over(now, out);
                }
                State::RollingBack => self.rollback_step(out),
                _ => {}
            }
            if (self.phase, self.wave) == before {
                break;
            }
        }
        if let (Some(since), Some(timeout)) = (self.wait_since, self.settings.pause_timeout_ms) {
            if !self.phase.is_terminal() && now >= since.saturating_add(timeout) {
                self.abort(out);
            }
        }
        self.request_tick(out);
    }

    pub(super) fn wave_baked(&mut self, now: i64, out: &mut Vec<Action>) {
        self.bake_until = None;
        if self.wave + 1 >= self.waves.len() {
            self.finish(State::Succeeded, out);
            self.established_at = Some(now);
            for position in 0..self.late.len() {
                let i = self.late[position];
                self.converge_late(now, i, out);
            }
        } else if self.wave == 0 && !self.settings.auto_promote && !self.promoted {
            self.phase = State::AwaitingPromotion;
            self.wait_since.get_or_insert(now);
        } else {
            self.enter_wave(now, self.wave + 1, out);
        }
    }

    /// The next time something happens by itself: a bake ends, a host's offline wait or
    /// a pause runs out.
    pub fn next_deadline(&self) -> Option<i64> {
        if self.phase.is_terminal() {
            return None;
        }
        // A paused bake does not end by itself: its end is no deadline until a resume.
        let mut deadline = self.bake_until.filter(|_| self.paused.is_none());
        if self.phase == State::Scheduled && self.paused.is_none() {
            deadline = self.settings.start_at;
        }
        let mut consider = |at: i64| deadline = Some(deadline.map_or(at, |d| d.min(at)));
        if let (Some(since), Some(timeout)) = (self.wait_since, self.settings.pause_timeout_ms) {
            consider(since.saturating_add(timeout));
        }
        if let Some(wave) = self.waves.get(self.wave) {
            if wave.waiting > 0 {
                for &i in &wave.hosts {
                    if self.hosts[i].state == HostState::Waiting {
                        let since = self.hosts[i].waiting_since;
                        consider(since.saturating_add(self.settings.offline_timeout_ms));
                    }
                }
            }
        }
        deadline
    }

    pub(super) fn request_tick(&mut self, out: &mut Vec<Action>) {
        let deadline = self.next_deadline();
        if deadline != self.last_wait {
            self.last_wait = deadline;
            if let Some(at) = deadline {
                out.push(Action::WaitUntil { at });
            }
        }
    }
}
