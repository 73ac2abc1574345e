//! The journal's outbox: events not yet acknowledged by the coordinator, their acks, the
//! commands the Hello says are held, and pruning of finished commands once all is acked.

use super::*;

impl Journal {
    /// Every unacknowledged event, in order per command (commands in id order).
    pub fn unacked(&self) -> Result<Vec<CommandEvent>, JournalError> {
        let result = (|| {
            let tx = self.db.begin_read()?;
            let table = tx.open_table(OUTBOX)?;
            let mut events = Vec::new();
            for item in table.iter()? {
                let (key, raw) = item?;
                events.push(decode_event(key.value(), raw.value())?);
            }
            Ok(events)
        })();
        self.watch(result)
    }

    /// Drops a command's events up to `seq`: the coordinator has them on disk. (Not
    /// fsynced: an ack lost to a crash only means the events are sent again.)
    pub fn ack(&self, command_id: &str, seq: u64) -> Result<(), JournalError> {
        let start = outbox_key(command_id, 0);
        let end = outbox_key(command_id, seq.saturating_add(1));
        self.write(false, |tx| {
            let mut table = tx.open_table(OUTBOX)?;
            let keys: Vec<Vec<u8>> = table
                .range(start.as_slice()..end.as_slice())?
                .map(|item| item.map(|(key, _)| key.value().to_vec()))
                .collect::<Result<_, _>>()?;
            for key in keys {
                table.remove(key.as_slice())?;
            }
            Ok(())
        })
    }

    /// Commands with unacknowledged events, for the Hello.
    pub fn held(&self) -> Result<Vec<HeldCommand>, JournalError> {
        let mut held: Vec<HeldCommand> = Vec::new();
        for event in self.unacked()? {
            if held
                .last()
                .is_some_and(|h| h.command_id == event.command_id)
            {
                continue;
            }
            if let Some(entry) = self.entry(&event.command_id)? {
                let state = match stage_of(&entry) {
                    JournalStage::Finished => entry.final_state,
                    JournalStage::Started => CommandState::Running.into(),
                    JournalStage::Received | JournalStage::Unspecified => {
                        CommandState::Delivered.into()
                    }
                };
                held.push(HeldCommand {
                    command_id: entry.command_id,
                    state,
                    last_seq: entry.next_seq.saturating_sub(1),
                });
            }
        }
        Ok(held)
    }

    /// Forgets finished commands received before `before_unix_ms` whose events were all
    /// acknowledged: the coordinator will never send them again. Returns how many.
    pub fn prune_finished(&self, before_unix_ms: i64) -> Result<usize, JournalError> {
        self.write(true, |tx| {
            let mut commands = tx.open_table(COMMANDS)?;
            let outbox = tx.open_table(OUTBOX)?;
            let mut doomed = Vec::new();
            for item in commands.iter()? {
                let (key, raw) = item?;
                let entry = decode_entry(key.value(), raw.value())?;
                let start = outbox_key(&entry.command_id, 0);
                let end = outbox_key(&entry.command_id, u64::MAX);
                if stage_of(&entry) == JournalStage::Finished
                    && entry.received_unix_ms < before_unix_ms
                    && outbox
                        .range(start.as_slice()..=end.as_slice())?
                        .next()
                        .is_none()
                {
                    doomed.push(entry.command_id);
                }
            }
            for id in &doomed {
                commands.remove(id.as_str())?;
            }
            Ok(doomed.len())
        })
    }
}
