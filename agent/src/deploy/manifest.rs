//! The release manifest: `convoy.toml` shipped inside a release artifact, turned into a validated
//! [`Manifest`] (lifecycle hooks and the health check), plus the per-app override merge.
//!
//! The shape is a contract documented to users:
//!
//! ```toml
//! [hooks]
//! stop = ["./bin/stop"]      # argv, or { run = [...], timeout = "30s" }
//! before_activate = ["./bin/migrate"]
//! start = ["./bin/start"]
//! [health]
//! command = ["./bin/check"]  # or: tcp = 8080, or: http = "http://127.0.0.1:8080/healthz"
//! interval = "1s"
//! retries = 5
//! deadline = "60s"
//! monitor_interval = "10s"  # how often the agent re-checks a running release
//! ```
//!
//! Unknown keys are an error, and every error names the dotted key it is about
//! (`hooks.stop.timeout: ...`); syntax errors also carry the line. The agent config embeds the
//! same shape per app (`[apps.web.hooks]`, `[apps.web.health]`): [`Manifest`], [`Hooks`],
//! [`HealthSpec`] and [`Hook`] implement [`Deserialize`] (by way of a [`toml::Value`], checked
//! exactly like a `convoy.toml`), and [`Manifest::from_toml_value`] takes an already parsed value.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use toml::{Table, Value};

mod http_target;

pub use http_target::{HttpTarget, UrlError};

/// The manifest's file name inside a release directory.
pub(crate) const FILE_NAME: &str = "convoy.toml";
/// A hook's timeout when it is given as a bare argv.
pub(crate) const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_RETRIES: u32 = 5;
const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
/// How often a running release is probed after its deploy, by default.
pub(crate) const DEFAULT_MONITOR_INTERVAL: Duration = Duration::from_secs(10);

const HOOK_KEYS: [&str; 3] = ["stop", "before_activate", "start"];
const HEALTH_KEYS: [&str; 7] = [
    "command",
    "tcp",
    "http",
    "interval",
    "retries",
    "deadline",
    "monitor_interval",
];
const PROBE_KEYS: [&str; 3] = ["command", "tcp", "http"];
const HOOK_FORMS: &str = "an argv array or a table { run, timeout }";

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// `origin` is the file's path, `convoy.toml` for [`Manifest::parse`], or `manifest` for a
    /// TOML value; `message` starts with the dotted key at fault.
    #[error("invalid {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// One lifecycle hook: an argv run without a shell, killed after `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub run: Vec<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// Stops the running release before the switch.
    pub stop: Option<Hook>,
    /// Runs in the new release before it becomes current (e.g. migrations).
    pub before_activate: Option<Hook>,
    /// Starts the new release once it is current.
    pub start: Option<Hook>,
}

/// What one health probe does. Probes only ever reach this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Passes when the command exits 0.
    Command(Vec<String>),
    /// Passes when a TCP connection to `127.0.0.1:<port>` succeeds.
    Tcp(u16),
    /// Passes on a 2xx answer to a GET; the URL is a valid [`HttpTarget`].
    Http(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSpec {
    pub probe: Probe,
    /// Time between the starts of two probes (default 1s).
    pub interval: Duration,
    /// Failed probes before giving up, so also the most probes made (default 5, at least 1).
    pub retries: u32,
    /// Overall cap from the first probe (default 60s).
    pub deadline: Duration,
    /// Between two probes of the current release once it is running (default 10s); `retries`
    /// failed probes in a row turn it unhealthy, one passing probe healthy again.
    pub monitor_interval: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub hooks: Hooks,
    pub health: Option<HealthSpec>,
}

impl Manifest {
    /// Parses the text of a `convoy.toml`.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        parse_named(text, FILE_NAME)
    }

    /// Reads `<release_dir>/convoy.toml`; a release without one has the default (empty) manifest.
    pub fn load(release_dir: &Path) -> Result<Manifest, ManifestError> {
        let path = release_dir.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => parse_named(&text, &path.display().to_string()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(source) => Err(ManifestError::Read { path, source }),
        }
    }

    /// Checks a TOML table holding the manifest's shape (e.g. the agent config's `[apps.web]`).
    pub fn from_toml_value(value: Value) -> Result<Manifest, ManifestError> {
        manifest_from_value(value).map_err(|message| ManifestError::Invalid {
            origin: "manifest".into(),
            message,
        })
    }

    /// Per-field override: each hook and the health section of `overrides` replace this one's
    /// when set. The health section is replaced whole (its defaults are already filled in), and
    /// an override cannot remove a hook or the health check that the release ships.
    pub fn overridden_by(self, overrides: &Manifest) -> Manifest {
        let hooks = &overrides.hooks;
        Manifest {
            hooks: Hooks {
                stop: hooks.stop.clone().or(self.hooks.stop),
                before_activate: hooks.before_activate.clone().or(self.hooks.before_activate),
                start: hooks.start.clone().or(self.hooks.start),
            },
            health: overrides.health.clone().or(self.health),
        }
    }
}

