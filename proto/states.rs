//! The names of rollout states that operators and scripts see (`convoy rollout ... -o
//! json`, tables, `convoy rollout status`): the lower-case enum names without their
//! prefix. These strings are part of the contract, like the .proto files.

use crate::v1::{RolloutHostState, RolloutState, RolloutWaveState};

impl RolloutState {
    /// The operator's name, e.g. `awaiting_promotion`; empty for `Unspecified`.
    pub fn name(self) -> &'static str {
        match self {
            RolloutState::Unspecified => "",
            RolloutState::Running => "running",
            RolloutState::Baking => "baking",
            RolloutState::AwaitingPromotion => "awaiting_promotion",
            RolloutState::Paused => "paused",
            RolloutState::Succeeded => "succeeded",
            RolloutState::Failed => "failed",
            RolloutState::Aborted => "aborted",
            RolloutState::RollingBack => "rolling_back",
            RolloutState::RolledBack => "rolled_back",
            RolloutState::AwaitingApproval => "awaiting_approval",
            RolloutState::Scheduled => "scheduled",
            RolloutState::WaitingForWindow => "waiting_for_window",
            RolloutState::Frozen => "frozen",
        }
    }

    /// The state of an operator's name (as stored by versions that kept names).
    pub fn from_name(name: &str) -> Option<RolloutState> {
        RolloutState::from_str_name(&format!("ROLLOUT_STATE_{}", name.to_ascii_uppercase()))
            .filter(|state| *state != RolloutState::Unspecified)
    }
}

impl RolloutHostState {
    /// The operator's name, e.g. `rollback_failed`; empty for `Unspecified`.
    pub fn name(self) -> &'static str {
        match self {
            RolloutHostState::Unspecified => "",
            RolloutHostState::Pending => "pending",
            RolloutHostState::Waiting => "waiting",
            RolloutHostState::Deploying => "deploying",
            RolloutHostState::Succeeded => "succeeded",
            RolloutHostState::Failed => "failed",
            RolloutHostState::Unreachable => "unreachable",
            RolloutHostState::Skipped => "skipped",
            RolloutHostState::RollingBack => "rolling_back",
            RolloutHostState::RolledBack => "rolled_back",
            RolloutHostState::RollbackFailed => "rollback_failed",
        }
    }
}

impl RolloutWaveState {
    /// The operator's name: pending, running, baking or done; empty for `Unspecified`.
    pub fn name(self) -> &'static str {
        match self {
            RolloutWaveState::Unspecified => "",
            RolloutWaveState::Pending => "pending",
            RolloutWaveState::Running => "running",
            RolloutWaveState::Baking => "baking",
            RolloutWaveState::Done => "done",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_none() {
        for value in 1..=13 {
            let state = RolloutState::try_from(value).unwrap();
            assert_eq!(RolloutState::from_name(state.name()), Some(state));
        }
        assert_eq!(RolloutState::from_name(""), None);
        assert_eq!(RolloutState::from_name("unspecified"), None);
        assert_eq!(RolloutState::from_name("exploded"), None);
    }
}
