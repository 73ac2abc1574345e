//! The agent's own form of a command, decoded once from the wire's `Command` where it
//! arrives (the session) and used by everything after: the runner's one admission path,
//! its journal entry's name, and the work it starts.
//!
//! Unknown values: a command whose kind this agent does not know (a newer coordinator's
//! `oneof` arm, which prost decodes as no action) becomes [`Kind::Unknown`] and is refused
//! like any command the host does not allow, with a message that says so. It is never
//! guessed at and never dropped.

use std::collections::BTreeMap;

use convoy_proto::v1::{self as wire, command::Action};

use crate::deploy::Release;
use crate::recovery::RestoreRequest;

/// One command from the coordinator.
#[derive(Debug, Clone)]
pub(crate) struct AgentCommand {
    pub(crate) id: String,
    pub(crate) job_id: String,
    /// The agent sends at most this much output; the rest is only counted.
    pub(crate) output_cap_bytes: u64,
    /// When the coordinator first released it (its clock; 0 when an older one did not say).
    pub(crate) issued_unix_ms: i64,
    pub(crate) kind: Kind,
}

/// What a command asks for.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A named action from the host's allow-list, with its parameters.
    Action {
        name: String,
        params: BTreeMap<String, String>,
    },
    Deploy(Release),
    /// Back to `version`, or to the previous release when it is empty.
    Rollback {
        app: String,
        version: String,
    },
    Backup {
        set: String,
    },
    Restore(RestoreRequest),
    Drill {
        set: String,
    },
    /// A kind this agent does not know: refused.
    Unknown,
}

impl AgentCommand {
    /// The name the journal keeps and logs show: the action's name, `deploy APP VERSION`,
    /// `rollback APP [VERSION]`, `backup SET`, `restore BACKUP`, `drill SET`; empty for an
    /// unknown kind.
    pub(crate) fn label(&self) -> String {
        match &self.kind {
            Kind::Action { name, .. } => name.clone(),
            Kind::Deploy(release) => format!("deploy {} {}", release.app, release.version),
            Kind::Rollback { app, version } => {
                format!("rollback {app} {version}").trim_end().to_string()
            }
            Kind::Backup { set } => format!("backup {set}"),
            Kind::Restore(request) => format!("restore {}", request.backup_id),
            Kind::Drill { set } => format!("drill {set}"),
            Kind::Unknown => String::new(),
        }
    }
}

impl From<wire::Command> for AgentCommand {
    fn from(command: wire::Command) -> Self {
        let kind = match command.action {
            Some(Action::Run(run)) => Kind::Action {
                name: run.name,
                params: run.params,
            },
            Some(Action::Deploy(d)) => Kind::Deploy(Release {
                app: d.app,
                version: d.version,
                sha256: d.sha256,
                size: d.size,
                signature: d.signature,
                signer: d.signer,
            }),
            Some(Action::Rollback(r)) => Kind::Rollback {
                app: r.app,
                version: r.version,
            },
            Some(Action::Backup(b)) => Kind::Backup { set: b.set },
            Some(Action::Restore(r)) => Kind::Restore(RestoreRequest {
                backup_id: r.backup_id,
                set: r.set,
                target_dir: r.target_dir,
                in_place: r.in_place,
                force: r.force,
                source_host: r.source_host,
            }),
            Some(Action::Drill(d)) => Kind::Drill { set: d.set },
            None => Kind::Unknown,
        };
        Self {
            id: command.command_id,
            job_id: command.job_id,
            output_cap_bytes: command.output_cap_bytes,
            issued_unix_ms: command.issued_unix_ms,
            kind,
        }
    }
}