fn parse_named(text: &str, origin: &str) -> Result<Manifest, ManifestError> {
    let invalid = |message: String| ManifestError::Invalid {
        origin: origin.to_string(),
        message,
    };
    let table: Table =
        toml::from_str(text).map_err(|err| invalid(err.to_string().trim().into()))?;
    manifest_from_value(Value::Table(table)).map_err(invalid)
}

/// Implements `Deserialize` through a [`Value`] and one of the checking functions below, so an
/// embedded section gets the same checks and messages as a `convoy.toml`.
macro_rules! deserialize_via_value {
    ($ty:ty, $check:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = Value::deserialize(deserializer)?;
                $check(value).map_err(serde::de::Error::custom)
            }
        }
    };
}

deserialize_via_value!(Manifest, manifest_from_value);
deserialize_via_value!(Hooks, hooks_from_value);
deserialize_via_value!(HealthSpec, health_from_value);
deserialize_via_value!(Hook, |value| hook_from_value(value, "hook"));

fn manifest_from_value(value: Value) -> Result<Manifest, String> {
    let mut table = into_table(value, "manifest")?;
    check_keys(&table, "", &["hooks", "health"])?;
    let hooks = match table.remove("hooks") {
        Some(value) => hooks_from_value(value)?,
        None => Hooks::default(),
    };
    let health = table.remove("health").map(health_from_value).transpose()?;
    Ok(Manifest { hooks, health })
}

fn hooks_from_value(value: Value) -> Result<Hooks, String> {
    let mut table = into_table(value, "hooks")?;
    check_keys(&table, "hooks.", &HOOK_KEYS)?;
    let mut hook = |name: &str| match table.remove(name) {
        Some(value) => hook_from_value(value, &format!("hooks.{name}")).map(Some),
        None => Ok(None),
    };
    Ok(Hooks {
        stop: hook("stop")?,
        before_activate: hook("before_activate")?,
        start: hook("start")?,
    })
}

fn hook_from_value(value: Value, key: &str) -> Result<Hook, String> {
    match value {
        Value::Array(_) => Ok(Hook {
            run: argv(value, key)?,
            timeout: DEFAULT_HOOK_TIMEOUT,
        }),
        Value::Table(mut table) => {
            check_keys(&table, &format!("{key}."), &["run", "timeout"])?;
            let run = table
                .remove("run")
                .ok_or_else(|| format!("{key}.run: missing (the argv to run)"))?;
            let timeout_key = format!("{key}.timeout");
            Ok(Hook {
                run: argv(run, &format!("{key}.run"))?,
                timeout: duration(table.remove("timeout"), &timeout_key, DEFAULT_HOOK_TIMEOUT)?,
            })
        }
        other => Err(wrong_type(key, HOOK_FORMS, &other)),
    }
}

