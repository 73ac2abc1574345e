//! `[[scaling]]` in `coordinator.toml`: target-tracking scaling policies (issue 16). Each
//! names a group (a label selector), a metric of the history, a target, bounds and a
//! cooldown, and what to do when the group should change size: run the operator's
//! `command` on the coordinator host and/or notify a `[[notify]]` sink. Dry-run unless
//! `dry_run = false`. Everything is checked here, at load, so a bad policy stops
//! `convoy serve` (and a SIGHUP reload with it changes nothing) with the policy's name.

use std::time::Duration;

use serde::Deserialize;

use crate::history::SeriesId;
use crate::selector::Selector;

/// How the command is written: a string runs through `sh -c` (pipes, `$VARS`), a list is
/// run as it is (no shell).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

impl CommandLine {
    /// The program and its arguments.
    pub fn argv(&self) -> Vec<String> {
        match self {
            CommandLine::Shell(line) => vec!["/bin/sh".into(), "-c".into(), line.clone()],
            CommandLine::Argv(argv) => argv.clone(),
        }
    }
}

/// One `[[scaling]]` policy as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingConfig {
    pub name: String,
    pub selector: String,
    /// A history series: cpu, mem, load1, disk:MOUNT, an app signal APP.NAME, ...
    pub metric: String,
    pub target: f64,
    pub min: u32,
    pub max: u32,
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
    #[serde(default)]
    pub command: Option<CommandLine>,
    /// A `[[notify]]` sink that gets the decision (`webhook` is the same key).
    #[serde(default, alias = "webhook")]
    pub notify: Option<String>,
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// How far back the metric is averaged.
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    /// How long the command may run before its process group is killed.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// A metric within this fraction of the target changes nothing.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    #[serde(default = "default_dry_run")]
    pub dry_run: bool,
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_window() -> Duration {
    Duration::from_secs(300)
}
fn default_timeout() -> Duration {
    Duration::from_secs(300)
}
fn default_tolerance() -> f64 {
    crate::analysis::scaling::DEFAULT_TOLERANCE
}
fn default_dry_run() -> bool {
    true
}

/// A checked policy: the config as written, with its selector and metric parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingPolicy {
    pub config: ScalingConfig,
    pub selector: Selector,
    pub metric: SeriesId,
}

impl ScalingPolicy {
    pub fn bounds(&self) -> crate::analysis::scaling::Bounds {
        crate::analysis::scaling::Bounds {
            target: self.config.target,
            min: self.config.min,
            max: self.config.max,
            cooldown_ms: millis(self.config.cooldown),
            tolerance: self.config.tolerance,
        }
    }
}

/// A duration in milliseconds (saturating).
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Policies at most.
pub const MAX_POLICIES: usize = 64;
/// A group's size at most.
pub const MAX_HOSTS: u32 = 100_000;

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks every policy against the rules and the configured sinks.
pub fn validate(
    policies: Vec<ScalingConfig>,
    sinks: &[super::monitor::NotifyConfig],
) -> Result<Vec<ScalingPolicy>, String> {
    if policies.len() > MAX_POLICIES {
        return Err(format!("scaling: at most {MAX_POLICIES} policies"));
    }
    let mut checked: Vec<ScalingPolicy> = Vec::new();
    for (i, policy) in policies.into_iter().enumerate() {
        let at = format!("scaling[{i}] ({:?})", policy.name);
        if !valid_name(&policy.name) {
            return Err(format!("{at}: name must be 1-64 of A-Z a-z 0-9 - _ ."));
        }
        if checked.iter().any(|p| p.config.name == policy.name) {
            return Err(format!("{at}: a policy of that name is already defined"));
        }
        let selector = Selector::parse(&policy.selector)
            .map_err(|err| format!("{at}: selector: {}", err.render()))?;
        let metric =
            SeriesId::parse(&policy.metric).map_err(|err| format!("{at}: metric: {err}"))?;
        check_numbers(&policy).map_err(|err| format!("{at}: {err}"))?;
        check_action(&policy, sinks).map_err(|err| format!("{at}: {err}"))?;
        checked.push(ScalingPolicy {
            config: policy,
            selector,
            metric,
        });
    }
    Ok(checked)
}

fn check_numbers(policy: &ScalingConfig) -> Result<(), String> {
    if !policy.target.is_finite() || policy.target <= 0.0 {
        return Err(format!(
            "target must be a number above zero, not {}",
            policy.target
        ));
    }
    if policy.min > policy.max {
        return Err(format!(
            "min ({}) must not be above max ({})",
            policy.min, policy.max
        ));
    }
    if policy.max == 0 || policy.max > MAX_HOSTS {
        return Err(format!("max must be between 1 and {MAX_HOSTS}"));
    }
    if !(0.0..1.0).contains(&policy.tolerance) {
        return Err("tolerance must be at least 0 and below 1".into());
    }
    if policy.interval < Duration::from_secs(1) {
        return Err("interval must be at least 1s".into());
    }
    if policy.window < Duration::from_secs(60) {
        return Err("window must be at least 1m (the history keeps minutes)".into());
    }
    if policy.timeout < Duration::from_secs(1) {
        return Err("timeout must be at least 1s".into());
    }
    Ok(())
}

fn check_action(
    policy: &ScalingConfig,
    sinks: &[super::monitor::NotifyConfig],
) -> Result<(), String> {
    match &policy.command {
        Some(CommandLine::Shell(line)) if line.trim().is_empty() => {
            return Err("command is empty".into());
        }
        Some(CommandLine::Argv(argv)) if argv.first().is_none_or(|p| p.is_empty()) => {
            return Err("command is empty".into());
        }
        Some(CommandLine::Argv(argv)) if !argv[0].starts_with('/') => {
            return Err(format!(
                "command {:?}: a list command names its program by absolute path (or write \
                 the command as one string, run by /bin/sh -c)",
                argv[0]
            ));
        }
        _ => {}
    }
    if let Some(sink) = &policy.notify
        && !sinks.iter().any(|s| &s.name == sink)
    {
        return Err(format!("notify: no [[notify]] sink named {sink:?}"));
    }
    if !policy.dry_run && policy.command.is_none() && policy.notify.is_none() {
        return Err(
            "dry_run = false needs a command or a notify sink (there is nothing to do)".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
