//! `convoy-agent` configuration: a TOML file turned into a validated [`Config`].
//!
//! Unknown keys are an error and every error names the file, the line and the key.
//! Relative paths are resolved against the config file's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::deploy::manifest::Manifest;
use crate::signals::config::AppSignals;

/// `[apps.NAME]`: the release manifest's overrides (hooks, health), checked as a
/// `convoy.toml` is, plus the agent-only `signals` table, kept aside to be checked with the
/// app's name.
#[derive(Debug)]
struct RawApp {
    manifest: Manifest,
    signals: Option<toml::Value>,
}

impl<'de> Deserialize<'de> for RawApp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = toml::Value::deserialize(deserializer)?;
        let signals = value.as_table_mut().and_then(|t| t.remove("signals"));
        let manifest = Manifest::deserialize(value).map_err(serde::de::Error::custom)?;
        Ok(RawApp { manifest, signals })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {source}")]
    Invalid {
        path: PathBuf,
        source: InvalidConfig,
    },
}

/// Why a config's text is refused ([`Config::parse`]); the text names the key at fault
/// (and, for a syntax error, the line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidConfig {
    /// Not TOML, or not the config's shape (unknown key, wrong type): toml's message.
    #[error("{0}")]
    Syntax(String),
    #[error(transparent)]
    Params(#[from] crate::params::DeclarationError),
    #[error(transparent)]
    Signals(#[from] crate::signals::config::SignalsConfigError),
    /// Any other key with a value the agent refuses.
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The coordinator's address, e.g. `https://coordinator.example:7443`.
    pub coordinator: String,
    /// Where the agent keeps its state.
    pub data_dir: PathBuf,
    pub tls: TlsFiles,
    /// Labels sent in every Hello; selectors match on them.
    pub labels: BTreeMap<String, String>,
    /// How often metrics are sampled and sent; by default the coordinator's
    /// heartbeat interval (from its Welcome).
    pub metrics_interval: Option<Duration>,
    /// The allow-list: the only things the coordinator can ask this host to run.
    pub actions: BTreeMap<String, ActionConfig>,
    /// Apps this host may deploy, each with optional overrides of the release's
    /// `convoy.toml` (`[apps.web.hooks]`, `[apps.web.health]`).
    pub apps: BTreeMap<String, Manifest>,
    /// `[apps.NAME.signals]`: by app, the metrics endpoint and named signals the agent
    /// scrapes and reports in heartbeats (agent config only, never a release's).
    pub app_signals: BTreeMap<String, AppSignals>,
    /// Public keys (`NAME.pub` from `convoy release keygen`); when any is listed, releases
    /// not signed by one of them are refused.
    pub release_public_keys: Vec<PathBuf>,
    /// Opt-out of required signatures: with no `release_public_keys`, run releases nobody
    /// signed. Off by default: a host with neither refuses every deploy. Reported in Hello.
    pub allow_unsigned_releases: bool,
    /// Releases kept per app for instant rollback (the current one included).
    pub keep_releases: usize,
    /// An archive that would unpack to more than this is refused.
    pub max_release_bytes: u64,
    /// Backup sets (`[backup.sets.NAME]`): the only things this host backs up or restores.
    pub backup_sets: BTreeMap<String, BackupSetConfig>,
    /// `[backup] restore_roots`: the only directories a restore may write under. None: a
    /// set's own paths for in-place restores and `<data_dir>/restores/` for `--to`.
    pub backup_restore_roots: Option<Vec<PathBuf>>,
    /// `[backup] accept_restores_from`: globs on the host ids whose backups this host may
    /// restore (its own always).
    pub backup_accept_restores_from: Vec<String>,
}

/// One backup set: what to back up, how to prepare, how many to keep.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BackupSetConfig {
    /// Absolute paths to back up (directories are walked; symlinks are not followed).
    pub paths: Vec<PathBuf>,
    /// Glob patterns matched against file names and paths, e.g. `*.tmp`.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// A program (argv, never a shell string) run before the backup, e.g. a database dump;
    /// the backup fails if it fails.
    #[serde(default)]
    pub before: Vec<String>,
    /// `before` is killed after this long.
    #[serde(default = "default_before_timeout", with = "humantime_serde")]
    pub before_timeout: Duration,
    /// Ignored: how many backups are kept is the coordinator's decision (`[backups]` in
    /// `coordinator.toml`). Still accepted, with a warning at load, so old configs load.
    #[serde(default)]
    pub keep: u32,
}

