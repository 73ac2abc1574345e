//! Metric deltas (before against after, tested with the two-sided Mann–Whitney U) and the
//! report's words: numbers, durations, one delta, the summary line.

use std::collections::BTreeMap;

use convoy_proto::v1::{MetricDelta, RolloutReport};

use super::{BASE_SERIES, BeforeAfter, HostSamples, MIN_SAMPLES};
use crate::analysis::stats::{Alternative, mann_whitney_u, median};

/// One series before against after: medians, the change and, with at least
/// [`MIN_SAMPLES`] on each side, the two-sided Mann–Whitney U p-value.
pub fn delta(series: &str, host: &str, before: &[f64], after: &[f64], alpha: f64) -> MetricDelta {
    let clean = |v: &[f64]| -> Vec<f64> { v.iter().copied().filter(|x| x.is_finite()).collect() };
    let (before, after) = (clean(before), clean(after));
    let (b, a) = (median(&before), median(&after));
    let change = a.zip(b).map(|(a, b)| a - b);
    let change_percent = change
        .zip(b)
        .filter(|(_, b)| *b != 0.0)
        .map(|(c, b)| c * 100.0 / b.abs());
    let p_value = (before.len() >= MIN_SAMPLES && after.len() >= MIN_SAMPLES)
        .then(|| mann_whitney_u(&after, &before, Alternative::TwoSided))
        .flatten()
        .map(|t| t.p);
    MetricDelta {
        series: series.to_string(),
        host: host.to_string(),
        before_median: b,
        after_median: a,
        change,
        change_percent,
        p_value,
        significant: p_value.is_some_and(|p| p < alpha),
        before_samples: u32::try_from(before.len()).unwrap_or(u32::MAX),
        after_samples: u32::try_from(after.len()).unwrap_or(u32::MAX),
    }
}

/// The order series are shown in: cpu, mem, load1, then disks, then app signals, each by
/// name.
fn series_order(name: &str) -> (usize, &str) {
    match BASE_SERIES.iter().position(|s| *s == name) {
        Some(i) => (i, name),
        None if name.starts_with("disk:") => (BASE_SERIES.len(), name),
        None => (BASE_SERIES.len() + 1, name),
    }
}

/// The pooled delta of each series over every host (host ""), then each host's own.
pub fn deltas(samples: &[HostSamples], alpha: f64) -> Vec<MetricDelta> {
    let mut pooled: BTreeMap<(usize, &str), BeforeAfter> = BTreeMap::new();
    for host in samples {
        for (name, (before, after)) in &host.series {
            let slot = pooled.entry(series_order(name)).or_default();
            slot.0.extend(before);
            slot.1.extend(after);
        }
    }
    let mut out: Vec<MetricDelta> = pooled
        .iter()
        .map(|((_, name), (before, after))| delta(name, "", before, after, alpha))
        .collect();
    for host in samples {
        let mut names: Vec<&String> = host.series.keys().collect();
        names.sort_by_key(|n| series_order(n));
        for name in names {
            let (before, after) = &host.series[name];
            out.push(delta(name, &host.host, before, after, alpha));
        }
    }
    out
}

/// The significant pooled delta with the largest relative change (absolute change when
/// the relative one is not defined).
pub fn worst(deltas: &[MetricDelta]) -> Option<&MetricDelta> {
    let size = |d: &MetricDelta| d.change_percent.or(d.change).unwrap_or(0.0).abs();
    deltas
        .iter()
        .filter(|d| d.host.is_empty() && d.significant)
        .max_by(|a, b| size(a).total_cmp(&size(b)))
}

/// `1h2m`, `3m12s`, `45s`, `800ms`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m"),
    }
}

/// A number as a report shows it: up to 3 decimals, no trailing zeros.
pub fn number(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// One delta in words: `cpu 20 → 35 (+75%, p=0.0012)`.
pub fn delta_text(d: &MetricDelta) -> String {
    let side = |v: Option<f64>| v.map_or("-".to_string(), number);
    let change = match (d.change_percent, d.change) {
        (Some(pct), _) => format!("{pct:+.1}%"),
        (None, Some(c)) => format!("{}{}", if c >= 0.0 { "+" } else { "" }, number(c)),
        (None, None) => "no data".to_string(),
    };
    let p = d.p_value.map_or(String::new(), |p| format!(", p={p:.4}"));
    format!(
        "{} {} → {} ({change}{p})",
        d.series,
        side(d.before_median),
        side(d.after_median)
    )
}

/// One or two lines, no links: app, version, result, hosts updated and failed against
/// the budget, duration; then the worst significant delta.
pub fn summary(report: &RolloutReport, now: i64) -> String {
    let end = if report.finished_unix_ms > 0 {
        report.finished_unix_ms
    } else {
        now
    };
    let first = format!(
        "{} {}: {} — {}/{} hosts updated, {} failed (budget {}), {}{}",
        report.app,
        report.version,
        report.state().name().replace('_', " "),
        report.updated,
        report.targets,
        report.failures,
        report.failure_budget,
        duration(end - report.created_unix_ms),
        if report.finished_unix_ms > 0 {
            ""
        } else {
            " so far"
        },
    );
    let second = match worst(&report.deltas) {
        Some(d) => format!("worst significant change: {}", delta_text(d)),
        None if report.deltas.iter().any(|d| d.p_value.is_some()) => {
            format!("no significant metric change (alpha {})", report.alpha)
        }
        None => "metric changes not testable: too few samples".to_string(),
    };
    format!("{first}\n{second}")
}
