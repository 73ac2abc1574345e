//! Durable commands and jobs: the one way work reaches a host.
//!
//! A job is one operator request fanned out as one command per matching host. Every
//! command is written to the store before it is sent, sent again after every reconnect
//! until it finishes, and its events (received, started, output, finished) are applied in
//! sequence order and acknowledged only once they are on disk. The scheduling rules
//! (concurrency, error budget, delivery timeout) are the pure [`plan`]; this module and
//! its children are the I/O shell around it.

pub mod admit;
pub mod events;
pub mod plan;
// Kept for the rollout engine's imports until they name `crate::rate`.
pub use crate::rate;
pub mod scheduler;
pub mod views;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use convoy_proto::v1::{CommandRecord, CommandState, JobEvent, JobRecord, JobState};
use tokio::sync::{Notify, broadcast};

use crate::rate::{Rate, RateError};
use crate::registry::{Registry, now_unix_ms};
use crate::selector::Selector;
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
                state: CommandState::try_from(command.state).unwrap_or(CommandState::Failed),
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

    /// Creates a job: one pending command per host matching the selector now.
    pub async fn start_job(
        &self,
        created_by: &str,
        request: &JobRequest,
    ) -> Result<JobRecord, DispatchError> {
        let work = self.work(request)?;
        if !request.params.is_empty() && !matches!(work, Work::Run(_)) {
            return Err(DispatchError::ParamsNotAllowed);
        }
        let selector = Selector::parse(&request.selector)?;
        let concurrency = if request.concurrency.trim().is_empty() {
            None
        } else {
            Some(Rate::parse(&request.concurrency, "concurrency", false)?)
        };
        let max_errors = if request.max_errors.trim().is_empty() {
            Rate::Count(0)
        } else {
            Rate::parse(&request.max_errors, "max-errors", true)?
        };
        let delivery_timeout = request.delivery_timeout.unwrap_or(DEFAULT_DELIVERY_TIMEOUT);
        if !request.request_id.is_empty() {
            if let Some(existing) = self.store.job_for_request(&request.request_id)? {
                if let Some(job) = self.store.job(&existing)? {
                    let (action, selector, concurrency, max_errors) = (
                        admit::describe_with_params(&work.describe(), &request.params),
                        selector.to_string(),
                        concurrency.map(|r| r.to_string()).unwrap_or_default(),
                        max_errors.to_string(),
                    );
                    let asked = admit::Asked {
                        action: &action,
                        selector: &selector,
                        concurrency: &concurrency,
                        max_errors: &max_errors,
                        delivery_timeout_ms: u64::try_from(delivery_timeout.as_millis())
                            .unwrap_or(u64::MAX),
                    };
                    let differences = admit::differences(&job, &asked);
                    if differences.is_empty() {
                        return Ok(job);
                    }
                    return Err(DispatchError::RequestIdReused {
                        request_id: request.request_id.clone(),
                        job: job.id,
                        differences,
                    });
                }
            }
        }
        let mut targets = self.registry.list(&selector);
        if let Work::Backup(BackupWork::Restore { host, .. }) = &work {
            targets.retain(|agent| &agent.id == host);
        }
        if targets.is_empty() {
            return Err(DispatchError::NoTargets(request.selector.clone()));
        }
        // Cordoned hosts take no new work.
        let (cordoned, open): (Vec<_>, Vec<_>) =
            targets.into_iter().partition(|agent| agent.cordoned);
        let cordoned: Vec<String> = cordoned.into_iter().map(|agent| agent.id).collect();
        if open.is_empty() {
            return Err(DispatchError::AllCordoned(cordoned));
        }
        let targets = open;
        let app = match &work {
            Work::Run(_) | Work::Backup(_) => None,
            Work::Deploy(d) => Some(d.app.clone()),
            Work::Rollback(r) => Some(r.app.clone()),
        };
        // Work that needs an action or a backup set goes only to the hosts that have it
        // (a restore names its one host and is judged there).
        let needed = match &work {
            Work::Run(action) => Some(action.clone()),
            Work::Backup(backup @ (BackupWork::Backup(_) | BackupWork::Drill(_))) => Some(
                convoy_proto::labels::backup_set_action(&crate::backups::set_of(backup)),
            ),
            _ => None,
        };
        // None has it: keep them all, for the error below to say what they do allow.
        let everyone = targets.clone();
        let (kept, left_out) = admit::eligible(targets, needed.as_deref());
        let targets = if kept.is_empty() { everyone } else { kept };
        if let Work::Backup(backup) = &work {
            let set = crate::backups::set_of(backup);
            let wanted = convoy_proto::labels::backup_set_action(&set);
            if !targets.iter().any(|agent| agent.actions.contains(&wanted)) {
                return Err(DispatchError::UnknownSet { set });
            }
        } else if let Some(app) = app {
            if !targets
                .iter()
                .any(|agent| agent.apps.iter().any(|a| a.app == app))
            {
                return Err(DispatchError::UnknownApp { app });
            }
        } else if !targets
            .iter()
            .any(|agent| agent.actions.contains(&request.action))
        {
            let mut known: Vec<&str> = targets
                .iter()
                .flat_map(|agent| agent.actions.iter().map(String::as_str))
                .collect();
            known.sort_unstable();
            known.dedup();
            return Err(DispatchError::UnknownAction {
                action: request.action.clone(),
                hosts: targets.len(),
                known: if known.is_empty() {
                    String::new()
                } else {
                    format!(" (they allow: {})", known.join(", "))
                },
            });
        }
        let total = u32::try_from(targets.len()).unwrap_or(u32::MAX);
        let now = now_unix_ms();
        let job_id = new_job_id(now);
        let commands: Vec<CommandRecord> = targets
            .iter()
            .map(|agent| {
                let mut command = self.command_record(&job_id, &agent.id, &work);
                command.params = request.params.clone();
                command
            })
            .collect();
        let record = JobRecord {
            id: job_id.clone(),
            action: work.describe(),
            selector: selector.to_string(),
            state: JobState::Running.into(),
            created_by: created_by.to_string(),
            created_unix_ms: now,
            concurrency: concurrency.map(|r| r.to_string()).unwrap_or_default(),
            concurrency_limit: concurrency.map_or(total, |r| r.resolve(total)),
            max_errors: max_errors.to_string(),
            max_errors_limit: max_errors.resolve(total),
            delivery_timeout_ms: u64::try_from(delivery_timeout.as_millis()).unwrap_or(u64::MAX),
            output_cap_bytes: self.output_cap,
            command_ids: commands.iter().map(|c| c.id.clone()).collect(),
            request_id: request.request_id.clone(),
            left_out,
            cordoned,
            params: request.params.clone(),
            ..Default::default()
        };
        for command in &commands {
            self.store.put_command(command)?;
        }
        self.store.put_job(&record)?;
        self.store.flush_async().await?;
        {
            let mut state = self.lock();
            for command in &commands {
                state.owners.insert(command.id.clone(), job_id.clone());
            }
            state
                .jobs
                .insert(job_id.clone(), ActiveJob::new(record.clone(), commands));
        }
        tracing::info!(%job_id, action = %record.action, hosts = total, by = created_by, "job started");
        self.wake();
        Ok(record)
    }

    /// Creates jobs on explicit hosts under the caller's ids, skipping ids that exist, and
    /// flushes once for all of them. Hosts the registry does not know are left out.
    pub async fn create_host_jobs(&self, jobs: Vec<HostJob>) -> Result<(), DispatchError> {
        let now = now_unix_ms();
        let mut created = Vec::new();
        for job in jobs {
            if self.store.job(&job.id)?.is_some() {
                continue;
            }
            let action = job.work.describe();
            let commands: Vec<CommandRecord> = job
                .hosts
                .iter()
                .map(|host| self.command_record(&job.id, host, &job.work))
                .collect();
            let total = u32::try_from(commands.len()).unwrap_or(u32::MAX);
            let record = JobRecord {
                id: job.id.clone(),
                action,
                selector: job.origin.clone(),
                state: JobState::Running.into(),
                created_by: job.created_by.clone(),
                created_unix_ms: now,
                concurrency_limit: total,
                // Every host's result matters to the caller: one failure stops nothing.
                max_errors: "100%".to_string(),
                max_errors_limit: total,
                delivery_timeout_ms: u64::try_from(job.delivery_timeout.as_millis())
                    .unwrap_or(u64::MAX),
                output_cap_bytes: self.output_cap,
                command_ids: commands.iter().map(|c| c.id.clone()).collect(),
                ..Default::default()
            };
            for command in &commands {
                self.store.put_command(command)?;
            }
            self.store.put_job(&record)?;
            created.push((record, commands));
        }
        if created.is_empty() {
            return Ok(());
        }
        self.store.flush_async().await?;
        {
            let mut state = self.lock();
            for (record, commands) in created {
                for command in &commands {
                    state.owners.insert(command.id.clone(), record.id.clone());
                }
                tracing::info!(job_id = %record.id, action = %record.action, hosts = commands.len(), origin = %record.selector, "job started");
                state
                    .jobs
                    .insert(record.id.clone(), ActiveJob::new(record, commands));
            }
        }
        self.wake();
        Ok(())
    }

    fn command_record(&self, job_id: &str, host: &str, work: &Work) -> CommandRecord {
        CommandRecord {
            id: format!("{job_id}/{host}"),
            job_id: job_id.to_string(),
            agent_id: host.to_string(),
            action: work.describe(),
            state: CommandState::Pending.into(),
            output_cap_bytes: self.output_cap,
            deploy: match work {
                Work::Deploy(d) => Some(d.clone()),
                _ => None,
            },
            rollback: match work {
                Work::Rollback(r) => Some(r.clone()),
                _ => None,
            },
            backup: match work {
                Work::Backup(BackupWork::Backup(b)) => Some(b.clone()),
                _ => None,
            },
            restore: match work {
                Work::Backup(BackupWork::Restore { action, .. }) => Some(action.clone()),
                _ => None,
            },
            drill: match work {
                Work::Backup(BackupWork::Drill(d)) => Some(d.clone()),
                _ => None,
            },
            ..Default::default()
        }
    }

    /// What the request asks each host to do, checked.
    fn work(&self, request: &JobRequest) -> Result<Work, DispatchError> {
        use crate::releases::{validate_app, validate_version};
        if let Some(backup) = &request.backup {
            let set = crate::backups::set_of(backup);
            if !valid_action_name(&set) {
                return Err(DispatchError::BadSet(set));
            }
            return Ok(Work::Backup(backup.clone()));
        }
        if let Some(spec) = &request.deploy {
            return Ok(Work::Deploy(crate::releases::deploy_command(
                &self.store,
                &spec.app,
                &spec.version,
            )?));
        }
        if let Some(spec) = &request.rollback {
            validate_app(&spec.app)?;
            if !spec.version.is_empty() {
                validate_version(&spec.version)?;
            }
            return Ok(Work::Rollback(convoy_proto::v1::Rollback {
                app: spec.app.clone(),
                version: spec.version.clone(),
            }));
        }
        if !valid_action_name(&request.action) {
            return Err(DispatchError::BadAction(request.action.clone()));
        }
        if let Some(bad) = request.params.keys().find(|k| !admit::valid_param_name(k)) {
            return Err(DispatchError::BadParam(bad.clone()));
        }
        Ok(Work::Run(request.action.clone()))
    }

    /// Cancels a job: hosts it never reached (queued, or released while offline and never
    /// sent) are cancelled at once, so the reply already counts them; released ones are
    /// told to stop.
    pub async fn cancel_job(&self, job_id: &str) -> Result<JobRecord, DispatchError> {
        let mut outgoing = Vec::new();
        let mut never_sent = Vec::new();
        let now = now_unix_ms();
        let record = {
            let mut state = self.lock();
            let Some(job) = state.jobs.get_mut(job_id) else {
                drop(state);
                // Already over: cancelling changes nothing.
                return self
                    .store
                    .job(job_id)?
                    .ok_or_else(|| DispatchError::NoJob(job_id.to_string()));
            };
            job.record.cancel_requested = true;
            if job.record.state == JobState::Running as i32 {
                job.record.state = JobState::Cancelled.into();
                job.record.finished_unix_ms = now;
            }
            for command in &mut job.commands {
                let state = CommandState::try_from(command.state).unwrap_or(CommandState::Pending);
                if state == CommandState::Pending
                    && (command.released_unix_ms == 0 || command.sent_unix_ms == 0)
                {
                    // Never sent: the host cannot have it, so it is cancelled now.
                    command.state = CommandState::Cancelled.into();
                    command.finished_unix_ms = now;
                    command.message = "not started: job cancelled".into();
                    self.store.put_command(command)?;
                    if command.released_unix_ms != 0 {
                        self.store
                            .set_inflight(&command.agent_id, &command.id, false)?;
                    }
                    never_sent.push(command.clone());
                } else if command.released_unix_ms != 0
                    && !plan::is_terminal(state)
                    && !command.cancel_requested
                {
                    command.cancel_requested = true;
                    self.store.put_command(command)?;
                    outgoing.push((
                        command.agent_id.clone(),
                        events::cancel_message(&command.id),
                    ));
                }
            }
            self.store.put_job(&job.record)?;
            job.record.clone()
        };
        self.store.flush_async().await?;
        for (agent_id, message) in outgoing {
            self.registry.try_send(&agent_id, message);
        }
        for command in &never_sent {
            self.tell_finished(command);
            self.publish(
                job_id,
                JobEvent {
                    body: Some(convoy_proto::v1::job_event::Body::Host(
                        views::host_command(command, Vec::new()),
                    )),
                },
            );
        }
        tracing::info!(%job_id, "job cancelled");
        if let Ok(job) = self.job_view(job_id, 0) {
            self.publish(
                job_id,
                JobEvent {
                    body: Some(convoy_proto::v1::job_event::Body::Finished(job)),
                },
            );
        }
        self.wake();
        Ok(record)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

#[cfg(test)]
mod tests;
