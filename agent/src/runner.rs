//! Carries out the commands that come down the link: checks each against the journal (an
//! id runs at most once) and the host's allow-list of actions, runs it with the executor,
//! and records every event in the journal's outbox for the session to send.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use convoy_proto::v1::{
    Command, CommandState, Finished, OutputChunk, OutputStream, command, command_event,
};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::ActionConfig;
use crate::deploy::{ArtifactSource, Deployer, Release};
use crate::executor::{self, ActionSpec, Outcome};
use crate::journal::{Admission, Journal, JournalError};
use crate::recovery::{BackupTransport, Recovery, RestoreRequest};

/// The ids of commands running now, locked.
type Running<'a> = std::sync::MutexGuard<'a, HashMap<String, CancellationToken>>;

/// Commands running at once on one host; more wait their turn.
pub const MAX_CONCURRENT_COMMANDS: usize = 16;

pub struct Runner {
    journal: Arc<Journal>,
    deployer: Arc<Deployer>,
    source: Arc<dyn ArtifactSource>,
    /// Replaced by a config reload (`set_actions`); a running command keeps its own copy.
    actions: RwLock<BTreeMap<String, ActionConfig>>,
    running: Mutex<HashMap<String, CancellationToken>>,
    outbox_changed: Notify,
    apps_changed: Notify,
    slots: Arc<Semaphore>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    recovery: RwLock<Option<RecoveryParts>>,
}

/// The backup side of the runner: the host's sets and the transport to the coordinator.
type RecoveryParts = (Arc<Recovery>, Arc<dyn BackupTransport>);

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

