//! Environments at the gRPC boundary: `convoy env list` (`ListEnvironments`), and what
//! `convoy rollout start --env NAME` becomes before the driver sees it: the environment's
//! selector narrowed by the operator's, its approval settings copied into the spec (so the
//! stored record needs no config to replay), and the promotion rule (`requires`) checked,
//! `--force` allowed to an admin with a reason only; a freeze in force refuses a start (not
//! a scheduled one: that waits), and `--at` is read in the environment's time zone. And
//! the freezes themselves (`convoy freeze add|list|remove`).

use std::collections::BTreeMap;

use convoy_proto::identity::Role;
use convoy_proto::v1::{AddFreezeRequest, EnvironmentApp, EnvironmentView, Freeze, RolloutSpec};
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
#[allow(clippy::too_many_arguments)]
pub fn resolve(
    envs: &[Environment],
    store: &Store,
    mut spec: RolloutSpec,
    force: bool,
    reason: &str,
    at: &str,
    caller: &auth::Operator,
    now: i64,
) -> Result<RolloutSpec, Status> {
    spec.approvals = 0;
    spec.approval_role.clear();
    spec.approval_ttl_ms = 0;
    spec.forced_reason.clear();
    spec.start_at_unix_ms = 0;
    let zone = environments::find(envs, &spec.env).map_or(chrono_tz::UTC, |e| e.timezone);
    if !at.trim().is_empty() {
        let start = parse_at(at, zone).map_err(Status::invalid_argument)?;
        if start <= now {
            return Err(Status::invalid_argument(format!(
                "--at {at:?} is in the past; leave it out to start now"
            )));
        }
        spec.start_at_unix_ms = start;
    }
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
    if spec.start_at_unix_ms == 0 {
        let freezes = store.freezes().map_err(Status::from)?;
        if let Some(freeze) = crate::store::freezes::in_force(&freezes, &env.name, now) {
            return Err(Status::failed_precondition(format!(
                "environment {:?} is frozen until {} ({}; freeze {}): no rollout starts there \
                 until then (a rollback still may; --at schedules one for later)",
                env.name,
                chrono::DateTime::from_timestamp_millis(freeze.until_unix_ms)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                freeze.reason,
                freeze.id
            )));
        }
    }
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
pub fn list(
    envs: &[Environment],
    freezes: &[Freeze],
    registry: &Registry,
    now: i64,
) -> Vec<EnvironmentView> {
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
                freezes: freezes
                    .iter()
                    .filter(|f| f.env == env.name && f.until_unix_ms > now)
                    .cloned()
                    .collect(),
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

/// `--at`: `YYYY-MM-DD HH:MM[:SS]` in `zone`, or with an explicit offset (RFC 3339, or the
/// same form followed by `+HH:MM`/`Z`). Unix ms.
pub fn parse_at(text: &str, zone: chrono_tz::Tz) -> Result<i64, String> {
    use chrono::{DateTime, NaiveDateTime, TimeZone};
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    for format in [
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%d %H:%M %:z",
        "%Y-%m-%d %H:%M:%S %:z",
    ] {
        if let Ok(at) = DateTime::parse_from_str(text, format) {
            return Ok(at.timestamp_millis());
        }
    }
    let local = ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), format).ok())
        .ok_or_else(|| {
            format!("--at {text:?}: expected 'YYYY-MM-DD HH:MM' (in the environment's timezone) or with an offset, e.g. '2026-12-05 02:00+01:00'")
        })?;
    let at = if text.ends_with('Z') {
        chrono::Utc.from_utc_datetime(&local).timestamp_millis()
    } else {
        zone.from_local_datetime(&local)
            .earliest()
            .ok_or_else(|| {
                format!(
                    "--at {text:?} does not exist in {} (a clock change)",
                    zone.name()
                )
            })?
            .timestamp_millis()
    };
    Ok(at)
}

/// `convoy freeze add`: checked (a configured environment, a reason, an end after its
/// start and after now, at most a year long), then stored.
pub fn add_freeze(
    envs: &[Environment],
    store: &Store,
    request: &AddFreezeRequest,
    by: &str,
    now: i64,
) -> Result<Freeze, Status> {
    if environments::find(envs, &request.env).is_none() {
        let known: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
        return Err(Status::invalid_argument(format!(
            "unknown environment {:?} (configured: {})",
            request.env,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    if request.reason.trim().is_empty() {
        return Err(Status::invalid_argument("a freeze needs --reason TEXT"));
    }
    let from = if request.from_unix_ms == 0 {
        now
    } else {
        request.from_unix_ms
    };
    if request.until_unix_ms <= from || request.until_unix_ms <= now {
        return Err(Status::invalid_argument(
            "--until must be after --from and in the future",
        ));
    }
    if request.until_unix_ms - from > 366 * 86_400_000 {
        return Err(Status::invalid_argument("a freeze lasts at most a year"));
    }
    let freeze = Freeze {
        id: freeze_id(now, |id| {
            store
                .freezes()
                .map(|all| all.iter().any(|f| f.id == id))
                .unwrap_or(false)
        }),
        env: request.env.clone(),
        from_unix_ms: from,
        until_unix_ms: request.until_unix_ms,
        reason: request.reason.trim().to_string(),
        created_by: by.to_string(),
        created_unix_ms: now,
    };
    store.put_freeze(&freeze).map_err(Status::from)?;
    Ok(freeze)
}

/// `f-YYYYMMDD-HHMMSS-xxxx`, unused so far.
fn freeze_id(now_unix_ms: i64, taken: impl Fn(&str) -> bool) -> String {
    let at = chrono::DateTime::from_timestamp_millis(now_unix_ms).unwrap_or_default();
    loop {
        let suffix: u16 = rand::random();
        let id = format!("f-{}-{suffix:04x}", at.format("%Y%m%d-%H%M%S"));
        if !taken(&id) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_is_read_in_the_zone_or_with_its_offset() {
        let berlin = chrono_tz::Europe::Berlin;
        // 2026-12-05 02:00 in Berlin (UTC+1) is 01:00 UTC.
        let utc_0100 = 1_796_432_400_000;
        assert_eq!(parse_at("2026-12-05 02:00", berlin), Ok(utc_0100));
        assert_eq!(parse_at("2026-12-05 01:00", chrono_tz::UTC), Ok(utc_0100));
        assert_eq!(parse_at("2026-12-05 03:00+02:00", berlin), Ok(utc_0100));
        assert_eq!(parse_at("2026-12-05T01:00:00Z", berlin), Ok(utc_0100));
        assert!(
            parse_at("tomorrow", berlin)
                .unwrap_err()
                .contains("YYYY-MM-DD HH:MM")
        );
    }
}
