//! Alert rules (`[[alerts]]`): parsed at start ([`rule`]), evaluated every
//! [`EVALUATE_EVERY`] against the live registry and the store's fleet facts by a pure
//! [`Evaluator`] (the time comes in as an argument), with `for` honoured: a condition
//! becomes an alert only once it has held that long. Firing and resolved become events
//! (`alert.firing`, `alert.resolved`), which the notification outbox carries on.
//!
//! Alert state lives in memory: after a restart a condition that still holds fires again
//! once its `for` has passed (receivers deduplicate on rule and host, Alertmanager on its
//! labels).

pub mod facts;
pub mod rule;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use convoy_proto::v1::Alert;
use tokio_util::sync::CancellationToken;

pub use facts::{Facts, HostFacts};
pub use rule::{Expr, Limit, Op, Rule};

use crate::events::{Draft, Events, Severity};

/// How often rules are evaluated.
pub const EVALUATE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
struct Active {
    since: i64,
    firing_since: Option<i64>,
    value: f64,
}

/// A change of an alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Firing(Alert),
    Resolved(Alert),
}

/// Which alerts are pending or firing. Pure: no I/O, no clock.
#[derive(Debug, Default)]
pub struct Evaluator {
    /// (rule, instance) -> state.
    active: BTreeMap<(String, String), Active>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Every instance (host, host/set, certificate, app) for which `rule` holds now, with the
/// value that made it hold.
pub fn matches(rule: &Rule, facts: &Facts, now: i64) -> Vec<(String, f64)> {
    let wanted = |labels: &BTreeMap<String, String>| rule.selector.matches(labels);
    let host_ok = |id: &str| facts.hosts.iter().any(|h| h.id == id && wanted(&h.labels));
    let age = |op: Op, limit: Duration, rows: &[(String, String, i64)]| {
        rows.iter()
            .filter(|(host, _, _)| host_ok(host))
            .filter_map(|(host, set, at)| {
                // Saturating: a stored time far off (a bad clock, a damaged record) must not panic.
                let age = now.saturating_sub(*at) as f64;
                op.holds(age, ms(limit) as f64)
                    .then(|| (format!("{host}/{set}"), age / 1000.0))
            })
            .collect()
    };
    match &rule.expr {
        Expr::Metric { series, op, limit } => facts
            .hosts
            .iter()
            .filter(|h| h.online && wanted(&h.labels))
            .filter_map(|h| {
                let value = f64::from(h.sample.as_ref()?.value(series)?);
                let bound = match limit {
                    Limit::Absolute(v) => *v,
                    Limit::PerCpu(f) if h.cpus > 0 => f * f64::from(h.cpus),
                    Limit::PerCpu(_) => return None,
                };
                op.holds(value, bound).then(|| (h.id.clone(), value))
            })
            .collect(),
        Expr::Offline => facts
            .hosts
            .iter()
            .filter(|h| !h.online && wanted(&h.labels))
            .map(|h| (h.id.clone(), 1.0))
            .collect(),
        Expr::HealthFailing => facts
            .hosts
            .iter()
            .filter(|h| h.online && wanted(&h.labels))
            .flat_map(|h| {
                h.failing_apps
                    .iter()
                    .map(move |app| (format!("{}/{app}", h.id), 1.0))
            })
            .collect(),
        Expr::BackupAge { op, age: limit } => age(*op, *limit, &facts.backups),
        Expr::DrillAge { op, age: limit } => age(*op, *limit, &facts.drills),
        Expr::CertExpires { op, within } => facts
            .certs
            .iter()
            .filter_map(|(name, not_after)| {
                let left = not_after.saturating_sub(now) as f64;
                op.holds(left, ms(*within) as f64)
                    .then(|| (name.clone(), left / 1000.0))
            })
            .collect(),
        Expr::RolloutFailed => facts
            .failed_rollouts
            .iter()
            .map(|(app, id)| (format!("{app} ({id})"), 1.0))
            .collect(),
    }
}

impl Evaluator {
    /// Evaluates every rule at `now`; returns what started firing and what resolved.
    pub fn evaluate(&mut self, rules: &[Rule], facts: &Facts, now: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        let mut holding = std::collections::BTreeSet::new();
        for rule in rules {
            for (instance, value) in matches(rule, facts, now) {
                let key = (rule.name.clone(), instance);
                let active = self.active.entry(key.clone()).or_insert(Active {
                    since: now,
                    firing_since: None,
                    value,
                });
                active.value = value;
                if active.firing_since.is_none() && now - active.since >= ms(rule.for_) {
                    active.firing_since = Some(now);
                    out.push(Transition::Firing(view(rule, &key.1, active)));
                }
                holding.insert(key);
            }
        }
        let gone: Vec<(String, String)> = self
            .active
            .keys()
            .filter(|k| !holding.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(active) = self.active.remove(&key) {
                if active.firing_since.is_some() {
                    if let Some(rule) = rules.iter().find(|r| r.name == key.0) {
                        out.push(Transition::Resolved(view(rule, &key.1, &active)));
                    }
                }
            }
        }
        out
    }

    /// Drops the state of `rules` (removed or changed by a reload); each that was firing
    /// is resolved.
    pub fn forget(&mut self, rules: &[&Rule]) -> Vec<Transition> {
        let mut out = Vec::new();
        for rule in rules {
            let keys: Vec<_> = self
                .active
                .keys()
                .filter(|(name, _)| *name == rule.name)
                .cloned()
                .collect();
            for key in keys {
                if let Some(active) = self.active.remove(&key) {
                    if active.firing_since.is_some() {
                        out.push(Transition::Resolved(view(rule, &key.1, &active)));
                    }
                }
            }
        }
        out
    }

