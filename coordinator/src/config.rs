//! `convoy serve` configuration: a TOML file turned into a validated [`Config`].
//!
//! Unknown keys are an error, and every error names the file, the line and the key.
//! Relative paths in the file are resolved against the file's own directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub mod environments;
pub mod monitor;
mod sections;
pub mod snapshots;

pub use sections::*;
pub mod scaling;

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
    /// Retention, minimum age and quota of the backup store (`[backups]`).
    pub backups: BackupsConfig,
    /// `[limits]`: how many TLS handshakes may be pending, and for how long.
    pub handshakes: HandshakeLimits,
    /// `[[policies]]`: scoped operator permissions (see `policy`).
    pub policies: Vec<crate::policy::PolicyConfig>,
    /// `[ca]`: the issuing CA (the fleet CA or an intermediate) that signs enrolled
    /// agents' certificates. None: enrollment is off.
    pub ca: Option<IssuingCa>,
    /// `[[environments]]`, in order (see `environments`).
    pub environments: Vec<environments::Environment>,
    /// `[snapshots]`: scheduled snapshots of the coordinator's state (`config/snapshots.rs`).
    pub snapshots: snapshots::SnapshotsConfig,
    /// `[[scaling]]`: target-tracking scaling policies (see `config/scaling.rs`).
    pub scaling: Vec<scaling::ScalingPolicy>,
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
    backups: BackupsConfig,
    #[serde(default)]
    limits: HandshakeLimits,
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
    #[serde(default)]
    ca: Option<IssuingCa>,
    #[serde(default)]
    policies: Vec<crate::policy::PolicyConfig>,
    #[serde(default)]
    environments: Vec<environments::EnvironmentConfig>,
    #[serde(default)]
    snapshots: snapshots::SnapshotsConfig,
    #[serde(default)]
    scaling: Vec<scaling::ScalingConfig>,
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
        raw.backups.check()?;
        raw.limits.validate()?;
        raw.history.validate()?;
        let alerts = monitor::validate(&raw.metrics, &raw.alerts, &raw.notify)?;
        let scaling = scaling::validate(raw.scaling, &raw.notify)?;
        for policy in &raw.policies {
            policy.validate()?;
        }
        if let Some(ca) = &raw.ca {
            if ca.agent_cert_days == 0 || ca.agent_cert_days > 3650 {
                return Err("ca.agent_cert_days must be between 1 and 3650".into());
            }
            if ca.agent_cert_lifetime.is_some_and(|lifetime| {
                lifetime < crate::pki::Validity::MIN_LIFETIME
                    || lifetime > Duration::from_secs(3650 * 86_400)
            }) {
                return Err("ca.agent_cert_lifetime must be between 10s and 3650d".into());
            }
            if ca.enrolls_per_ip_per_minute == 0 {
                return Err("ca.enrolls_per_ip_per_minute must be at least 1".into());
            }
        }
        let environments = environments::validate(&raw.environments)?;
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let snapshots = raw
            .snapshots
            .resolved(resolve, &resolve(raw.data_dir.clone()))?;
        Ok(Self {
            snapshots,
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
            backups: raw.backups,
            handshakes: raw.limits,
            monitor: monitor::MonitorSettings {
                metrics: raw.metrics,
                history: raw.history,
                events: raw.events,
                alerts,
                notify: raw.notify,
            },
            policies: raw.policies,
            ca: raw.ca.map(|ca| IssuingCa {
                cert: resolve(ca.cert),
                key: resolve(ca.key),
                agent_cert_days: ca.agent_cert_days,
                agent_cert_lifetime: ca.agent_cert_lifetime,
                enrolls_per_ip_per_minute: ca.enrolls_per_ip_per_minute,
            }),
            environments,
            scaling,
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
        let switched_on = super::Config::parse(&examples, std::path::Path::new("/etc/convoy"))
            .expect("every example parses");
        assert_eq!(switched_on.backups.retention.len(), 1);
        assert!(switched_on.backups.max_bytes_per_host.is_some());
        let defaults = super::AgentsConfig::default();
        assert_eq!(
            (
                config.agents.heartbeat_interval,
                config.agents.offline_after
            ),
            (defaults.heartbeat_interval, defaults.offline_after)
        );
        assert_eq!(config.handshakes, super::HandshakeLimits::default());
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
    fn handshake_limits_parse_and_default() {
        let config = Config::parse(GOOD, Path::new("/")).unwrap();
        assert_eq!(config.handshakes, HandshakeLimits::default());
        let text = GOOD.replace(
            "[agents]",
            "[limits]\npending_handshakes = 2048\npending_handshakes_per_ip = 16\n\
             first_record_timeout = \"2s\"\nhandshake_timeout = \"5s\"\n[agents]",
        );
        let config = Config::parse(&text, Path::new("/")).unwrap();
        assert_eq!(
            config.handshakes,
            HandshakeLimits {
                pending_handshakes: 2048,
                pending_handshakes_per_ip: 16,
                first_record_timeout: Duration::from_secs(2),
                handshake_timeout: Duration::from_secs(5),
            }
        );
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
    fn backups_table_parses_with_defaults_and_rules() {
        let base = Path::new("/");
        let defaults = Config::parse(GOOD, base).unwrap().backups;
        assert_eq!(defaults.min_retention, Duration::from_secs(7 * 24 * 3600));
        assert_eq!((defaults.max_bytes_per_host, defaults.keep), (None, 0));
        let text = format!(
            "{GOOD}[backups]\nmin_retention = \"3d\"\nmax_bytes_per_host = 1000\nkeep = 4\n\
             [[backups.retention]]\nset = \"db\"\nhosts = \"db-*\"\nkeep = 14\n"
        );
        let backups = Config::parse(&text, base).unwrap().backups;
        assert_eq!(backups.min_retention, Duration::from_secs(3 * 24 * 3600));
        assert_eq!((backups.max_bytes_per_host, backups.keep), (Some(1000), 4));
        assert!(backups.retention[0].matches("db-7", "db"));
        assert!(!backups.retention[0].matches("web-1", "db"));
        for bad in [
            "[backups]\nmin_retention = \"soon\"\n",
            "[backups]\nmax_bytes_per_host = 0\n",
            "[backups]\nkeep = -1\n",
            "[[backups.retention]]\nhosts = \"db-[\"\nkeep = 1\n",
            "[[backups.retention]]\nhosts = \"db-*\"\n",
            "[backups]\nretain = 3\n",
        ] {
            assert!(
                Config::parse(&format!("{GOOD}{bad}"), base).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_values_are_refused() {
        let base = Path::new("/");
        for (from, to) in [
            ("\"2s\"", "\"soon\""),
            ("\"10s\"", "\"1s\""),
            ("\"2s\"", "\"0s\""),
            ("127.0.0.1:9000", "nowhere"),
            ("[agents]", "[limits]\npending_handshakes = 0\n[agents]"),
            (
                "[agents]",
                "[limits]\npending_handshakes_per_ip = 0\n[agents]",
            ),
            (
                "[agents]",
                "[limits]\npending_handshakes = 8\npending_handshakes_per_ip = 9\n[agents]",
            ),
            (
                "[agents]",
                "[limits]\nfirst_record_timeout = \"0s\"\n[agents]",
            ),
            ("[agents]", "[limits]\nhandshake_timeout = \"1s\"\n[agents]"),
        ] {
            let text = GOOD.replacen(from, to, 1);
            assert!(Config::parse(&text, base).is_err(), "{from} -> {to}");
        }
        assert!(Config::parse("listen = \"127.0.0.1:1\"", base).is_err());
    }
}
