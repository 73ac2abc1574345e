//! Metric gates checked on each host of a baking wave: `cpu<90`, `mem<95`, `load1<8`,
//! `disk</:90` (`disk<MOUNT:PCT`), `health=ok`, and relative gates such as
//! `cpu<1.5*baseline`, where the caller supplies the baseline (the median of the hosts not
//! yet updated). App signals the agents report (`[apps.APP.signals]`) are metrics too, by
//! their full `APP.NAME` (`web.error_rate<0.01`): a bare name is refused, so a typo of a
//! built-in metric (`cpux<90`) is an error rather than a gate that never has data. Pure:
//! no proto types, no I/O.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid gate {input:?}: {why}")]
pub struct GateError {
    pub input: String,
    pub why: String,
}

/// What a host reported, as far as gates care.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsView {
    pub cpu_percent: f64,
    /// Percent of memory used.
    pub mem_percent: f64,
    pub load1: f64,
    /// `(mount, percent used)`.
    pub disks: Vec<(String, f64)>,
    pub healthy: bool,
    /// App signals, keyed `APP.NAME`.
    pub signals: Vec<(String, f64)>,
}

/// Baseline values for relative gates; `None` when not known.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Baseline {
    pub cpu_percent: Option<f64>,
    pub mem_percent: Option<f64>,
    pub load1: Option<f64>,
    pub disks: Vec<(String, f64)>,
    /// App signals, keyed `APP.NAME`.
    pub signals: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    Cpu,
    Mem,
    Load1,
    Disk(String),
    /// An app signal: `APP.NAME`.
    Signal(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Absolute(f64),
    /// A multiple of the baseline.
    Baseline(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// The metric must stay strictly below the limit.
    Below {
        metric: Metric,
        limit: Limit,
    },
    HealthOk,
}

/// The outcome of one gate on one host.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Fail(String),
    /// The metric or its baseline was not reported; the gate cannot fail on it.
    NoData,
}

const METRICS: &str = "expected cpu, mem, load1, disk, health or an app signal APP.NAME";

impl Gate {
    pub fn parse(input: &str) -> Result<Gate, GateError> {
        let err = |why: String| GateError {
            input: input.to_string(),
            why,
        };
        let text = input.trim();
        if let Some((name, value)) = text.split_once('=') {
            if name.trim() != "health" {
                return Err(err(format!(
                    "only health takes '=' (health=ok); use '<' for {:?}",
                    name.trim()
                )));
            }
            return match value.trim() {
                "ok" => Ok(Gate::HealthOk),
                other => Err(err(format!("expected health=ok, found health={other}"))),
            };
        }
        let Some((name, rest)) = text.split_once('<') else {
            return Err(err(
                "expected METRIC<LIMIT (like cpu<90) or health=ok".to_string()
            ));
        };
        let (metric, limit_text) = match name.trim() {
            "cpu" => (Metric::Cpu, rest),
            "mem" => (Metric::Mem, rest),
            "load1" => (Metric::Load1, rest),
            "disk" => {
                let Some((mount, pct)) = rest.rsplit_once(':') else {
                    return Err(err(
                        "expected disk<MOUNT:PERCENT, like disk</:90".to_string()
                    ));
                };
                let mount = mount.trim();
                if !mount.starts_with('/') {
                    return Err(err(format!(
                        "the mount {mount:?} must be an absolute path, like /"
                    )));
                }
                (Metric::Disk(mount.to_string()), pct)
            }
            "health" => return Err(err("expected health=ok".to_string())),
            "" => return Err(err(format!("missing metric before '<' ({METRICS})"))),
            other if signal_name(other) => (Metric::Signal(other.to_string()), rest),
            other => return Err(err(format!("unknown metric {other:?} ({METRICS})"))),
        };
        let limit = parse_limit(limit_text.trim()).map_err(err)?;
        let percent = !matches!(metric, Metric::Load1 | Metric::Signal(_));
        if let (true, Limit::Absolute(value)) = (percent, limit) {
            if value > 100.0 {
                return Err(err(format!("{value} is not a percentage (0 to 100)")));
            }
        }
        Ok(Gate::Below { metric, limit })
    }

