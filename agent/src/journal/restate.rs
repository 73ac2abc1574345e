//! Reporting a result again to a coordinator that lost it. The coordinator acknowledges an
//! event only once it is on its disk, and the agent then drops it from the outbox; but a
//! coordinator can still go back in time: its store restored from an older snapshot, or
//! writes lost to a failed disk. It then sends a command this host already finished, and
//! the journal says `Known`: it must not run again, and without its result the command
//! would wait on the coordinator forever. The result is appended to the outbox again under
//! a new sequence number (the coordinator applies a result across the gap; see
//! `coordinator/src/dispatch/events.rs`), so the command settles with what really happened.

use convoy_proto::v1::{CommandEvent, Finished, JournalStage, command_event};
use redb::ReadableTable;

use super::tables::{append_to, get_entry, outbox_key};
use super::{Journal, JournalError, OUTBOX, stage_of};

/// Added to a restated result's message, so operators can tell why a result came late.
pub(crate) const RESTATED: &str = "(reported again: the coordinator had lost this result)";

impl Journal {
    /// Appends a finished command's result again (durably) when every event it had was
    /// acknowledged. `None` when there is nothing to restate: the id is unknown or not
    /// finished, or its events still wait in the outbox (they are sent again anyway, and
    /// a coordinator that keeps resending cannot grow the outbox).
    pub fn restate(&self, command_id: &str) -> Result<Option<CommandEvent>, JournalError> {
        match self.entry(command_id)? {
            Some(entry) if stage_of(&entry) == JournalStage::Finished => {}
            _ => return Ok(None),
        }
        self.write(true, |tx| {
            let Some(mut entry) = get_entry(tx, command_id)? else {
                return Ok(None);
            };
            let start = outbox_key(command_id, 0);
            let end = outbox_key(command_id, u64::MAX);
            let pending = tx
                .open_table(OUTBOX)?
                .range(start.as_slice()..=end.as_slice())?
                .next()
                .is_some();
            if pending || stage_of(&entry) != JournalStage::Finished {
                return Ok(None);
            }
            let mut finished = entry.finished.clone().unwrap_or_else(|| Finished {
                state: entry.final_state,
                ..Default::default()
            });
            finished.message = if finished.message.is_empty() {
                RESTATED.to_string()
            } else {
                format!("{} {RESTATED}", finished.message)
            };
            append_to(tx, &mut entry, command_event::Body::Finished(finished)).map(Some)
        })
    }
}
