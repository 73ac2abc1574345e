//! `[apps.NAME.signals]` in `agent.toml`: the app's metrics endpoint and its named signal
//! expressions, checked when the config loads (a bad expression names the app, the signal
//! and the column).
//!
//! ```toml
//! [apps.web.signals]
//! url = "http://127.0.0.1:8080/metrics"   # loopback http only
//! timeout = "2s"                          # optional
//! error_rate = "rate(http_errors_total) / rate(http_requests_total)"
//! latency_p99 = "histogram_quantile(0.99, http_request_duration_seconds)"
//! ```
//!
//! Only the agent's own config holds this table: a release's `convoy.toml` is checked by
//! the manifest, which refuses a `signals` key, so what a host scrapes and reports is the
//! host operator's decision, not the release author's.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Value;

use super::Expr;
use crate::deploy::manifest::HttpTarget;

/// A scrape gives up after this long unless `timeout` says otherwise.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// At most this long: a scrape must fit between heartbeats.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// Signals a host may declare over all its apps (the coordinator's per-heartbeat bound).
pub(crate) const MAX_SIGNALS: usize = convoy_proto::MAX_SIGNALS_PER_HEARTBEAT;

/// One app's signals.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSignals {
    /// The exposition's URL (`http://127.0.0.1:PORT/PATH`).
    pub url: String,
    pub target: HttpTarget,
    pub timeout: Duration,
    /// By signal name: the expression as written and parsed.
    pub signals: BTreeMap<String, (String, Expr)>,
}

/// The key a signal is reported under: `APP.NAME` (see [`check_all`] for why it is
/// unambiguous on one host).
pub(crate) fn key(app: &str, signal: &str) -> String {
    format!("{app}.{signal}")
}

/// Why `[apps.APP.signals]` is refused; the text starts with the dotted key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalsConfigError {
    #[error("{0}")]
    Invalid(String),
}

/// Checks `[apps.APP.signals]`; errors start with the dotted key at fault.
pub(crate) fn from_value(app: &str, value: Value) -> Result<AppSignals, SignalsConfigError> {
    app_signals(app, value).map_err(SignalsConfigError::Invalid)
}

/// [`from_value`]'s checks; the error is the message.
fn app_signals(app: &str, value: Value) -> Result<AppSignals, String> {
    let prefix = format!("apps.{app}.signals");
    let Value::Table(mut table) = value else {
        return Err(format!("{prefix}: expected a table"));
    };
    let url = match table.remove("url") {
        Some(Value::String(url)) => url,
        Some(other) => {
            return Err(format!(
                "{prefix}.url: expected a string, found {}",
                other.type_str()
            ));
        }
        None => {
            return Err(format!(
                "{prefix}.url: missing (the app's metrics, e.g. \"http://127.0.0.1:8080/metrics\")"
            ));
        }
    };
    let target = HttpTarget::parse(&url)
        .map_err(|err| format!("{prefix}.url: {err}").replace("health checks", "signals"))?;
    let timeout = match table.remove("timeout") {
        None => DEFAULT_TIMEOUT,
        Some(Value::String(text)) => humantime::parse_duration(&text)
            .map_err(|err| format!("{prefix}.timeout: {text:?}: {err}"))?,
        Some(other) => {
            return Err(format!(
                "{prefix}.timeout: expected a duration like \"2s\", found {}",
                other.type_str()
            ));
        }
    };
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(format!(
            "{prefix}.timeout: must be more than 0 and at most {}s",
            MAX_TIMEOUT.as_secs()
        ));
    }
    let mut signals = BTreeMap::new();
    for (name, value) in table {
        if !convoy_proto::labels::valid_key(&name) {
            return Err(format!(
                "{prefix}.{name}: invalid signal name (label-key syntax: [prefix/]name, \
                 name [A-Za-z0-9]([A-Za-z0-9._-]{{0,61}}[A-Za-z0-9])?)"
            ));
        }
        let Value::String(text) = value else {
            return Err(format!(
                "{prefix}.{name}: expected an expression string, found {}",
                value.type_str()
            ));
        };
        let expr = super::parse(&text).map_err(|err| format!("{prefix}.{name}: {err}"))?;
        signals.insert(name, (text, expr));
    }
    if signals.is_empty() {
        return Err(format!(
            "{prefix}: declares no signal (add e.g. error_rate = \"rate(errors_total)\")"
        ));
    }
    Ok(AppSignals {
        url,
        target,
        timeout,
        signals,
    })
}

/// Checks every app's signals together: at most [`MAX_SIGNALS`], and no two reported
/// under the same key (app `a.b` with signal `c` and app `a` with signal `b.c` would both
/// be `a.b.c`).
pub(crate) fn check_all(apps: &BTreeMap<String, AppSignals>) -> Result<(), SignalsConfigError> {
    let mut seen = BTreeMap::new();
    for (app, signals) in apps {
        for name in signals.signals.keys() {
            if let Some(other) = seen.insert(key(app, name), app) {
                return Err(SignalsConfigError::Invalid(format!(
                    "apps.{app}.signals.{name}: reported as {:?}, like a signal of app {other}; \
                     rename one",
                    key(app, name)
                )));
            }
        }
    }
    if seen.len() > MAX_SIGNALS {
        return Err(SignalsConfigError::Invalid(format!(
            "apps.*.signals: {} signals declared, at most {MAX_SIGNALS} per host",
            seen.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
