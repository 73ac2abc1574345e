//! The scheduler loop: applies [`plan`](super::plan) decisions to every active job,
//! persists them, and only then sends commands out. Also resends commands that were
//! released to an online host but not acknowledged as received.

use std::sync::Arc;
use std::time::Duration;

use convoy_proto::v1::{
    CommandState, CoordinatorMessage, HostCommand, JobEvent, JobRecord, JobState, job_event,
};
use tokio_util::sync::CancellationToken;

use super::events::command_message;
use super::plan::{self, Decision, Limits, Skip, View};
use super::{ActiveJob, Dispatcher, views};
use crate::store::StoreError;

/// A command released to an online host and not received within this long is sent again.
pub const RESEND_AFTER_MS: i64 = 10_000;
/// The scheduler runs at least this often (delivery timeouts, resends).
pub const TICK: Duration = Duration::from_secs(1);
/// And at most this often.
pub const MIN_GAP: Duration = Duration::from_millis(20);

/// What one pass decided, applied after the lock is released: commands to send, host rows
/// and finished jobs to publish to watchers.
#[derive(Default)]
struct Pass {
    outgoing: Vec<(String, CoordinatorMessage)>,
    updates: Vec<(String, HostCommand)>,
    finished: Vec<String>,
}

impl Pass {
    fn is_empty(&self) -> bool {
        self.outgoing.is_empty() && self.updates.is_empty() && self.finished.is_empty()
    }
}

impl Dispatcher {
    /// One scheduling pass over every active job: plan each, persist the decisions, flush,
    /// and only then send and publish.
    pub async fn tick(&self, now: i64) -> Result<(), StoreError> {
        let mut pass = Pass::default();
        {
            let mut state = self.lock();
            let mut settled = Vec::new();
            for job in state.jobs.values_mut() {
                let views = self.views(job, now);
                for decision in plan::plan(&limits(&job.record), &views, now) {
                    if self.apply(job, decision, &views, now, &mut pass)? {
                        settled.push(job.record.id.clone());
                    }
                }
                resend_unreceived(job, &views, now, &mut pass);
            }
            for job_id in settled {
                if let Some(job) = state.jobs.remove(&job_id) {
                    for command in &job.commands {
                        state.owners.remove(&command.id);
                    }
                }
            }
        }
        if !pass.is_empty() {
            // Written before sent: a crash now resends, never forgets.
            self.store.flush_async().await?;
        }
        self.deliver(pass);
        Ok(())
    }

    /// What the plan sees of each command. Whether its host is online is asked only of
    /// commands that need a host now (the registry lookup is the costly part at 10,000).
    fn views(&self, job: &ActiveJob, now: i64) -> Vec<View> {
        let delivery_timeout_ms = i64::try_from(job.record.delivery_timeout_ms).unwrap_or(i64::MAX);
        job.commands
            .iter()
            .map(|c| {
                let state = plan::command_state(c.state);
                let released = (c.released_unix_ms != 0).then_some(c.released_unix_ms);
                let needs_host = state == CommandState::Pending
                    && released.is_none_or(|at| {
                        now.saturating_sub(at) >= delivery_timeout_ms
                            || now.saturating_sub(c.sent_unix_ms) >= RESEND_AFTER_MS
                    });
                View {
                    state,
                    released_unix_ms: released,
                    online: needs_host && self.registry.is_online(&c.agent_id),
                }
            })
            .collect()
    }

