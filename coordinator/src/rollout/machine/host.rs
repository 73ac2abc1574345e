//! Per-host and per-wave records of a rollout.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostState {
    Pending,
    /// Its turn came while it was offline (`--offline wait`).
    Waiting,
    Deploying,
    /// Deployed, health check passed.
    Succeeded,
    Failed,
    /// Stayed offline past the offline timeout; not a failure.
    Unreachable,
    /// Offline when its turn came with `--offline skip`; not a failure.
    Skipped,
    RollingBack,
    RolledBack,
    RollbackFailed,
}

impl HostState {
    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Pending => "pending",
            HostState::Waiting => "waiting",
            HostState::Deploying => "deploying",
            HostState::Succeeded => "succeeded",
            HostState::Failed => "failed",
            HostState::Unreachable => "unreachable",
            HostState::Skipped => "skipped",
            HostState::RollingBack => "rolling_back",
            HostState::RolledBack => "rolled_back",
            HostState::RollbackFailed => "rollback_failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub(super) id: String,
    pub(super) previous_version: Option<String>,
    pub(super) state: HostState,
    pub(super) online: bool,
    pub(super) wave: usize,
    /// When the host started waiting to come online.
    pub(super) waiting_since: i64,
    pub(super) reason: Option<String>,
    pub(super) late_sent: bool,
    /// How its late convergence deploy ended: `Succeeded` or `Failed`, with the reason.
    pub(super) late_result: Option<(HostState, String)>,
    /// Removed from the fleet (`convoy agent remove`): never waited for.
    pub(super) removed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveEntry {
    pub(super) group: Option<String>,
    pub(super) hosts: Vec<usize>,
    pub(super) parallel: u32,
    /// Next position in `hosts` to start.
    pub(super) next: usize,
    /// Deploying or waiting to come online.
    pub(super) in_flight: u32,
    pub(super) waiting: u32,
    /// Hosts not yet done (succeeded, failed, unreachable or skipped).
    pub(super) open: u32,
    pub(super) succeeded: u32,
}
