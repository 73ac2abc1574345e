//! `convoy serve` configuration: a TOML file turned into a validated [`Config`].
//!
//! Unknown keys are an error, and every error names the file, the line and the key.
//! Relative paths in the file are resolved against the file's own directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub mod monitor;
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
    /// `[[scaling]]`: target-tracking scaling policies (see `config/scaling.rs`).
    pub scaling: Vec<scaling::ScalingPolicy>,
}

/// `[ca]` in coordinator.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuingCa {
    /// The issuing CA's certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// Lifetime of an enrolled agent's certificate, in days.
    #[serde(default = "default_agent_cert_days")]
    pub agent_cert_days: u32,
    /// The same as a duration (`"30d"`, `"12h"`, at least 10 s); wins over
    /// `agent_cert_days` when set.
    #[serde(default, with = "humantime_serde")]
    pub agent_cert_lifetime: Option<Duration>,
    /// Enroll calls admitted per source IP per minute (raise it for many hosts behind one
    /// NAT address enrolling at once).
    #[serde(default = "default_enrolls_per_ip")]
    pub enrolls_per_ip_per_minute: usize,
}

impl IssuingCa {
    /// The lifetime of the agent certificates it signs.
    pub fn lifetime(&self) -> Duration {
        self.agent_cert_lifetime.unwrap_or(Duration::from_secs(
            u64::from(self.agent_cert_days) * 86_400,
        ))
    }
}

fn default_enrolls_per_ip() -> usize {
    crate::enroll::ENROLLS_PER_IP
}

fn default_agent_cert_days() -> u32 {
    30
}

/// `[backups]`: what the coordinator keeps. Retention is decided here alone: a host's upload
/// never says how many backups to keep.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupsConfig {
    /// No backup younger than this is ever pruned, whatever a rule or schedule says.
    #[serde(with = "humantime_serde")]
    pub min_retention: Duration,
    /// Stored bytes (archives and manifests) per host; an upload that would pass it is
    /// refused as its bytes arrive. None: unlimited.
    pub max_bytes_per_host: Option<u64>,
    /// Complete backups kept per host and set when no schedule or rule says (0 = keep all).
    pub keep: u32,
    /// `[[backups.retention]]`: the first rule whose `set` and `hosts` globs match decides.
    pub retention: Vec<RetentionRule>,
}

impl Default for BackupsConfig {
    fn default() -> Self {
        Self {
            min_retention: Duration::from_secs(7 * 24 * 3600),
            max_bytes_per_host: None,
            keep: 0,
            retention: Vec::new(),
        }
    }
}

/// One retention rule: `set` and `hosts` are globs (default `*`) on the set name and the
/// host id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    #[serde(default = "any")]
    pub set: String,
    #[serde(default = "any")]
    pub hosts: String,
    pub keep: u32,
}

fn any() -> String {
    "*".to_string()
}

impl RetentionRule {
    /// Whether the rule covers this host and set (globs were checked at load).
    pub fn matches(&self, host: &str, set: &str) -> bool {
        let glob = |pattern: &str, text: &str| {
            globset::Glob::new(pattern).is_ok_and(|g| g.compile_matcher().is_match(text))
        };
        glob(&self.set, set) && glob(&self.hosts, host)
    }
}

impl BackupsConfig {
    fn check(&self) -> Result<(), String> {
        if self.max_bytes_per_host == Some(0) {
            return Err(
                "backups.max_bytes_per_host must be greater than zero (omit it for no quota)"
                    .into(),
            );
        }
        for (index, rule) in self.retention.iter().enumerate() {
            for (key, pattern) in [("set", &rule.set), ("hosts", &rule.hosts)] {
                globset::Glob::new(pattern).map_err(|err| {
                    format!("backups.retention[{index}].{key}: {pattern:?}: {err}")
                })?;
            }
        }
        Ok(())
    }
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

/// Bounds on connections that have not finished their TLS handshake (unauthenticated
/// clients), so that idle or slow ones cannot keep agents and operators out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HandshakeLimits {
    /// Handshakes pending at once over all clients; when full, a new connection sheds the
    /// oldest pending one (accept never waits).
    pub pending_handshakes: usize,
    /// Handshakes pending at once from one source IP (an IPv6 /64 counts as one); beyond
    /// it a new connection from that IP sheds that IP's oldest one, so one address cannot
    /// crowd out the others.
    pub pending_handshakes_per_ip: usize,
    /// Time from accept until the client's first TLS record (the ClientHello) is in.
    #[serde(with = "humantime_serde")]
    pub first_record_timeout: Duration,
    /// Time from accept until the whole handshake is done.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        Self {
            pending_handshakes: 512,
            // A healthy client's handshake takes a few milliseconds, so 64 at once from one
            // address is a connect storm from behind a NAT, not one host. The swarm benches
            // connect at most 64 agents at a time in all (over 8 source addresses), so even
            // with one address they stay under it.
            pending_handshakes_per_ip: 64,
            first_record_timeout: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl HandshakeLimits {
    fn validate(&self) -> Result<(), String> {
        if self.pending_handshakes == 0 || self.pending_handshakes > 65_536 {
            return Err("limits.pending_handshakes must be between 1 and 65536".into());
        }
        if self.pending_handshakes_per_ip == 0
            || self.pending_handshakes_per_ip > self.pending_handshakes
        {
            return Err(format!(
                "limits.pending_handshakes_per_ip must be between 1 and limits.pending_handshakes ({})",
                self.pending_handshakes
            ));
        }
        if self.first_record_timeout.is_zero() {
            return Err("limits.first_record_timeout must be greater than zero".into());
        }
        if self.handshake_timeout < self.first_record_timeout {
            return Err(format!(
                "limits.handshake_timeout ({}) must be at least limits.first_record_timeout ({})",
                humantime::format_duration(self.handshake_timeout),
                humantime::format_duration(self.first_record_timeout)
            ));
        }
        Ok(())
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