impl Runner {
    pub fn new(
        journal: Arc<Journal>,
        actions: BTreeMap<String, ActionConfig>,
        deployer: Arc<Deployer>,
        source: Arc<dyn ArtifactSource>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            journal,
            deployer,
            source,
            actions: RwLock::new(actions),
            running: Mutex::new(HashMap::new()),
            outbox_changed: Notify::new(),
            apps_changed: Notify::new(),
            slots: Arc::new(Semaphore::new(MAX_CONCURRENT_COMMANDS)),
            tracker: TaskTracker::new(),
            shutdown,
            recovery: RwLock::new(None),
        })
    }

    /// Enables backup, restore and drill commands for the host's backup sets. Without it
    /// they are rejected like any action the host does not allow.
    /// Set again on a config reload (new backup sets); running commands keep theirs.
    pub fn set_recovery(&self, recovery: Arc<Recovery>, transport: Arc<dyn BackupTransport>) {
        *self
            .recovery
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some((recovery, transport));
    }

    /// The backup transport in use, for a reload that replaces the sets.
    pub fn backup_transport(&self) -> Option<Arc<dyn BackupTransport>> {
        self.recovery
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(_, transport)| transport.clone())
    }

    /// A config reload's new allow-list: commands admitted from now on are judged by it.
    pub fn set_actions(&self, actions: BTreeMap<String, ActionConfig>) {
        *self.actions.write().unwrap_or_else(PoisonError::into_inner) = actions;
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn deployer(&self) -> &Deployer {
        &self.deployer
    }

    /// Fires whenever the outbox has something new to send.
    pub fn outbox_changed(&self) -> &Notify {
        &self.outbox_changed
    }

    /// Fires when a deploy or rollback changed what runs, or the health monitor saw an
    /// app's health change, so the session reports it at once (ahead of the command's
    /// result) instead of at the next heartbeat.
    pub fn apps_changed(&self) -> &Notify {
        &self.apps_changed
    }

    fn changed(&self) {
        self.outbox_changed.notify_one();
    }

    /// A command from the coordinator. Errors are journal failures only.
    pub fn on_command(self: &Arc<Self>, command: Command) -> Result<(), JournalError> {
        let action = match &command.action {
            Some(command::Action::Run(run)) => run.name.clone(),
            Some(command::Action::Deploy(d)) => format!("deploy {} {}", d.app, d.version),
            Some(command::Action::Rollback(r)) => format!("rollback {} {}", r.app, r.version)
                .trim_end()
                .to_string(),
            Some(command::Action::Backup(b)) => format!("backup {}", b.set),
            Some(command::Action::Restore(r)) => format!("restore {}", r.backup_id),
            Some(command::Action::Drill(d)) => format!("drill {}", d.set),
            None => String::new(),
        };
        // Held across the admission so that a second delivery racing the first cannot
        // also find the command "not started" and start it again.
        let running = self.lock_running();
        if running.contains_key(&command.command_id) {
            drop(running);
            self.changed();
            return Ok(());
        }
        let admission = self.journal.admit(
            &command.command_id,
            &command.job_id,
            &action,
            command.output_cap_bytes,
        )?;
        if admission == Admission::Known {
            // Delivered twice: it ran (or runs) once; its events are in the outbox.
            drop(running);
            self.changed();
            return Ok(());
        }
        if let Some(command::Action::Deploy(_) | command::Action::Rollback(_)) = &command.action {
            return self.start_deploy(command, running);
        }
        if let Some(
            command::Action::Backup(_) | command::Action::Restore(_) | command::Action::Drill(_),
        ) = &command.action
        {
            return self.start_recovery(command, running);
        }
        let actions = self
            .actions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(mut config) = actions.get(&action).cloned() else {
            drop(running);
            let allowed: Vec<&str> = actions.keys().map(String::as_str).collect();
            warn!(command_id = %command.command_id, %action, "rejected: action not in this host's allow-list");
            let message = if action.is_empty() {
                "rejected: this agent does not support that kind of command".into()
            } else {
                format!(
                    "rejected: unknown action {action:?}; this host allows: {}",
                    allowed.join(", ")
                )
            };
            return self.reject(&command.command_id, message);
        };
        // Parameters are judged here, against this host's own declaration, and become
        // whole argv elements: never a shell, never split.
        let given = match &command.action {
            Some(command::Action::Run(run)) => run.params.clone(),
            _ => Default::default(),
        };
        match crate::params::bind(&config.run, &config.params, &given) {
            Ok(argv) => config.run = argv,
            Err(problem) => {
                drop(running);
                warn!(command_id = %command.command_id, %action, "rejected: bad parameters");
                return self.reject(
                    &command.command_id,
                    format!("rejected: action {action:?}: {problem}"),
                );
            }
        }
        self.launch(
            command.command_id.clone(),
            running,
            "command",
            move |runner, cancel| async move {
                runner.execute(&command, &action, config, cancel).await
            },
        );
        Ok(())
    }

    /// Finishes a command as rejected: nothing runs.
    fn reject(&self, command_id: &str, message: String) -> Result<(), JournalError> {
        self.journal.finish(
            command_id,
            Finished {
                state: CommandState::Rejected.into(),
                message,
                ..Default::default()
            },
        )?;
        self.changed();
        Ok(())
    }

    /// Marks the command running and runs `work` on a tracked task; when it ends, the
    /// command leaves `running`. `what` names the work if its journal writes fail.
    fn launch<F, Fut>(
        self: &Arc<Self>,
        command_id: String,
        mut running: Running<'_>,
        what: &'static str,
        work: F,
    ) where
        F: FnOnce(Arc<Self>, CancellationToken) -> Fut,
        Fut: std::future::Future<Output = Result<(), JournalError>> + Send + 'static,
    {
        let cancel = CancellationToken::new();
        running.insert(command_id.clone(), cancel.clone());
        drop(running);
        self.changed();
        let runner = self.clone();
        let work = work(runner.clone(), cancel);
        self.tracker.spawn(async move {
            if let Err(err) = work.await {
                tracing::error!(%command_id, error = %err, "cannot journal {what} progress");
            }
            runner.lock_running().remove(&command_id);
            runner.changed();
        });
    }

    /// Deploys and rollbacks: allowed only for apps the host's config names.
    fn start_deploy(
        self: &Arc<Self>,
        command: Command,
        running: Running<'_>,
    ) -> Result<(), JournalError> {
        let app = match &command.action {
            Some(command::Action::Deploy(d)) => d.app.clone(),
            Some(command::Action::Rollback(r)) => r.app.clone(),
            _ => String::new(),
        };
        if !self.deployer.allows(&app) {
            drop(running);
            warn!(command_id = %command.command_id, %app, "rejected: app not in this host's [apps]");
            return self.reject(
                &command.command_id,
                format!("rejected: app {app:?} is not in this host's [apps]"),
            );
        }
        // A name that could leave `releases/` is refused before anything is touched.
        let named = match &command.action {
            Some(command::Action::Deploy(d)) => {
                convoy_proto::labels::validate_release(&d.app, &d.version)
            }
            Some(command::Action::Rollback(r)) if !r.version.is_empty() => {
                convoy_proto::labels::validate_release(&r.app, &r.version)
            }
            _ => Ok(()),
        }
        .and_then(|()| match self.deployer.policy() {
            crate::deploy::record::SignaturePolicy::Unconfigured => {
                Err(crate::deploy::record::UNCONFIGURED.to_string())
            }
            _ => Ok(()),
        });
        if let Err(err) = named {
            drop(running);
            warn!(command_id = %command.command_id, %app, error = %err, "rejected deploy");
            return self.reject(&command.command_id, format!("rejected: {err}"));
        }
        self.launch(
            command.command_id.clone(),
            running,
            "deploy",
            move |runner, cancel| async move { runner.execute_deploy(&command, cancel).await },
        );
        Ok(())
    }

    async fn execute_deploy(
        &self,
        command: &Command,
        cancel: CancellationToken,
    ) -> Result<(), JournalError> {
        let id = &command.command_id;
        let app = match &command.action {
            Some(command::Action::Deploy(d)) => d.app.clone(),
            Some(command::Action::Rollback(r)) => r.app.clone(),
            _ => String::new(),
        };
        // One deploy or rollback of an app at a time.
        let _app_lock = self.deployer.lock_app(&app).await;
        if self.shutdown.is_cancelled() {
            // Not started: it stays "received" and runs when the coordinator resends it.
            return Ok(());
        }
        self.journal.mark_started(id)?;
        self.changed();
        let journal_error = std::sync::Mutex::new(None);
        let progress = |line: String| {
            info!(command_id = %id, "{line}");
            let chunk = OutputChunk {
                stream: OutputStream::Stdout.into(),
                data: format!("{line}\n").into_bytes(),
                // Progress lines of deploys and backups: a few, always in order.
                offset: 0,
            };
            if let Err(err) = self.journal.append(id, command_event::Body::Output(chunk)) {
                *journal_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
            }
            self.changed();
        };
        // An operator's cancel and the agent stopping both stop the deploy (its running
        // hook's process group and its health wait); the revert that follows runs with its
        // own deadline (see `Deployer::revert`).
        let stop = CancellationToken::new();
        let watcher = tokio::spawn({
            let (stop, cancel, shutdown) = (stop.clone(), cancel.clone(), self.shutdown.clone());
            async move {
                tokio::select! {
                    () = cancel.cancelled() => {},
                    () = shutdown.cancelled() => {},
                }
                stop.cancel();
            }
        });
        let result = match &command.action {
            Some(command::Action::Deploy(d)) => {
                let release = Release {
                    app: d.app.clone(),
                    version: d.version.clone(),
                    sha256: d.sha256.clone(),
                    size: d.size,
                    signature: d.signature.clone(),
                    signer: d.signer.clone(),
                };
                self.deployer
                    .deploy(&release, self.source.as_ref(), &progress, &stop)
                    .await
            }
            Some(command::Action::Rollback(r)) => {
                self.deployer
                    .rollback(&r.app, &r.version, &progress, &stop)
                    .await
            }
            _ => Err("not a deploy".to_string()),
        };
        watcher.abort();
        if let Some(err) = journal_error
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Err(err);
        }
        self.apps_changed.notify_one();
        let (state, message) = match result {
            Ok(message) => (CommandState::Succeeded, message),
            Err(message) if cancel.is_cancelled() => (CommandState::Cancelled, message),
            Err(message) if self.shutdown.is_cancelled() => (
                CommandState::Interrupted,
                format!("the agent was stopped during the deploy: {message}"),
            ),
            Err(message) => (CommandState::Failed, message),
        };
        info!(command_id = %id, ?state, %message, "deploy finished");
        self.journal.finish(
            id,
            Finished {
                state: state.into(),
                message,
                ..Default::default()
            },
        )?;
        Ok(())
    }

    /// Backups, restores and drills: allowed only for sets the host's config names.
    fn start_recovery(
        self: &Arc<Self>,
        command: Command,
        running: Running<'_>,
    ) -> Result<(), JournalError> {
        let set = match &command.action {
            Some(command::Action::Backup(b)) => b.set.clone(),
            Some(command::Action::Restore(r)) => r.set.clone(),
            Some(command::Action::Drill(d)) => d.set.clone(),
            _ => String::new(),
        };
        let Some((recovery, transport)) = self
            .recovery
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(recovery, _)| recovery.allows(&set))
            .cloned()
        else {
            drop(running);
            warn!(command_id = %command.command_id, %set, "rejected: set not in this host's [backup.sets]");
            return self.reject(
                &command.command_id,
                format!("rejected: backup set {set:?} is not in this host's [backup.sets]"),
            );
        };
        self.launch(
            command.command_id.clone(),
            running,
            "backup",
            move |runner, cancel| async move {
                runner
                    .execute_recovery(&command, &recovery, transport.as_ref(), cancel)
                    .await
            },
        );
        Ok(())
    }

    async fn execute_recovery(
        &self,
        command: &Command,
        recovery: &Recovery,
        transport: &dyn BackupTransport,
        cancel: CancellationToken,
    ) -> Result<(), JournalError> {
        let id = &command.command_id;
        self.journal.mark_started(id)?;
        self.changed();
        let journal_error = std::sync::Mutex::new(None);
        let progress = |line: String| {
            info!(command_id = %id, "{line}");
            let chunk = OutputChunk {
                stream: OutputStream::Stdout.into(),
                data: format!("{line}\n").into_bytes(),
                // Progress lines of deploys and backups: a few, always in order.
                offset: 0,
            };
            if let Err(err) = self.journal.append(id, command_event::Body::Output(chunk)) {
                *journal_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
            }
            self.changed();
        };
        let stop = CancellationToken::new();
        let work = async {
            match &command.action {
                Some(command::Action::Backup(b)) => {
                    recovery
                        .backup(id, &b.set, transport, &progress, &stop)
                        .await
                }
                Some(command::Action::Restore(r)) => {
                    let request = RestoreRequest {
                        backup_id: r.backup_id.clone(),
                        set: r.set.clone(),
                        target_dir: r.target_dir.clone(),
                        in_place: r.in_place,
                        force: r.force,
                        source_host: r.source_host.clone(),
                    };
                    recovery.restore(id, &request, transport, &progress).await
                }
                Some(command::Action::Drill(d)) => {
                    recovery.drill(id, &d.set, transport, &progress).await
                }
                _ => Err("not a backup command".to_string()),
            }
        };
        let (state, message) = tokio::select! {
            result = work => match result {
                Ok(message) => (CommandState::Succeeded, message),
                Err(message) => (CommandState::Failed, message),
            },
            () = cancel.cancelled() => {
                stop.cancel();
                (CommandState::Cancelled, "cancelled".to_string())
            }
            () = self.shutdown.cancelled() => {
                // Left started: found at the next start-up and reported interrupted.
                stop.cancel();
                return Ok(());
            }
        };
        if let Some(err) = journal_error
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Err(err);
        }
        info!(command_id = %id, ?state, %message, "backup command finished");
        self.journal.finish(
            id,
            Finished {
                state: state.into(),
                message,
                ..Default::default()
            },
        )?;
        Ok(())
    }

    fn lock_running(&self) -> Running<'_> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The coordinator asks to stop a command, or to make sure it never starts.
    pub fn on_cancel(&self, command_id: &str) -> Result<(), JournalError> {
        if let Some(token) = self.lock_running().get(command_id) {
            token.cancel();
            return Ok(());
        }
        let finished = Finished {
            state: CommandState::Cancelled.into(),
            message: "cancelled before it started".into(),
            ..Default::default()
        };
        if self
            .journal
            .finish_unstarted(command_id, "", "", finished)?
            .is_some()
        {
            self.changed();
        }
        Ok(())
    }

    async fn execute(
        &self,
        command: &Command,
        action: &str,
        config: ActionConfig,
        cancel: CancellationToken,
    ) -> Result<(), JournalError> {
        let id = &command.command_id;
        let _slot = tokio::select! {
            slot = self.slots.clone().acquire_owned() => slot.ok(),
            () = cancel.cancelled() => None,
            () = self.shutdown.cancelled() => None,
        };
        if cancel.is_cancelled() {
            let finished = Finished {
                state: CommandState::Cancelled.into(),
                message: "cancelled before it started".into(),
                ..Default::default()
            };
            self.journal.finish(id, finished)?;
            return Ok(());
        }
        if self.shutdown.is_cancelled() {
            // Not started: it stays "received" and runs when the coordinator resends it.
            return Ok(());
        }
        // On disk before the process exists: a crash from here on is "interrupted".
        self.journal.mark_started(id)?;
        self.changed();
        info!(command_id = %id, %action, "command started");
        // The action learns its own command id (`CONVOY_COMMAND_ID`), e.g. to make its work
        // idempotent; the torture harness's side log records it.
        let mut env = config.env.clone();
        env.insert("CONVOY_COMMAND_ID".to_owned(), id.clone());
        let spec = ActionSpec {
            argv: config.run.clone(),
            env,
            working_dir: config.working_dir.clone(),
            timeout: config.timeout,
        };
        let (tx, mut rx) = mpsc::channel(32);
        let stop = CancellationToken::new();
        let cancel_or_shutdown = {
            let stop = stop.clone();
            let cancel = cancel.clone();
            let shutdown = self.shutdown.clone();
            async move {
                tokio::select! {
                    () = cancel.cancelled() => {},
                    () = shutdown.cancelled() => {},
                }
                stop.cancel();
            }
        };
        let watcher = tokio::spawn(cancel_or_shutdown);
        let run = executor::run(&spec, tx, stop, config.kill_grace);
        tokio::pin!(run);
        let cap = command.output_cap_bytes;
        let mut output = Forwarded::new(cap);
        let report = loop {
            tokio::select! {
                report = &mut run => break report,
                Some(chunk) = rx.recv() => self.forward(id, chunk, &mut output)?,
            }
        };
        while let Ok(chunk) = rx.try_recv() {
            self.forward(id, chunk, &mut output)?;
        }
        // Past the cap only the last half-cap was kept: it goes out now, at its offsets.
        for (stream, offset, data) in std::mem::take(&mut output.tail) {
            output.sent += data.len() as u64;
            self.send_output(id, stream, offset, data)?;
        }
        let (sent, total) = (output.sent, output.total);
        watcher.abort();
        let agent_stopping = self.shutdown.is_cancelled() && !cancel.is_cancelled();
        let mut finished = finished_from(
            &report.outcome,
            &config,
            report.escalated_to_sigkill,
            agent_stopping,
        );
        finished.output_bytes = total;
        finished.output_truncated = total > sent;
        info!(command_id = %id, state = ?CommandState::try_from(finished.state), duration_ms = report.duration.as_millis(), "command finished");
        self.journal.finish(id, finished)?;
        Ok(())
    }

    /// Output up to the cap goes out as it comes; past it, the last half-cap is kept in
    /// memory (bounded) and sent when the command ends, so the coordinator keeps the head
    /// and the tail (where errors usually are).
    fn forward(
        &self,
        id: &str,
        chunk: executor::OutputChunk,
        output: &mut Forwarded,
    ) -> Result<(), JournalError> {
        let stream = match chunk.stream {
            executor::OutputStream::Stdout => OutputStream::Stdout,
            executor::OutputStream::Stderr => OutputStream::Stderr,
        };
        let position = output.total;
        let len = chunk.data.len() as u64;
        output.total += len;
        let live = usize::try_from(output.cap.saturating_sub(position).min(len)).unwrap_or(0);
        let mut data = chunk.data;
        let rest = data.split_off(live);
        if !data.is_empty() {
            output.sent += data.len() as u64;
            self.send_output(id, stream, position, data)?;
        }
        if !rest.is_empty() {
            output.keep_tail(stream, position + live as u64, rest);
        }
        Ok(())
    }

    fn send_output(
        &self,
        id: &str,
        stream: OutputStream,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<(), JournalError> {
        self.journal.append(
            id,
            command_event::Body::Output(OutputChunk {
                stream: stream.into(),
                data,
                offset,
            }),
        )?;
        self.changed();
        Ok(())
    }

    /// Waits for running commands to end (they are told to stop by the shutdown token).
    pub async fn drain(&self, grace: Duration) {
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            warn!("commands still running at shutdown; they will be reported interrupted");
        }
    }
}

