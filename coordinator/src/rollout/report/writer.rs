//! Writes each rollout's report once it ends: when the history holds the minute it ended
//! in (so the last wave's hosts have their samples), the report is built, stored and
//! flushed, and `rollout.finished` is appended with its summary (once per end, by an event
//! mark). Ends are learnt from the driver's change feed; on start, rollouts that ended in
//! the last day without a report of their latest end are picked up (older ones, e.g. from
//! before this version, get a report computed when asked for).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use convoy_proto::v1::{RolloutReport, RolloutState};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::clock::now_unix_ms;
use crate::events::{Draft, Events, Severity};
use crate::history::HistoryConfig;
use crate::registry::Registry;
use crate::rollout::driver::{Rollouts, written_by};
use crate::store::Store;

/// Ended rollouts picked up at start at most this long after their end.
const LOOKBACK_MS: i64 = 24 * 3600 * 1000;

/// What the writer needs.
pub struct Writer {
    pub store: Store,
    pub registry: Arc<Registry>,
    pub history: Option<HistoryConfig>,
    pub events: Events,
}

impl Writer {
    /// When the report of a rollout that ended at `finished` can be written.
    fn due(&self, finished: i64) -> i64 {
        if self.history.is_some() {
            written_by(finished)
        } else {
            finished
        }
    }

    /// `Some(due)` when rollout `id` ended and its latest end has no stored report yet.
    fn needs_report(&self, id: &str) -> Option<i64> {
        let record = self.store.rollout(id).ok()??;
        if record.active || record.finished_unix_ms == 0 {
            return None;
        }
        let stored = self.store.rollout_report(id).ok()?;
        if stored.is_some_and(|r| super::is_current(&r, &record)) {
            return self.event_due(id, record.finished_unix_ms).then_some(0);
        }
        Some(self.due(record.finished_unix_ms))
    }

    /// Whether the `rollout.finished` event of the end at `finished` is still to be sent.
    fn event_due(&self, id: &str, finished: i64) -> bool {
        let mark = self
            .store
            .event_mark(&format!("report/{id}"))
            .ok()
            .flatten();
        mark.as_deref() != Some(finished.to_string().as_str())
    }

    /// Builds and stores the report of `id` (if it still ended and has none), then sends
    /// its event. Blocking.
    fn write(&self, id: &str) {
        let record = match self.store.rollout(id) {
            Ok(Some(record)) if !record.active && record.finished_unix_ms > 0 => record,
            Ok(_) => return,
            Err(err) => {
                tracing::error!(rollout = %id, error = %err, "report: cannot read the rollout");
                return;
            }
        };
        let report = match self.store.rollout_report(id) {
            Ok(Some(report)) if super::is_current(&report, &record) => report,
            _ => {
                let now = now_unix_ms();
                let built = super::build(
                    &self.store,
                    self.history.as_ref(),
                    &self.registry,
                    &record,
                    now,
                );
                let mut report = match built {
                    Ok(report) => report,
                    Err(err) => {
                        tracing::error!(rollout = %id, error = %err, "report: cannot build it");
                        return;
                    }
                };
                report.stored = true;
                if let Err(err) = self.store.put_rollout_report(&report) {
                    tracing::error!(rollout = %id, error = %err, "report: cannot store it");
                    return;
                }
                tracing::info!(rollout = %id, "post-deployment report written");
                report
            }
        };
        self.finished_event(&report);
    }

    /// `rollout.finished` with the summary, once per end.
    fn finished_event(&self, report: &RolloutReport) {
        let key = format!("report/{}", report.id);
        let end = report.finished_unix_ms.to_string();
        if !self.event_due(&report.id, report.finished_unix_ms)
            || self.store.put_event_mark(&key, &end).is_err()
        {
            return;
        }
        let severity = match report.state() {
            RolloutState::Succeeded => Severity::Info,
            RolloutState::Failed => Severity::Critical,
            _ => Severity::Warning,
        };
        self.events.append(
            Draft::new("rollout.finished", severity, report.summary.clone())
                .subject(&report.id)
                .field("app", &report.app)
                .field("version", &report.version)
                .field("result", report.state().name())
                .field("updated", report.updated.to_string())
                .field("failed", report.failures.to_string())
                .field("failure_budget", report.failure_budget.to_string())
                .field(
                    "duration_ms",
                    (report.finished_unix_ms - report.created_unix_ms).to_string(),
                ),
        );
    }
}

/// Rollouts that ended within [`LOOKBACK_MS`] and still need a report or its event.
async fn scan(writer: &Arc<Writer>) -> BTreeMap<String, i64> {
    let writer = writer.clone();
    tokio::task::spawn_blocking(move || {
        let now = now_unix_ms();
        let records = writer.store.rollouts().unwrap_or_default();
        records
            .iter()
            .filter(|r| !r.active && r.finished_unix_ms > now - LOOKBACK_MS)
            .filter_map(|r| writer.needs_report(&r.id).map(|due| (r.id.clone(), due)))
            .collect()
    })
    .await
    .unwrap_or_default()
}

/// Runs until shutdown.
pub async fn run(writer: Writer, rollouts: Arc<Rollouts>, shutdown: CancellationToken) {
    let writer = Arc::new(writer);
    let mut changes = rollouts.subscribe();
    let mut pending = scan(&writer).await;
    loop {
        let next = pending.values().min().copied();
        let wait =
            next.map(|at| Duration::from_millis(u64::try_from(at - now_unix_ms()).unwrap_or(0)));
        let sleep = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(3600)));
        tokio::select! {
            () = shutdown.cancelled() => break,
            changed = changes.recv() => match changed {
                Ok(id) => {
                    let w = writer.clone();
                    let check = id.clone();
                    let due = tokio::task::spawn_blocking(move || w.needs_report(&check))
                        .await
                        .ok()
                        .flatten();
                    match due {
                        Some(due) => drop(pending.insert(id, due)),
                        None => drop(pending.remove(&id)),
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "report writer fell behind the rollout feed");
                    pending.extend(scan(&writer).await);
                }
                Err(RecvError::Closed) => break,
            },
            () = sleep, if wait.is_some() => {
                let now = now_unix_ms();
                let due: Vec<String> = pending
                    .iter()
                    .filter(|(_, at)| **at <= now)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in due {
                    pending.remove(&id);
                    let w = writer.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        w.write(&id);
                        w.store.flush()
                    })
                    .await;
                }
            }
        }
    }
}