fn health_from_value(value: Value) -> Result<HealthSpec, String> {
    let mut table = into_table(value, "health")?;
    check_keys(&table, "health.", &HEALTH_KEYS)?;
    let found: Vec<&str> = PROBE_KEYS
        .into_iter()
        .filter(|key| table.contains_key(*key))
        .collect();
    let probe = match (
        table.remove("command"),
        table.remove("tcp"),
        table.remove("http"),
    ) {
        (Some(value), None, None) => Probe::Command(argv(value, "health.command")?),
        (None, Some(value), None) => Probe::Tcp(port(value, "health.tcp")?),
        (None, None, Some(value)) => {
            let url = string(value, "health.http")?;
            HttpTarget::parse(&url).map_err(|err| format!("health.http: {err}"))?;
            Probe::Http(url)
        }
        (None, None, None) => return Err("health: needs one of command, tcp or http".into()),
        _ => {
            let found = found.join(" and ");
            return Err(format!(
                "health: needs exactly one of command, tcp or http, found {found}"
            ));
        }
    };
    let retries = match table.remove("retries") {
        None => DEFAULT_RETRIES,
        Some(value) => {
            let n = integer(value, "health.retries")?;
            u32::try_from(n)
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| format!("health.retries: must be in 1..={}, got {n}", u32::MAX))?
        }
    };
    let (interval, deadline) = (table.remove("interval"), table.remove("deadline"));
    let monitor_interval = table.remove("monitor_interval");
    Ok(HealthSpec {
        probe,
        interval: duration(interval, "health.interval", DEFAULT_INTERVAL)?,
        retries,
        deadline: duration(deadline, "health.deadline", DEFAULT_DEADLINE)?,
        monitor_interval: duration(
            monitor_interval,
            "health.monitor_interval",
            DEFAULT_MONITOR_INTERVAL,
        )?,
    })
}

fn wrong_type(key: &str, wanted: &str, found: &Value) -> String {
    format!("{key}: expected {wanted}, found {}", found.type_str())
}

fn into_table(value: Value, key: &str) -> Result<Table, String> {
    match value {
        Value::Table(table) => Ok(table),
        other => Err(wrong_type(key, "a table", &other)),
    }
}

/// Rejects keys outside `allowed`, naming the first one found; `prefix` is "" or ends in ".".
fn check_keys(table: &Table, prefix: &str, allowed: &[&str]) -> Result<(), String> {
    match table.keys().find(|key| !allowed.contains(&key.as_str())) {
        None => Ok(()),
        Some(key) => Err(format!(
            "{prefix}{key}: unknown key (expected one of: {})",
            allowed.join(", ")
        )),
    }
}

fn argv(value: Value, key: &str) -> Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(wrong_type(key, "an argv array of strings", &value));
    };
    let argv = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) if s.contains('\0') => Err(format!("{key}[{i}]: contains a nul byte")),
            Value::String(s) => Ok(s),
            other => Err(wrong_type(&format!("{key}[{i}]"), "a string", &other)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    match argv.first() {
        Some(program) if !program.is_empty() => Ok(argv),
        _ => Err(format!("{key}: needs a program to run")),
    }
}

/// A duration like "30s" (greater than zero), or `default` when the key is not set.
fn duration(value: Option<Value>, key: &str, default: Duration) -> Result<Duration, String> {
    let text = match value {
        None => return Ok(default),
        Some(value) => string(value, key)?,
    };
    let duration = humantime_serde::re::humantime::parse_duration(&text)
        .map_err(|err| format!("{key}: invalid duration {text:?} (like \"30s\"): {err}"))?;
    if duration.is_zero() {
        return Err(format!("{key}: must be greater than zero"));
    }
    Ok(duration)
}

fn string(value: Value, key: &str) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(wrong_type(key, "a string", &other)),
    }
}

fn integer(value: Value, key: &str) -> Result<i64, String> {
    match value {
        Value::Integer(n) => Ok(n),
        other => Err(wrong_type(key, "an integer", &other)),
    }
}

fn port(value: Value, key: &str) -> Result<u16, String> {
    let n = integer(value, key)?;
    match u16::try_from(n) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(format!("{key}: port must be in 1..=65535, got {n}")),
    }
}

#[cfg(test)]
mod tests;
