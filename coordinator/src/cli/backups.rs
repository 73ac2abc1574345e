//! `convoy backup run|list|verify|restore|drill|schedule ...`: the operator side of backups,
//! over the `Backups` service. Jobs (run, restore, drill) reuse the job flags and the
//! `--wait`/`--follow` machinery of `convoy exec`; restore and drill always wait, so their
//! exit status says whether they worked.

mod json;

use clap::Subcommand;
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::{
    AddScheduleRequest, Backup, DeleteBackupRequest, DrillBackupsRequest, Job, JobOptions,
    ListBackupsRequest, ListSchedulesRequest, RemoveScheduleRequest, RestoreBackupRequest,
    RunBackupRequest, VerifyBackupRequest,
};

use super::connect::{admin, backups, rpc_error};
use super::jobs::{JobFlags, follow_started};
use super::output::{self, rfc3339};
use super::{ConnectArgs, OutputFormat, UsageError, out};
use crate::backups::state_name;
use crate::dispatch::valid_action_name;
use crate::rate::Rate;
use crate::selector::Selector;
use json::{BackupJson, ScheduleJson};

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up a set on every matching host, as a job.
    Run {
        /// A set from the agents' [backup.sets.NAME].
        set: String,
        #[command(flatten)]
        job: JobFlags,
    },
    /// Stored backups, newest first: id, host, set, time, size, files, sha256, verified, drilled.
    List {
        /// Only this host's backups.
        #[arg(long, default_value = "")]
        host: String,
        /// Only this set's backups.
        #[arg(long, default_value = "")]
        set: String,
        /// Include uploads in progress and failed ones.
        #[arg(long)]
        all: bool,
    },
    /// Re-hash a stored archive on the coordinator; exit 1 if it does not match.
    Verify {
        /// The backup id.
        id: String,
    },
    /// Remove a backup's record and files (admin; audited). Refused while it is younger
    /// than [backups] min_retention, the last complete one of its host and set, uploading,
    /// or read by an unfinished restore.
    Delete {
        /// The backup id.
        id: String,
    },
    /// Put a backup back on a host: under --to DIR, or --in-place (never the default).
    Restore {
        /// The backup id.
        id: String,
        /// Restore under this absolute directory (must be empty unless --force).
        #[arg(
            long,
            conflicts_with = "in_place",
            required_unless_present = "in_place"
        )]
        to: Option<String>,
        /// Restore to the original paths.
        #[arg(long)]
        in_place: bool,
        /// Restore into a non-empty --to directory.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        job: JobFlags,
    },
    /// Restore each matching host's latest backup of a set into a scratch dir there, check
    /// every file, and report; exit 1 unless every host passed.
    Drill {
        /// A set from the agents' [backup.sets.NAME].
        set: String,
        #[command(flatten)]
        job: JobFlags,
    },
    /// Backup schedules (cron, UTC).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Back up a set on a cron schedule, optionally with periodic drills.
    Add {
        /// A set from the agents' [backup.sets.NAME].
        set: String,
        /// Label selector for the hosts backed up ('id=web-1' names a host).
        #[arg(long, short = 's', default_value = "")]
        selector: String,
        /// Only these hosts, by agent id: comma-separated or repeated.
        #[arg(long = "host", value_name = "ID", value_delimiter = ',')]
        hosts: Vec<String>,
        /// Five-field cron expression in UTC, e.g. '0 3 * * *'.
        #[arg(long)]
        cron: String,
        /// Drills: daily (04:30 UTC), weekly (Sundays 04:30 UTC) or a cron expression.
        #[arg(long)]
        drill: Option<String>,
        /// Complete backups of this schedule's jobs kept per host (0: the coordinator's
        /// `[backups]` rules decide). Never prunes a backup younger than
        /// `[backups] min_retention`.
        #[arg(long, default_value_t = 0)]
        keep: u32,
    },
    /// Every schedule: set, selector, cron, drills, last and next runs, last error.
    List,
    /// Stop a schedule (admin role). Its backups stay.
    Remove {
        /// The schedule id.
        id: String,
    },
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

