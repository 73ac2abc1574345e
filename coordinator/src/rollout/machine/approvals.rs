//! Before the first wave: approvals (`approvals = N` in the environment: N operators other
//! than the starter, of `approval_role` if set, each approval counting for
//! `approval_ttl`), then the start time (`--at`). Whether an operator may approve or
//! withdraw is decided here ([`Rollout::check_approval`], [`Rollout::check_withdraw`]);
//! who the operator is and whether their role qualifies come from the driver (the
//! verified certificate), never from the request.

use super::{Event, Refusal, Rollout, State};

/// One operator's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub by: String,
    /// When it was given (unix ms).
    pub at: i64,
    pub comment: String,
}

impl Rollout {
    /// Whether `by` may approve now; `qualified` says whether their role is at least the
    /// environment's `approval_role` (true when it has none).
    pub fn check_approval(
        &self,
        by: &str,
        qualified: bool,
        comment: &str,
    ) -> Result<Event, Refusal> {
        if self.phase.is_terminal() {
            return Err(Refusal::Over);
        }
        if self.phase != State::AwaitingApproval {
            return Err(Refusal::NotAwaitingApproval);
        }
        if by == self.settings.starter {
            return Err(Refusal::OwnRollout);
        }
        if !qualified {
            return Err(Refusal::ApproverRole(
                self.settings.approval_role.clone().unwrap_or_default(),
            ));
        }
        Ok(Event::Approve {
            by: by.to_string(),
            comment: comment.to_string(),
        })
    }

    /// Whether `by` may withdraw an approval now (they gave one, and it still waits).
    pub fn check_withdraw(&self, by: &str) -> Result<Event, Refusal> {
        if self.phase.is_terminal() {
            return Err(Refusal::Over);
        }
        if self.phase != State::AwaitingApproval {
            return Err(Refusal::NotAwaitingApproval);
        }
        if !self.approvals.iter().any(|a| a.by == by) {
            return Err(Refusal::NotApproved);
        }
        Ok(Event::Withdraw { by: by.to_string() })
    }

    /// The approvals given, oldest first, each with whether it still counts at `now`.
    pub fn approvals(&self, now: i64) -> Vec<(Approval, bool)> {
        self.approvals
            .iter()
            .map(|a| (a.clone(), self.counts(a, now)))
            .collect()
    }

    /// Approvals still needed at `now` (0 once the rollout got past the wait).
    pub fn approvals_needed(&self, now: i64) -> u32 {
        if self.phase != State::AwaitingApproval {
            return 0;
        }
        let valid = self
            .approvals
            .iter()
            .filter(|a| self.counts(a, now))
            .count();
        self.settings
            .approvals
            .saturating_sub(u32::try_from(valid).unwrap_or(u32::MAX))
    }

    fn counts(&self, approval: &Approval, now: i64) -> bool {
        self.settings
            .approval_ttl_ms
            .is_none_or(|ttl| now < approval.at.saturating_add(ttl))
    }

    pub(super) fn approve(&mut self, now: i64, by: String, comment: String) {
        if self.phase != State::AwaitingApproval {
            return;
        }
        self.approvals.retain(|a| a.by != by);
        self.approvals.push(Approval {
            by,
            at: now,
            comment,
        });
    }

    /// The first wave's gates, in order: approvals, then the start time. (A window or a
    /// freeze is checked host by host, in `can_start`.)
    pub(super) fn pre_start(&mut self, now: i64) {
        if self.paused.is_some() {
            return;
        }
        if self.phase == State::AwaitingApproval && self.approvals_needed(now) == 0 {
            self.phase = State::Scheduled;
        }
        if self.phase == State::Scheduled && self.settings.start_at.is_none_or(|at| now >= at) {
            self.phase = State::Running;
        }
    }

    /// The hold in force (window or freeze), as last logged.
    pub fn hold(&self) -> Option<&super::Hold> {
        self.hold.as_ref()
    }
}
