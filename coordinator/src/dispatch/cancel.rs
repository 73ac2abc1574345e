//! Cancelling a job: hosts it never reached are cancelled at once (so the reply counts
//! them), released ones are told to stop and report their own end.

use super::*;

impl Dispatcher {
    /// Cancels a job: hosts it never reached (queued, or released while offline and never
    /// sent) are cancelled at once, so the reply already counts them; released ones are
    /// told to stop.
    pub async fn cancel_job(&self, job_id: &str) -> Result<JobRecord, DispatchError> {
        let mut outgoing = Vec::new();
        let mut never_sent = Vec::new();
        let now = now_unix_ms();
        let record = {
            let mut state = self.lock();
            let Some(job) = state.jobs.get_mut(job_id) else {
                drop(state);
                // Already over: cancelling changes nothing.
                return self
                    .store
                    .job(job_id)?
                    .ok_or_else(|| DispatchError::NoJob(job_id.to_string()));
            };
            job.record.cancel_requested = true;
            if job.record.state == JobState::Running as i32 {
                job.record.state = JobState::Cancelled.into();
                job.record.finished_unix_ms = now;
            }
            for command in &mut job.commands {
                let state = plan::command_state(command.state);
                if state == CommandState::Pending
                    && (command.released_unix_ms == 0 || command.sent_unix_ms == 0)
                {
                    // Never sent: the host cannot have it, so it is cancelled now.
                    command.state = CommandState::Cancelled.into();
                    command.finished_unix_ms = now;
                    command.message = "not started: job cancelled".into();
                    self.store.put_command(command)?;
                    if command.released_unix_ms != 0 {
                        self.store
                            .set_inflight(&command.agent_id, &command.id, false)?;
                    }
                    never_sent.push(command.clone());
                } else if command.released_unix_ms != 0
                    && !plan::is_terminal(state)
                    && !command.cancel_requested
                {
                    command.cancel_requested = true;
                    self.store.put_command(command)?;
                    outgoing.push((
                        command.agent_id.clone(),
                        events::cancel_message(&command.id),
                    ));
                }
            }
            self.store.put_job(&job.record)?;
            job.record.clone()
        };
        self.store.flush_async().await?;
        for (agent_id, message) in outgoing {
            self.registry.try_send(&agent_id, message);
        }
        for command in &never_sent {
            self.tell_finished(command);
            self.publish(
                job_id,
                JobEvent {
                    body: Some(convoy_proto::v1::job_event::Body::Host(
                        views::host_command(command, Vec::new()),
                    )),
                },
            );
        }
        tracing::info!(%job_id, "job cancelled");
        if let Ok(job) = self.job_view(job_id, 0) {
            self.publish(
                job_id,
                JobEvent {
                    body: Some(convoy_proto::v1::job_event::Body::Finished(job)),
                },
            );
        }
        self.wake();
        Ok(record)
    }
}
