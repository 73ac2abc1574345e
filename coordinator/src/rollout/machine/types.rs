//! The machine's vocabulary: rollout states, settings, events and actions.

use crate::analysis::verdict::{Analysis, Judgement};
use crate::rate::Rate;
use crate::rollout::gate::{Baseline, Gate, MetricsView};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Running,
    Baking,
    AwaitingPromotion,
    Paused,
    Succeeded,
    Failed,
    Aborted,
    RollingBack,
    RolledBack,
    /// Waits for approvals (`approvals` in the environment) before its first wave.
    AwaitingApproval,
    /// Waits for its start time (`--at`).
    Scheduled,
    /// Outside its environment's maintenance window: no new host starts.
    WaitingForWindow,
    /// Its environment is frozen: no new host starts (rollbacks still run).
    Frozen,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Baking => "baking",
            State::AwaitingPromotion => "awaiting_promotion",
            State::Paused => "paused",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Aborted => "aborted",
            State::RollingBack => "rolling_back",
            State::RolledBack => "rolled_back",
            State::AwaitingApproval => "awaiting_approval",
            State::Scheduled => "scheduled",
            State::WaitingForWindow => "waiting_for_window",
            State::Frozen => "frozen",
        }
    }

    /// Whether the rollout is over (nothing will ever be started again, late convergence
    /// and an operator rollback of a succeeded rollout aside).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Succeeded | State::Failed | State::Aborted | State::RolledBack
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    Pause,
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offline {
    /// Wait up to `offline_timeout_ms`, then the host is unreachable.
    Wait,
    Skip,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub max_failures: Rate,
    pub bake_ms: i64,
    pub gates: Vec<Gate>,
    pub auto_promote: bool,
    pub on_failure: OnFailure,
    /// A wait (awaiting promotion or paused) longer than this aborts the rollout.
    pub pause_timeout_ms: Option<i64>,
    pub offline: Offline,
    pub offline_timeout_ms: i64,
    pub late_window_ms: i64,
    /// Canary analyses judged at the end of each wave's bake (`--analysis`).
    pub analyses: Vec<Analysis>,
    /// What an analysis still inconclusive after the one extension counts as.
    pub inconclusive: Inconclusive,
    /// Approvals needed from operators other than `starter` before the first wave.
    pub approvals: u32,
    /// How long an approval counts (None: until the rollout starts).
    pub approval_ttl_ms: Option<i64>,
    /// Only approvers of this role (or above) count (the role's name, for refusals).
    pub approval_role: Option<String>,
    /// Who started the rollout: never an approver of it.
    pub starter: String,
    /// `--at`: the first wave starts no earlier than this (unix ms).
    pub start_at: Option<i64>,
}

/// Why no new host may start now, as the driver read it from the environment (a
/// maintenance window closed, or a freeze in force). A rollback is never held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Outside the window; it opens next at `next_open` (None: never again).
    Window { next_open: Option<i64> },
    /// The environment is frozen until `until`, for `reason`.
    Freeze { until: i64, reason: String },
}

/// `--inconclusive pass|fail`: the verdict given to an analysis that had too few samples
/// even after its bake was extended once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inconclusive {
    Pass,
    Fail,
}

impl Inconclusive {
    pub fn as_str(self) -> &'static str {
        match self {
            Inconclusive::Pass => "pass",
            Inconclusive::Fail => "fail",
        }
    }
}

/// One analysis judged over a wave's bake, as logged and shown.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisResult {
    /// The expression as written back (`cpu<=1.2*baseline`).
    pub analysis: String,
    pub judgement: Judgement,
    /// 1 at the bake's end, 2 after the extension of an inconclusive bake.
    pub round: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_failures: Rate::Count(0),
            bake_ms: 0,
            gates: Vec::new(),
            auto_promote: false,
            on_failure: OnFailure::Pause,
            pause_timeout_ms: None,
            offline: Offline::Wait,
            offline_timeout_ms: 10 * 60 * 1000,
            late_window_ms: 24 * 60 * 60 * 1000,
            analyses: Vec::new(),
            inconclusive: Inconclusive::Fail,
            approvals: 0,
            approval_ttl_ms: None,
            approval_role: None,
            starter: String::new(),
            start_at: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    DeploySucceeded {
        host: String,
    },
    DeployFailed {
        host: String,
        reason: String,
    },
    /// The deploy never reached the host: it stayed offline for the whole delivery
    /// timeout. The host is unreachable, not failed.
    DeployUndelivered {
        host: String,
    },
    RollbackSucceeded {
        host: String,
    },
    RollbackFailed {
        host: String,
        reason: String,
    },
    HostOffline {
        host: String,
    },
    HostOnline {
        host: String,
    },
    /// The host was removed from the fleet: a wait for it ends now, and its turn, when it
    /// comes, skips it.
    HostRemoved {
        host: String,
    },
    Metrics {
        host: String,
        view: MetricsView,
        baseline: Baseline,
    },
    /// A late convergence deploy ([`Action::ConvergeLate`]) finished. It only records the
    /// result: the rollout itself is over.
    LateSucceeded {
        host: String,
    },
    LateFailed {
        host: String,
        reason: String,
    },
    /// The canary analysis of wave `wave` (0-based) over its bake, one result per
    /// analysis, computed by the driver from the metrics history when
    /// [`Rollout::analysis_due`](super::Rollout::analysis_due) asked for it.
    Analysis {
        wave: usize,
        results: Vec<AnalysisResult>,
    },
    Tick,
    Pause,
    Resume,
    Promote,
    Abort,
    Rollback,
    /// An operator approved (again: the approval's time is renewed). Checked before it is
    /// logged ([`Rollout::check_approval`](super::Rollout::check_approval)).
    Approve {
        by: String,
        comment: String,
    },
    /// An operator withdrew their approval.
    Withdraw {
        by: String,
    },
    /// The environment's window or freeze changed (None: new hosts may start). Applies
    /// before the rollout starts too.
    Hold {
        hold: Option<Hold>,
    },
}

/// What an operator can ask of a rollout; [`Rollout::check`](super::Rollout::check) says
/// whether it may, and as which event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Promote,
    Abort,
    Rollback,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Pause => "pause",
            Control::Resume => "resume",
            Control::Promote => "promote",
            Control::Abort => "abort",
            Control::Rollback => "rollback",
        }
    }
}

impl std::fmt::Display for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Deploy {
        host: String,
    },
    /// Return the host to the version it ran before the rollout.
    RollbackHost {
        host: String,
        to: Option<String>,
    },
    /// Send a `Tick` at this time (unix ms).
    WaitUntil {
        at: i64,
    },
    /// A host skipped or unreachable came back after the version was established.
    ConvergeLate {
        host: String,
    },
    Finished {
        state: State,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseCause {
    Operator,
    FailureBudget,
}
