//! The command half of a session: which outbox events still go out, and what to do with
//! commands, cancels and acks from the coordinator.

use std::collections::HashMap;
use std::sync::Arc;

use convoy_proto::v1::{AgentMessage, CoordinatorMessage, agent_message, coordinator_message};
use tracing::{debug, error, info};

use crate::command::AgentCommand;
use crate::runner::Runner;

/// Outbox events not yet sent in this session, in order per command, made durable first.
///
/// An event leaves only once it is on disk: output chunks are journaled without a flush, and
/// one the coordinator acknowledged but a kill -9 then erased would have its sequence number
/// reused by the next event (the `interrupted` result after the restart), which the
/// coordinator would take for a replay. One flush covers every event of the batch.
pub(super) fn unsent_events(runner: &Runner, sent: &mut HashMap<String, u64>) -> Vec<AgentMessage> {
    let events = match runner.journal().unacked() {
        Ok(events) => events,
        Err(err) => {
            error!(error = %err, "cannot read the outbox");
            return Vec::new();
        }
    };
    let mut last_sent = sent.clone();
    let unsent: Vec<AgentMessage> = events
        .into_iter()
        .filter(|event| {
            let last = last_sent.entry(event.command_id.clone()).or_insert(0);
            if event.seq > *last {
                *last = event.seq;
                true
            } else {
                false
            }
        })
        .map(|event| AgentMessage {
            body: Some(agent_message::Body::Event(event)),
        })
        .collect();
    if unsent.is_empty() {
        return unsent;
    }
    if let Err(err) = runner.journal().flush() {
        error!(error = %err, "cannot flush the outbox; nothing sent");
        return Vec::new();
    }
    *sent = last_sent;
    unsent
}

pub(super) fn handle(
    runner: &Arc<Runner>,
    message: CoordinatorMessage,
) -> Result<(), crate::journal::JournalError> {
    match message.body {
        Some(coordinator_message::Body::Command(command)) => {
            debug!(command_id = %command.command_id, "command received");
            // Decoded here, once: everything after speaks `AgentCommand`.
            runner.on_command(AgentCommand::from(command))
        }
        Some(coordinator_message::Body::Cancel(cancel)) => {
            info!(command_id = %cancel.command_id, "cancel received");
            runner.on_cancel(&cancel.command_id)
        }
        Some(coordinator_message::Body::Ack(ack)) => runner.journal().ack(&ack.command_id, ack.seq),
        // Renewal and trust bundles are the session's business (see `renew`).
        Some(
            coordinator_message::Body::Welcome(_)
            | coordinator_message::Body::Renewed(_)
            | coordinator_message::Body::Trust(_),
        )
        | None => Ok(()),
    }
}