fn check_set(set: &str) -> anyhow::Result<()> {
    if valid_action_name(set) {
        Ok(())
    } else {
        Err(usage(format!(
            "invalid backup set name {set:?}: expected [a-z0-9][a-z0-9._-]*"
        )))
    }
}

/// The job flags as the Backups service takes them, checked like `convoy exec` does.
fn options(flags: &JobFlags) -> anyhow::Result<JobOptions> {
    let selector = flags.target_selector()?;
    if let Some(concurrency) = &flags.concurrency {
        Rate::parse(concurrency, "concurrency", false).map_err(|err| usage(err.to_string()))?;
    }
    Rate::parse(&flags.max_errors, "max-errors", true).map_err(|err| usage(err.to_string()))?;
    Ok(JobOptions {
        selector,
        concurrency: flags.concurrency.clone().unwrap_or_default(),
        max_errors: flags.max_errors.clone(),
        delivery_timeout_ms: u64::try_from(flags.delivery_timeout.as_millis()).unwrap_or(u64::MAX),
        request_id: flags.request_id.clone(),
    })
}

pub async fn run(
    command: BackupCommand,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    match command {
        BackupCommand::Run { set, job } => {
            check_set(&set)?;
            let request = RunBackupRequest {
                set,
                options: Some(options(&job)?),
            };
            let mut client = backups(connect).await?;
            let started = client.run_backup(request).await;
            follow(started, job, connect, format).await
        }
        BackupCommand::List { host, set, all } => list(host, set, all, connect, format).await,
        BackupCommand::Verify { id } => verify(id, connect, format).await,
        BackupCommand::Delete { id } => {
            let mut client = backups(connect).await?;
            let backup = client
                .delete_backup(DeleteBackupRequest { id })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner();
            match format {
                OutputFormat::Json => out!(
                    "{}",
                    serde_json::to_string_pretty(&BackupJson::from(&backup))?
                ),
                OutputFormat::Table => out!(
                    "deleted backup {} ({} of {}, {} bytes)",
                    backup.id,
                    backup.set,
                    backup.host,
                    backup.size
                ),
            }
            Ok(())
        }
        BackupCommand::Restore {
            id,
            to,
            in_place,
            force,
            mut job,
        } => {
            if !job.selector.is_empty() {
                return Err(usage(
                    "a restore runs on one host: use --host, not --selector",
                ));
            }
            // `--host`: the host to restore on (default: the host the backup came from).
            let host = match std::mem::take(&mut job.hosts).as_slice() {
                [] => String::new(),
                [one] => one.clone(),
                _ => return Err(usage("a restore runs on one host: give one --host")),
            };
            if let Some(dir) = &to {
                if !dir.starts_with('/') {
                    return Err(usage(format!("--to {dir:?} must be an absolute path")));
                }
            }
            let request = RestoreBackupRequest {
                id,
                host,
                target_dir: to.unwrap_or_default(),
                in_place,
                force,
                options: Some(options(&job)?),
            };
            let mut client = backups(connect).await?;
            let started = client.restore_backup(request).await;
            follow(started, job, connect, format).await
        }
        BackupCommand::Drill { set, job } => {
            check_set(&set)?;
            let request = DrillBackupsRequest {
                set,
                options: Some(options(&job)?),
            };
            let mut client = backups(connect).await?;
            let started = client.drill_backups(request).await;
            follow(started, job, connect, format).await
        }
        BackupCommand::Schedule(command) => schedule(command, connect, format).await,
    }
}

async fn follow(
    started: Result<tonic::Response<Job>, tonic::Status>,
    flags: JobFlags,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let job = started
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let client = admin(connect).await?;
    follow_started(client, job, &flags, connect, format).await
}

fn when(unix_ms: i64) -> String {
    rfc3339(unix_ms).unwrap_or_else(|| "-".into())
}

fn drilled(backup: &Backup) -> String {
    match &backup.last_drill {
        Some(d) if d.ok => format!("ok {}", when(d.at_unix_ms)),
        Some(d) => format!("FAILED {}", when(d.at_unix_ms)),
        None => "never".into(),
    }
}

