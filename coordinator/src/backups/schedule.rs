//! Backup schedules: five-field cron expressions (UTC, parsed by `croner`) persisted in the
//! store, evaluated by [`tick`] with the time passed in, so tests drive it with any clock.
//!
//! A schedule fires when the first cron time after its last firing (or its creation) has
//! passed; after a coordinator outage that covered several times, it fires once. A firing
//! while the job it started last is still running is skipped and counted, never overlapped.
//! Drills (optional, a cron of their own) follow the same rules.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use convoy_proto::v1::{BackupSchedule, JobState};
use tokio_util::sync::CancellationToken;

use super::Backups;
use crate::dispatch::{BackupWork, Dispatcher, JobRequest};
use crate::store::{Store, StoreError};

/// How often the schedule task looks at the clock.
pub const TICK: Duration = Duration::from_secs(5);

use crate::clock::Clock;

/// What a firing does: start a backup or drill job, and tell whether a job still runs.
pub trait Launcher: Send + Sync {
    fn start<'a>(
        &'a self,
        schedule: &'a BackupSchedule,
        drill: bool,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;
    fn is_running(&self, job_id: &str) -> bool;
    /// Why an ended job failed (which hosts and why), or None if it succeeded.
    fn failure(&self, _job_id: &str) -> Option<String> {
        None
    }
}

/// Checks a cron expression (five fields, or six with seconds).
pub fn check_cron(expression: &str) -> Result<(), String> {
    croner::Cron::from_str(expression)
        .map(|_| ())
        .map_err(|err| format!("invalid cron expression {expression:?}: {err}"))
}

/// `daily` and `weekly` as crons (04:30 UTC; Sundays for weekly), or a cron as given.
pub fn drill_cron(drill: &str) -> Result<String, String> {
    let cron = match drill {
        "" => return Ok(String::new()),
        "daily" => "30 4 * * *".to_string(),
        "weekly" => "30 4 * * 0".to_string(),
        other => other.to_string(),
    };
    check_cron(&cron)?;
    Ok(cron)
}

