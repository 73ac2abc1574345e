//! `[[environments]]` in `coordinator.toml`: the ordered stages a release goes through
//! (`staging`, then `prod`), each with a selector, the environment it requires a release to
//! have succeeded in first, the approvals a rollout there needs, and a maintenance window
//! (`"CRON DURATION"` in the environment's `timezone`). Everything is checked at load, so a
//! bad entry stops `convoy serve` (or is refused by a SIGHUP reload) with the entry's name.
//!
//! Window arithmetic is pure: time comes in as an argument.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeZone};
use convoy_proto::identity::Role;
use serde::Deserialize;

use crate::selector::Selector;

/// At most this many environments.
pub const MAX_ENVIRONMENTS: usize = 64;

/// The environments as loaded, shared with the services that read them; a SIGHUP reload
/// swaps the list (`reload::apply`).
pub type SharedEnvironments = Arc<RwLock<Vec<Environment>>>;

/// One `[[environments]]` entry as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    pub name: String,
    /// The hosts of the environment (a label selector; empty: every host).
    #[serde(default)]
    pub selector: String,
    /// The environment a version must have succeeded in before it may start here.
    #[serde(default)]
    pub requires: Option<String>,
    /// Approvals (from operators other than the starter) a rollout here needs.
    #[serde(default)]
    pub approvals: u32,
    /// Only operators of this role (or above) count as approvers.
    #[serde(default)]
    pub approval_role: Option<String>,
    /// How long an approval counts (default: forever).
    #[serde(default, with = "humantime_serde")]
    pub approval_ttl: Option<Duration>,
    /// `"CRON DURATION"`: new hosts start only inside the window.
    #[serde(default)]
    pub window: Option<String>,
    /// The IANA time zone of the window (`Europe/Berlin`) or `UTC` (the default).
    #[serde(default)]
    pub timezone: Option<String>,
}

/// A validated environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub name: String,
    pub selector: String,
    pub requires: Option<String>,
    pub approvals: u32,
    pub approval_role: Option<Role>,
    pub approval_ttl: Option<Duration>,
    pub window: Option<Window>,
    pub timezone: chrono_tz::Tz,
}

/// A maintenance window: opens at each match of `cron` and stays open for `duration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// As written in the config (`"0 2 * * TUE-THU 3h"`).
    pub text: String,
    pub cron: String,
    pub duration: Duration,
}

/// Whether a window is open at some moment, and when that changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// Open until this time (unix ms).
    Open { closes: i64 },
    /// Closed; opens next at this time (None: the cron never matches again).
    Closed { next_open: Option<i64> },
}

impl Window {
    /// Parses `"CRON DURATION"`: the last word is the duration (`3h`, `90m`), the rest a
    /// five-field cron (or six, with seconds first).
    pub fn parse(text: &str) -> Result<Window, String> {
        let trimmed = text.trim();
        let (cron, duration) = trimmed.rsplit_once(char::is_whitespace).ok_or_else(|| {
            format!("window {text:?} must be \"CRON DURATION\", e.g. \"0 2 * * TUE-THU 3h\"")
        })?;
        let cron = cron.trim().to_string();
        croner::Cron::from_str(&cron)
            .map_err(|err| format!("window {text:?}: invalid cron {cron:?}: {err}"))?;
        let duration = humantime::parse_duration(duration)
            .map_err(|err| format!("window {text:?}: invalid duration {duration:?}: {err}"))?;
        if duration < Duration::from_secs(1) || duration > Duration::from_secs(7 * 86_400) {
            return Err(format!(
                "window {text:?}: the duration must be between 1s and 7d"
            ));
        }
        Ok(Window {
            text: trimmed.to_string(),
            cron,
            duration,
        })
    }

    /// Whether the window is open at `now` (unix ms) in time zone `tz`.
    pub fn state_at<Tz: TimeZone>(&self, tz: &Tz, now: i64) -> WindowState {
        let length = i64::try_from(self.duration.as_millis()).unwrap_or(i64::MAX);
        // A window is open over [opening, opening + length). The first opening after
        // `now - length`: if it is not after `now`, the window that opened then is open.
        let earliest = now.saturating_sub(length).saturating_add(1);
        match next_match(&self.cron, tz, earliest, true) {
            Some(opened) if opened <= now => {
                // Later openings that start before this one closes extend it.
                let mut closes = opened.saturating_add(length);
                let mut from = opened;
                for _ in 0..64 {
                    match next_match(&self.cron, tz, from, false) {
                        Some(next) if next <= closes => {
                            closes = next.saturating_add(length);
                            from = next;
                        }
                        _ => break,
                    }
                }
                WindowState::Open { closes }
            }
            other => WindowState::Closed { next_open: other },
        }
    }
}

