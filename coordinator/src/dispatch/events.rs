//! What agents tell the dispatcher: a session (re)opens, and command events arrive.

use convoy_proto::v1::{
    Ack, Cancel, Command, CommandEvent, CommandRecord, CommandState, CoordinatorMessage,
    HostOutput, JobEvent, OutputStream, RunAction, command, command_event, coordinator_message,
    job_event,
};

use super::{Dispatcher, plan, views};
use crate::clock::now_unix_ms;
use crate::store::StoreError;

pub fn cancel_message(command_id: &str) -> CoordinatorMessage {
    CoordinatorMessage {
        body: Some(coordinator_message::Body::Cancel(Cancel {
            command_id: command_id.to_string(),
        })),
    }
}

pub fn command_message(record: &CommandRecord) -> CoordinatorMessage {
    CoordinatorMessage {
        body: Some(coordinator_message::Body::Command(Command {
            command_id: record.id.clone(),
            job_id: record.job_id.clone(),
            output_cap_bytes: record.output_cap_bytes,
            issued_unix_ms: record.released_unix_ms,
            action: Some(match (&record.deploy, &record.rollback) {
                (Some(deploy), _) => command::Action::Deploy(deploy.clone()),
                (None, Some(rollback)) => command::Action::Rollback(rollback.clone()),
                (None, None) => match (&record.backup, &record.restore, &record.drill) {
                    (Some(backup), _, _) => command::Action::Backup(backup.clone()),
                    (None, Some(restore), _) => command::Action::Restore(restore.clone()),
                    (None, None, Some(drill)) => command::Action::Drill(drill.clone()),
                    (None, None, None) => command::Action::Run(RunAction {
                        name: record.action.clone(),
                        params: record.params.clone(),
                    }),
                },
            }),
        })),
    }
}

fn ack(command_id: &str, seq: u64) -> CoordinatorMessage {
    CoordinatorMessage {
        body: Some(coordinator_message::Body::Ack(Ack {
            command_id: command_id.to_string(),
            seq,
        })),
    }
}

/// What to send for a command that is still owed to its agent.
fn owed(record: &CommandRecord) -> Option<CoordinatorMessage> {
    let state = plan::command_state(record.state);
    if plan::is_terminal(state) || record.released_unix_ms == 0 {
        None
    } else if record.cancel_requested {
        Some(cancel_message(&record.id))
    } else {
        Some(command_message(record))
    }
}

impl Dispatcher {
    /// An agent's session opened: every unfinished command released to it is sent again
    /// (the agent runs an id at most once), or a cancel where one was asked for.
    pub fn on_connect(&self, agent_id: &str) -> Result<Vec<CoordinatorMessage>, StoreError> {
        let now = now_unix_ms();
        let mut messages = Vec::new();
        for command_id in self.store.inflight_for(agent_id)? {
            let mut state = self.lock();
            let record = match state.owners.get(&command_id).cloned() {
                Some(job_id) => {
                    match state
                        .jobs
                        .get_mut(&job_id)
                        .and_then(|job| job.command_mut(&command_id))
                    {
                        Some(c) => {
                            c.sent_unix_ms = now;
                            // Stored under the lock (`cancel_job` cancels outright only
                            // what was never sent, and must see this after a restart).
                            self.store.put_command(c)?;
                            Some(c.clone())
                        }
                        None => None,
                    }
                }
                None => self.store.command(&command_id)?,
            };
            drop(state);
            match record.as_ref().and_then(owed) {
                Some(message) => messages.push(message),
                None => self.store.set_inflight(agent_id, &command_id, false)?,
            }
        }
        self.wake();
        Ok(messages)
    }

