//! Carries out the commands that come down the link, every kind through one path:
//! [`Runner::on_command`] journals the id (it runs at most once), judges it against the
//! host's config ([`admission`]: allow-list, parameters, apps, backup sets, unknown kinds)
//! and starts it on a tracked task, which waits for one of [`MAX_CONCURRENT_COMMANDS`]
//! slots, marks it started and runs it ([`action`] for allow-listed actions, [`work`] for
//! deploys, rollbacks, backups, restores and drills). One [`Stop`] per command carries an
//! operator's cancel and the agent's shutdown alike ([`Runner::on_cancel`]). Every event
//! goes to the journal's outbox for the session to send.

mod action;
mod admission;
mod stop;
mod work;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use convoy_proto::v1::{CommandState, Finished};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use crate::command::AgentCommand;
use crate::config::ActionConfig;
use crate::deploy::{ArtifactSource, Deployer};
use crate::journal::{Admission, Journal, JournalError};
use crate::recovery::{BackupTransport, Recovery};
use admission::Work;
use stop::{Stop, StopReason};

/// The commands running now (or waiting for a slot), by id, locked.
type Running<'a> = std::sync::MutexGuard<'a, HashMap<String, Stop>>;

/// Commands running at once on one host; more wait their turn.
pub(crate) const MAX_CONCURRENT_COMMANDS: usize = 16;

pub(crate) struct Runner {
    journal: Arc<Journal>,
    deployer: Arc<Deployer>,
    source: Arc<dyn ArtifactSource>,
    /// Replaced by a config reload (`set_actions`); a running command keeps its own copy.
    actions: RwLock<BTreeMap<String, ActionConfig>>,
    running: Mutex<HashMap<String, Stop>>,
    outbox_changed: Notify,
    apps_changed: Notify,
    slots: Arc<Semaphore>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    recovery: RwLock<Option<RecoveryParts>>,
    /// App signals, scraped on heartbeat ticks (configured by the wiring and reloads).
    signals: Arc<crate::signals::collect::Collector>,
}

/// The backup side of the runner: the host's sets and the transport to the coordinator.
type RecoveryParts = (Arc<Recovery>, Arc<dyn BackupTransport>);

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