/// The first time the cron matches strictly after `after_unix_ms`.
pub fn next_after(expression: &str, after_unix_ms: i64) -> Option<i64> {
    let cron = croner::Cron::from_str(expression).ok()?;
    let after: DateTime<Utc> = DateTime::from_timestamp_millis(after_unix_ms)?;
    cron.find_next_occurrence(&after, false)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// One pass over every schedule at time `now`: fires what is due, skips what would overlap.
pub async fn tick(store: &Store, launcher: &dyn Launcher, now: i64) -> Result<u32, StoreError> {
    let mut fired = 0;
    for mut schedule in store.backup_schedules()? {
        let mut changed = false;
        // The outcome of the last backup, once it ended: a failed scheduled backup shows
        // in `last_error` instead of passing unseen.
        let last = schedule.last_job_id.clone();
        if !last.is_empty() && schedule.last_checked_job_id != last && !launcher.is_running(&last) {
            schedule.last_checked_job_id = last.clone();
            match launcher.failure(&last) {
                Some(why) => schedule.last_error = format!("backup job {last} failed: {why}"),
                None if schedule.last_error.starts_with("backup job ") => {
                    schedule.last_error.clear();
                }
                None => {}
            }
            changed = true;
        }
        // A drill queued behind its backup runs once the backup is done.
        if schedule.drill_queued && !launcher.is_running(&schedule.last_job_id) {
            schedule.drill_queued = false;
            fire(&mut schedule, launcher, now, true).await;
            fired += 1;
            changed = true;
        }
        let since = schedule.last_run_unix_ms.max(schedule.created_unix_ms);
        if next_after(&schedule.cron, since).is_some_and(|due| due <= now) {
            fire(&mut schedule, launcher, now, false).await;
            fired += 1;
            changed = true;
        }
        if !schedule.drill_cron.is_empty() {
            let since = schedule.last_drill_unix_ms.max(schedule.created_unix_ms);
            if next_after(&schedule.drill_cron, since).is_some_and(|due| due <= now) {
                fire(&mut schedule, launcher, now, true).await;
                fired += 1;
                changed = true;
            }
        }
        if changed {
            annotate(&mut schedule);
            store.put_backup_schedule(&schedule)?;
        }
    }
    if fired > 0 {
        store.flush_async().await?;
    }
    Ok(fired)
}

/// Fills in the next firing times, for display.
pub fn annotate(schedule: &mut BackupSchedule) {
    let since = schedule.last_run_unix_ms.max(schedule.created_unix_ms);
    schedule.next_run_unix_ms = next_after(&schedule.cron, since).unwrap_or(0);
    schedule.next_drill_unix_ms = if schedule.drill_cron.is_empty() {
        0
    } else {
        let since = schedule.last_drill_unix_ms.max(schedule.created_unix_ms);
        next_after(&schedule.drill_cron, since).unwrap_or(0)
    };
}

async fn fire(schedule: &mut BackupSchedule, launcher: &dyn Launcher, now: i64, drill: bool) {
    let (last_job, what) = if drill {
        (&schedule.last_drill_job_id, "drill")
    } else {
        (&schedule.last_job_id, "backup")
    };
    // A drill also waits for the schedule's own backup to finish.
    let busy = [last_job, &schedule.last_job_id]
        .into_iter()
        .find(|job| !job.is_empty() && launcher.is_running(job))
        .cloned();
    if drill {
        schedule.last_drill_unix_ms = now;
    } else {
        schedule.last_run_unix_ms = now;
    }
    if drill && busy.as_deref() == Some(schedule.last_job_id.as_str()) {
        // The schedule's own backup is running (a drill on the same cron): drill it
        // afterwards rather than skip it.
        schedule.drill_queued = true;
        tracing::info!(schedule = %schedule.id, "scheduled drill queued until the backup ends");
        return;
    }
    if let Some(job) = busy {
        schedule.skipped += 1;
        schedule.last_skip_unix_ms = now;
        tracing::warn!(schedule = %schedule.id, %job, what, "scheduled run skipped: the previous job is still running");
        return;
    }
    match launcher.start(schedule, drill).await {
        Ok(job_id) => {
            tracing::info!(schedule = %schedule.id, %job_id, what, "scheduled job started");
            // A start error is over; a failed job's error stays until a job succeeds.
            if !schedule.last_error.starts_with("backup job ") {
                schedule.last_error.clear();
            }
            if drill {
                schedule.last_drill_job_id = job_id;
            } else {
                schedule.last_job_id = job_id;
            }
        }
        Err(err) => {
            tracing::warn!(schedule = %schedule.id, error = %err, what, "scheduled job not started");
            schedule.last_error = format!("{what}: {err}");
        }
    }
}

/// Starts scheduled jobs through the dispatcher.
pub struct DispatchLauncher {
    pub dispatcher: Arc<Dispatcher>,
}

impl Launcher for DispatchLauncher {
    fn start<'a>(
        &'a self,
        schedule: &'a BackupSchedule,
        drill: bool,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(async move {
            let work = if drill {
                BackupWork::Drill(convoy_proto::v1::DrillAction {
                    set: schedule.set.clone(),
                })
            } else {
                BackupWork::Backup(convoy_proto::v1::BackupAction {
                    set: schedule.set.clone(),
                })
            };
            let request = JobRequest {
                params: Default::default(),
                action: String::new(),
                selector: schedule.selector.clone(),
                concurrency: String::new(),
                max_errors: String::new(),
                delivery_timeout: None,
                request_id: String::new(),
                deploy: None,
                rollback: None,
                backup: Some(work),
            };
            self.dispatcher
                .start_job(&format!("schedule/{}", schedule.id), &request)
                .await
                .map(|job| job.id)
                .map_err(|err| err.to_string())
        })
    }

    fn is_running(&self, job_id: &str) -> bool {
        matches!(
            self.dispatcher.store().job(job_id),
            Ok(Some(job)) if job.state == JobState::Running as i32 || !job.settled
        )
    }

    fn failure(&self, job_id: &str) -> Option<String> {
        let job = self.dispatcher.job_view(job_id, 0).ok()?;
        if job.state == JobState::Succeeded as i32 {
            return None;
        }
        let failed: Vec<String> = job
            .hosts
            .iter()
            .filter(|h| h.state != convoy_proto::v1::CommandState::Succeeded as i32)
            .take(5)
            .map(|h| {
                let state = crate::cli::output::command_state_name(h.state);
                if h.message.is_empty() {
                    format!("{}: {state}", h.host)
                } else {
                    format!("{}: {state} ({})", h.host, h.message)
                }
            })
            .collect();
        Some(failed.join("; "))
    }
}

/// The schedule task: ticks with `clock` until shutdown, and sweeps broken-off uploads.
pub async fn run(
    backups: Backups,
    launcher: Arc<dyn Launcher>,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = interval.tick() => {}
        }
        if let Err(err) = backups.sweep().await {
            tracing::error!(error = %err, "cannot sweep broken-off backup uploads");
        }
        let now = clock.now_unix_ms();
        if let Err(err) = tick(backups.store(), launcher.as_ref(), now).await {
            tracing::error!(error = %err, "cannot evaluate backup schedules");
        }
    }
}
