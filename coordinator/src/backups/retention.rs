//! Retention: how many complete backups of a host and set the coordinator keeps, and which
//! records a prune removes. Decided by the coordinator alone (`[backups]` in
//! `coordinator.toml` and the schedule that started the job); what a host's upload says is
//! never consulted. [`doomed`] is pure: the time comes in as an argument, and nothing younger
//! than the minimum retention is ever chosen, whatever `keep` is.

use std::time::Duration;

use convoy_proto::v1::{Backup, BackupState, CommandRecord};

use crate::config::BackupsConfig;
use crate::store::{Store, StoreError};

/// The `keep` a schedule set, when the command's job was started by one (`schedule/<id>`).
pub fn schedule_keep(store: &Store, command: &CommandRecord) -> Result<Option<u32>, StoreError> {
    let Some(job) = store.job(&command.job_id)? else {
        return Ok(None);
    };
    let Some(schedule_id) = job.created_by.strip_prefix("schedule/") else {
        return Ok(None);
    };
    Ok(store
        .backup_schedules()?
        .into_iter()
        .find(|s| s.id == schedule_id)
        .map(|s| s.keep))
}

/// Complete backups to keep of `host`'s `set`: the schedule's `keep` for a scheduled job
/// (when it set one), else the first matching `[[backups.retention]]` rule, else the
/// `[backups] keep` default. 0 keeps everything.
pub fn keep_for(policy: &BackupsConfig, schedule_keep: Option<u32>, host: &str, set: &str) -> u32 {
    if let Some(keep) = schedule_keep.filter(|k| *k > 0) {
        return keep;
    }
    policy
        .retention
        .iter()
        .find(|rule| rule.matches(host, set))
        .map_or(policy.keep, |rule| rule.keep)
}

/// The records of one host and set a prune removes at `now_unix_ms`: complete backups past
/// the newest `keep`, and partial and failed records older than the oldest complete one
/// kept; never an upload in progress, never anything created less than `min_retention`
/// ago. `keep == 0` removes nothing.
pub fn doomed(
    records: &[Backup],
    keep: usize,
    min_retention: Duration,
    now_unix_ms: i64,
) -> Vec<Backup> {
    if keep == 0 {
        return Vec::new();
    }
    let mut records: Vec<&Backup> = records.iter().collect();
    records.sort_by_key(|b| std::cmp::Reverse(b.created_unix_ms));
    let complete: Vec<&&Backup> = records
        .iter()
        .filter(|b| b.state == BackupState::Complete as i32)
        .collect();
    if complete.len() <= keep {
        return Vec::new();
    }
    let oldest_kept = complete
        .get(keep - 1)
        .map_or(i64::MAX, |b| b.created_unix_ms);
    let min_age_ms = i64::try_from(min_retention.as_millis()).unwrap_or(i64::MAX);
    records
        .into_iter()
        .filter(|b| b.state != BackupState::Uploading as i32 && b.created_unix_ms < oldest_kept)
        .filter(|b| now_unix_ms.saturating_sub(b.created_unix_ms) >= min_age_ms)
        .cloned()
        .collect()
}

/// Why an operator's delete of `backup` is refused, by the same rules retention follows:
/// nothing younger than `min_retention`, no upload in progress, and never the last complete
/// backup of its host and set (a stored backup goes only while another complete one of that
/// host and set stays). `records` are the catalog's records (any host and set). Failed
/// records may go once past `min_retention`.
pub fn delete_refusal(
    backup: &Backup,
    records: &[Backup],
    min_retention: Duration,
    now_unix_ms: i64,
) -> Option<String> {
    if backup.state == BackupState::Uploading as i32 {
        return Some("it is still uploading".into());
    }
    let age_ms = now_unix_ms.saturating_sub(backup.created_unix_ms).max(0);
    let min_age_ms = i64::try_from(min_retention.as_millis()).unwrap_or(i64::MAX);
    if age_ms < min_age_ms {
        let age = Duration::from_secs(u64::try_from(age_ms / 1000).unwrap_or(0));
        return Some(format!(
            "it is {} old and [backups] min_retention keeps every backup for {}",
            humantime::format_duration(age),
            humantime::format_duration(min_retention)
        ));
    }
    let stored = matches!(
        BackupState::try_from(backup.state),
        Ok(BackupState::Complete | BackupState::Partial)
    );
    let another_complete = records.iter().any(|b| {
        b.id != backup.id
            && b.host == backup.host
            && b.set == backup.set
            && b.state == BackupState::Complete as i32
    });
    if stored && !another_complete {
        return Some(format!(
            "it is the last {} backup of set {} on host {} (delete it after a newer complete one)",
            if backup.state == BackupState::Complete as i32 {
                "complete"
            } else {
                "restorable"
            },
            backup.set,
            backup.host
        ));
    }
    None
}