    /// Firing alerts (and pending ones with `pending`), by rule then instance.
    pub fn alerts(&self, rules: &[Rule], pending: bool) -> Vec<Alert> {
        self.active
            .iter()
            .filter(|(_, a)| pending || a.firing_since.is_some())
            .filter_map(|((name, instance), active)| {
                let rule = rules.iter().find(|r| &r.name == name)?;
                Some(view(rule, instance, active))
            })
            .collect()
    }
}

fn view(rule: &Rule, instance: &str, active: &Active) -> Alert {
    Alert {
        rule: rule.name.clone(),
        host: instance.to_string(),
        severity: rule.severity.clone(),
        active_since_unix_ms: active.since,
        firing_since_unix_ms: active.firing_since.unwrap_or(0),
        value: active.value,
        summary: rule.summary.clone(),
        state: if active.firing_since.is_some() {
            "firing"
        } else {
            "pending"
        }
        .into(),
        expr: rule.expr_text.clone(),
    }
}

/// The running alert engine's state, read by the `Monitor` service and `/metrics`. The
/// rules may be swapped by a reload ([`Alerts::set_rules`]).
#[derive(Debug, Default)]
pub struct Alerts {
    rules: std::sync::RwLock<Arc<Vec<Rule>>>,
    evaluator: Mutex<Evaluator>,
}

impl Alerts {
    pub fn new(rules: Vec<Rule>) -> Arc<Self> {
        Arc::new(Alerts {
            rules: std::sync::RwLock::new(Arc::new(rules)),
            evaluator: Mutex::default(),
        })
    }

    /// The rules in effect.
    pub fn rules(&self) -> Arc<Vec<Rule>> {
        self.rules
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `rules` into effect (a config reload). The state of a rule that is gone or
    /// changed is dropped; those that were firing are resolved (an event each), so no
    /// receiver keeps an alert of a rule that no longer exists. Returns how many.
    pub fn set_rules(&self, rules: Vec<Rule>, events: &Events) -> usize {
        // Lock order: the rules, then the evaluator (`list` and `step` keep it too).
        let mut current = self.rules.write().unwrap_or_else(PoisonError::into_inner);
        let same = |rule: &Rule| {
            rules
                .iter()
                .any(|new| new.name == rule.name && format!("{new:?}") == format!("{rule:?}"))
        };
        let dropped: Vec<&Rule> = current.iter().filter(|rule| !same(rule)).collect();
        let transitions = self
            .evaluator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .forget(&dropped);
        let resolved = transitions.len();
        *current = Arc::new(rules);
        drop(current);
        emit(transitions, events);
        resolved
    }

    pub fn list(&self, pending: bool) -> Vec<Alert> {
        // Lock order: the rules before the evaluator, as in `set_rules`.
        let rules = self.rules();
        self.evaluator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .alerts(&rules, pending)
    }

    /// One evaluation at `now`; transitions become events.
    pub fn step(&self, facts: &Facts, now: i64, events: &Events) {
        let rules = self.rules();
        let transitions = self
            .evaluator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .evaluate(&rules, facts, now);
        emit(transitions, events);
    }
}

/// Firing and resolved alerts become `alert.firing` / `alert.resolved` events.
fn emit(transitions: Vec<Transition>, events: &Events) {
    for transition in transitions {
        let (kind, alert) = match transition {
            Transition::Firing(alert) => ("alert.firing", alert),
            Transition::Resolved(alert) => ("alert.resolved", alert),
        };
        let severity = match (kind, alert.severity.as_str()) {
            ("alert.resolved", _) | (_, "info") => Severity::Info,
            (_, "critical") => Severity::Critical,
            _ => Severity::Warning,
        };
        let verb = if kind == "alert.firing" {
            "firing"
        } else {
            "resolved"
        };
        let mut message = format!(
            "{} {verb} on {} ({}, value {:.1})",
            alert.rule, alert.host, alert.expr, alert.value
        );
        if !alert.summary.is_empty() {
            message = format!("{message}: {}", alert.summary);
        }
        events.append(
            Draft::new(kind, severity, message)
                .host(alert.host.split('/').next().unwrap_or_default())
                .subject(&alert.rule)
                .field("instance", &alert.host)
                .field("alert_severity", &alert.severity)
                .field("expr", &alert.expr)
                .field("summary", &alert.summary)
                .field("value", format!("{}", alert.value))
                .field(
                    "active_since_unix_ms",
                    alert.active_since_unix_ms.to_string(),
                ),
        );
    }
}

/// Evaluates the rules every [`EVALUATE_EVERY`] until shutdown.
pub async fn run(
    alerts: Arc<Alerts>,
    source: facts::Source,
    events: Events,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(EVALUATE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        // Rules may arrive with a reload: an empty set costs a tick and nothing else.
        let rules = alerts.rules();
        if rules.is_empty() {
            continue;
        }
        let gather = source.clone();
        let facts = match tokio::task::spawn_blocking(move || gather.gather(&rules)).await {
            Ok(Ok(facts)) => facts,
            Ok(Err(err)) => {
                tracing::error!(error = %err, "cannot read fleet facts for alerts");
                continue;
            }
            Err(err) => {
                tracing::error!(error = %err, "alert facts panicked");
                continue;
            }
        };
        alerts.step(&facts, crate::clock::now_unix_ms(), &events);
    }
}

#[cfg(test)]
mod tests;
