//! Rate limits for the listener's log lines: a flood of unauthenticated connections must
//! not become a flood of log lines. Each kind of line is written at most once per
//! interval; the lines dropped meanwhile are counted and the count goes out with the next
//! line of that kind.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// One kind of log line, written at most once per `every`.
#[derive(Debug)]
pub struct LogLimit {
    every: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimit {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            state: Mutex::new(State::default()),
        }
    }

    /// `Some(lines suppressed since the last one written)` when a line may be written
    /// now; None (and the line is counted) otherwise.
    pub fn admit(&self) -> Option<u64> {
        let now = Instant::now();
        // The state is two plain numbers, always consistent: a poisoned lock is still usable.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.last {
            Some(last) if now.duration_since(last) < self.every => {
                state.suppressed += 1;
                None
            }
            _ => {
                state.last = Some(now);
                Some(std::mem::take(&mut state.suppressed))
            }
        }
    }
}

/// The listener's kinds of log line, each limited to one per second.
#[derive(Debug)]
pub struct ListenerLogs {
    pub accept_failed: LogLimit,
    pub refused: LogLimit,
    pub first_record_timeout: LogLimit,
    pub handshake_timeout: LogLimit,
    pub shed_same_ip: LogLimit,
    pub shed_full: LogLimit,
    pub no_identity: LogLimit,
}

impl Default for ListenerLogs {
    fn default() -> Self {
        let every = Duration::from_secs(1);
        Self {
            accept_failed: LogLimit::new(every),
            refused: LogLimit::new(every),
            first_record_timeout: LogLimit::new(every),
            handshake_timeout: LogLimit::new(every),
            shed_same_ip: LogLimit::new(every),
            shed_full: LogLimit::new(every),
            no_identity: LogLimit::new(every),
        }
    }
}