fn default_before_timeout() -> Duration {
    Duration::from_secs(600)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackup {
    #[serde(default)]
    sets: BTreeMap<String, BackupSetConfig>,
    #[serde(default)]
    restore_roots: Option<Vec<PathBuf>>,
    #[serde(default)]
    accept_restores_from: Vec<String>,
}

impl RawBackup {
    /// Checks the `[backup]` table and warns about keys that no longer do anything.
    fn check(&self) -> Result<(), String> {
        for (name, set) in &self.sets {
            check_backup_set(name, set)?;
            if set.keep != 0 {
                tracing::warn!(set = %name, keep = set.keep, "backup.sets.{name}.keep is ignored: retention is decided by the coordinator ([backups] in coordinator.toml)");
            }
        }
        for root in self.restore_roots.iter().flatten() {
            if !clean_absolute(root) {
                return Err(format!(
                    "backup.restore_roots: {} must be absolute, without . or ..",
                    root.display()
                ));
            }
        }
        for pattern in &self.accept_restores_from {
            globset::Glob::new(pattern)
                .map_err(|err| format!("backup.accept_restores_from: {pattern:?}: {err}"))?;
        }
        Ok(())
    }
}

/// Absolute and made only of plain names (no `.` or `..`).
fn clean_absolute(path: &Path) -> bool {
    let mut parts = path.components();
    parts.next() == Some(std::path::Component::RootDir)
        && parts.all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// One allow-listed action: an argv (never a shell string) and its limits.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// Program and arguments.
    pub run: Vec<String>,
    /// Killed (whole process group) after this long.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Added to the agent's environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory (default: the agent's).
    #[serde(default)]
    pub working_dir: Option<PathBuf>,
    /// Between SIGTERM and SIGKILL when a timeout or cancel stops it.
    #[serde(default = "default_kill_grace", with = "humantime_serde")]
    pub kill_grace: Duration,
    /// Parameters the operator passes (`--param P=V`), each with its allow-list or
    /// pattern; `{P}` in `run` is replaced by the value (see [`crate::params`]).
    #[serde(default)]
    pub params: BTreeMap<String, crate::params::ParamConfig>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(600)
}

fn default_kill_grace() -> Duration {
    Duration::from_secs(10)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    coordinator: String,
    data_dir: PathBuf,
    tls: TlsFiles,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default, with = "humantime_serde")]
    metrics_interval: Option<Duration>,
    #[serde(default)]
    actions: BTreeMap<String, ActionConfig>,
    #[serde(default)]
    apps: BTreeMap<String, RawApp>,
    #[serde(default)]
    release_public_keys: Vec<PathBuf>,
    #[serde(default)]
    allow_unsigned_releases: bool,
    #[serde(default = "default_keep_releases")]
    keep_releases: usize,
    #[serde(default = "default_max_release_bytes")]
    max_release_bytes: u64,
    #[serde(default)]
    backup: RawBackup,
}

fn default_keep_releases() -> usize {
    3
}

