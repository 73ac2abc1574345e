//! What a host allows: the one place a command is judged before anything runs. An action
//! must be in the allow-list with parameters its declaration accepts; a deploy or rollback
//! must name an app of `[apps]` with a valid release name, on a host that can check
//! signatures; a backup, restore or drill must name one of `[backup.sets]`. A command of a
//! kind this agent does not know is refused (see [`crate::command`]), and so is one issued
//! before the journal's horizon (the journal may have forgotten that it ran).

use std::sync::PoisonError;

use tracing::warn;

use super::{RecoveryParts, Runner};
use crate::command::{AgentCommand, Kind};
use crate::config::ActionConfig;
use crate::deploy::record::{SignaturePolicy, UNCONFIGURED};

/// Why a command was refused; the text is the command's `rejected` message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("rejected: this agent does not support that kind of command")]
    UnknownKind,
    #[error("rejected: unknown action {action:?}; this host allows: {allowed}")]
    UnknownAction { action: String, allowed: String },
    #[error("rejected: action {action:?}: {problem}")]
    BadParameters {
        action: String,
        #[source]
        problem: crate::params::ParamError,
    },
    #[error("rejected: app {app:?} is not in this host's [apps]")]
    AppNotAllowed { app: String },
    #[error("rejected: {0}")]
    BadReleaseName(String),
    #[error("rejected: {UNCONFIGURED}")]
    NoSigningKeys,
    #[error("rejected: backup set {set:?} is not in this host's [backup.sets]")]
    SetNotAllowed { set: String },
    #[error(
        "rejected: issued {days} days ago, longer than this host's journal is sure to remember \
         (it forgets finished commands after 30 days), so it may have run here already; \
         start it again as a new job"
    )]
    TooOld { days: i64 },
}

impl Refusal {
    /// Logs the refusal as an operator would look for it.
    pub(super) fn log(&self, command_id: &str, label: &str) {
        match self {
            Self::UnknownKind | Self::UnknownAction { .. } => {
                warn!(%command_id, action = %label, "rejected: action not in this host's allow-list")
            }
            Self::BadParameters { .. } => {
                warn!(%command_id, action = %label, "rejected: bad parameters")
            }
            Self::AppNotAllowed { app } => {
                warn!(%command_id, %app, "rejected: app not in this host's [apps]")
            }
            Self::BadReleaseName(_) | Self::NoSigningKeys => {
                warn!(%command_id, action = %label, error = %self, "rejected deploy")
            }
            Self::SetNotAllowed { set } => {
                warn!(%command_id, %set, "rejected: set not in this host's [backup.sets]")
            }
            Self::TooOld { days } => {
                warn!(%command_id, action = %label, days, "rejected: issued before the journal's horizon")
            }
        }
    }
}

/// What an admitted command will do, with what the host's config gave it at admission
/// (a reload later does not change a command already admitted).
pub(super) enum Work {
    /// The action's config, its argv bound to the command's parameters.
    Action(ActionConfig),
    Deploy,
    Recovery(RecoveryParts),
}

impl Runner {
    /// Judges `command` against this host's config now.
    pub(super) fn judge(&self, command: &AgentCommand) -> Result<Work, Refusal> {
        let age = crate::journal::now_unix_ms().saturating_sub(command.issued_unix_ms);
        if command.issued_unix_ms > 0 && age > crate::journal::ISSUE_HORIZON_MS {
            return Err(Refusal::TooOld {
                days: age / (24 * 3600 * 1000),
            });
        }
        match &command.kind {
            Kind::Unknown => Err(Refusal::UnknownKind),
            Kind::Action { name, params } => self.judge_action(name, params),
            Kind::Deploy(release) => self.judge_release(&release.app, Some(&release.version)),
            Kind::Rollback { app, version } => {
                self.judge_release(app, (!version.is_empty()).then_some(version))
            }
            Kind::Backup { set } | Kind::Drill { set } => self.judge_set(set),
            Kind::Restore(request) => self.judge_set(&request.set),
        }
    }

    fn judge_action(
        &self,
        name: &str,
        params: &std::collections::BTreeMap<String, String>,
    ) -> Result<Work, Refusal> {
        let actions = self.actions.read().unwrap_or_else(PoisonError::into_inner);
        let Some(config) = actions.get(name) else {
            if name.is_empty() {
                return Err(Refusal::UnknownKind);
            }
            let allowed: Vec<&str> = actions.keys().map(String::as_str).collect();
            return Err(Refusal::UnknownAction {
                action: name.to_string(),
                allowed: allowed.join(", "),
            });
        };
        let mut config = config.clone();
        // Parameters are judged here, against this host's own declaration, and become
        // whole argv elements: never a shell, never split.
        config.run =
            crate::params::bind(&config.run, &config.params, params).map_err(|problem| {
                Refusal::BadParameters {
                    action: name.to_string(),
                    problem,
                }
            })?;
        Ok(Work::Action(config))
    }

    /// Deploys and rollbacks: only for apps the host's config names, and a name that could
    /// leave `releases/` is refused before anything is touched.
    fn judge_release(&self, app: &str, version: Option<&String>) -> Result<Work, Refusal> {
        if !self.deployer.allows(app) {
            return Err(Refusal::AppNotAllowed {
                app: app.to_string(),
            });
        }
        if let Some(version) = version {
            convoy_proto::labels::validate_release(app, version)
                .map_err(Refusal::BadReleaseName)?;
        }
        if let SignaturePolicy::Unconfigured = self.deployer.policy() {
            return Err(Refusal::NoSigningKeys);
        }
        Ok(Work::Deploy)
    }

    /// Backups, restores and drills: only for sets the host's config names.
    fn judge_set(&self, set: &str) -> Result<Work, Refusal> {
        self.recovery
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(recovery, _)| recovery.allows(set))
            .cloned()
            .map(Work::Recovery)
            .ok_or_else(|| Refusal::SetNotAllowed {
                set: set.to_string(),
            })
    }
}
