//! Reading the history back: one host's series at any step (from the finest tier that
//! still holds each stretch of time), or one series aggregated across many hosts (from the
//! 1-minute and 15-minute tiers: one contiguous scan per tier).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{HistoryConfig, MINUTE_MS, QUARTER_MS, SeriesId, Stat, Summary, merge};
use crate::store::history::{Tier, decode_summary};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
}

/// One point of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at: i64,
    pub stat: Stat,
    pub count: u32,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn align_up(t: i64, width: i64) -> i64 {
    t.div_euclid(width) * width + if t.rem_euclid(width) == 0 { 0 } else { width }
}

/// Where each tier takes over: 15m before the first, 1m before the second, raw after.
fn boundaries(config: &HistoryConfig, now: i64) -> (i64, i64) {
    let minute_from = align_up(now - ms(config.keep_1m), QUARTER_MS) + QUARTER_MS;
    let raw_from = align_up(now - ms(config.keep_raw), MINUTE_MS) + MINUTE_MS;
    (minute_from, raw_from.max(minute_from))
}

/// Every series of `host` in `[from, to)`, one point per `step`.
pub fn query_host(
    store: &Store,
    config: &HistoryConfig,
    host: &str,
    series: &[SeriesId],
    (from, to, step): (i64, i64, i64),
    now: i64,
) -> Result<Vec<Vec<Point>>, QueryError> {
    let (minute_from, raw_from) = boundaries(config, now);
    let mut parts: Vec<(i64, Summary)> = Vec::new();
    if from < minute_from {
        parts.extend(store.history_host(
            Tier::Quarter,
            host,
            from,
            to.min(minute_from),
            QUARTER_MS,
        )?);
    }
    if from < raw_from && to > minute_from {
        parts.extend(store.history_host(
            Tier::Minute,
            host,
            from.max(minute_from),
            to.min(raw_from),
            MINUTE_MS,
        )?);
    }
    if to > raw_from {
        let samples = store.history_raw(host, from.max(raw_from), to)?;
        parts.extend(samples.iter().map(|s| (s.at_ms, Summary::of_sample(s))));
    }
    let mut buckets: BTreeMap<i64, Vec<Summary>> = BTreeMap::new();
    for (at, summary) in parts {
        buckets
            .entry(at.div_euclid(step) * step)
            .or_default()
            .push(summary);
    }
    let merged: Vec<(i64, Summary)> = buckets
        .into_iter()
        .filter_map(|(at, parts)| merge(&parts).map(|s| (at, s)))
        .collect();
    Ok(series
        .iter()
        .map(|id| {
            merged
                .iter()
                .filter_map(|(at, s)| {
                    s.stat(id).map(|stat| Point {
                        at: *at,
                        stat,
                        count: s.count,
                    })
                })
                .collect()
        })
        .collect())
}

/// How values of many hosts become one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agg {
    Avg,
    Min,
    Max,
    Quantile(f64),
}

impl Agg {
    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "" | "avg" => Agg::Avg,
            "min" => Agg::Min,
            "max" => Agg::Max,
            "p50" | "median" => Agg::Quantile(0.5),
            "p90" => Agg::Quantile(0.9),
            "p95" => Agg::Quantile(0.95),
            "p99" => Agg::Quantile(0.99),
            other => {
                return Err(format!(
                    "unknown aggregation {other:?}: expected avg, min, max, p50, p90, p95 or p99"
                ));
            }
        })
    }

    fn apply(self, values: &mut [f64]) -> f64 {
        match self {
            Agg::Avg => values.iter().sum::<f64>() / values.len() as f64,
            Agg::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Agg::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Agg::Quantile(q) => {
                values.sort_by(f64::total_cmp);
                // Nearest rank.
                let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
                values[rank - 1]
            }
        }
    }
}

/// One series across `hosts` in `[from, to)`: per step, each host's average, then `agg`
/// across hosts (min and max are the hosts' own extremes). Returns the points and how
/// many hosts had data.
pub fn query_selector(
    store: &Store,
    config: &HistoryConfig,
    hosts: &HashSet<String>,
    series: &SeriesId,
    agg: Agg,
    (from, to, step): (i64, i64, i64),
    now: i64,
) -> Result<(Vec<Point>, usize), QueryError> {
    let step = step.max(MINUTE_MS);
    let (minute_from, _) = boundaries(config, now);
    // (bucket, host) -> (weighted sum, samples, min, max)
    let mut per_host: HashMap<(i64, &str), (f64, u32, f32, f32)> = HashMap::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut scan = |tier: Tier, lo: i64, hi: i64| -> Result<(), StoreError> {
        store.history_scan(tier, lo, hi, |at, host, raw| {
            let Some(host) = hosts.get(host) else { return };
            let Some(summary) = decode_summary(raw) else {
                return;
            };
            let Some(stat) = summary.stat(series) else {
                return;
            };
            seen.insert(host.as_str());
            let slot = per_host
                .entry((at.div_euclid(step) * step, host.as_str()))
                .or_insert((0.0, 0, f32::INFINITY, f32::NEG_INFINITY));
            slot.0 += f64::from(stat.avg) * f64::from(summary.count);
            slot.1 += summary.count;
            slot.2 = slot.2.min(stat.min);
            slot.3 = slot.3.max(stat.max);
        })
    };
    if from < minute_from {
        scan(Tier::Quarter, from, to.min(minute_from))?;
    }
    if to > minute_from {
        scan(Tier::Minute, from.max(minute_from), to)?;
    }
    let mut buckets: BTreeMap<i64, (Vec<f64>, f32, f32)> = BTreeMap::new();
    for ((at, _), (sum, count, min, max)) in per_host {
        if count == 0 {
            continue;
        }
        let slot = buckets
            .entry(at)
            .or_insert((Vec::new(), f32::INFINITY, f32::NEG_INFINITY));
        slot.0.push(sum / f64::from(count));
        slot.1 = slot.1.min(min);
        slot.2 = slot.2.max(max);
    }
    let points = buckets
        .into_iter()
        .map(|(at, (mut values, min, max))| Point {
            at,
            count: u32::try_from(values.len()).unwrap_or(u32::MAX),
            stat: Stat {
                min,
                max,
                avg: agg.apply(&mut values) as f32,
            },
        })
        .collect();
    Ok((points, seen.len()))
}
