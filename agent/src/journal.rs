//! The agent's durable memory of commands, in redb behind a narrow type
//! (`<data_dir>/journal.redb`; an older agent's sled journal is converted once, see
//! `migrate.rs`):
//!
//! - the journal: every command id ever received and how far it got, so an id never runs
//!   twice, even across restarts; a command found started-but-unfinished at start-up is
//!   reported `interrupted`, never run again;
//! - the outbox: every event (received, started, output, finished) is written here before
//!   it is sent, and leaves only when the coordinator acknowledges it.
//!
//! Stage changes that guarantees hang on (received, started, finished) are committed
//! durably before the caller acts on them; output chunks are committed without an fsync and
//! made durable by [`Journal::flush`], which the session calls before sending any event.
//! redb commits copy-on-write with a checksummed commit slot, so a write that fails (a full
//! disk) leaves the last durable commit readable: the journal reopens after it. An I/O error
//! poisons the open handle, so the agent stops ([`Journal::failed`]) and reopens on restart.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use convoy_proto::v1::{
    CommandEvent, CommandState, Finished, HeldCommand, JournalEntry, JournalStage, Received,
    Started, command_event,
};
use redb::{Durability, ReadableTable, TableDefinition, WriteTransaction};

mod migrate;
mod outbox;
mod restate;
mod tables;

pub use tables::JournalError;
use tables::{append_to, decode_entry, decode_event, get_entry, make_private, open_db, outbox_key};

/// The journal's file in the data dir.
pub(crate) const FILE_NAME: &str = "journal.redb";
/// Finished commands are forgotten this long after they were received.
pub const RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;
/// A command issued longer ago than this is refused unseen: the journal may have forgotten
/// that it ran (a day short of [`RETENTION_MS`], for the coordinator's clock being off).
pub const ISSUE_HORIZON_MS: i64 = RETENTION_MS - 24 * 3600 * 1000;
/// command id -> `JournalEntry`.
const COMMANDS: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("commands");
/// command id, 0, seq (big-endian) -> `CommandEvent`.
const OUTBOX: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("outbox");

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

pub(crate) fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The first I/O error the journal hit. Without a working journal the agent cannot keep
/// its at-most-once record, so it must stop: [`Journal::failed`] resolves and the session
/// loop exits non-zero (the service manager restarts it).
#[derive(Debug, Default)]
struct Failure {
    first: std::sync::OnceLock<String>,
    signal: tokio_util::sync::CancellationToken,
}

pub struct Journal {
    db: redb::Database,
    failure: Failure,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (or creates) `<dir>/journal.redb`, first converting an older agent's
    /// `journal.sled` if there is one.
    pub fn open(dir: &Path) -> Result<Self, JournalError> {
        let path = dir.join(FILE_NAME);
        migrate::from_sled(dir, &path)?;
        let db = open_db(&path)?;
        // redb creates with the process umask: the journal is the agent's alone.
        if let Err(err) = make_private(&path) {
            tracing::warn!(path = %path.display(), error = %err, "cannot restrict the journal's permissions");
        }
        let journal = Self {
            db,
            failure: Failure::default(),
        };
        journal.write(true, |tx| {
            tx.open_table(COMMANDS)?;
            tx.open_table(OUTBOX)?;
            Ok(())
        })?;
        Ok(journal)
    }