impl Runner {
    pub(crate) fn new(
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
            signals: Arc::default(),
        })
    }

    /// Enables backup, restore and drill commands for the host's backup sets. Without it
    /// they are rejected like any action the host does not allow.
    /// Set again on a config reload (new backup sets); running commands keep theirs.
    pub(crate) fn set_recovery(
        &self,
        recovery: Arc<Recovery>,
        transport: Arc<dyn BackupTransport>,
    ) {
        *self
            .recovery
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some((recovery, transport));
    }

    /// The backup transport in use, for a reload that replaces the sets.
    pub(crate) fn backup_transport(&self) -> Option<Arc<dyn BackupTransport>> {
        self.recovery
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(_, transport)| transport.clone())
    }

    /// A config reload's new allow-list: commands admitted from now on are judged by it.
    pub(crate) fn set_actions(&self, actions: BTreeMap<String, ActionConfig>) {
        *self.actions.write().unwrap_or_else(PoisonError::into_inner) = actions;
    }

    pub(crate) fn journal(&self) -> &Journal {
        &self.journal
    }

    pub(crate) fn signals(&self) -> &Arc<crate::signals::collect::Collector> {
        &self.signals
    }

    pub(crate) fn deployer(&self) -> &Deployer {
        &self.deployer
    }

    /// Fires whenever the outbox has something new to send.
    pub(crate) fn outbox_changed(&self) -> &Notify {
        &self.outbox_changed
    }

    /// Fires when a deploy or rollback changed what runs, or the health monitor saw an
    /// app's health change, so the session reports it at once (ahead of the command's
    /// result) instead of at the next heartbeat.
    pub(crate) fn apps_changed(&self) -> &Notify {
        &self.apps_changed
    }

    fn changed(&self) {
        self.outbox_changed.notify_one();
    }

    /// A command from the coordinator (decoded once, at the session). Every kind is
    /// admitted here the same way; errors are journal failures only.
    pub(crate) fn on_command(
        self: &Arc<Self>,
        command: impl Into<AgentCommand>,
    ) -> Result<(), JournalError> {
        let command = command.into();
        let label = command.label();
        // Held across the admission so that a second delivery racing the first cannot
        // also find the command "not started" and start it again.
        let running = self.lock_running();
        if running.contains_key(&command.id) {
            drop(running);
            self.changed();
            return Ok(());
        }
        let admission = self.journal.admit(
            &command.id,
            &command.job_id,
            &label,
            command.output_cap_bytes,
        )?;
        if admission == Admission::Known {
            // Delivered twice: it ran (or runs) once; its events are in the outbox, or,
            // if the coordinator acknowledged them all and still sends it, it lost them:
            // the result is queued again (never the command).
            drop(running);
            if let Some(event) = self.journal.restate(&command.id)? {
                tracing::warn!(command_id = %command.id, seq = event.seq, "the coordinator sent a command this host finished and acknowledged; its result is reported again");
            }
            self.changed();
            return Ok(());
        }
        match self.judge(&command) {
            Ok(work) => {
                self.launch(command, running, work);
                Ok(())
            }
            Err(refusal) => {
                drop(running);
                refusal.log(&command.id, &label);
                self.reject(&command.id, refusal.to_string())
            }
        }
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

    /// Registers the command's [`Stop`] and runs it on a tracked task; when it ends, the
    /// command leaves `running`.
    fn launch(self: &Arc<Self>, command: AgentCommand, mut running: Running<'_>, work: Work) {
        let stop = Stop::new(&self.shutdown);
        running.insert(command.id.clone(), stop.clone());
        drop(running);
        self.changed();
        let runner = self.clone();
        self.tracker.spawn(async move {
            let what = match &work {
                Work::Action(_) => "command",
                Work::Deploy => "deploy",
                Work::Recovery(_) => "backup",
            };
            if let Err(err) = runner.carry_out(&command, work, &stop).await {
                tracing::error!(command_id = %command.id, error = %err, "cannot journal {what} progress");
            }
            runner.lock_running().remove(&command.id);
            runner.changed();
        });
    }

    /// Waits for a slot, then runs the work. Stopped before a slot was free: an operator's
    /// cancel finishes it `cancelled` (it never ran); a shutdown leaves it received, to run
    /// when the coordinator sends it again.
    async fn carry_out(
        &self,
        command: &AgentCommand,
        work: Work,
        stop: &Stop,
    ) -> Result<(), JournalError> {
        let Some(_slot) = self.slot(&command.id, stop).await? else {
            return Ok(());
        };
        match work {
            Work::Action(config) => self.run_action(command, config, stop).await,
            Work::Deploy => self.run_deploy(command, stop).await,
            Work::Recovery(parts) => self.run_recovery(command, parts, stop).await,
        }
    }

    async fn slot(
        &self,
        id: &str,
        stop: &Stop,
    ) -> Result<Option<OwnedSemaphorePermit>, JournalError> {
        let slot = tokio::select! {
            slot = self.slots.clone().acquire_owned() => slot.ok(),
            () = stop.stopped() => None,
        };
        match stop.reason() {
            None => Ok(slot),
            Some(StopReason::Shutdown) => Ok(None),
            Some(StopReason::Cancelled) => {
                let finished = Finished {
                    state: CommandState::Cancelled.into(),
                    message: "cancelled before it started".into(),
                    ..Default::default()
                };
                self.journal.finish(id, finished)?;
                Ok(None)
            }
        }
    }

    /// Journals the start (on disk before this returns) and says so to the session.
    fn start(&self, id: &str) -> Result<(), JournalError> {
        self.journal.mark_started(id)?;
        self.changed();
        Ok(())
    }

    fn lock_running(&self) -> Running<'_> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The coordinator asks to stop a command, or to make sure it never starts.
    pub(crate) fn on_cancel(&self, command_id: &str) -> Result<(), JournalError> {
        if let Some(stop) = self.lock_running().get(command_id) {
            stop.cancel();
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

    /// Waits for running commands to end (they are told to stop by the shutdown token).
    pub(crate) async fn drain(&self, grace: Duration) {
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            warn!("commands still running at shutdown; they will be reported interrupted");
        }
    }
}

#[cfg(test)]
mod tests;