/// The first match of `cron` at (`inclusive`) or after `after` (unix ms), in zone `tz`.
fn next_match<Tz: TimeZone>(cron: &str, tz: &Tz, after: i64, inclusive: bool) -> Option<i64> {
    let cron = croner::Cron::from_str(cron).ok()?;
    // Crons match whole seconds: an inclusive search starts at the next whole second.
    let seconds = after.div_euclid(1000) + i64::from(inclusive && after.rem_euclid(1000) > 0);
    let after: DateTime<Tz> = DateTime::from_timestamp(seconds, 0)?.with_timezone(tz);
    cron.find_next_occurrence(&after, inclusive)
        .ok()
        .map(|t| t.timestamp().saturating_mul(1000))
}

impl Environment {
    /// The window's state at `now`; an environment without a window is always open.
    pub fn window_at(&self, now: i64) -> WindowState {
        match &self.window {
            Some(window) => window.state_at(&self.timezone, now),
            None => WindowState::Open { closes: i64::MAX },
        }
    }

    /// The rollout selector: the environment's, narrowed by the operator's `extra`.
    pub fn narrow(&self, extra: &str) -> String {
        match (self.selector.trim(), extra.trim()) {
            ("", extra) => extra.to_string(),
            (own, "") => own.to_string(),
            (own, extra) => format!("{own},{extra}"),
        }
    }
}

/// Checks the list: names unique and plain, selectors parse, `requires` names an earlier
/// or later entry without a cycle, roles and windows and zones valid.
pub fn validate(raw: &[EnvironmentConfig]) -> Result<Vec<Environment>, String> {
    if raw.len() > MAX_ENVIRONMENTS {
        return Err(format!("at most {MAX_ENVIRONMENTS} [[environments]]"));
    }
    let mut names = BTreeSet::new();
    for env in raw {
        if !convoy_proto::labels::valid_action_name(&env.name) {
            return Err(format!(
                "environments: invalid name {:?} (lowercase letters, digits, '.', '_', '-')",
                env.name
            ));
        }
        if !names.insert(env.name.as_str()) {
            return Err(format!("environments: duplicate name {:?}", env.name));
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    for env in raw {
        let name = &env.name;
        Selector::parse(&env.selector)
            .map_err(|err| format!("environment {name:?}: {}", err.render()))?;
        if let Some(required) = &env.requires {
            if !names.contains(required.as_str()) {
                return Err(format!(
                    "environment {name:?}: requires {required:?}, which is not an environment"
                ));
            }
            if required == name {
                return Err(format!("environment {name:?} requires itself"));
            }
        }
        let approval_role = match &env.approval_role {
            None => None,
            Some(role) => Some(Role::from_str(role).map_err(|_| {
                format!(
                    "environment {name:?}: approval_role {role:?} is not viewer, operator or admin"
                )
            })?),
        };
        if env.approvals > 16 {
            return Err(format!(
                "environment {name:?}: approvals must be at most 16"
            ));
        }
        if env
            .approval_ttl
            .is_some_and(|ttl| ttl < Duration::from_secs(1))
        {
            return Err(format!(
                "environment {name:?}: approval_ttl must be at least 1s"
            ));
        }
        let window = env
            .window
            .as_deref()
            .map(Window::parse)
            .transpose()
            .map_err(|err| format!("environment {name:?}: {err}"))?;
        let timezone = match env.timezone.as_deref() {
            None | Some("UTC") => chrono_tz::UTC,
            Some(zone) => zone.parse::<chrono_tz::Tz>().map_err(|_| {
                format!("environment {name:?}: unknown timezone {zone:?} (an IANA name like \"Europe/Berlin\", or \"UTC\")")
            })?,
        };
        out.push(Environment {
            name: name.clone(),
            selector: env.selector.clone(),
            requires: env.requires.clone(),
            approvals: env.approvals,
            approval_role,
            approval_ttl: env.approval_ttl,
            window,
            timezone,
        });
    }
    check_cycles(&out)?;
    Ok(out)
}

/// Refuses a `requires` chain that comes back to where it started.
fn check_cycles(envs: &[Environment]) -> Result<(), String> {
    let requires: BTreeMap<&str, &str> = envs
        .iter()
        .filter_map(|e| e.requires.as_deref().map(|r| (e.name.as_str(), r)))
        .collect();
    for env in envs {
        let mut path = vec![env.name.as_str()];
        let mut at = env.name.as_str();
        while let Some(&next) = requires.get(at) {
            if path.contains(&next) {
                path.push(next);
                return Err(format!(
                    "environments: requires forms a cycle: {}",
                    path.join(" -> ")
                ));
            }
            path.push(next);
            at = next;
        }
    }
    Ok(())
}

/// Finds an environment by name.
pub fn find<'a>(envs: &'a [Environment], name: &str) -> Option<&'a Environment> {
    envs.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests;