fn finished_from(
    outcome: &Outcome,
    config: &ActionConfig,
    escalated: bool,
    agent_stopping: bool,
) -> Finished {
    let how = if escalated {
        format!(
            "SIGTERM, then SIGKILL after {}",
            humantime::format_duration(config.kill_grace)
        )
    } else {
        "SIGTERM".to_string()
    };
    let (state, exit_code, signal, message) = match outcome {
        Outcome::Exited { code: 0 } => (CommandState::Succeeded, Some(0), 0, String::new()),
        Outcome::Exited { code } => (
            CommandState::Failed,
            Some(*code),
            0,
            format!("exited with status {code}"),
        ),
        Outcome::Signaled { signal } => (
            CommandState::Failed,
            None,
            *signal,
            format!("killed by signal {signal}"),
        ),
        Outcome::TimedOut => (
            CommandState::TimedOut,
            None,
            0,
            format!(
                "timed out after {}; process group ended with {how}",
                humantime::format_duration(config.timeout)
            ),
        ),
        Outcome::Cancelled if agent_stopping => (
            CommandState::Interrupted,
            None,
            0,
            format!("the agent was stopped while the command ran; process group ended with {how}"),
        ),
        Outcome::Cancelled => (
            CommandState::Cancelled,
            None,
            0,
            format!("cancelled; process group ended with {how}"),
        ),
        Outcome::SpawnFailed(why) => (CommandState::Failed, None, 0, why.clone()),
    };
    Finished {
        state: state.into(),
        exit_code,
        signal,
        message,
        ..Default::default()
    }
}

/// What a running command printed so far, as the runner forwards it.
struct Forwarded {
    cap: u64,
    sent: u64,
    total: u64,
    /// Past the cap: the latest bytes, at most half the cap, oldest first.
    tail: std::collections::VecDeque<(OutputStream, u64, Vec<u8>)>,
    tail_bytes: u64,
}

impl Forwarded {
    fn new(cap: u64) -> Self {
        Self {
            cap,
            sent: 0,
            total: 0,
            tail: std::collections::VecDeque::new(),
            tail_bytes: 0,
        }
    }

    fn keep_tail(&mut self, stream: OutputStream, offset: u64, data: Vec<u8>) {
        let limit = self.cap - self.cap / 2;
        self.tail_bytes += data.len() as u64;
        self.tail.push_back((stream, offset, data));
        while self.tail_bytes > limit {
            let Some((_, offset, front)) = self.tail.front_mut() else {
                break;
            };
            let excess = usize::try_from(self.tail_bytes - limit).unwrap_or(usize::MAX);
            if excess >= front.len() {
                self.tail_bytes -= front.len() as u64;
                self.tail.pop_front();
            } else {
                front.drain(..excess);
                *offset += excess as u64;
                self.tail_bytes -= excess as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests;