    /// Runs `f` in one write transaction and commits it, durably (fsync) or not. An I/O
    /// error marks the journal failed.
    fn write<T>(
        &self,
        durable: bool,
        f: impl FnOnce(&WriteTransaction) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let result = (|| {
            let mut tx = self.db.begin_write()?;
            if !durable {
                tx.set_durability(Durability::None);
            }
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        self.watch(result)
    }

    fn watch<T>(&self, result: Result<T, JournalError>) -> Result<T, JournalError> {
        if let Err(JournalError::Db(err)) = &result
            && matches!(
                **err,
                redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::Corrupted(_)
            )
        {
            let _ = self.failure.first.set(err.to_string());
            self.failure.signal.cancel();
        }
        result
    }

    /// Resolves with the first I/O error once the journal has failed (the open handle
    /// never recovers; a reopen does).
    pub async fn failed(&self) -> String {
        self.failure.signal.cancelled().await;
        self.failure.first.get().cloned().unwrap_or_default()
    }

    pub fn entry(&self, command_id: &str) -> Result<Option<JournalEntry>, JournalError> {
        let result = (|| {
            let tx = self.db.begin_read()?;
            let table = tx.open_table(COMMANDS)?;
            let raw = table.get(command_id)?;
            raw.map(|raw| decode_entry(command_id, raw.value()))
                .transpose()
        })();
        self.watch(result)
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
            return Ok(if stage_of(&entry) == JournalStage::Received {
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
            finished: None,
        };
        let event = self.write(true, |tx| {
            append_to(tx, &mut entry, command_event::Body::Received(Received {}))
        })?;
        Ok(Admission::New(event))
    }

    /// Changes a known command's entry with `change` and appends `body` to its outbox, in one
    /// commit (durable or not).
    fn update(
        &self,
        command_id: &str,
        durable: bool,
        change: impl FnOnce(&mut JournalEntry),
        body: command_event::Body,
    ) -> Result<CommandEvent, JournalError> {
        self.write(durable, |tx| {
            let mut entry = get_entry(tx, command_id)?
                .ok_or_else(|| JournalError::Unknown(command_id.to_string()))?;
            change(&mut entry);
            append_to(tx, &mut entry, body)
        })
    }

    /// Records that the command is about to start; on disk before this returns, so a
    /// crash from here on is reported as interrupted instead of running it again.
    pub fn mark_started(&self, command_id: &str) -> Result<CommandEvent, JournalError> {
        let started = command_event::Body::Started(Started { pid: 0 });
        self.update(
            command_id,
            true,
            |entry| entry.stage = JournalStage::Started.into(),
            started,
        )
    }

    /// Adds an event (output) to a command's outbox; durable at the next [`Journal::flush`]
    /// (which comes before it is sent).
    pub fn append(
        &self,
        command_id: &str,
        body: command_event::Body,
    ) -> Result<CommandEvent, JournalError> {
        self.update(command_id, false, |_| {}, body)
    }

    /// Records the command's end; on disk before this returns.
    pub fn finish(
        &self,
        command_id: &str,
        finished: Finished,
    ) -> Result<CommandEvent, JournalError> {
        let kept = finished.clone();
        self.update(
            command_id,
            true,
            |entry| {
                entry.stage = JournalStage::Finished.into();
                entry.final_state = kept.state;
                entry.finished = Some(kept);
            },
            command_event::Body::Finished(finished),
        )
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
            Some(entry) if stage_of(&entry) != JournalStage::Received => Ok(None),
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
                    finished: Some(finished.clone()),
                };
                let body = command_event::Body::Finished(finished);
                self.write(true, |tx| append_to(tx, &mut entry, body))
                    .map(Some)
            }
        }
    }

    /// At start-up: every command that started and did not finish is finished as
    /// `interrupted` (one durable commit). Returns their ids.
    pub fn recover_interrupted(&self) -> Result<Vec<String>, JournalError> {
        self.write(true, |tx| {
            let mut started = Vec::new();
            for item in tx.open_table(COMMANDS)?.iter()? {
                let (key, raw) = item?;
                let entry = decode_entry(key.value(), raw.value())?;
                if stage_of(&entry) == JournalStage::Started {
                    started.push(entry);
                }
            }
            let mut interrupted = Vec::new();
            for mut entry in started {
                entry.stage = JournalStage::Finished.into();
                entry.final_state = CommandState::Interrupted.into();
                let finished = Finished {
                    state: CommandState::Interrupted.into(),
                    message: "the agent stopped while the command ran; it was not run again".into(),
                    ..Default::default()
                };
                entry.finished = Some(finished.clone());
                append_to(tx, &mut entry, command_event::Body::Finished(finished))?;
                interrupted.push(entry.command_id);
            }
            Ok(interrupted)
        })
    }

    /// Makes every commit so far durable (one fsync).
    pub fn flush(&self) -> Result<(), JournalError> {
        self.write(true, |_| Ok(()))
    }
}

/// The entry's stage, under the agent's one rule for unknown enum values read from disk
/// (ARCHITECTURE.md): a stage this agent does not know (a newer agent's, or the never
/// written `Unspecified`) is never taken as leave to run. It counts as `Started` in every
/// decision: the id is never admitted again, a cancel does not finish it as never started,
/// the Hello reports it running, and start-up finishes it as `interrupted`.
fn stage_of(entry: &JournalEntry) -> JournalStage {
    match JournalStage::try_from(entry.stage) {
        Ok(stage @ (JournalStage::Received | JournalStage::Started | JournalStage::Finished)) => {
            stage
        }
        Ok(JournalStage::Unspecified) | Err(_) => JournalStage::Started,
    }
}

#[cfg(test)]
mod tests;
