//! One-time conversion of an older agent's sled journal (`journal.sled`, trees `commands`
//! and `outbox` with the same keys and records) into `journal.redb`, so an agent that
//! upgrades forgets none of the commands it holds.
//!
//! The copy is written to `journal.redb.converting`, committed durably and renamed into
//! place; only then is `journal.sled` renamed to `journal.sled.converted` (kept, for the
//! operator to delete). A crash at any point leaves either the sled journal to convert
//! again or a complete redb journal.

use std::path::Path;

use tracing::{info, warn};

use super::{COMMANDS, JournalError, OUTBOX};

pub(super) const SLED_DIR: &str = "journal.sled";
pub(super) const CONVERTED_DIR: &str = "journal.sled.converted";

/// Converts `<dir>/journal.sled` into `target` if it exists and `target` does not.
pub(super) fn from_sled(dir: &Path, target: &Path) -> Result<(), JournalError> {
    let old = dir.join(SLED_DIR);
    if !old.exists() {
        return Ok(());
    }
    let failed = |why: String| JournalError::Migration {
        path: old.display().to_string(),
        why,
    };
    if !target.exists() {
        let temp = dir.join("journal.redb.converting");
        match std::fs::remove_file(&temp) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(failed(err.to_string())),
        }
        let (commands, events) = convert(&old, &temp).map_err(failed)?;
        std::fs::rename(&temp, target).map_err(|e| failed(e.to_string()))?;
        sync_dir(dir).map_err(|e| failed(e.to_string()))?;
        info!(commands, events, from = %old.display(), to = %target.display(), "converted the sled journal");
    }
    let mut kept = dir.join(CONVERTED_DIR);
    if kept.exists() {
        // Converted before (an old journal put back by hand): keep both.
        kept = dir.join(format!("{CONVERTED_DIR}-{}", super::now_unix_ms()));
    }
    std::fs::rename(&old, &kept).map_err(|e| failed(e.to_string()))?;
    warn!(old = %kept.display(), "the old sled journal is no longer used; delete it once this agent runs well");
    Ok(())
}

/// Copies both trees into a new redb file at `temp`; returns (commands, events).
fn convert(old: &Path, temp: &Path) -> Result<(usize, usize), String> {
    let sled = sled::Config::new()
        .path(old)
        .open()
        .map_err(|e| format!("cannot open it ({e}); is another agent using this data dir?"))?;
    let db = redb::Database::create(temp).map_err(|e| e.to_string())?;
    let tx = db.begin_write().map_err(|e| e.to_string())?;
    let mut counts = (0, 0);
    {
        let mut commands = tx.open_table(COMMANDS).map_err(|e| e.to_string())?;
        for item in sled
            .open_tree("commands")
            .map_err(|e| e.to_string())?
            .iter()
        {
            let (key, value) = item.map_err(|e| e.to_string())?;
            let id = std::str::from_utf8(&key).map_err(|_| "a command id is not UTF-8")?;
            commands
                .insert(id, value.as_ref())
                .map_err(|e| e.to_string())?;
            counts.0 += 1;
        }
        let mut outbox = tx.open_table(OUTBOX).map_err(|e| e.to_string())?;
        for item in sled.open_tree("outbox").map_err(|e| e.to_string())?.iter() {
            let (key, value) = item.map_err(|e| e.to_string())?;
            outbox
                .insert(key.as_ref(), value.as_ref())
                .map_err(|e| e.to_string())?;
            counts.1 += 1;
        }
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok(counts)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