    /// Whether `agent_id` holds an unfinished deploy command for the artifact `sha256`: the
    /// only reason an agent may download one (a host must not read releases it was never
    /// sent, e.g. another team's app).
    pub fn owes_artifact(&self, agent_id: &str, sha256: &str) -> Result<bool, StoreError> {
        for command_id in self.store.inflight_for(agent_id)? {
            let record = {
                let state = self.lock();
                state
                    .owners
                    .get(&command_id)
                    .and_then(|job_id| state.jobs.get(job_id))
                    .and_then(|job| job.commands.iter().find(|c| c.id == command_id))
                    .cloned()
            };
            let record = match record {
                Some(record) => Some(record),
                None => self.store.command(&command_id)?,
            };
            let Some(record) = record else { continue };
            let state = plan::command_state(record.state);
            if record.agent_id == agent_id
                && !plan::is_terminal(state)
                && record.deploy.as_ref().is_some_and(|d| d.sha256 == sha256)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Applies one command event from `agent_id`. Returns the ack to send once the store
    /// is flushed, or None for an event that must not be acked (a host reporting on a
    /// command that is not its own).
    pub fn on_event(
        &self,
        agent_id: &str,
        event: &CommandEvent,
    ) -> Result<Option<CoordinatorMessage>, StoreError> {
        let mut state = self.lock();
        let owner = state.owners.get(&event.command_id).cloned();
        let job = owner.as_ref().and_then(|job_id| state.jobs.get_mut(job_id));
        let Some(job) = job else {
            drop(state);
            return self.on_event_for_inactive(agent_id, event);
        };
        let Some(command) = job.command_mut(&event.command_id) else {
            return Ok(None);
        };
        if command.agent_id != agent_id {
            tracing::warn!(agent_id, command_id = %event.command_id, owner = %command.agent_id, "event for another host's command ignored");
            return Ok(None);
        }
        if let Some(reply) = self.after_end(agent_id, command, event) {
            return Ok(Some(reply));
        }
        if !in_sequence(agent_id, command, event) {
            // A replay (already applied) or a gap (an earlier event is still to come):
            // acknowledge what we have; the agent resends the rest in order.
            return Ok(Some(ack(&command.id, command.last_seq)));
        }
        let host = command.agent_id.clone();
        let job_id = command.job_id.clone();
        let mut publish = Vec::new();
        if let Some(command_event::Body::Output(chunk)) = &event.body {
            // Head and tail are kept (half the cap each); the middle of a long output is
            // dropped, counted, and shown as a gap.
            let at = if chunk.offset > 0 {
                chunk.offset
            } else {
                command.output_bytes
            };
            command.output_stored_bytes =
                self.store
                    .append_output(&command.id, at, &chunk.data, command.output_cap_bytes)?;
            command.output_bytes = command
                .output_bytes
                .max(at.saturating_add(chunk.data.len() as u64));
            if command.output_bytes > command.output_stored_bytes {
                command.output_truncated = true;
            }
            publish.push(JobEvent {
                body: Some(job_event::Body::Output(HostOutput {
                    host: host.clone(),
                    stream: OutputStream::try_from(chunk.stream)
                        .unwrap_or(OutputStream::Stdout)
                        .into(),
                    data: chunk.data.clone(),
                })),
            });
        }
        let finished = apply(command, event, now_unix_ms());
        command.last_seq = command.last_seq.max(event.seq);
        if command.output_bytes > command.output_stored_bytes {
            // A result restated after a gap: the output it reports was lost with the gap.
            command.output_truncated = true;
        }
        self.store.put_command(command)?;
        if finished {
            self.store.set_inflight(agent_id, &command.id, false)?;
        }
        if !matches!(&event.body, Some(command_event::Body::Output(_))) {
            publish.push(JobEvent {
                body: Some(job_event::Body::Host(views::host_command(
                    command,
                    Vec::new(),
                ))),
            });
        }
        let reply = ack(&command.id, command.last_seq);
        if finished {
            self.tell_finished(command);
        }
        drop(state);
        for event in publish {
            self.publish(&job_id, event);
        }
        if finished {
            self.wake();
        }
        Ok(Some(reply))
    }

    /// Events for commands of jobs no longer active (a replay after the job ended, or a
    /// command still running when its job was cancelled before a restart).
    fn on_event_for_inactive(
        &self,
        agent_id: &str,
        event: &CommandEvent,
    ) -> Result<Option<CoordinatorMessage>, StoreError> {
        let Some(mut command) = self.store.command(&event.command_id)? else {
            tracing::warn!(agent_id, command_id = %event.command_id, "event for an unknown command acknowledged and dropped");
            return Ok(Some(ack(&event.command_id, event.seq)));
        };
        if command.agent_id != agent_id {
            tracing::warn!(agent_id, command_id = %event.command_id, "event for another host's command ignored");
            return Ok(None);
        }
        if let Some(reply) = self.after_end(agent_id, &command, event) {
            return Ok(Some(reply));
        }
        if in_sequence(agent_id, &command, event) {
            // Output of a command whose job ended is counted, not stored.
            if let Some(command_event::Body::Output(chunk)) = &event.body {
                command.output_bytes += chunk.data.len() as u64;
            }
            let finished = apply(&mut command, event, now_unix_ms());
            command.last_seq = command.last_seq.max(event.seq);
            self.store.put_command(&command)?;
            if finished {
                self.store.set_inflight(agent_id, &command.id, false)?;
            }
        }
        Ok(Some(ack(&command.id, command.last_seq)))
    }
}

impl Dispatcher {
    /// An event for a command that already reached a terminal state changes nothing: a
    /// finished result is final, whatever the host says later (a compromised host must not
    /// turn a refused deploy into a success). It is acknowledged, so an honest agent's
    /// outbox drains, and logged once per command. (A result that arrives after the
    /// coordinator gave up on delivering the command, `undeliverable`, is dropped the same
    /// way: one command has one terminal state, and its listeners were told it once.)
    fn after_end(
        &self,
        agent_id: &str,
        command: &CommandRecord,
        event: &CommandEvent,
    ) -> Option<CoordinatorMessage> {
        let state = plan::command_state(command.state);
        if !plan::is_terminal(state) {
            return None;
        }
        // The events that made it terminal are replays: acknowledged, nothing to say.
        if event.seq > command.last_seq && self.first_warning(&command.id) {
            tracing::warn!(
                agent_id,
                command_id = %command.id,
                state = state.as_str_name(),
                "event for a command that already finished ignored"
            );
        }
        Some(ack(&command.id, event.seq.max(command.last_seq)))
    }
}

/// Whether `event` is the next one to apply to `command` (not yet terminal): the one after
/// the last applied, or a result under any other number.
///
/// A `Finished` at or below `last_seq` cannot be a replay: none of the events applied so far
/// finished the command (it would be terminal). It means the agent reused sequence numbers:
/// it sent events it had not yet made durable, was killed, and on restart journaled the
/// result (`interrupted`) under a number the coordinator had already acknowledged (agents
/// before the torture fixes made output durable on a timer, not before sending it).
/// Dropping it would leave the command `running` forever, so it is applied.
///
/// A `Finished` above `last_seq + 1` cannot be waiting for earlier events either: an agent
/// sends a command's events in order on one stream and drops them only once acknowledged.
/// It means this coordinator lost events it had acknowledged (its store restored from an
/// older snapshot, or writes lost to a failed disk) and the agent, sent the command again,
/// restated its result (`agent/src/journal/restate.rs`). It is applied too: the command ran
/// once and settles with its real result instead of waiting forever; the output in the gap
/// is missing and the record says it was cut. Output is never taken out of sequence.
fn in_sequence(agent_id: &str, command: &CommandRecord, event: &CommandEvent) -> bool {
    if event.seq == command.last_seq + 1 {
        return true;
    }
    if !matches!(&event.body, Some(command_event::Body::Finished(_))) {
        return false;
    }
    if event.seq <= command.last_seq {
        tracing::warn!(
            agent_id,
            command_id = %command.id,
            seq = event.seq,
            last_seq = command.last_seq,
            "result under an already-used sequence number (the agent lost events it had sent); applied"
        );
    } else {
        tracing::warn!(
            agent_id,
            command_id = %command.id,
            seq = event.seq,
            last_seq = command.last_seq,
            "result after a gap (this coordinator lost events it had acknowledged); applied"
        );
    }
    true
}

/// Applies one in-sequence event of a command that is not yet terminal to its record (all
/// but the output bytes, which the caller stores). Times are the coordinator's `now`; the
/// agent's own clock is kept apart and never used for ordering or durations. Returns
/// whether the command is now finished.
///
/// A `Finished` must carry a terminal state: anything else (running, pending, a value this
/// coordinator does not know) is recorded as `failed`, with a note in the message.
pub(crate) fn apply(command: &mut CommandRecord, event: &CommandEvent, now: i64) -> bool {
    match &event.body {
        Some(command_event::Body::Received(_)) => {
            if command.state == CommandState::Pending as i32 {
                command.state = CommandState::Delivered.into();
                command.delivered_unix_ms = now;
            }
        }
        Some(command_event::Body::Started(_)) => {
            command.state = CommandState::Running.into();
            command.started_unix_ms = now;
            command.agent_started_unix_ms = event.at_unix_ms;
        }
        Some(command_event::Body::Output(_)) | None => {}
        Some(command_event::Body::Finished(done)) => {
            let reported = CommandState::try_from(done.state).ok();
            match reported.filter(|state| plan::is_terminal(*state)) {
                Some(state) => {
                    command.state = state.into();
                    command.message = done.message.clone();
                }
                None => {
                    tracing::warn!(
                        agent_id = %command.agent_id,
                        command_id = %command.id,
                        state = done.state,
                        "finished without a terminal state; recorded as failed"
                    );
                    command.state = CommandState::Failed.into();
                    command.message = format!(
                        "the agent reported a non-terminal state ({}) as its result: {}",
                        reported.map_or_else(
                            || done.state.to_string(),
                            |s| s.as_str_name().to_string()
                        ),
                        done.message
                    );
                }
            }
            command.exit_code = done.exit_code;
            command.signal = done.signal;
            command.finished_unix_ms = now;
            command.agent_finished_unix_ms = event.at_unix_ms;
            command.output_bytes = command.output_bytes.max(done.output_bytes);
            command.output_truncated |= done.output_truncated;
            return true;
        }
    }
    false
}
