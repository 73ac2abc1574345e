//! The agent's durable memory of commands, in sled behind a narrow type:
//!
//! - the journal: every command id ever received and how far it got, so an id never runs
//!   twice, even across restarts; a command found started-but-unfinished at start-up is
//!   reported `interrupted`, never run again;
//! - the outbox: every event (received, started, output, finished) is written here before
//!   it is sent, and leaves only when the coordinator acknowledges it.
//!
//! Stage changes that guarantees hang on (received, started, finished) are flushed to
//! disk before the caller acts on them; output chunks ride on sled's periodic flush.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use convoy_proto::v1::{
    CommandEvent, CommandState, Finished, HeldCommand, JournalEntry, JournalStage, Received,
    Started, command_event,
};
use prost::Message;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt journal record {0:?}")]
    Corrupt(String),
    #[error("the journal in {0} is locked: is another agent using this data dir?")]
    Locked(String),
    #[error("no journal entry for command {0:?}")]
    Unknown(String),
}

/// What the journal says about a command the coordinator sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Never seen: journaled as received; the caller may start it.
    New(CommandEvent),
    /// Seen before and not started (e.g. received just before a restart): may start now.
    NotStarted,
    /// Started or finished before: must not run again.
    Known,
}

pub fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn outbox_key(command_id: &str, seq: u64) -> Vec<u8> {
    let mut key = command_id.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub struct Journal {
    db: sled::Db,
    entries: sled::Tree,
    outbox: sled::Tree,
    failure: Failure,
}

/// The first I/O error the journal hit. Without a working journal the agent cannot keep
/// its at-most-once record, so it must stop: [`Journal::failed`] resolves and the session
/// loop exits non-zero (the service manager restarts it).
#[derive(Debug, Default)]
struct Failure {
    first: std::sync::OnceLock<String>,
    signal: tokio_util::sync::CancellationToken,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

impl Journal {
    pub fn open(dir: &Path) -> Result<Self, JournalError> {
        let path = dir.join("journal.sled");
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(4 * 1024 * 1024)
            .open()
            .map_err(|err| match err {
                sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                    JournalError::Locked(path.display().to_string())
                }
                other => JournalError::Sled(other),
            })?;
        // sled creates with the process umask: make its files private to the agent.
        if let Err(err) = make_private(&path) {
            tracing::warn!(path = %path.display(), error = %err, "cannot restrict the journal's permissions");
        }
        let entries = db.open_tree("commands")?;
        let outbox = db.open_tree("outbox")?;
        Ok(Self {
            db,
            entries,
            outbox,
            failure: Failure::default(),
        })
    }

    pub fn entry(&self, command_id: &str) -> Result<Option<JournalEntry>, JournalError> {
        self.entries
            .get(command_id.as_bytes())?
            .map(|raw| {
                JournalEntry::decode(raw.as_ref())
                    .map_err(|_| JournalError::Corrupt(command_id.to_string()))
            })
            .transpose()
    }

    fn put_entry(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        self.entries
            .insert(entry.command_id.as_bytes(), entry.encode_to_vec())?;
        Ok(())
    }

    /// Journals a command id on first sight (with its Received event, on disk before this
    /// returns). Says whether it may run.
    pub fn admit(
        &self,
        command_id: &str,
        job_id: &str,
        action: &str,
        output_cap_bytes: u64,
    ) -> Result<Admission, JournalError> {
        if let Some(entry) = self.entry(command_id)? {
            return Ok(if entry.stage == JournalStage::Received as i32 {
                Admission::NotStarted
            } else {
                Admission::Known
            });
        }
        let mut entry = JournalEntry {
            command_id: command_id.to_string(),
            job_id: job_id.to_string(),
            action: action.to_string(),
            stage: JournalStage::Received.into(),
            next_seq: 1,
            received_unix_ms: now_unix_ms(),
            final_state: CommandState::Unspecified.into(),
            output_cap_bytes,
        };
        let event = self.append_to(&mut entry, command_event::Body::Received(Received {}))?;
        self.sync()?;
        Ok(Admission::New(event))
    }

    fn append_to(
        &self,
        entry: &mut JournalEntry,
        body: command_event::Body,
    ) -> Result<CommandEvent, JournalError> {
        let event = CommandEvent {
            command_id: entry.command_id.clone(),
            seq: entry.next_seq,
            at_unix_ms: now_unix_ms(),
            body: Some(body),
        };
        entry.next_seq += 1;
        self.outbox.insert(
            outbox_key(&entry.command_id, event.seq),
            event.encode_to_vec(),
        )?;
        self.put_entry(entry)?;
        Ok(event)
    }

    fn update(&self, command_id: &str) -> Result<JournalEntry, JournalError> {
        self.entry(command_id)?
            .ok_or_else(|| JournalError::Unknown(command_id.to_string()))
    }

    /// Records that the command is about to start; on disk before this returns, so a
    /// crash from here on is reported as interrupted instead of running it again.
    pub fn mark_started(&self, command_id: &str) -> Result<CommandEvent, JournalError> {
        let mut entry = self.update(command_id)?;
        entry.stage = JournalStage::Started.into();
        let event = self.append_to(&mut entry, command_event::Body::Started(Started { pid: 0 }))?;
        self.sync()?;
        Ok(event)
    }

    /// Adds an event (output) to a command's outbox.
    pub fn append(
        &self,
        command_id: &str,
        body: command_event::Body,
    ) -> Result<CommandEvent, JournalError> {
        let mut entry = self.update(command_id)?;
        self.append_to(&mut entry, body)
    }

    /// Records the command's end; on disk before this returns.
    pub fn finish(
        &self,
        command_id: &str,
        finished: Finished,
    ) -> Result<CommandEvent, JournalError> {
        let mut entry = self.update(command_id)?;
        entry.stage = JournalStage::Finished.into();
        entry.final_state = finished.state;
        let event = self.append_to(&mut entry, command_event::Body::Finished(finished))?;
        self.sync()?;
        Ok(event)
    }

    /// Finishes a command that never started (cancelled before it ran, or rejected).
    /// Journals it first if it was never seen, so it can never run later.
    pub fn finish_unstarted(
        &self,
        command_id: &str,
        job_id: &str,
        action: &str,
        finished: Finished,
    ) -> Result<Option<CommandEvent>, JournalError> {
        match self.entry(command_id)? {
            Some(entry) if entry.stage != JournalStage::Received as i32 => Ok(None),
            Some(_) => self.finish(command_id, finished).map(Some),
            None => {
                let mut entry = JournalEntry {
                    command_id: command_id.to_string(),
                    job_id: job_id.to_string(),
                    action: action.to_string(),
                    stage: JournalStage::Finished.into(),
                    next_seq: 1,
                    received_unix_ms: now_unix_ms(),
                    final_state: finished.state,
                    output_cap_bytes: 0,
                };
                let event = self.append_to(&mut entry, command_event::Body::Finished(finished))?;
                self.sync()?;
                Ok(Some(event))
            }
        }
    }

    /// At start-up: every command that started and did not finish is finished as
    /// `interrupted`. Returns their ids.
    pub fn recover_interrupted(&self) -> Result<Vec<String>, JournalError> {
        let mut interrupted = Vec::new();
        for item in self.entries.iter() {
            let (key, raw) = item?;
            let entry = JournalEntry::decode(raw.as_ref())
                .map_err(|_| JournalError::Corrupt(String::from_utf8_lossy(&key).into_owned()))?;
            if entry.stage == JournalStage::Started as i32 {
                self.finish(
                    &entry.command_id,
                    Finished {
                        state: CommandState::Interrupted.into(),
                        message: "the agent stopped while the command ran; it was not run again"
                            .into(),
                        ..Default::default()
                    },
                )?;
                interrupted.push(entry.command_id);
            }
        }
        Ok(interrupted)
    }

    /// Every unacknowledged event, in order per command (commands in id order).
    pub fn unacked(&self) -> Result<Vec<CommandEvent>, JournalError> {
        self.outbox
            .iter()
            .map(|item| {
                let (key, raw) = item?;
                CommandEvent::decode(raw.as_ref())
                    .map_err(|_| JournalError::Corrupt(String::from_utf8_lossy(&key).into_owned()))
            })
            .collect()
    }

    /// Drops a command's events up to `seq`: the coordinator has them on disk.
    pub fn ack(&self, command_id: &str, seq: u64) -> Result<(), JournalError> {
        let start = outbox_key(command_id, 0);
        let end = outbox_key(command_id, seq.saturating_add(1));
        let keys: Vec<sled::IVec> = self
            .outbox
            .range(start..end)
            .keys()
            .collect::<Result<_, _>>()?;
        for key in keys {
            self.outbox.remove(key)?;
        }
        Ok(())
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
                let state = match JournalStage::try_from(entry.stage) {
                    Ok(JournalStage::Finished) => entry.final_state,
                    Ok(JournalStage::Started) => CommandState::Running.into(),
                    _ => CommandState::Delivered.into(),
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
        let mut pruned = 0;
        for item in self.entries.iter() {
            let (key, raw) = item?;
            let entry = JournalEntry::decode(raw.as_ref())
                .map_err(|_| JournalError::Corrupt(String::from_utf8_lossy(&key).into_owned()))?;
            let mut prefix = entry.command_id.as_bytes().to_vec();
            prefix.push(0);
            if entry.stage == JournalStage::Finished as i32
                && entry.received_unix_ms < before_unix_ms
                && self.outbox.scan_prefix(&prefix).next().is_none()
            {
                self.entries.remove(&key)?;
                pruned += 1;
            }
        }
        Ok(pruned)
    }

    pub fn flush(&self) -> Result<(), JournalError> {
        self.sync()
    }

    /// Flushes; every stage change the guarantees hang on and every event before it is
    /// sent goes through here, so a write that failed (sled writes in the background and
    /// reports at the next flush) marks the journal failed.
    fn sync(&self) -> Result<(), JournalError> {
        self.db.flush().map(drop).map_err(|err| {
            if matches!(err, sled::Error::Io(_) | sled::Error::Corruption { .. }) {
                let _ = self.failure.first.set(err.to_string());
                self.failure.signal.cancel();
            }
            err.into()
        })
    }

    /// Resolves with the first I/O error once the journal has failed (it never recovers).
    pub async fn failed(&self) -> String {
        self.failure.signal.cancelled().await;
        self.failure.first.get().cloned().unwrap_or_default()
    }
}

/// Sets `dir` and the directories under it to 0700 and its files to 0600.
fn make_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            make_private(&entry.path())?;
        } else if kind.is_file() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
