//! The one way every running command is stopped: an operator's cancel and the agent's
//! shutdown fire the same token (a child of the shutdown token), and the command asks
//! afterwards which of the two it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

/// Why a command was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// The coordinator cancelled it: it ends `cancelled`.
    Cancelled,
    /// The agent is stopping: it ends `interrupted` (or, not started, stays received and
    /// runs when the coordinator sends it again).
    Shutdown,
}

/// One command's stop signal.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    token: CancellationToken,
    cancelled: Arc<AtomicBool>,
}

impl Stop {
    pub(crate) fn new(shutdown: &CancellationToken) -> Self {
        Self {
            token: shutdown.child_token(),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The operator's cancel.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.token.cancel();
    }

    /// The token that fires on either; what the executor, hooks and health waits take.
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    pub(crate) fn stopped(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// Why it was stopped, if it was; an operator's cancel wins over a shutdown.
    pub(crate) fn reason(&self) -> Option<StopReason> {
        if self.cancelled.load(Ordering::SeqCst) {
            Some(StopReason::Cancelled)
        } else if self.token.is_cancelled() {
            Some(StopReason::Shutdown)
        } else {
            None
        }
    }
}
