//! The swarm's summary once it stopped, and the percentile helper the benches share.

use std::fmt;
use std::time::Duration;

use super::CommandCounts;

/// The summary after the swarm stopped.
#[derive(Debug, Clone, Default)]
pub struct SwarmReport {
    pub agents: usize,
    pub connected: usize,
    pub failed: usize,
    pub dropped: usize,
    pub reconnects: usize,
    pub all_connected_after: Option<Duration>,
    /// Per agent, from its first connect attempt to its Welcome (retries included).
    pub connect_p50: Option<Duration>,
    pub connect_p99: Option<Duration>,
    pub connect_max: Option<Duration>,
    pub heartbeats_sent: u64,
    pub commands: CommandCounts,
    /// Commands unfinished, or finished with events not acked, when the swarm stopped.
    pub commands_open: usize,
    /// The last error of one failed agent, as an example.
    pub example_error: Option<String>,
}

impl fmt::Display for SwarmReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Option<Duration>| {
            d.map_or_else(
                || "-".to_string(),
                |d| format!("{:.1} ms", d.as_secs_f64() * 1e3),
            )
        };
        writeln!(f, "agents:          {}", self.agents)?;
        writeln!(f, "connected:       {}", self.connected)?;
        writeln!(f, "failed:          {}", self.failed)?;
        writeln!(f, "dropped early:   {}", self.dropped)?;
        writeln!(f, "reconnected:     {}", self.reconnects)?;
        writeln!(f, "all connected:   {}", ms(self.all_connected_after))?;
        writeln!(
            f,
            "connect latency: p50 {}, p99 {}, max {}",
            ms(self.connect_p50),
            ms(self.connect_p99),
            ms(self.connect_max)
        )?;
        writeln!(f, "heartbeats sent: {}", self.heartbeats_sent)?;
        let c = &self.commands;
        write!(
            f,
            "commands:        {} received ({} duplicates ignored), {} cancels, {} events sent, \
             {} acks, {} open at stop",
            c.commands, c.duplicates, c.cancels, c.events, c.acks, self.commands_open
        )?;
        if let Some(err) = &self.example_error {
            write!(f, "\nexample error:   {err}")?;
        }
        Ok(())
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile<T: Copy>(sorted: &[T], pct: usize) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}