    /// Persists one decision and queues what it sends or publishes; true when the job is
    /// settled and leaves the active set.
    fn apply(
        &self,
        job: &mut ActiveJob,
        decision: Decision,
        views: &[View],
        now: i64,
        pass: &mut Pass,
    ) -> Result<bool, StoreError> {
        let job_id = job.record.id.clone();
        match decision {
            Decision::Release(i) => {
                let command = &mut job.commands[i];
                command.released_unix_ms = now;
                self.store.put_command(command)?;
                self.store
                    .set_inflight(&command.agent_id, &command.id, true)?;
                if views[i].online {
                    command.sent_unix_ms = now;
                    pass.outgoing
                        .push((command.agent_id.clone(), command_message(command)));
                }
            }
            Decision::Undeliverable(i) => {
                let command = &mut job.commands[i];
                command.state = CommandState::Undeliverable.into();
                command.finished_unix_ms = now;
                command.message = format!(
                    "host stayed offline for the delivery timeout ({})",
                    humantime::format_duration(Duration::from_millis(
                        job.record.delivery_timeout_ms
                    ))
                );
                self.store.put_command(command)?;
                self.store
                    .set_inflight(&command.agent_id, &command.id, false)?;
                self.tell_finished(command);
                pass.updates
                    .push((job_id, views::host_command(command, Vec::new())));
            }
            Decision::Skip(i, reason) => {
                let command = &mut job.commands[i];
                command.state = CommandState::Cancelled.into();
                command.finished_unix_ms = now;
                command.message = match reason {
                    Skip::ErrorBudget => format!(
                        "not started: more than {} failed (--max-errors {})",
                        super::admit::hosts(job.record.max_errors_limit as usize),
                        job.record.max_errors
                    ),
                    Skip::JobCancelled => "not started: job cancelled".to_string(),
                };
                self.store.put_command(command)?;
                self.tell_finished(command);
                pass.updates
                    .push((job_id, views::host_command(command, Vec::new())));
            }
            Decision::Finish(outcome) => {
                if job.record.state == JobState::Running as i32 {
                    job.record.state = outcome.into();
                    job.record.finished_unix_ms = now;
                    pass.finished.push(job_id);
                }
                job.record.settled = true;
                self.store.put_job(&job.record)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Sends the pass's commands and publishes its host rows and finished jobs.
    fn deliver(&self, pass: Pass) {
        for (agent_id, message) in pass.outgoing {
            self.registry.try_send(&agent_id, message);
        }
        for (job_id, host) in pass.updates {
            self.publish(
                &job_id,
                JobEvent {
                    body: Some(job_event::Body::Host(host)),
                },
            );
        }
        for job_id in pass.finished {
            if let Ok(job) = self.job_view(&job_id, 0) {
                tracing::info!(%job_id, state = ?JobState::try_from(job.state), "job finished");
                self.publish(
                    &job_id,
                    JobEvent {
                        body: Some(job_event::Body::Finished(job)),
                    },
                );
            }
        }
    }
}

fn limits(record: &JobRecord) -> Limits {
    Limits {
        concurrency: record.concurrency_limit,
        max_errors: record.max_errors_limit,
        delivery_timeout_ms: i64::try_from(record.delivery_timeout_ms).unwrap_or(i64::MAX),
        cancel_requested: record.cancel_requested,
    }
}

/// A command released to an online host and not received within [`RESEND_AFTER_MS`] is
/// sent again (the agent's journal makes a second copy harmless).
fn resend_unreceived(job: &mut ActiveJob, views: &[View], now: i64, pass: &mut Pass) {
    for (command, view) in job.commands.iter_mut().zip(views) {
        if command.released_unix_ms != 0
            && command.state == CommandState::Pending as i32
            && view.online
            && now.saturating_sub(command.sent_unix_ms) >= RESEND_AFTER_MS
        {
            command.sent_unix_ms = now;
            pass.outgoing
                .push((command.agent_id.clone(), command_message(command)));
        }
    }
}

/// Runs the scheduler until `shutdown`: on every wake-up and at least every [`TICK`].
pub async fn run(dispatcher: Arc<Dispatcher>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = dispatcher.wake.notified() => {}
            () = tokio::time::sleep(TICK) => {}
        }
        if let Err(err) = dispatcher.tick(crate::clock::now_unix_ms()).await {
            tracing::error!(error = %err, "job scheduler cannot persist its decisions");
        }
        // Wake-ups that arrive meanwhile (a finished command each) are served by one pass:
        // a pass looks at every command of every active job, so one per event would cost
        // O(n²) in a big fan-out.
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(MIN_GAP) => {}
        }
    }
}
