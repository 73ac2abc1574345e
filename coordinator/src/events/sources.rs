//! Event sources that watch an engine from outside instead of living in it: the job
//! dispatcher's broadcast (job failed, backup succeeded/failed, drill failed) and the
//! rollout driver's change feed (started, wave done, paused, failed, rolled back,
//! succeeded). What was already reported is kept as marks in the store, so a restart
//! reports nothing twice. A slow poll adds `backup.missed` (a schedule's firing skipped
//! because its previous job still ran, or a firing that failed to start) and
//! `cert.expiring` (the coordinator's certificate or CA within 30 days of expiry, once a
//! day). The registry reports agents going offline and coming back, and sessions taken
//! over, itself, through its `Events` handle.

use std::sync::Arc;

use convoy_proto::v1::{CommandState, Job, JobState, RolloutState, job_event};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{Draft, Events, Severity};
use crate::dispatch::Dispatcher;
use crate::rollout::driver::Rollouts;

/// Watches jobs and rollouts until shutdown.
pub async fn run(
    events: Events,
    counters: crate::exposition::Counters,
    dispatcher: Arc<Dispatcher>,
    rollouts: Arc<Rollouts>,
    certs: Vec<std::path::PathBuf>,
    shutdown: CancellationToken,
) {
    let mut jobs = dispatcher.subscribe();
    let mut changes = rollouts.subscribe();
    let mut poll = tokio::time::interval(std::time::Duration::from_secs(5));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = poll.tick() => {
                let (events, certs) = (events.clone(), certs.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    schedules_missed(&events);
                    certs_expiring(&events, &certs, crate::clock::now_unix_ms());
                })
                .await;
            }
            job = jobs.recv() => match job {
                Ok((_, event)) => {
                    if let Some(job_event::Body::Finished(job)) = event.body {
                        job_finished(&events, &counters, &job);
                    }
                }
                Err(RecvError::Lagged(n)) => tracing::warn!(missed = n, "event log fell behind the job feed"),
                Err(RecvError::Closed) => break,
            },
            id = changes.recv() => match id {
                Ok(id) => rollout_changed(&events, &id),
                Err(RecvError::Lagged(n)) => tracing::warn!(missed = n, "event log fell behind the rollout feed"),
                Err(RecvError::Closed) => break,
            },
        }
    }
}

fn first_time(events: &Events, key: &str, value: &str) -> bool {
    let store = events.store();
    match store.event_mark(key) {
        Ok(Some(old)) if old == value => false,
        Ok(_) => store.put_event_mark(key, value).is_ok(),
        Err(err) => {
            tracing::error!(error = %err, "cannot read event marks");
            false
        }
    }
}

/// Events for a job that settled.
pub fn job_finished(events: &Events, counters: &crate::exposition::Counters, job: &Job) {
    if !first_time(events, &format!("job/{}", job.id), "settled") {
        return;
    }
    counters.job_settled(job);
    let state = JobState::try_from(job.state).unwrap_or(JobState::Unspecified);
    let (kind, set) = match job.action.split_once(' ') {
        Some(("backup", set)) => ("backup", set),
        Some(("drill", set)) => ("drill", set),
        _ => ("job", ""),
    };
    if kind == "job" {
        if state == JobState::Failed {
            let failed = job
                .hosts
                .iter()
                .filter(|h| h.state != CommandState::Succeeded as i32)
                .count();
            events.append(
                Draft::new(
                    "job.failed",
                    Severity::Warning,
                    format!(
                        "job {} ({}) failed on {failed} of {} hosts",
                        job.id,
                        job.action,
                        job.hosts.len()
                    ),
                )
                .subject(&job.id)
                .field("action", &job.action)
                .field("created_by", &job.created_by),
            );
        }
        return;
    }
    for host in &job.hosts {
        let ok = host.state == CommandState::Succeeded as i32;
        let (event, severity, message) = match (kind, ok) {
            ("backup", true) => (
                "backup.succeeded",
                Severity::Info,
                format!("backup of {set} on {} succeeded", host.host),
            ),
            ("backup", false) => (
                "backup.failed",
                Severity::Critical,
                format!("backup of {set} on {} failed: {}", host.host, host.message),
            ),
            ("drill", false) => (
                "drill.failed",
                Severity::Critical,
                format!(
                    "recovery drill of {set} on {} failed: {}",
                    host.host, host.message
                ),
            ),
            _ => continue,
        };
        events.append(
            Draft::new(event, severity, message)
                .host(&host.host)
                .subject(set)
                .field("job", &job.id),
        );
    }
}