fn default_max_release_bytes() -> u64 {
    4 * 1024 * 1024 * 1024
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|source| ConfigError::Invalid {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn parse(text: &str, base: &Path) -> Result<Self, InvalidConfig> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|err| InvalidConfig::Syntax(err.to_string().trim().to_string()))?;
        Self::from_raw(raw, base)
    }

    /// [`Config::parse`]'s checks of the parsed file.
    fn from_raw(raw: RawConfig, base: &Path) -> Result<Self, InvalidConfig> {
        let invalid = InvalidConfig::Invalid;
        if !(raw.coordinator.starts_with("https://")) {
            return Err(invalid(format!(
                "coordinator {:?} must be an https:// address",
                raw.coordinator
            )));
        }
        for (key, value) in &raw.labels {
            convoy_proto::labels::validate_label(key, value)
                .map_err(|err| invalid(format!("labels: {err}")))?;
        }
        if raw.labels.len() > 64 {
            return Err(invalid("labels: at most 64 labels are allowed".into()));
        }
        if let Some(interval) = raw.metrics_interval {
            if interval < Duration::from_millis(100) {
                return Err(invalid("metrics_interval must be at least 100ms".into()));
            }
        }
        for (name, action) in &raw.actions {
            if !valid_action_name(name) {
                return Err(invalid(format!(
                    "actions.{name}: invalid action name: expected [a-z0-9][a-z0-9._-]*, at most 63 characters"
                )));
            }
            if action.run.is_empty() || action.run[0].is_empty() {
                return Err(invalid(format!(
                    "actions.{name}.run: needs a program to run"
                )));
            }
            if action.timeout.is_zero() {
                return Err(invalid(format!(
                    "actions.{name}.timeout must be greater than zero"
                )));
            }
            crate::params::check_declared(name, &action.run, &action.params)?;
        }
        let mut apps = BTreeMap::new();
        let mut app_signals = BTreeMap::new();
        for (app, raw_app) in raw.apps {
            if !valid_action_name(&app) {
                return Err(invalid(format!(
                    "apps.{app}: invalid app name: expected [a-z0-9][a-z0-9._-]*, at most 63 characters"
                )));
            }
            if let Some(signals) = raw_app.signals {
                let signals = crate::signals::config::from_value(&app, signals)?;
                app_signals.insert(app.clone(), signals);
            }
            apps.insert(app, raw_app.manifest);
        }
        crate::signals::config::check_all(&app_signals)?;
        raw.backup.check().map_err(invalid)?;
        if raw.keep_releases == 0 {
            return Err(invalid("keep_releases must be at least 1".into()));
        }
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        Ok(Self {
            coordinator: raw.coordinator,
            data_dir: resolve(raw.data_dir),
            tls: TlsFiles {
                ca: resolve(raw.tls.ca),
                cert: resolve(raw.tls.cert),
                key: resolve(raw.tls.key),
            },
            labels: raw.labels,
            metrics_interval: raw.metrics_interval,
            actions: raw.actions,
            apps,
            app_signals,
            release_public_keys: raw.release_public_keys.into_iter().map(resolve).collect(),
            allow_unsigned_releases: raw.allow_unsigned_releases,
            keep_releases: raw.keep_releases,
            max_release_bytes: raw.max_release_bytes,
            backup_sets: raw.backup.sets,
            backup_restore_roots: raw.backup.restore_roots,
            backup_accept_restores_from: raw.backup.accept_restores_from,
        })
    }
}

fn check_backup_set(name: &str, set: &BackupSetConfig) -> Result<(), String> {
    if !valid_action_name(name) {
        return Err(format!(
            "backup.sets.{name}: invalid set name: expected [a-z0-9][a-z0-9._-]*, at most 63 characters"
        ));
    }
    if set.paths.is_empty() {
        return Err(format!("backup.sets.{name}.paths: needs at least one path"));
    }
    for path in &set.paths {
        if !clean_absolute(path) {
            return Err(format!(
                "backup.sets.{name}.paths: {} must be absolute, without . or ..",
                path.display()
            ));
        }
    }
    for pattern in &set.exclude {
        globset::Glob::new(pattern)
            .map_err(|err| format!("backup.sets.{name}.exclude: {pattern:?}: {err}"))?;
    }
    if set.before.first().is_some_and(String::is_empty) {
        return Err(format!("backup.sets.{name}.before: needs a program to run"));
    }
    if set.before_timeout.is_zero() {
        return Err(format!(
            "backup.sets.{name}.before_timeout must be greater than zero"
        ));
    }
    Ok(())
}

pub use convoy_proto::labels::valid_action_name;

#[cfg(test)]
mod tests {
    use super::Config;

    /// The annotated config shipped in packaging/ parses as it is, and with every commented
    /// example switched on.
    #[test]
    fn the_packaged_config_and_its_examples_parse() {
        let shipped = include_str!("../../packaging/config/agent.toml");
        let base = std::path::Path::new("/etc/convoy");
        Config::parse(shipped, base).expect("the shipped agent.toml parses");
        let examples: String = shipped
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once(" = ").is_some_and(|(key, _)| {
                            key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        }) =>
                {
                    rest
                }
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let config = Config::parse(&examples, base).expect("every example parses");
        assert!(config.actions.contains_key("uptime") && config.apps.contains_key("web"));
        let restart = &config.actions["restart"];
        assert_eq!(
            restart.params["unit"].allow.as_deref(),
            Some(&["nginx".to_string(), "app".to_string()][..])
        );
    }

    use super::*;

    const GOOD: &str = r#"
coordinator = "https://127.0.0.1:7443"
data_dir = "state"
metrics_interval = "1s"
[tls]
ca = "pki/ca.pem"
cert = "pki/web-1.pem"
key = "pki/web-1.key"
[labels]
role = "web"
zone = "a"
[actions.restart-nginx]
run = ["systemctl", "restart", "nginx"]
timeout = "60s"
[apps.web]
[apps.api.health]
tcp = 8080
[actions.report]
run = ["/usr/local/bin/report"]
env = { MODE = "short" }
working_dir = "/tmp"
[backup.sets.pgdata]
paths = ["/var/lib/app", "/etc/app"]
exclude = ["*.tmp"]
before = ["pg_dump", "-f", "/var/lib/app/dump.sql", "app"]
keep = 7
"#;

