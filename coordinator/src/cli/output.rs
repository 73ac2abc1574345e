//! Stable JSON shapes and human formatting for CLI output. JSON field names here are a
//! contract with operators' scripts: add fields, never rename or remove them.

mod jobs;

pub use jobs::*;
use std::collections::BTreeMap;

use convoy_proto::v1::{
    AgentDetail, AgentState, AgentSummary, CommandState, Connection, Facts, HostCommand, Job,
    JobState, MetricsSample,
};
use serde::Serialize;
use time::OffsetDateTime;

/// RFC 3339 in UTC with exactly three fractional digits (`2026-12-03T10:00:00.120Z`), the
/// one timestamp form of every JSON shape; `None` for 0 (never).
pub fn rfc3339(unix_ms: i64) -> Option<String> {
    if unix_ms <= 0 {
        return None;
    }
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    ))
}

pub fn state_name(state: i32) -> &'static str {
    match AgentState::try_from(state) {
        Ok(AgentState::Online) => "online",
        _ => "offline",
    }
}

#[derive(Debug, Serialize)]
pub struct DiskJson {
    pub mount: String,
    pub used_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct MetricsJson {
    pub sampled_at: Option<String>,
    pub cpu_percent: f64,
    pub load1: f64,
    pub load5: f64,
    pub load15: f64,
    pub mem_used_bytes: u64,
    pub mem_total_bytes: u64,
    pub swap_used_bytes: u64,
    pub swap_total_bytes: u64,
    pub disks: Vec<DiskJson>,
    pub net_rx_bytes_per_sec: f64,
    pub net_tx_bytes_per_sec: f64,
    pub uptime_secs: u64,
    pub process_count: u32,
    /// App signals, keyed `APP.NAME` (`[apps.APP.signals]` in the host's agent.toml).
    pub signals: BTreeMap<String, f64>,
}

impl From<&MetricsSample> for MetricsJson {
    fn from(m: &MetricsSample) -> Self {
        Self {
            sampled_at: rfc3339(m.sampled_at_unix_ms),
            cpu_percent: m.cpu_percent,
            load1: m.load1,
            load5: m.load5,
            load15: m.load15,
            mem_used_bytes: m.mem_used_bytes,
            mem_total_bytes: m.mem_total_bytes,
            swap_used_bytes: m.swap_used_bytes,
            swap_total_bytes: m.swap_total_bytes,
            disks: m
                .disks
                .iter()
                .map(|d| DiskJson {
                    mount: d.mount.clone(),
                    used_bytes: d.used_bytes,
                    total_bytes: d.total_bytes,
                })
                .collect(),
            net_rx_bytes_per_sec: m.net_rx_bytes_per_sec,
            net_tx_bytes_per_sec: m.net_tx_bytes_per_sec,
            uptime_secs: m.uptime_secs,
            process_count: m.process_count,
            signals: m.signals.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AgentJson {
    pub id: String,
    pub state: &'static str,
    pub labels: BTreeMap<String, String>,
    pub version: String,
    pub hostname: String,
    /// Actions the host's config allows.
    pub actions: Vec<String>,
    /// Apps the host may deploy and what runs of each.
    pub apps: Vec<AppJson>,
    /// The host opted out of release signatures (`allow_unsigned_releases = true`).
    pub allow_unsigned_releases: bool,
    /// Cordoned: no new jobs or rollouts go to it.
    pub cordoned: bool,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// The same times under the `*_at` names every other JSON shape uses.
    pub first_seen_at: Option<String>,
    pub last_seen_at: Option<String>,
    pub metrics: Option<MetricsJson>,
    /// When the certificate of the agent's latest session expires.
    pub cert_not_after: Option<String>,
    /// Past 90 % of its certificate's lifetime and not renewed.
    pub cert_renewal_overdue: bool,
}

impl From<&AgentSummary> for AgentJson {
    fn from(a: &AgentSummary) -> Self {
        Self {
            id: a.id.clone(),
            state: state_name(a.state),
            labels: a.labels.clone(),
            version: a.version.clone(),
            hostname: a.hostname.clone(),
            actions: a.actions.clone(),
            apps: a.apps.iter().map(AppJson::from).collect(),
            allow_unsigned_releases: a.allow_unsigned_releases,
            cordoned: a.cordoned,
            first_seen: rfc3339(a.first_seen_unix_ms),
            last_seen: rfc3339(a.last_seen_unix_ms),
            first_seen_at: rfc3339(a.first_seen_unix_ms),
            last_seen_at: rfc3339(a.last_seen_unix_ms),
            metrics: a.metrics.as_ref().map(MetricsJson::from),
            cert_not_after: rfc3339(a.cert_not_after_unix_ms),
            cert_renewal_overdue: a.cert_renewal_overdue,
        }
    }
}

/// `convoy agents`' CERT EXPIRES cell: the time left, flagged when renewal is overdue.
pub fn cert_expiry(a: &AgentSummary, now_ms: i64) -> String {
    if a.cert_not_after_unix_ms == 0 {
        return String::new();
    }
    let left = a.cert_not_after_unix_ms - now_ms;
    let text = if left <= 0 {
        "expired".to_string()
    } else {
        let secs = u64::try_from(left / 1000).unwrap_or(0);
        format!(
            "in {}",
            humantime::format_duration(std::time::Duration::from_secs(if secs > 86_400 {
                secs / 3600 * 3600
            } else {
                secs
            }))
        )
    };
    if a.cert_renewal_overdue {
        format!("{text} (RENEWAL OVERDUE)")
    } else {
        text
    }
}

#[derive(Debug, Serialize)]
pub struct FactsJson {
    pub hostname: String,
    pub os: String,
    pub os_version: String,
    pub kernel: String,
    pub arch: String,
    pub cpus: u32,
    pub mem_total_bytes: u64,
    pub boot_time: Option<String>,
}

impl From<&Facts> for FactsJson {
    fn from(f: &Facts) -> Self {
        Self {
            hostname: f.hostname.clone(),
            os: f.os.clone(),
            os_version: f.os_version.clone(),
            kernel: f.kernel.clone(),
            arch: f.arch.clone(),
            cpus: f.cpus,
            mem_total_bytes: f.mem_total_bytes,
            boot_time: rfc3339(i64::try_from(f.boot_time_unix).unwrap_or(0) * 1000),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ConnectionJson {
    pub connected_at: Option<String>,
    pub disconnected_at: Option<String>,
    pub remote_addr: String,
    pub reason: String,
}

impl From<&Connection> for ConnectionJson {
    fn from(c: &Connection) -> Self {
        Self {
            connected_at: rfc3339(c.connected_unix_ms),
            disconnected_at: rfc3339(c.disconnected_unix_ms),
            remote_addr: c.remote_addr.clone(),
            reason: c.reason.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PointJson {
    pub sampled_at: Option<String>,
    pub cpu_percent: f64,
    pub mem_used_bytes: u64,
    pub load1: f64,
}

#[derive(Debug, Serialize)]
pub struct AgentDetailJson {
    #[serde(flatten)]
    pub agent: Option<AgentJson>,
    pub facts: Option<FactsJson>,
    pub connections: Vec<ConnectionJson>,
    pub history: Vec<PointJson>,
    /// Session takeover alarm: when last raised (null = never) and how many
    /// replacements that minute held.
    pub takeover_alarm: Option<String>,
    pub takeover_replacements: u32,
}

impl From<&AgentDetail> for AgentDetailJson {
    fn from(d: &AgentDetail) -> Self {
        Self {
            agent: d.agent.as_ref().map(AgentJson::from),
            facts: d.facts.as_ref().map(FactsJson::from),
            connections: d.connections.iter().map(ConnectionJson::from).collect(),
            history: d
                .history
                .iter()
                .map(|p| PointJson {
                    sampled_at: rfc3339(p.sampled_at_unix_ms),
                    cpu_percent: p.cpu_percent,
                    mem_used_bytes: p.mem_used_bytes,
                    load1: p.load1,
                })
                .collect(),
            takeover_alarm: rfc3339(d.takeover_alarm_unix_ms),
            takeover_replacements: d.takeover_replacements,
        }
    }
}

/// Bytes as a short human size: 512B, 3.4K, 1.2G.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

/// How long ago `unix_ms` was, e.g. "4s ago", "3m ago", "never".
pub fn ago(unix_ms: i64, now_ms: i64) -> String {
    if unix_ms <= 0 {
        return "never".into();
    }
    let secs = (now_ms - unix_ms).max(0) / 1000;
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

/// The disk figure for the table: the root mount's use, else the fullest mount's.
pub fn disk_percent(m: &MetricsSample) -> Option<f64> {
    let percent = |used: u64, total: u64| {
        #[allow(clippy::cast_precision_loss)]
        let p = used as f64 * 100.0 / total as f64;
        p
    };
    let usable = m.disks.iter().filter(|d| d.total_bytes > 0);
    if let Some(root) = usable.clone().find(|d| d.mount == "/") {
        return Some(percent(root.used_bytes, root.total_bytes));
    }
    usable
        .map(|d| percent(d.used_bytes, d.total_bytes))
        .max_by(f64::total_cmp)
}

pub fn labels(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0G");
        assert_eq!(ago(0, 10), "never");
        assert_eq!(ago(1_000, 5_000), "4s ago");
        assert_eq!(ago(1, 7_200_001), "2h ago");
        assert_eq!(rfc3339(0), None);
        // Fixed precision: always three fractional digits.
        assert_eq!(
            rfc3339(1_700_000_000_000).unwrap(),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(
            rfc3339(1_700_000_000_120).unwrap(),
            "2023-11-14T22:13:20.120Z"
        );
    }
}

/// How a release's signature reads in tables: "signed by NAME" only for a signature the
/// coordinator verified; a claimed signer is shown as a claim.
pub fn signature(release: &convoy_proto::v1::Release) -> String {
    match (release.signature.is_empty(), release.signature_verified) {
        (true, _) => "unsigned".to_string(),
        (false, true) => format!("signed by {}", release.signer),
        (false, false) if release.signer.is_empty() => "signed (not verified)".to_string(),
        (false, false) => format!("signed (not verified; claims {})", release.signer),
    }
}

#[derive(Debug, Serialize)]
pub struct ReleaseJson {
    pub app: String,
    pub version: String,
    pub sha256: String,
    pub size: u64,
    pub format: String,
    pub signed: bool,
    /// What the pusher claimed, unless `signature_verified`: then the coordinator's key.
    pub signer: String,
    /// The coordinator checked the signature against its own `release_public_keys`.
    pub signature_verified: bool,
    pub pushed_at: Option<String>,
    pub pushed_by: String,
    /// Environments the version succeeded in, and when (`cli::environments::reached_json`).
    pub environments: serde_json::Value,
    /// Release notes given at push (empty if none).
    pub notes: String,
    /// `--meta k=v` given at push.
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl From<&convoy_proto::v1::Release> for ReleaseJson {
    fn from(r: &convoy_proto::v1::Release) -> Self {
        Self {
            app: r.app.clone(),
            version: r.version.clone(),
            sha256: r.sha256.clone(),
            size: r.size,
            format: r.format.clone(),
            signed: !r.signature.is_empty(),
            signer: r.signer.clone(),
            signature_verified: r.signature_verified,
            pushed_at: rfc3339(r.pushed_unix_ms),
            pushed_by: r.pushed_by.clone(),
            environments: crate::cli::environments::reached_json(&r.environments),
            notes: r.notes.clone(),
            metadata: r.metadata.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AppJson {
    pub app: String,
    /// Null until the first deploy.
    pub version: Option<String>,
    pub healthy: bool,
    pub previous: Option<String>,
}

impl From<&convoy_proto::v1::AppStatus> for AppJson {
    fn from(a: &convoy_proto::v1::AppStatus) -> Self {
        Self {
            app: a.app.clone(),
            version: (!a.version.is_empty()).then(|| a.version.clone()),
            healthy: a.healthy,
            previous: (!a.previous.is_empty()).then(|| a.previous.clone()),
        }
    }
}

/// Apps for the agents table: `web=1.4.2`, `web=1.4.3(unhealthy)`, `web=-`.
pub fn apps(apps: &[convoy_proto::v1::AppStatus]) -> String {
    apps.iter()
        .map(|a| match (a.version.as_str(), a.healthy) {
            ("", _) => format!("{}=-", a.app),
            (v, true) => format!("{}={v}", a.app),
            (v, false) => format!("{}={v}(unhealthy)", a.app),
        })
        .collect::<Vec<_>>()
        .join(",")
}
