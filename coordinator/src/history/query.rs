//! Reading the history back: one host's series at any step (from the finest tier that
//! still holds each stretch of time), or one series aggregated across many hosts (from the
//! 1-minute and 15-minute tiers: one contiguous scan per tier).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{HistoryConfig, MINUTE_MS, QUARTER_MS, SeriesId, Stat, Summary, merge};
use crate::store::history::{Tier, fleet_entries, summary_stat};
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
pub(super) fn boundaries(config: &HistoryConfig, now: i64) -> (i64, i64) {
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

    pub(super) fn apply(self, values: &mut [f64]) -> f64 {
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
///
/// Streaming: the trees are time-major, so a scan sees every row of one step before the
/// next; each step is aggregated and dropped when the scan leaves it, and only the asked
/// series is read out of each row ([`summary_stat`]). The range is cut into step-aligned
/// slices scanned on parallel threads.
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
    let (minute_from, raw_from) = boundaries(config, now);
    let index: HashMap<&[u8], usize> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_bytes(), i))
        .collect();
    let scan = |lo: i64, hi: i64| -> Result<Steps, StoreError> {
        let mut steps = Steps::new(step, agg, hosts.len());
        let add = |at: i64, host: &[u8], raw: &[u8], steps: &mut Steps| {
            if let Some(&i) = index.get(host)
                && let Some((count, stat)) = summary_stat(raw, series)
            {
                steps.add(at, i, count, stat);
            }
        };
        if lo < minute_from {
            store.history_scan(Tier::Quarter, lo, hi.min(minute_from), |at, host, raw| {
                add(at, host.as_bytes(), raw, &mut steps);
            })?;
        }
        // The 1-minute tier: per-host rows before the raw tier's start, fleet rows after
        // (one get per minute; a minute without one falls back to its per-host rows).
        let start = lo.max(minute_from);
        if hi > start {
            let fleet_from = raw_from.max(start).min(hi);
            if fleet_from > start {
                store.history_scan(Tier::Minute, start, fleet_from, |at, host, raw| {
                    add(at, host.as_bytes(), raw, &mut steps);
                })?;
            }
            let mut minute = align_up(fleet_from, MINUTE_MS);
            while minute < hi {
                match store.history_fleet_minute(minute)? {
                    Some(row) => {
                        let whole =
                            fleet_entries(&row, |host, raw| add(minute, host, raw, &mut steps));
                        if !whole {
                            return Err(StoreError::CorruptHistory {
                                tree: "history_fleet_1m",
                                key: minute.to_string(),
                            });
                        }
                    }
                    None => store.history_scan(
                        Tier::Minute,
                        minute,
                        minute + MINUTE_MS,
                        |at, host, raw| add(at, host.as_bytes(), raw, &mut steps),
                    )?,
                }
                minute += MINUTE_MS;
            }
        }
        steps.close();
        Ok(steps)
    };
    let slices = slices(from, to, step, SCAN_THREADS);
    let parts: Vec<Result<Steps, StoreError>> = std::thread::scope(|threads| {
        let running: Vec<_> = slices
            .iter()
            .map(|&(lo, hi)| threads.spawn(move || scan(lo, hi)))
            .collect();
        running
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut points = Vec::new();
    let mut seen = vec![false; hosts.len()];
    for part in parts {
        let part = part?;
        points.extend(part.points);
        for (any, here) in seen.iter_mut().zip(part.seen) {
            *any |= here;
        }
    }
    Ok((points, seen.into_iter().filter(|s| *s).count()))
}

/// Threads a selector query scans with.
const SCAN_THREADS: usize = 4;

/// `[from, to)` cut into at most `n` slices whose inner edges are multiples of `step`.
fn slices(from: i64, to: i64, step: i64, n: usize) -> Vec<(i64, i64)> {
    let first = from.div_euclid(step);
    let last = (to - 1).div_euclid(step);
    let steps = (last - first + 1).max(1);
    let n = i64::try_from(n).unwrap_or(1).clamp(1, steps);
    let per = (steps + n - 1) / n;
    let mut out = Vec::new();
    let mut lo = from;
    while lo < to {
        let hi = ((lo.div_euclid(step) + per) * step).min(to);
        out.push((lo, hi));
        lo = hi;
    }
    out
}

/// Per-step aggregation of one scan: the open step's per-host sums, closed into a point
/// when the scan moves past it.
struct Steps {
    step: i64,
    agg: Agg,
    open: Option<i64>,
    /// Per host index: (sum of avg × count, count).
    sums: Vec<(f64, u32)>,
    /// Host indexes with data in the open step.
    touched: Vec<usize>,
    min: f32,
    max: f32,
    seen: Vec<bool>,
    values: Vec<f64>,
    points: Vec<Point>,
}

impl Steps {
    fn new(step: i64, agg: Agg, hosts: usize) -> Self {
        Steps {
            step,
            agg,
            open: None,
            sums: vec![(0.0, 0); hosts],
            touched: Vec::new(),
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            seen: vec![false; hosts],
            values: Vec::new(),
            points: Vec::new(),
        }
    }

    fn add(&mut self, at: i64, host: usize, count: u32, stat: Stat) {
        let bucket = at.div_euclid(self.step) * self.step;
        if self.open != Some(bucket) {
            self.close();
            self.open = Some(bucket);
        }
        let Some(slot) = self.sums.get_mut(host) else {
            return;
        };
        if slot.1 == 0 {
            self.touched.push(host);
        }
        slot.0 += f64::from(stat.avg) * f64::from(count);
        slot.1 = slot.1.saturating_add(count);
        self.min = self.min.min(stat.min);
        self.max = self.max.max(stat.max);
    }

    fn close(&mut self) {
        let Some(at) = self.open.take() else { return };
        self.values.clear();
        for &host in &self.touched {
            let Some(slot) = self.sums.get_mut(host) else {
                continue;
            };
            let (sum, count) = std::mem::take(slot);
            if count > 0 {
                self.values.push(sum / f64::from(count));
                if let Some(seen) = self.seen.get_mut(host) {
                    *seen = true;
                }
            }
        }
        self.touched.clear();
        if !self.values.is_empty() {
            self.points.push(Point {
                at,
                count: u32::try_from(self.values.len()).unwrap_or(u32::MAX),
                stat: Stat {
                    min: self.min,
                    max: self.max,
                    avg: self.agg.apply(&mut self.values) as f32,
                },
            });
        }
        self.min = f32::INFINITY;
        self.max = f32::NEG_INFINITY;
    }
}
