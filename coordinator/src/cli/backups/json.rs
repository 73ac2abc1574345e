//! The stable JSON shapes of `convoy backup ... -o json`. Field names are a contract with
//! operators' scripts: add fields, never rename or remove them.

use convoy_proto::v1::{Backup, BackupSchedule, DrillResult};
use serde::Serialize;

use crate::backups::state_name;
use crate::cli::output::rfc3339;

#[derive(Debug, Serialize)]
pub struct DrillJson {
    pub at: Option<String>,
    pub ok: bool,
    pub host: String,
    pub files: u64,
    pub bytes: u64,
    pub duration_ms: u64,
    pub problems: Vec<String>,
}

impl From<&DrillResult> for DrillJson {
    fn from(d: &DrillResult) -> Self {
        Self {
            at: rfc3339(d.at_unix_ms),
            ok: d.ok,
            host: d.host.clone(),
            files: d.files,
            bytes: d.bytes,
            duration_ms: d.duration_ms,
            problems: d.problems.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct BackupJson {
    pub id: String,
    pub host: String,
    pub set: String,
    /// uploading, complete, partial or failed.
    pub state: &'static str,
    pub created_at: Option<String>,
    pub completed_at: Option<String>,
    /// Archive bytes (compressed).
    pub size: u64,
    /// Manifest entries (files, directories, symlinks).
    pub files: u64,
    /// Sum of the files' sizes.
    pub bytes: u64,
    pub sha256: String,
    pub verified_at: Option<String>,
    pub verified_ok: Option<bool>,
    /// The last drill of this backup, or null.
    pub last_drill: Option<DrillJson>,
    pub missing: Vec<String>,
    pub skipped: Vec<String>,
    pub message: String,
}

impl From<&Backup> for BackupJson {
    fn from(b: &Backup) -> Self {
        Self {
            id: b.id.clone(),
            host: b.host.clone(),
            set: b.set.clone(),
            state: state_name(b.state),
            created_at: rfc3339(b.created_unix_ms),
            completed_at: rfc3339(b.completed_unix_ms),
            size: b.size,
            files: b.files,
            bytes: b.bytes,
            sha256: b.sha256.clone(),
            verified_at: rfc3339(b.verified_unix_ms),
            verified_ok: (b.verified_unix_ms != 0).then_some(b.verified_ok),
            last_drill: b.last_drill.as_ref().map(DrillJson::from),
            missing: b.missing.clone(),
            skipped: b.skipped.clone(),
            message: b.message.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ScheduleJson {
    pub id: String,
    pub set: String,
    pub selector: String,
    pub cron: String,
    pub drill_cron: String,
    pub created_by: String,
    pub created_at: Option<String>,
    pub last_run_at: Option<String>,
    pub last_job: String,
    pub next_run_at: Option<String>,
    pub last_drill_at: Option<String>,
    pub last_drill_job: String,
    pub next_drill_at: Option<String>,
    pub skipped: u32,
    pub last_skip_at: Option<String>,
    pub last_error: String,
}

impl From<&BackupSchedule> for ScheduleJson {
    fn from(s: &BackupSchedule) -> Self {
        Self {
            id: s.id.clone(),
            set: s.set.clone(),
            selector: s.selector.clone(),
            cron: s.cron.clone(),
            drill_cron: s.drill_cron.clone(),
            created_by: s.created_by.clone(),
            created_at: rfc3339(s.created_unix_ms),
            last_run_at: rfc3339(s.last_run_unix_ms),
            last_job: s.last_job_id.clone(),
            next_run_at: rfc3339(s.next_run_unix_ms),
            last_drill_at: rfc3339(s.last_drill_unix_ms),
            last_drill_job: s.last_drill_job_id.clone(),
            next_drill_at: rfc3339(s.next_drill_unix_ms),
            skipped: s.skipped,
            last_skip_at: rfc3339(s.last_skip_unix_ms),
            last_error: s.last_error.clone(),
        }
    }
}