/// Events for a rollout whose state or wave changed since it was last reported.
pub fn rollout_changed(events: &Events, id: &str) {
    let record = match events.store().rollout(id) {
        Ok(Some(record)) => record,
        Ok(None) => return,
        Err(err) => {
            tracing::error!(error = %err, "cannot read a rollout for the event log");
            return;
        }
    };
    let key = format!("rollout/{id}");
    let previous = events.store().event_mark(&key).ok().flatten();
    // The mark keeps the state's operator name, as earlier versions wrote it.
    let state = record.state();
    let now = format!("{}|{}", state.name(), record.current_wave);
    if previous.as_deref() == Some(now.as_str()) {
        return;
    }
    let (old_state, old_wave) = match previous.as_deref().and_then(|p| p.split_once('|')) {
        Some((state, wave)) => (Some(state.to_string()), wave.parse().unwrap_or(0)),
        None => (None, 0),
    };
    if events.store().put_event_mark(&key, &now).is_err() {
        return;
    }
    let app = record
        .spec
        .as_ref()
        .map(|s| s.app.clone())
        .unwrap_or_default();
    let version = record
        .spec
        .as_ref()
        .map(|s| s.version.clone())
        .unwrap_or_default();
    // The release's commit and first line of notes ride along, so a notification can
    // say what is going out; its metadata as `meta.KEY` fields.
    let notes = crate::releases::notes::notes_of(events.store(), &app, &version)
        .ok()
        .flatten()
        .unwrap_or_default();
    let headline = notes.headline();
    let draft = |kind, severity, message: String| {
        let message = match &headline {
            Some(headline) => format!("{message} ({headline})"),
            None => message,
        };
        let mut draft = Draft::new(kind, severity, message)
            .subject(id)
            .field("app", &app)
            .field("version", &version);
        if let Some(commit) = notes.commit() {
            draft = draft.field("commit", commit);
        }
        if let Some(first) = notes.first_line() {
            draft = draft.field(
                "notes",
                crate::releases::notes::clip(first, crate::releases::notes::HEADLINE_BYTES),
            );
        }
        for (key, value) in &notes.metadata {
            draft = draft.field(&format!("meta.{key}"), value);
        }
        draft
    };
    if old_state.is_none() {
        events.append(draft(
            "rollout.started",
            Severity::Info,
            format!("rollout {id} of {app} {version} started"),
        ));
    }
    if record.current_wave > old_wave {
        for wave in old_wave..record.current_wave {
            events.append(
                draft(
                    "rollout.wave_done",
                    Severity::Info,
                    format!("rollout {id}: wave {} done", wave + 1),
                )
                .field("wave", (wave + 1).to_string()),
            );
        }
    }
    if old_state.as_deref() != Some(state.name()) {
        let (kind, severity) = match state {
            RolloutState::Paused => ("rollout.paused", Severity::Warning),
            RolloutState::Failed => ("rollout.failed", Severity::Critical),
            RolloutState::RolledBack => ("rollout.rolled_back", Severity::Warning),
            RolloutState::Succeeded => ("rollout.succeeded", Severity::Info),
            RolloutState::Aborted => ("rollout.aborted", Severity::Warning),
            RolloutState::AwaitingApproval => ("rollout.approval_required", Severity::Info),
            RolloutState::Scheduled => ("rollout.scheduled", Severity::Info),
            RolloutState::WaitingForWindow => ("rollout.waiting_for_window", Severity::Info),
            RolloutState::Frozen => ("rollout.frozen", Severity::Warning),
            _ => return,
        };
        events.append(draft(
            kind,
            severity,
            format!(
                "rollout {id} of {app} {version} {}",
                state.name().replace('_', " ")
            ),
        ));
    }
}

/// `backup.missed` for each schedule firing skipped or failed since last reported.
pub fn schedules_missed(events: &Events) {
    let Ok(schedules) = events.store().backup_schedules() else {
        return;
    };
    for schedule in schedules {
        let now = format!("{}|{}", schedule.skipped, schedule.last_error);
        let key = format!("schedule/{}", schedule.id);
        let previous = events.store().event_mark(&key).ok().flatten();
        if previous.as_deref() == Some(now.as_str()) {
            continue;
        }
        if events.store().put_event_mark(&key, &now).is_err() {
            continue;
        }
        let Some(previous) = previous else {
            continue; // First sight (or first run of this build): nothing to compare with.
        };
        let skipped_before: u32 = previous
            .split('|')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let why = if schedule.skipped > skipped_before {
            "skipped: the previous job was still running".to_string()
        } else if !schedule.last_error.is_empty() {
            format!("could not start: {}", schedule.last_error)
        } else {
            continue;
        };
        events.append(
            Draft::new(
                "backup.missed",
                Severity::Critical,
                format!(
                    "scheduled backup of {} ({}) {why}",
                    schedule.set, schedule.selector
                ),
            )
            .subject(&schedule.set)
            .field("schedule", &schedule.id),
        );
    }
}

/// Days before expiry from which `cert.expiring` is reported, once a day.
pub const CERT_WARN_DAYS: i64 = 30;

pub fn certs_expiring(events: &Events, certs: &[std::path::PathBuf], now: i64) {
    for path in certs {
        let Some(not_after) = crate::alerts::facts::cert_not_after(path) else {
            continue;
        };
        let days_left = (not_after - now).div_euclid(86_400_000);
        if days_left >= CERT_WARN_DAYS {
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !first_time(
            events,
            &format!("cert/{name}"),
            &now.div_euclid(86_400_000).to_string(),
        ) {
            continue;
        }
        events.append(
            Draft::new(
                "cert.expiring",
                if days_left < 7 {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                format!("certificate {name} expires in {days_left} days"),
            )
            .subject(&name)
            .field("not_after_unix_ms", not_after.to_string()),
        );
    }
}
