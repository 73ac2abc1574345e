//! Environments at the gRPC boundary: `convoy env list` (`ListEnvironments`), and what
//! `convoy rollout start --env NAME` becomes before the driver sees it: the environment's
//! selector narrowed by the operator's, its approval settings copied into the spec (so the
//! stored record needs no config to replay), and the promotion rule (`requires`) checked,
//! `--force` allowed to an admin with a reason only.

use std::collections::BTreeMap;

use convoy_proto::identity::Role;
use convoy_proto::v1::{EnvironmentApp, EnvironmentView, RolloutSpec};
use tonic::Status;

use super::auth;
use crate::config::environments::{self, Environment, SharedEnvironments, WindowState};
use crate::registry::Registry;
use crate::releases::environments::succeeded_in;
use crate::selector::Selector;
use crate::store::Store;

/// A copy of the environments in force now.
pub fn current(shared: &SharedEnvironments) -> Vec<Environment> {
    shared
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Turns an operator's spec into the one the driver runs: with `--env`, the environment's
/// selector narrowed by the spec's, its approval settings, and the promotion rule checked
/// (`force` needs an admin and a reason). Without `--env`, the approval fields a client
/// may have sent are cleared.
pub fn resolve(
    envs: &[Environment],
    store: &Store,
    mut spec: RolloutSpec,
    force: bool,
    reason: &str,
    caller: &auth::Operator,
) -> Result<RolloutSpec, Status> {
    spec.approvals = 0;
    spec.approval_role.clear();
    spec.approval_ttl_ms = 0;
    spec.forced_reason.clear();
    if spec.env.is_empty() {
        if force {
            return Err(Status::invalid_argument(
                "--force overrides an environment's promotion rule; it needs --env",
            ));
        }
        return Ok(spec);
    }
    let Some(env) = environments::find(envs, &spec.env) else {
        let known: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
        return Err(Status::invalid_argument(format!(
            "unknown environment {:?} (configured: {})",
            spec.env,
            if known.is_empty() {
                "none; add [[environments]] to coordinator.toml".to_string()
            } else {
                known.join(", ")
            }
        )));
    };
    spec.selector = env.narrow(&spec.selector);
    spec.approvals = env.approvals;
    spec.approval_role = env
        .approval_role
        .map(|r| r.as_str().to_string())
        .unwrap_or_default();
    spec.approval_ttl_ms = env
        .approval_ttl
        .map_or(0, |ttl| u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
    if let Some(required) = &env.requires {
        let records = store.rollouts().map_err(Status::from)?;
        if !succeeded_in(&records, &spec.app, &spec.version, required) {
            if !force {
                return Err(Status::failed_precondition(format!(
                    "{} {} has not succeeded in {required:?}, which environment {:?} requires; \
                     roll it out there first (convoy rollout start {} {} --env {required}), \
                     or an admin may pass --force --reason TEXT",
                    spec.app, spec.version, env.name, spec.app, spec.version
                )));
            }
            if caller.role < Role::Admin {
                return Err(Status::permission_denied(format!(
                    "--force past the promotion rule of {:?} needs an admin certificate",
                    env.name
                )));
            }
            if reason.trim().is_empty() {
                return Err(Status::invalid_argument(
                    "--force needs --reason TEXT (it is recorded in the audit log and the rollout)",
                ));
            }
            spec.forced_reason = reason.trim().to_string();
        }
    }
    Ok(spec)
}

/// `convoy env list`: each environment with its window now and what runs where.
pub fn list(envs: &[Environment], registry: &Registry, now: i64) -> Vec<EnvironmentView> {
    envs.iter()
        .map(|env| {
            let (window_open, change) = match env.window_at(now) {
                WindowState::Open { closes } => (true, closes),
                WindowState::Closed { next_open } => (false, next_open.unwrap_or(0)),
            };
            let agents = Selector::parse(&env.selector)
                .map(|selector| registry.list(&selector))
                .unwrap_or_default();
            let mut apps: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
            for agent in &agents {
                for app in &agent.apps {
                    let version = if app.version.is_empty() {
                        "(none)".to_string()
                    } else {
                        app.version.clone()
                    };
                    *apps
                        .entry(app.app.clone())
                        .or_default()
                        .entry(version)
                        .or_default() += 1;
                }
            }
            EnvironmentView {
                name: env.name.clone(),
                selector: env.selector.clone(),
                requires: env.requires.clone().unwrap_or_default(),
                approvals: env.approvals,
                approval_role: env
                    .approval_role
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default(),
                approval_ttl_ms: env
                    .approval_ttl
                    .map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
                window: env
                    .window
                    .as_ref()
                    .map(|w| w.text.clone())
                    .unwrap_or_default(),
                timezone: env.timezone.name().to_string(),
                window_open,
                window_change_unix_ms: if change == i64::MAX { 0 } else { change },
                hosts: u32::try_from(agents.len()).unwrap_or(u32::MAX),
                apps: apps
                    .into_iter()
                    .map(|(app, versions)| EnvironmentApp {
                        app,
                        versions: versions.into_iter().collect(),
                    })
                    .collect(),
            }
        })
        .collect()
}
