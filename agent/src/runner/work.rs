//! Running an admitted deploy, rollback, backup, restore or drill: progress lines become
//! the command's output, the command's [`Stop`] reaches the work, and the result becomes
//! its `Finished` event.

use std::sync::{Mutex, PoisonError};

use convoy_proto::v1::{CommandState, Finished, OutputChunk, OutputStream, command_event};
use tracing::info;

use super::stop::{Stop, StopReason};
use super::{RecoveryParts, Runner};
use crate::command::{AgentCommand, Kind};
use crate::journal::JournalError;

/// Progress lines of deploys and backups, journaled as stdout; the first journal failure
/// is kept and ends the command's bookkeeping.
struct Progress<'a> {
    runner: &'a Runner,
    id: &'a str,
    failure: Mutex<Option<JournalError>>,
}

impl<'a> Progress<'a> {
    fn new(runner: &'a Runner, id: &'a str) -> Self {
        Self {
            runner,
            id,
            failure: Mutex::new(None),
        }
    }

    fn line(&self, line: String) {
        info!(command_id = %self.id, "{line}");
        let chunk = OutputChunk {
            stream: OutputStream::Stdout.into(),
            data: format!("{line}\n").into_bytes(),
            // Progress lines of deploys and backups: a few, always in order.
            offset: 0,
        };
        let body = command_event::Body::Output(chunk);
        if let Err(err) = self.runner.journal.append(self.id, body) {
            *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
        }
        self.runner.changed();
    }

    fn result(self) -> Result<(), JournalError> {
        match self
            .failure
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

impl Runner {
    /// Runs an admitted deploy or rollback; the caller holds its slot.
    pub(super) async fn run_deploy(
        &self,
        command: &AgentCommand,
        stop: &Stop,
    ) -> Result<(), JournalError> {
        let id = &command.id;
        let (Kind::Deploy(crate::deploy::Release { app, .. }) | Kind::Rollback { app, .. }) =
            &command.kind
        else {
            return Ok(());
        };
        // One deploy or rollback of an app at a time.
        let _app_lock = self.deployer.lock_app(app).await;
        if stop.reason() == Some(StopReason::Shutdown) {
            // Not started: it stays "received" and runs when the coordinator resends it.
            return Ok(());
        }
        self.start(id)?;
        let progress = Progress::new(self, id);
        let report = |line: String| progress.line(line);
        // The stop ends the running hook's process group and the health wait; the revert
        // that follows runs with its own deadline (see `Deployer::revert`).
        let result = match &command.kind {
            Kind::Deploy(release) => {
                self.deployer
                    .deploy(release, self.source.as_ref(), &report, stop.token())
                    .await
            }
            Kind::Rollback { app, version } => {
                self.deployer
                    .rollback(app, version, &report, stop.token())
                    .await
            }
            _ => return Ok(()),
        };
        progress.result()?;
        self.apps_changed.notify_one();
        let (state, message) = match (result, stop.reason()) {
            (Ok(message), _) => (CommandState::Succeeded, message),
            (Err(err), Some(StopReason::Cancelled)) => (CommandState::Cancelled, err.to_string()),
            (Err(err), Some(StopReason::Shutdown)) => (
                CommandState::Interrupted,
                format!("the agent was stopped during the deploy: {err}"),
            ),
            (Err(err), None) => (CommandState::Failed, err.to_string()),
        };
        info!(command_id = %id, ?state, %message, "deploy finished");
        self.finish(id, state, message)
    }

    /// Runs an admitted backup, restore or drill; the caller holds its slot.
    pub(super) async fn run_recovery(
        &self,
        command: &AgentCommand,
        (recovery, transport): RecoveryParts,
        stop: &Stop,
    ) -> Result<(), JournalError> {
        let id = &command.id;
        self.start(id)?;
        let progress = Progress::new(self, id);
        let report = |line: String| progress.line(line);
        let transport = transport.as_ref();
        let work = async {
            match &command.kind {
                Kind::Backup { set } => {
                    recovery
                        .backup(id, set, transport, &report, stop.token())
                        .await
                }
                Kind::Restore(request) => recovery.restore(id, request, transport, &report).await,
                Kind::Drill { set } => recovery.drill(id, set, transport, &report).await,
                _ => Ok(String::new()),
            }
        };
        let (state, message) = tokio::select! {
            result = work => match result {
                Ok(message) => (CommandState::Succeeded, message),
                Err(err) => (CommandState::Failed, err.to_string()),
            },
            () = stop.stopped() => match stop.reason() {
                Some(StopReason::Cancelled) => (CommandState::Cancelled, "cancelled".to_string()),
                // Left started: found at the next start-up and reported interrupted.
                _ => return Ok(()),
            },
        };
        progress.result()?;
        info!(command_id = %id, ?state, %message, "backup command finished");
        self.finish(id, state, message)
    }

    fn finish(&self, id: &str, state: CommandState, message: String) -> Result<(), JournalError> {
        let finished = Finished {
            state: state.into(),
            message,
            ..Default::default()
        };
        self.journal.finish(id, finished)?;
        Ok(())
    }
}
