//! The journal's tables and records: keys, (de)coding, the two writes every change is made
//! of, and the mapping of redb's errors. Only `journal.rs` uses it.

use std::path::Path;

use convoy_proto::v1::{CommandEvent, JournalEntry, command_event};
use prost::Message;
use redb::{ReadableTable, WriteTransaction};

use super::{COMMANDS, OUTBOX, now_unix_ms};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal error: {0}")]
    /// Boxed: redb's error is large, and every journal call returns this type.
    Db(Box<redb::Error>),
    #[error("corrupt journal record {0:?}")]
    Corrupt(String),
    #[error("the journal in {0} is locked: is another agent using this data dir?")]
    Locked(String),
    #[error("no journal entry for command {0:?}")]
    Unknown(String),
    #[error("cannot convert the sled journal in {path}: {why}")]
    Migration { path: String, why: String },
}

macro_rules! from_redb {
    ($($error:ty),*) => {$(
        impl From<$error> for JournalError {
            fn from(err: $error) -> Self {
                Self::Db(Box::new(err.into()))
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub(super) fn outbox_key(command_id: &str, seq: u64) -> Vec<u8> {
    let mut key = command_id.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(super) fn decode_entry(key: &str, raw: &[u8]) -> Result<JournalEntry, JournalError> {
    JournalEntry::decode(raw).map_err(|_| JournalError::Corrupt(key.to_string()))
}

pub(super) fn decode_event(key: &[u8], raw: &[u8]) -> Result<CommandEvent, JournalError> {
    CommandEvent::decode(raw)
        .map_err(|_| JournalError::Corrupt(String::from_utf8_lossy(key).into_owned()))
}

pub(super) fn get_entry(
    tx: &WriteTransaction,
    command_id: &str,
) -> Result<Option<JournalEntry>, JournalError> {
    let table = tx.open_table(COMMANDS)?;
    let raw = table.get(command_id)?;
    raw.map(|raw| decode_entry(command_id, raw.value()))
        .transpose()
}

/// Appends `body` as the command's next event to the outbox and stores the entry, in `tx`.
pub(super) fn append_to(
    tx: &WriteTransaction,
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
    let key = outbox_key(&entry.command_id, event.seq);
    tx.open_table(OUTBOX)?
        .insert(key.as_slice(), event.encode_to_vec().as_slice())?;
    tx.open_table(COMMANDS)?
        .insert(entry.command_id.as_str(), entry.encode_to_vec().as_slice())?;
    Ok(event)
}

/// Opens the database, naming a lock held by another process.
pub(super) fn open_db(path: &Path) -> Result<redb::Database, JournalError> {
    redb::Database::builder()
        .set_cache_size(4 * 1024 * 1024)
        .create(path)
        .map_err(|err| match err {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                JournalError::Locked(path.display().to_string())
            }
            other => other.into(),
        })
}

/// Makes `path` (the journal file) 0600.
pub(super) fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}