async fn list(
    host: String,
    set: String,
    all: bool,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = backups(connect).await?;
    let list = client
        .list_backups(ListBackupsRequest { host, set, all })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner()
        .backups;
    if format == OutputFormat::Json {
        let shaped: Vec<BackupJson> = list.iter().map(BackupJson::from).collect();
        out!("{}", serde_json::to_string_pretty(&shaped)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header([
        "ID", "HOST", "SET", "STATE", "CREATED", "SIZE", "FILES", "SHA256", "VERIFIED", "DRILLED",
    ]);
    for b in &list {
        table.add_row([
            b.id.clone(),
            b.host.clone(),
            b.set.clone(),
            state_name(b.state).to_string(),
            when(b.created_unix_ms),
            output::bytes(b.size),
            b.files.to_string(),
            b.sha256.chars().take(12).collect(),
            match (b.verified_unix_ms, b.verified_ok) {
                (0, _) => "never".to_string(),
                (at, true) => format!("ok {}", when(at)),
                (at, false) => format!("CORRUPT {}", when(at)),
            },
            drilled(b),
        ]);
    }
    out!("{table}");
    Ok(())
}

/// A stored archive that no longer matches its hash makes `verify` fail (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("backup {id} is corrupt: {message}")]
pub struct BackupCorrupt {
    pub id: String,
    pub message: String,
}

async fn verify(id: String, connect: &ConnectArgs, format: OutputFormat) -> anyhow::Result<()> {
    let mut client = backups(connect).await?;
    let backup = client
        .verify_backup(VerifyBackupRequest { id })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    match format {
        OutputFormat::Json => out!(
            "{}",
            serde_json::to_string_pretty(&BackupJson::from(&backup))?
        ),
        OutputFormat::Table if backup.verified_ok => out!(
            "backup {} verified: {} bytes, sha256 {} matches",
            backup.id,
            backup.size,
            backup.sha256
        ),
        OutputFormat::Table => {}
    }
    if backup.verified_ok {
        Ok(())
    } else {
        Err(BackupCorrupt {
            id: backup.id,
            message: backup.message,
        }
        .into())
    }
}

async fn schedule(
    command: ScheduleCommand,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = backups(connect).await?;
    let shown = match command {
        ScheduleCommand::Add {
            set,
            selector,
            hosts,
            cron,
            drill,
            keep,
        } => {
            check_set(&set)?;
            let selector = crate::selector::with_hosts(&selector, &hosts).map_err(usage)?;
            Selector::parse(&selector).map_err(|err| usage(err.render()))?;
            crate::backups::schedule::check_cron(&cron).map_err(usage)?;
            let drill = drill.unwrap_or_default();
            crate::backups::schedule::drill_cron(&drill).map_err(usage)?;
            vec![
                client
                    .add_schedule(AddScheduleRequest {
                        set,
                        selector,
                        cron,
                        drill,
                        keep,
                    })
                    .await
                    .map_err(|status| rpc_error(&connect.addr, status))?
                    .into_inner(),
            ]
        }
        ScheduleCommand::List => {
            client
                .list_schedules(ListSchedulesRequest {})
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner()
                .schedules
        }
        ScheduleCommand::Remove { id } => vec![
            client
                .remove_schedule(RemoveScheduleRequest { id })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner(),
        ],
    };
    if format == OutputFormat::Json {
        let shaped: Vec<ScheduleJson> = shown.iter().map(ScheduleJson::from).collect();
        out!("{}", serde_json::to_string_pretty(&shaped)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header([
        "ID",
        "SET",
        "SELECTOR",
        "CRON",
        "DRILL",
        "LAST RUN",
        "NEXT RUN",
        "SKIPPED",
        "LAST ERROR",
    ]);
    for s in &shown {
        table.add_row([
            s.id.clone(),
            s.set.clone(),
            s.selector.clone(),
            s.cron.clone(),
            if s.drill_cron.is_empty() {
                "-".into()
            } else {
                s.drill_cron.clone()
            },
            when(s.last_run_unix_ms),
            when(s.next_run_unix_ms),
            s.skipped.to_string(),
            s.last_error.clone(),
        ]);
    }
    out!("{table}");
    Ok(())
}
