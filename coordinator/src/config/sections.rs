//! The tables of coordinator.toml beside the top level (`[ca]`, `[backups]`, `[jobs]`,
//! `[handshakes]`, `[tls]`, `[agents]`): their shapes, defaults and checks.

use super::*;

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
    pub(super) fn check(&self) -> Result<(), String> {
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
    pub(super) fn validate(&self) -> Result<(), String> {
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
