//! The coordinator's one notion of wall-clock time.
//!
//! Everything that stamps a record or compares against a deadline reads [`now_unix_ms`]
//! (milliseconds since the Unix epoch, what every stored `*_unix_ms` field holds). Code
//! whose tests need to move time on its own takes a [`Clock`] instead ([`SystemClock`] in
//! production). The pure engines (`rollout::machine`, `dispatch::plan`) read no clock at
//! all: the caller passes `now` in.
//!
//! Architecture Invariant: `SystemTime::now()` appears in this module only (a test in
//! `coordinator/tests/confinement.rs` enforces it); `Instant` is for measuring durations.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch; 0 for a clock before 1970, `i64::MAX` past year
/// 292 million.
pub fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Where a component that is tested with simulated time reads the time.
pub trait Clock: Send + Sync {
    fn now_unix_ms(&self) -> i64;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> i64 {
        now_unix_ms()
    }
}
