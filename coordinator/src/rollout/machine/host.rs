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
    pub id: String,
    pub previous_version: Option<String>,
    pub state: HostState,
    pub online: bool,
    pub wave: usize,
    /// When the host started waiting to come online.
    pub waiting_since: i64,
    pub reason: Option<String>,
    pub late_sent: bool,
    /// Removed from the fleet (`convoy agent remove`): never waited for.
    pub removed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveEntry {
    pub group: Option<String>,
    pub hosts: Vec<usize>,
    pub parallel: u32,
    /// Next position in `hosts` to start.
    pub next: usize,
    /// Deploying or waiting to come online.
    pub in_flight: u32,
    pub waiting: u32,
    /// Hosts not yet done (succeeded, failed, unreachable or skipped).
    pub open: u32,
    pub succeeded: u32,
}
