//! App signals (`[apps.NAME.signals]`): named expressions over an app's own Prometheus
//! metrics, evaluated on every scrape, reported in heartbeats beside the host's metrics.
//!
//! The grammar is the small part of PromQL that counters, gauges and histograms need:
//!
//! ```text
//! expr    = term (("+" | "-") term)*
//! term    = factor (("*" | "/") factor)*
//! factor  = NUMBER | series | "rate(" series ")" | "increase(" series ")"
//!         | "histogram_quantile(" NUMBER "," series ")" | "(" expr ")" | "-" factor
//! series  = NAME ( "{" NAME "=" STRING ("," NAME "=" STRING)* "}" )?
//! ```
//!
//! A series sums every sample with that name whose labels include the matchers (so
//! `http_requests_total{code="500"}` adds up the 500s of every method). `rate` is the
//! per-second increase since the previous scrape, counter resets handled per series as
//! Prometheus does; `histogram_quantile(q, h)` reads `h_bucket` (by `le`, summed over other
//! labels), over the increase since the previous scrape when there is one, with Prometheus's
//! linear interpolation inside the bucket. An expression with nothing to say (no sample, no
//! previous scrape for a rate, a division by zero, an empty histogram) has no value this
//! scrape rather than a made-up one.
//!
//! Pure: the scrape is passed in ([`Scrape`]); fetching and parsing the exposition is the
//! caller's ([`collect`] fetches with [`fetch`], parses with [`scrape`]; [`config`] checks
//! `[apps.NAME.signals]`).

pub(crate) mod collect;
pub mod config;
mod fetch;
mod grammar;
pub mod scrape;

pub(crate) use grammar::parse;

use std::collections::BTreeMap;

/// One sample of a scrape: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Every sample of one scrape, and when it was taken.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Scrape {
    pub at_unix_ms: i64,
    pub samples: Vec<Sample>,
}

/// A signal expression that does not parse: what was expected, and where (a 1-based
/// character column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub(crate) struct ExprError {
    pub column: usize,
    pub message: String,
}

/// Which samples a series names.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub matchers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// A parsed signal expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Series(Series),
    Rate(Series),
    Increase(Series),
    Quantile(f64, Series),
    Neg(Box<Expr>),
    Binary(Box<Expr>, Op, Box<Expr>),
}

impl Series {
    fn matches(&self, sample: &Sample, name: &str) -> bool {
        sample.name == name
            && self
                .matchers
                .iter()
                .all(|(k, v)| sample.labels.get(k) == Some(v))
    }

    /// The matching samples of `scrape` under `name`, by their labels.
    fn select<'a>(&self, scrape: &'a Scrape, name: &str) -> Vec<&'a Sample> {
        scrape
            .samples
            .iter()
            .filter(|s| self.matches(s, name))
            .collect()
    }
}

/// How much each matching series grew between two scrapes, summed; a series that went
/// down was reset, and counts its new value (Prometheus's rule).
fn increase(series: &Series, name: &str, now: &Scrape, prev: &Scrape) -> Option<f64> {
    let current = series.select(now, name);
    if current.is_empty() {
        return None;
    }
    let before = series.select(prev, name);
    let mut total = 0.0;
    for sample in current {
        let old = before.iter().find(|s| s.labels == sample.labels);
        total += match old {
            Some(old) if sample.value >= old.value => sample.value - old.value,
            Some(_) => sample.value,
            // A series new since the last scrape started from zero.
            None => sample.value,
        };
    }
    Some(total)
}

impl Expr {
    /// The expression's value for scrape `now`, given the scrape before it; `None` when it
    /// has none this time.
    pub(crate) fn eval(&self, now: &Scrape, prev: Option<&Scrape>) -> Option<f64> {
        let value = match self {
            Expr::Number(n) => *n,
            Expr::Series(series) => {
                let samples = series.select(now, &series.name);
                if samples.is_empty() {
                    return None;
                }
                samples.iter().map(|s| s.value).sum()
            }
            Expr::Increase(series) => increase(series, &series.name, now, prev?)?,
            Expr::Rate(series) => {
                let prev = prev?;
                let seconds = (now.at_unix_ms - prev.at_unix_ms) as f64 / 1000.0;
                if seconds <= 0.0 {
                    return None;
                }
                increase(series, &series.name, now, prev)? / seconds
            }
            Expr::Quantile(q, series) => quantile(*q, series, now, prev)?,
            Expr::Neg(inner) => -inner.eval(now, prev)?,
            Expr::Binary(left, op, right) => {
                let (a, b) = (left.eval(now, prev)?, right.eval(now, prev)?);
                match op {
                    Op::Add => a + b,
                    Op::Sub => a - b,
                    Op::Mul => a * b,
                    Op::Div if b == 0.0 => return None,
                    Op::Div => a / b,
                }
            }
        };
        value.is_finite().then_some(value)
    }
}

/// `histogram_quantile`: the buckets of `series` (`NAME_bucket`, by `le`), as increases
/// since `prev` when there is one, else as they stand.
fn quantile(q: f64, series: &Series, now: &Scrape, prev: Option<&Scrape>) -> Option<f64> {
    let name = format!("{}_bucket", series.name);
    let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for sample in series.select(now, &name) {
        let le: f64 = sample.labels.get("le")?.parse().ok()?;
        let others = Series {
            name: name.clone(),
            matchers: sample
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let count = match prev {
            Some(prev) => increase(&others, &name, now, prev)?,
            None => sample.value,
        };
        // f64 has no total order for a map key; its bits do for non-negative values, and
        // +Inf sorts last.
        let entry = by_le.entry(le.max(0.0).to_bits()).or_insert((le, 0.0));
        entry.1 += count;
    }
    let buckets: Vec<(f64, f64)> = by_le.into_values().collect();
    let &(last_le, total) = buckets.last()?;
    if last_le != f64::INFINITY || total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = 0.0;
    let mut below = 0.0;
    for (i, &(le, count)) in buckets.iter().enumerate() {
        if count >= rank {
            if le == f64::INFINITY {
                // Prometheus: the quantile lies in the +Inf bucket → the highest finite bound.
                return Some(if i == 0 { 0.0 } else { buckets[i - 1].0 });
            }
            if count == below {
                return Some(le);
            }
            return Some(lower + (le - lower) * (rank - below) / (count - below));
        }
        lower = le;
        below = count;
    }
    None
}

#[cfg(test)]
mod tests;