    #[test]
    fn parses() {
        let config = Config::parse(GOOD, Path::new("/etc/convoy")).unwrap();
        assert_eq!(config.labels["zone"], "a");
        assert_eq!(config.data_dir, PathBuf::from("/etc/convoy/state"));
        assert_eq!(config.metrics_interval, Some(Duration::from_secs(1)));
        assert_eq!(
            config.actions["restart-nginx"].timeout,
            Duration::from_secs(60)
        );
        assert_eq!(config.actions["report"].timeout, Duration::from_secs(600));
        assert_eq!(config.actions["report"].env["MODE"], "short");
        assert_eq!(config.apps.len(), 2);
        assert!(config.apps["api"].health.is_some() && config.apps["web"].health.is_none());
        assert_eq!(config.keep_releases, 3);
        // Signatures are required unless a host opts out, by name.
        assert!(!config.allow_unsigned_releases);
        let opted_out = format!("allow_unsigned_releases = true\n{GOOD}");
        assert!(
            Config::parse(&opted_out, Path::new("/"))
                .unwrap()
                .allow_unsigned_releases
        );
        let set = &config.backup_sets["pgdata"];
        assert_eq!(set.paths.len(), 2);
        assert_eq!(set.keep, 7, "accepted (and ignored, with a warning)");
        assert_eq!(config.backup_restore_roots, None);
        assert!(config.backup_accept_restores_from.is_empty());
        assert_eq!(set.before[0], "pg_dump");
        assert_eq!(set.before_timeout, Duration::from_secs(600));
    }

    #[test]
    fn restore_roots_and_accepted_sources_parse() {
        let text = GOOD.replace(
            "[backup.sets.pgdata]",
            "[backup]\nrestore_roots = [\"/srv/restores\"]\naccept_restores_from = [\"db-*\"]\n[backup.sets.pgdata]",
        );
        let config = Config::parse(&text, Path::new("/etc/convoy")).unwrap();
        assert_eq!(
            config.backup_restore_roots,
            Some(vec![PathBuf::from("/srv/restores")])
        );
        assert_eq!(config.backup_accept_restores_from, vec!["db-*".to_string()]);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, GOOD.replace("[labels]", "[labels]\n[tls2]\nx = 1")).unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("agent.toml") && err.contains("line 10") && err.contains("tls2"),
            "{err}"
        );
    }

    #[test]
    fn bad_values() {
        let base = Path::new("/");
        for (from, to) in [
            ("https://127.0.0.1:7443", "http://127.0.0.1:7443"),
            ("role = \"web\"", "role = \"we b\""),
            ("\"1s\"", "\"1ms\""),
            ("\"1s\"", "\"often\""),
            ("[actions.report]", "[actions.Report]"),
            ("tcp = 8080", "tcp = 0"),
            ("[apps.web]", "[apps.Web]"),
            ("run = [\"/usr/local/bin/report\"]", "run = []"),
            (
                "run = [\"/usr/local/bin/report\"]",
                "run = \"/usr/local/bin/report --all\"",
            ),
            ("timeout = \"60s\"", "timeout = \"0s\""),
            ("working_dir = \"/tmp\"", "shell = true"),
            ("[backup.sets.pgdata]", "[backup.sets.PgData]"),
            ("\"/etc/app\"]", "\"etc/app\"]"),
            ("\"/etc/app\"]", "\"/etc/../app\"]"),
            ("paths = [\"/var/lib/app\", \"/etc/app\"]", "paths = []"),
            ("exclude = [\"*.tmp\"]", "exclude = [\"a[\"]"),
            ("keep = 7", "keep = -1"),
            ("keep = 7", "retain = 7"),
            (
                "metrics_interval",
                "allow_unsigned_releases = \"yes\"\nmetrics_interval",
            ),
            ("[backup.sets.pgdata]", "[backup.other]"),
            (
                "[backup.sets.pgdata]",
                "[backup]\nrestore_roots = [\"restores\"]\n[backup.sets.pgdata]",
            ),
            (
                "[backup.sets.pgdata]",
                "[backup]\nrestore_roots = [\"/srv/../etc\"]\n[backup.sets.pgdata]",
            ),
            (
                "[backup.sets.pgdata]",
                "[backup]\naccept_restores_from = [\"db-[\"]\n[backup.sets.pgdata]",
            ),
        ] {
            assert!(
                Config::parse(&GOOD.replace(from, to), base).is_err(),
                "{to}"
            );
        }
    }
}
