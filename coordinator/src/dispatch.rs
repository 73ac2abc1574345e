//! Durable commands and jobs: the one way work reaches a host.
//!
//! A job is one operator request fanned out as one command per matching host. Every
//! command is written to the store before it is sent, sent again after every reconnect
//! until it finishes, and its events (received, started, output, finished) are applied in
//! sequence order and acknowledged only once they are on disk. The scheduling rules
//! (concurrency, error budget, delivery timeout) are the pure [`plan`]; this module and
//! its children are the I/O shell around it.

pub mod admit;
mod cancel;
mod create;
pub mod events;
pub mod plan;
pub mod scheduler;
pub mod views;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use convoy_proto::v1::{CommandRecord, CommandState, JobEvent, JobRecord, JobState};
use tokio::sync::{Notify, broadcast};

use crate::clock::now_unix_ms;
use crate::rate::RateError;
use crate::registry::Registry;
use crate::store::{Store, StoreError};

/// Output kept per command unless configured otherwise.
pub const DEFAULT_OUTPUT_CAP: u64 = 16 * 1024 * 1024;
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("invalid action name {0:?}: expected [a-z0-9][a-z0-9._-]*, at most 63 characters")]
    BadAction(String),
    #[error("invalid backup set name {0:?}: expected [a-z0-9][a-z0-9._-]*, at most 63 characters")]
    BadSet(String),
    #[error("invalid selector: {0}")]
    BadSelector(#[from] crate::selector::SelectorError),
    #[error(transparent)]
    BadRate(#[from] RateError),
    #[error("no agents match the selector {0:?}")]
    NoTargets(String),
    #[error("unknown action {action:?}: none of the {} allows it{known}", matching_hosts(*hosts))]
    UnknownAction {
        action: String,
        hosts: usize,
        known: String,
    },
    #[error(
        "no agent matching the selector allows app {app:?}: add [apps.{app}] to their agent config"
    )]
    UnknownApp { app: String },
    #[error(
        "no agent matching the selector has backup set {set:?}: add [backup.sets.{set}] to their agent config"
    )]
    UnknownSet { set: String },
    #[error(transparent)]
    Release(#[from] crate::releases::ReleaseError),
    #[error(
        "request id {request_id:?} was already used for job {job} with other parameters ({}); \
         repeat it exactly to get that job, or use a new request id",
        differences.join(", ")
    )]
    RequestIdReused {
        request_id: String,
        job: String,
        differences: Vec<String>,
    },
    #[error("invalid page token {0:?}: pass next_page_token from the previous page")]
    BadPageToken(String),
    #[error("invalid job state {0:?}: expected running, succeeded, failed or cancelled")]
    BadJobState(String),
    #[error("invalid parameter name {0:?}: expected [a-z][a-z0-9_]*, at most 32 characters")]
    BadParam(String),
    #[error("parameters are for actions; a deploy, rollback or backup takes none")]
    ParamsNotAllowed,
    #[error("every matching host is cordoned ({}): uncordon one with `convoy agent uncordon ID`", .0.join(", "))]
    AllCordoned(Vec<String>),
    #[error("no job {0:?}")]
    NoJob(String),
    #[error("job {job} has no host {host:?}")]
    NoHost { job: String, host: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn matching_hosts(n: usize) -> String {
    if n == 1 {
        "1 matching host".to_string()
    } else {
        format!("{n} matching hosts")
    }
}

impl From<crate::releases::DeployLookupError> for DispatchError {
    fn from(err: crate::releases::DeployLookupError) -> Self {
        match err {
            crate::releases::DeployLookupError::Release(e) => DispatchError::Release(e),
            crate::releases::DeployLookupError::Store(e) => DispatchError::Store(e),
        }
    }
}

/// What an operator asks for.
#[derive(Debug, Clone)]
pub struct JobRequest {
    pub action: String,
    /// Values for the action's parameters (`--param`), judged by each agent.
    pub params: std::collections::BTreeMap<String, String>,
    pub selector: String,
    pub concurrency: String,
    pub max_errors: String,
    pub delivery_timeout: Option<Duration>,
    pub request_id: String,
    /// Instead of `action`: deploy a pushed release.
    pub deploy: Option<convoy_proto::v1::DeploySpec>,
    /// Instead of `action`: roll an app back.
    pub rollback: Option<convoy_proto::v1::RollbackSpec>,
    /// Instead of `action`: back up, restore or drill a backup set.
    pub backup: Option<BackupWork>,
}

/// Backup work for a job (see `crate::backups`).
#[derive(Debug, Clone)]
pub enum BackupWork {
    Backup(convoy_proto::v1::BackupAction),
    /// Restore runs on one named host only.
    Restore {
        action: convoy_proto::v1::RestoreAction,
        host: String,
    },
    Drill(convoy_proto::v1::DrillAction),
}

/// What each host's command does.
#[derive(Debug, Clone)]
pub enum Work {
    Run(String),
    Deploy(convoy_proto::v1::Deploy),
    Rollback(convoy_proto::v1::Rollback),
    Backup(BackupWork),
}

impl Work {
    /// How jobs show it: the action name, or "deploy web 1.4.2".
    pub fn describe(&self) -> String {
        match self {
            Work::Run(action) => action.clone(),
            Work::Deploy(d) => format!("deploy {} {}", d.app, d.version),
            Work::Rollback(r) if r.version.is_empty() => format!("rollback {}", r.app),
            Work::Rollback(r) => format!("rollback {} {}", r.app, r.version),
            Work::Backup(BackupWork::Backup(b)) => format!("backup {}", b.set),
            Work::Backup(BackupWork::Restore { action, .. }) => {
                format!("restore {}", action.backup_id)
            }
            Work::Backup(BackupWork::Drill(d)) => format!("drill {}", d.set),
        }
    }
}

#[derive(Debug)]
struct ActiveJob {
    record: JobRecord,
    commands: Vec<CommandRecord>,
    index: HashMap<String, usize>,
}

impl ActiveJob {
    fn new(record: JobRecord, commands: Vec<CommandRecord>) -> Self {
        let index = commands
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        Self {
            record,
            commands,
            index,
        }
    }

    fn command_mut(&mut self, id: &str) -> Option<&mut CommandRecord> {
        let at = *self.index.get(id)?;
        self.commands.get_mut(at)
    }
}

/// A job on an explicit list of hosts under a caller-chosen id (the rollout driver's):
/// creating it again is a no-op, so a replay after a crash never sends anything twice.
#[derive(Debug, Clone)]
pub struct HostJob {
    pub id: String,
    pub hosts: Vec<String>,
    pub work: Work,
    pub created_by: String,
    /// Shown where a selector would be, e.g. "rollout r-…".
    pub origin: String,
    pub delivery_timeout: Duration,
}

/// A command reached a final state (told to [`Dispatcher::on_finished`]'s listener once
/// it is written to the store; it is on disk after the next flush).
#[derive(Debug, Clone)]
pub struct Finished {
    pub job_id: String,
    pub agent_id: String,
    pub state: CommandState,
    pub message: String,
}

#[derive(Debug, Default)]
struct State {
    jobs: HashMap<String, ActiveJob>,
    /// command id -> job id, for the commands of active jobs.
    owners: HashMap<String, String>,
}

pub struct Dispatcher {
    store: Store,
    registry: Arc<Registry>,
    output_cap: u64,
    state: Mutex<State>,
    events: broadcast::Sender<(String, JobEvent)>,
    wake: Notify,
    /// Unbounded on purpose: one message per finished command, and commands are bounded
    /// by the jobs that exist; a full channel must never make a result wait.
    finished: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Finished>>,
    /// Commands whose after-the-end events were already logged (bounded: cleared when
    /// full, so at worst a command is logged again).
    warned_after_end: Mutex<std::collections::HashSet<String>>,
}

/// How many commands [`Dispatcher::first_warning`] remembers.
const WARNED_AFTER_END_CAP: usize = 4096;

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

pub use convoy_proto::labels::valid_action_name;

fn new_job_id(now_unix_ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_unix_ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let suffix: u16 = rand::random();
    format!(
        "j-{:04}{:02}{:02}-{:02}{:02}{:02}-{suffix:04x}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

impl Dispatcher {
    /// Loads unsettled jobs so they resume where they stood.
    pub fn load(
        store: Store,
        registry: Arc<Registry>,
        output_cap: u64,
    ) -> Result<Self, StoreError> {
        let mut state = State::default();
        for record in store.unsettled_jobs()? {
            let mut commands = Vec::with_capacity(record.command_ids.len());
            for id in &record.command_ids {
                if let Some(command) = store.command(id)? {
                    state.owners.insert(id.clone(), record.id.clone());
                    commands.push(command);
                }
            }
            state
                .jobs
                .insert(record.id.clone(), ActiveJob::new(record, commands));
        }
        // Large enough that a watcher of a 1,000-host job keeps up; a slow one is told it lagged.
        let (events, _) = broadcast::channel(16_384);
        Ok(Self {
            store,
            registry,
            output_cap,
            state: Mutex::new(state),
            events,
            wake: Notify::new(),
            finished: std::sync::OnceLock::new(),
            warned_after_end: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is plain data; a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Job events (host updates, output, finished jobs) for watchers.
    pub fn subscribe(&self) -> broadcast::Receiver<(String, JobEvent)> {
        self.events.subscribe()
    }

    fn publish(&self, job_id: &str, event: JobEvent) {
        // No receivers is fine.
        let _ = self.events.send((job_id.to_string(), event));
    }

    /// Sets the one listener told about every command that reaches a final state (the
    /// rollout driver). Later calls are ignored.
    pub fn on_finished(&self, listener: tokio::sync::mpsc::UnboundedSender<Finished>) {
        let _ = self.finished.set(listener);
    }

    fn tell_finished(&self, command: &CommandRecord) {
        if let Some(listener) = self.finished.get() {
            let _ = listener.send(Finished {
                job_id: command.job_id.clone(),
                agent_id: command.agent_id.clone(),
                state: plan::result_state(command.state),
                message: command.message.clone(),
            });
        }
    }

    /// True the first time it is asked about `command_id` (within the bounded memory).
    fn first_warning(&self, command_id: &str) -> bool {
        let mut warned = self
            .warned_after_end
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if warned.len() >= WARNED_AFTER_END_CAP {
            warned.clear();
        }
        warned.insert(command_id.to_string())
    }

    /// Wakes the scheduler (new job, agent connected, command finished).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

#[cfg(test)]
mod tests;
