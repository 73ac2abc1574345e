//! The coordinator's housekeeping tasks: the offline sweep, the periodic flush of
//! heartbeat-only changes, and ending every session when shutdown starts.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::FLUSH_INTERVAL;
use crate::config::Config;
use crate::registry::Registry;

/// Ending the sessions must not depend on tonic polling its shutdown signal: when the
/// incoming stream ends first (the accept loop watches the same token), tonic goes
/// straight to draining and never polls it, and open agent streams would hold the drain
/// until the grace period ran out.
pub(super) fn end_sessions_on_shutdown(
    registry: &Arc<Registry>,
    shutdown: &CancellationToken,
    tracker: &TaskTracker,
) {
    let registry = registry.clone();
    let closing = shutdown.clone();
    tracker.spawn(async move {
        closing.cancelled().await;
        convoy_proto::service::stopping();
        info!("shutting down: closing agent sessions");
        registry.end_all_sessions();
    });
}

pub(super) fn spawn_housekeeping(
    registry: &Arc<Registry>,
    config: &Config,
    shutdown: &CancellationToken,
    tracker: &TaskTracker,
) {
    // An agent is shown offline up to one sweep after `offline_after`; a twentieth keeps
    // that lag small (150 ms for a 3 s window). A sweep is one pass over the registry.
    let sweep_every =
        (config.agents.offline_after / 20).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let sweeper = registry.clone();
    let stop = shutdown.clone();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(sweep_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                now = tick.tick() => {
                    for agent_id in sweeper.sweep(now) {
                        warn!(%agent_id, "no heartbeat within offline_after; agent marked offline");
                    }
                }
            }
        }
    });
    let flusher = registry.clone();
    let stop = shutdown.clone();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {
                    // Thousands of sled writes: off the runtime's workers, which carry
                    // every session's heartbeats.
                    // Flushed too, so a store that can no longer write is found out
                    // within one interval even when no agent reports anything.
                    let flushing = flusher.clone();
                    match tokio::task::spawn_blocking(move || flushing.flush_store()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => {
                            tracing::error!(error = %err, "cannot persist agent records");
                        }
                        Err(err) => tracing::error!(error = %err, "agent record flush panicked"),
                    }
                }
            }
        }
    });
}