    pub fn evaluate(&self, view: &MetricsView, baseline: &Baseline) -> Verdict {
        let (metric, limit) = match self {
            Gate::HealthOk if view.healthy => return Verdict::Pass,
            Gate::HealthOk => return Verdict::Fail("health check failing".to_string()),
            Gate::Below { metric, limit } => (metric, limit),
        };
        let value = match metric {
            Metric::Cpu => Some(view.cpu_percent),
            Metric::Mem => Some(view.mem_percent),
            Metric::Load1 => Some(view.load1),
            Metric::Disk(mount) => lookup(&view.disks, mount),
            Metric::Signal(name) => lookup(&view.signals, name),
        };
        let bound = match limit {
            Limit::Absolute(bound) => Some(*bound),
            Limit::Baseline(factor) => {
                let base = match metric {
                    Metric::Cpu => baseline.cpu_percent,
                    Metric::Mem => baseline.mem_percent,
                    Metric::Load1 => baseline.load1,
                    Metric::Disk(mount) => lookup(&baseline.disks, mount),
                    Metric::Signal(name) => lookup(&baseline.signals, name),
                };
                base.map(|b| b * factor)
            }
        };
        match (value, bound) {
            (Some(value), Some(bound)) if value < bound => Verdict::Pass,
            (Some(value), Some(bound)) => Verdict::Fail(format!(
                "gate {self} failed: {value:.1} is not below {bound:.1}"
            )),
            _ => Verdict::NoData,
        }
    }
}

fn lookup(pairs: &[(String, f64)], mount: &str) -> Option<f64> {
    pairs.iter().find(|(m, _)| m == mount).map(|(_, v)| *v)
}

/// An app signal's full name, `APP.NAME`, by its shape: a lowercase letter or digit first, a
/// dot, and only the characters app names and label keys use (the engine takes no wire
/// rules; `history::SeriesId` and the heartbeat checks apply the exact ones).
fn signal_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.contains('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
}

fn parse_limit(text: &str) -> Result<Limit, String> {
    let number = |s: &str| -> Result<f64, String> {
        let value: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("expected a number, found {:?}", s.trim()))?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!("{value} must be a finite number, 0 or more"));
        }
        Ok(value)
    };
    if text.is_empty() {
        return Err("missing limit after '<'".to_string());
    }
    match text.split_once('*') {
        Some((factor, base)) if base.trim() == "baseline" => Ok(Limit::Baseline(number(factor)?)),
        Some((_, base)) => Err(format!(
            "expected FACTOR*baseline, found {:?} after '*'",
            base.trim()
        )),
        None => Ok(Limit::Absolute(number(text)?)),
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (metric, limit) = match self {
            Gate::HealthOk => return write!(f, "health=ok"),
            Gate::Below { metric, limit } => (metric, limit),
        };
        let limit = match limit {
            Limit::Absolute(v) => format!("{v}"),
            Limit::Baseline(factor) => format!("{factor}*baseline"),
        };
        match metric {
            Metric::Cpu => write!(f, "cpu<{limit}"),
            Metric::Mem => write!(f, "mem<{limit}"),
            Metric::Load1 => write!(f, "load1<{limit}"),
            Metric::Disk(mount) => write!(f, "disk<{mount}:{limit}"),
            Metric::Signal(name) => write!(f, "{name}<{limit}"),
        }
    }
}

/// Whether any gate compares with the baseline of hosts not yet updated.
pub fn needs_baseline(gates: &[Gate]) -> bool {
    gates.iter().any(|g| {
        matches!(
            g,
            Gate::Below {
                limit: Limit::Baseline(_),
                ..
            }
        )
    })
}

/// Checks every gate, plus the host's own health: the first failure, if any.
pub fn check_all(gates: &[Gate], view: &MetricsView, baseline: &Baseline) -> Option<String> {
    if !view.healthy {
        return Some("health check failing".to_string());
    }
    gates
        .iter()
        .find_map(|gate| match gate.evaluate(view, baseline) {
            Verdict::Fail(reason) => Some(reason),
            Verdict::Pass | Verdict::NoData => None,
        })
}

#[cfg(test)]
mod tests;
