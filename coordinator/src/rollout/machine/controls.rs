//! Operator controls: whether a pause, resume, promotion, abort or rollback may happen now
//! ([`Rollout::check`], the only place these rules live), and what each does once logged.
//! A refusal is a [`Refusal`], whose words are what the operator reads.

use super::{Action, Control, Event, HostState, PauseCause, Rollout, State};

/// Why an operator control is refused, in the operator's words (`rollout <id> is <state>:
/// <refusal>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The rollout ended; only a rollback may follow.
    #[error("it is over")]
    Over,
    /// The rollout ended long enough ago to be unloaded, and the control is not a rollback
    /// of a finished rollout.
    #[error("it is over; there is nothing to {0}")]
    NothingTo(Control),
    #[error("it is not paused")]
    NotPaused,
    /// Promotion is only for the canary wave (before or after it baked).
    #[error("only the canary wave awaits promotion")]
    NotAtGate,
    #[error("it is already rolling back")]
    AlreadyRollingBack,
    #[error("it is already rolled back")]
    AlreadyRolledBack,
    #[error("it does not await approval")]
    NotAwaitingApproval,
    #[error("the operator who started a rollout cannot approve it; another operator must")]
    OwnRollout,
    #[error("approvals in this environment need the {0} role")]
    ApproverRole(String),
    #[error("you have not approved it")]
    NotApproved,
    /// Rolling back a succeeded rollout with newer rollouts of the app after it needs
    /// `force`: `moves` are the hosts it would move and the version each returns to.
    #[error("{}", newer_words(newer, moves))]
    NewerRollouts {
        newer: Vec<String>,
        moves: Vec<(String, Option<String>)>,
    },
}

impl Rollout {
    /// Whether an operator may apply `control` now, and the event to log if so. A rollback
    /// is checked as if no newer rollout of the app existed ([`Rollout::check_rollback`]).
    /// Pausing a paused rollout is allowed and changes nothing.
    pub fn check(&self, control: Control) -> Result<Event, Refusal> {
        match control {
            Control::Rollback => self.check_rollback(&[], false),
            _ if self.state().is_terminal() => Err(Refusal::Over),
            Control::Pause => Ok(Event::Pause),
            Control::Resume if self.paused.is_none() => Err(Refusal::NotPaused),
            Control::Resume => Ok(Event::Resume),
            Control::Promote if self.awaits_promotion() => Ok(Event::Promote),
            Control::Promote => Err(Refusal::NotAtGate),
            Control::Abort => Ok(Event::Abort),
        }
    }

    /// Whether an operator may roll this rollout back now. `newer` are the ids of rollouts
    /// of the same app created after this one; rolling a succeeded rollout back under them
    /// needs `force`, and the refusal says what the rollback would do.
    pub fn check_rollback(&self, newer: &[String], force: bool) -> Result<Event, Refusal> {
        match self.phase {
            State::RollingBack => Err(Refusal::AlreadyRollingBack),
            State::RolledBack => Err(Refusal::AlreadyRolledBack),
            State::Succeeded if !newer.is_empty() && !force => Err(Refusal::NewerRollouts {
                newer: newer.to_vec(),
                moves: self.rollback_preview(),
            }),
            _ => Ok(Event::Rollback),
        }
    }

    /// The canary wave may be promoted: it awaits promotion, or is still deploying or
    /// baking (the promotion is then remembered).
    fn awaits_promotion(&self) -> bool {
        self.phase == State::AwaitingPromotion
            || (self.wave == 0 && matches!(self.phase, State::Running | State::Baking))
    }

    pub(super) fn pause(&mut self, now: i64) {
        if self.phase.is_terminal() || self.paused.is_some() {
            return;
        }
        self.paused = Some(PauseCause::Operator);
        self.wait_since.get_or_insert(now);
    }

    pub(super) fn resume(&mut self, now: i64) {
        let Some(cause) = self.paused.take() else {
            return;
        };
        if cause == PauseCause::FailureBudget {
            self.acknowledged = self.failures;
        }
        self.wait_since = (self.phase == State::AwaitingPromotion).then_some(now);
    }

    pub(super) fn promote(&mut self, now: i64, out: &mut Vec<Action>) {
        if !self.awaits_promotion() {
            return;
        }
        self.promoted = true;
        if self.phase == State::AwaitingPromotion {
            if self.paused.is_none() {
                self.wait_since = None;
            }
            self.enter_wave(now, self.wave + 1, out);
        }
    }

    pub(super) fn abort(&mut self, out: &mut Vec<Action>) {
        if self.phase.is_terminal() {
            return;
        }
        self.unwait_current_wave();
        self.paused = None;
        self.halted = false;
        self.finish(State::Aborted, out);
    }

    /// Hosts waiting to come online go back to pending: they will not be started.
    pub(super) fn unwait_current_wave(&mut self) {
        let Some(wave) = self.waves.get_mut(self.wave) else {
            return;
        };
        if wave.waiting == 0 {
            return;
        }
        for &i in &wave.hosts {
            if self.hosts[i].state == HostState::Waiting {
                self.hosts[i].state = HostState::Pending;
                wave.in_flight -= 1;
            }
        }
        wave.waiting = 0;
    }
}

fn newer_words(newer: &[String], moves: &[(String, Option<String>)]) -> String {
    let shown: Vec<String> = moves
        .iter()
        .take(5)
        .map(|(host, to)| format!("{host} -> {}", to.as_deref().unwrap_or("(none)")))
        .collect();
    let more = moves.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!(", and {more} more")
    } else {
        String::new()
    };
    format!(
        "newer rollouts of this app exist ({}); rolling back would return {} to the \
         versions they ran before this rollout ({}{more}), undoing what the newer rollouts \
         deployed there; pass --force to do it",
        newer.join(", "),
        hosts_word(moves.len()),
        shown.join(", ")
    )
}

fn hosts_word(n: usize) -> String {
    if n == 1 {
        "1 host".to_string()
    } else {
        format!("{n} hosts")
    }
}
