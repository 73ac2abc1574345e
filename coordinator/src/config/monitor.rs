//! The monitoring sections of `coordinator.toml`: `[metrics]`, `[history]`, `[events]`,
//! `[[alerts]]` and `[[notify]]`. Alert expressions are parsed here, so a bad rule stops
//! `convoy serve` at start with the rule and the position of the error.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::alerts::Rule;

/// Everything monitoring reads from the config.
#[derive(Debug, Clone, Default)]
pub struct MonitorSettings {
    pub metrics: MetricsConfig,
    pub history: crate::history::HistoryConfig,
    pub events: crate::events::EventsConfig,
    pub alerts: Vec<Rule>,
    pub notify: Vec<NotifyConfig>,
}

/// `[metrics]`: the Prometheus exposition listener.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Plain HTTP address serving `/metrics`; off unless set.
    pub listen: Option<SocketAddr>,
    /// Per-host gauges of host metrics (`convoy_host_*{id,...}`).
    pub per_host: bool,
    /// Agent labels copied onto per-host series (at most 4).
    pub per_host_labels: Vec<String>,
}

/// One `[[alerts]]` rule as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    pub name: String,
    pub expr: String,
    #[serde(default, rename = "for", with = "humantime_serde")]
    pub for_: Duration,
    #[serde(default = "default_severity")]
    pub severity: String,
    #[serde(default)]
    pub selector: String,
    #[serde(default)]
    pub summary: String,
}

fn default_severity() -> String {
    "warning".into()
}

/// One `[[notify]]` sink.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub name: String,
    /// webhook, slack or alertmanager.
    pub kind: String,
    pub url: String,
    /// Event kinds sent (`rollout.*`, `alert.firing`); default: every kind.
    #[serde(default = "every_kind")]
    pub events: Vec<String>,
    /// HMAC-SHA256 key for the webhook's `X-Convoy-Signature` header.
    #[serde(default)]
    pub secret: Option<String>,
    /// How long a delivery is retried before it is given up.
    #[serde(default = "default_retry_for", with = "humantime_serde")]
    pub retry_for: Duration,
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &self.secret.as_ref().map(|_| "(set)"))
            .finish()
    }
}

fn every_kind() -> Vec<String> {
    vec!["*".into()]
}

fn default_retry_for() -> Duration {
    Duration::from_secs(3600)
}

pub const NOTIFY_KINDS: [&str; 3] = ["webhook", "slack", "alertmanager"];

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks the monitoring sections; parses every alert rule.
pub fn validate(
    metrics: &MetricsConfig,
    alerts: &[AlertConfig],
    notify: &[NotifyConfig],
) -> Result<Vec<Rule>, String> {
    if metrics.per_host_labels.len() > 4 {
        return Err("metrics.per_host_labels: at most 4 labels".into());
    }
    let mut rules = Vec::new();
    for (i, alert) in alerts.iter().enumerate() {
        let at = format!("alerts[{i}] ({:?})", alert.name);
        if !valid_name(&alert.name) {
            return Err(format!("{at}: name must be 1-64 of A-Z a-z 0-9 - _ ."));
        }
        if alerts[..i].iter().any(|a| a.name == alert.name) {
            return Err(format!("{at}: a rule of that name is already defined"));
        }
        let rule = Rule::new(alert).map_err(|err| format!("{at}: {err}"))?;
        rules.push(rule);
    }
    for (i, sink) in notify.iter().enumerate() {
        let at = format!("notify[{i}] ({:?})", sink.name);
        if !valid_name(&sink.name) {
            return Err(format!("{at}: name must be 1-64 of A-Z a-z 0-9 - _ ."));
        }
        if notify[..i].iter().any(|n| n.name == sink.name) {
            return Err(format!("{at}: a sink of that name is already defined"));
        }
        if !NOTIFY_KINDS.contains(&sink.kind.as_str()) {
            return Err(format!(
                "{at}: kind {:?} is not one of {}",
                sink.kind,
                NOTIFY_KINDS.join(", ")
            ));
        }
        if !(sink.url.starts_with("http://") || sink.url.starts_with("https://")) {
            return Err(format!("{at}: url must start with http:// or https://"));
        }
        if sink.events.is_empty() {
            return Err(format!("{at}: events is empty; use [\"*\"] for every kind"));
        }
        if sink.secret.as_ref().is_some_and(String::is_empty) {
            return Err(format!("{at}: secret is empty"));
        }
    }
    Ok(rules)
}
