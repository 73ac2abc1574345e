//! `convoy serve` configuration: a TOML file turned into a validated [`Config`].
//!
//! Unknown keys are an error, and every error names the file, the line and the key.
//! Relative paths in the file are resolved against the file's own directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub mod monitor;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The validated coordinator configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address of the one TLS port serving `AgentLink`, `Admin` and gRPC health.
    pub listen: SocketAddr,
    /// Where the store (sled) lives.
    pub data_dir: PathBuf,
    pub tls: TlsFiles,
    pub agents: AgentsConfig,
    pub jobs: JobsConfig,
    /// Release signing keys (`NAME.pub`, as on the agents): a signed push is verified
    /// against them and refused when it does not verify; only then is it shown as
    /// "signed by NAME". Empty: signatures are stored as claimed and shown as unverified.
    pub release_public_keys: Vec<PathBuf>,
    /// `[metrics]`, `[history]`, `[events]`, `[[alerts]]` (parsed) and `[[notify]]`.
    pub monitor: monitor::MonitorSettings,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Output kept per command on the coordinator; the rest is counted, not stored.
    pub output_cap_bytes: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            output_cap_bytes: crate::dispatch::DEFAULT_OUTPUT_CAP,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The fleet CA certificate; every client certificate must chain to it.
    pub ca: PathBuf,
    /// The coordinator's server certificate.
    pub cert: PathBuf,
    /// The coordinator's private key.
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsConfig {
    /// How often agents send a heartbeat (told to them in the Welcome).
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// An agent without a heartbeat for this long is marked offline.
    #[serde(with = "humantime_serde")]
    pub offline_after: Duration,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(5),
            // Under 3 heartbeats, so that with the sweep's own delay (offline_after / 20) a silent
            // agent is shown offline within 3 heartbeat intervals.
            offline_after: Duration::from_secs(13),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_listen")]
    listen: SocketAddr,
    data_dir: PathBuf,
    tls: TlsFiles,
    #[serde(default)]
    agents: AgentsConfig,
    #[serde(default)]
    jobs: JobsConfig,
    #[serde(default)]
    release_public_keys: Vec<PathBuf>,
    #[serde(default)]
    metrics: monitor::MetricsConfig,
    #[serde(default)]
    history: crate::history::HistoryConfig,
    #[serde(default)]
    events: crate::events::EventsConfig,
    #[serde(default)]
    alerts: Vec<monitor::AlertConfig>,
    #[serde(default)]
    notify: Vec<monitor::NotifyConfig>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7443))
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses config text; relative paths are taken relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|err| err.to_string().trim().to_string())?;
        if raw.agents.heartbeat_interval.is_zero() {
            return Err("agents.heartbeat_interval must be greater than zero".into());
        }
        if raw.jobs.output_cap_bytes > 1024 * 1024 * 1024 {
            return Err("jobs.output_cap_bytes must be at most 1 GiB".into());
        }
        if raw.agents.offline_after <= raw.agents.heartbeat_interval {
            return Err(format!(
                "agents.offline_after ({}) must be longer than agents.heartbeat_interval ({})",
                humantime::format_duration(raw.agents.offline_after),
                humantime::format_duration(raw.agents.heartbeat_interval)
            ));
        }
        raw.history.validate()?;
        let alerts = monitor::validate(&raw.metrics, &raw.alerts, &raw.notify)?;
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        Ok(Self {
            listen: raw.listen,
            data_dir: resolve(raw.data_dir),
            tls: TlsFiles {
                ca: resolve(raw.tls.ca),
                cert: resolve(raw.tls.cert),
                key: resolve(raw.tls.key),
            },
            agents: raw.agents,
            jobs: raw.jobs,
            release_public_keys: raw.release_public_keys.into_iter().map(resolve).collect(),
            monitor: monitor::MonitorSettings {
                metrics: raw.metrics,
                history: raw.history,
                events: raw.events,
                alerts,
                notify: raw.notify,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    /// The annotated config shipped in packaging/ parses, with the documented defaults.
    #[test]
    fn the_packaged_config_parses() {
        let shipped = include_str!("../../packaging/config/coordinator.toml");
        let config = super::Config::parse(shipped, std::path::Path::new("/etc/convoy"))
            .expect("the shipped coordinator.toml parses");
        let defaults = super::AgentsConfig::default();
        assert_eq!(
            (
                config.agents.heartbeat_interval,
                config.agents.offline_after
            ),
            (defaults.heartbeat_interval, defaults.offline_after)
        );
    }

    use super::*;

    const GOOD: &str = r#"
listen = "127.0.0.1:9000"
data_dir = "data"
[tls]
ca = "pki/ca.pem"
cert = "pki/coordinator.pem"
key = "/etc/convoy/coordinator.key"
[agents]
heartbeat_interval = "2s"
offline_after = "10s"
"#;

    #[test]
    fn parses_and_resolves_relative_paths() {
        let config = Config::parse(GOOD, Path::new("/etc/convoy")).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.data_dir, PathBuf::from("/etc/convoy/data"));
        assert_eq!(config.tls.ca, PathBuf::from("/etc/convoy/pki/ca.pem"));
        assert_eq!(config.tls.key, PathBuf::from("/etc/convoy/coordinator.key"));
        assert_eq!(config.agents.heartbeat_interval, Duration::from_secs(2));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coordinator.toml");
        let text = GOOD.replace("[agents]\n", "[agents]\nheartbeat_intervall = \"1s\"\n");
        std::fs::write(&path, text).unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("coordinator.toml"), "{err}");
        assert!(err.contains("line 9"), "{err}");
        assert!(err.contains("heartbeat_intervall"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        let base = Path::new("/");
        for (from, to) in [
            ("\"2s\"", "\"soon\""),
            ("\"10s\"", "\"1s\""),
            ("\"2s\"", "\"0s\""),
            ("127.0.0.1:9000", "nowhere"),
        ] {
            let text = GOOD.replacen(from, to, 1);
            assert!(Config::parse(&text, base).is_err(), "{from} -> {to}");
        }
        assert!(Config::parse("listen = \"127.0.0.1:1\"", base).is_err());
    }
}
