//! The capacity report's I/O shell (`convoy report capacity`, issue 16): picks the hosts
//! (a selector, grouped by a label), reads each one's cpu, mem, load1 and disks from the
//! metrics history (`history::query_host`) and hands the samples to the pure
//! [`analysis::capacity`](crate::analysis::capacity). Synchronous: the gRPC handler runs
//! it on a blocking thread.

use std::collections::BTreeMap;

use crate::analysis::capacity::{GroupReport, HostSamples, Thresholds, group_report};
use crate::history::{HistoryConfig, MAX_DISKS, MINUTE_MS, QUARTER_MS, QueryError, SeriesId};
use crate::registry::Registry;
use crate::selector::Selector;
use crate::store::Store;

const DAY_MS: f64 = 86_400_000.0;
/// Points read per host and series at most.
pub const MAX_POINTS: i64 = 1_000;
/// The shortest window.
pub const MIN_SINCE_MS: i64 = MINUTE_MS;

/// What to report on.
#[derive(Debug, Clone)]
pub struct Request {
    pub selector: Selector,
    /// One group per value of this label; None: one group.
    pub group_by: Option<String>,
    /// The group's name when there is one group (the selector as written).
    pub name: String,
    pub since_ms: i64,
    pub thresholds: Thresholds,
}

/// One group's hosts and report.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub report: GroupReport,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    pub groups: Vec<Group>,
    pub from: i64,
    pub to: i64,
    pub step: i64,
}

/// A point width that keeps at most [`MAX_POINTS`] per series and lines up with the
/// history's tiers (whole minutes past a minute, whole quarters past a quarter).
pub fn step_for(since_ms: i64) -> i64 {
    let raw = (since_ms + MAX_POINTS - 1) / MAX_POINTS;
    let round_up = |width: i64| (raw + width - 1) / width * width;
    if raw <= 1_000 {
        1_000
    } else if raw <= MINUTE_MS {
        round_up(1_000)
    } else if raw <= QUARTER_MS {
        round_up(MINUTE_MS)
    } else {
        round_up(QUARTER_MS)
    }
}

/// A host as the registry knows it.
struct Host {
    id: String,
    group: String,
    cpus: u32,
    disks: Vec<String>,
}

fn hosts(registry: &Registry, request: &Request) -> Vec<Host> {
    let mut hosts = Vec::new();
    registry.visit(|record, _online| {
        if !request.selector.matches_host(&record.id, &record.labels) {
            return;
        }
        let group = match &request.group_by {
            None => request.name.clone(),
            Some(label) => record
                .labels
                .get(label)
                .cloned()
                .unwrap_or_else(|| format!("(no {label})")),
        };
        let disks = record
            .last_metrics
            .as_ref()
            .map(|m| {
                m.disks
                    .iter()
                    .take(MAX_DISKS)
                    .map(|d| d.mount.clone())
                    .collect()
            })
            .unwrap_or_default();
        hosts.push(Host {
            id: record.id.clone(),
            group,
            cpus: record.facts.as_ref().map_or(0, |f| f.cpus),
            disks,
        });
    });
    hosts.sort_by(|a, b| a.id.cmp(&b.id));
    hosts
}

/// One host's samples over `[from, to)`.
fn samples(
    store: &Store,
    history: &HistoryConfig,
    host: &Host,
    (from, to, step): (i64, i64, i64),
    now: i64,
) -> Result<HostSamples, QueryError> {
    let mut series = vec![
        SeriesId::parse("cpu").map_err(QueryError::Invalid)?,
        SeriesId::parse("mem").map_err(QueryError::Invalid)?,
        SeriesId::parse("load1").map_err(QueryError::Invalid)?,
    ];
    series.extend(host.disks.iter().map(|m| SeriesId::Disk(m.clone())));
    let answers =
        crate::history::query_host(store, history, &host.id, &series, (from, to, step), now)?;
    let day = |at: i64| (at - from) as f64 / DAY_MS;
    let points = |i: usize| -> Vec<(f64, f64)> {
        answers
            .get(i)
            .map(|points| {
                points
                    .iter()
                    .map(|p| (day(p.at), f64::from(p.stat.avg)))
                    .collect()
            })
            .unwrap_or_default()
    };
    // The fullest disk at each point.
    let mut disk: BTreeMap<i64, f64> = BTreeMap::new();
    for points in answers.iter().skip(3) {
        for p in points {
            let value = f64::from(p.stat.avg);
            disk.entry(p.at)
                .and_modify(|v| *v = v.max(value))
                .or_insert(value);
        }
    }
    let load_per_core = if host.cpus == 0 {
        Vec::new()
    } else {
        points(2)
            .into_iter()
            .map(|(d, load)| (d, load / f64::from(host.cpus)))
            .collect()
    };
    Ok(HostSamples {
        id: host.id.clone(),
        cpu: points(0),
        mem: points(1),
        disk: disk.into_iter().map(|(at, v)| (day(at), v)).collect(),
        load_per_core,
    })
}

/// Reads the history of every host the request names and reports per group (sorted by
/// name).
pub fn report(
    store: &Store,
    history: &HistoryConfig,
    registry: &Registry,
    request: &Request,
    now: i64,
) -> Result<Report, QueryError> {
    let step = step_for(request.since_ms);
    let (from, to) = (now - request.since_ms, now + 1);
    let mut groups: BTreeMap<String, Vec<HostSamples>> = BTreeMap::new();
    for host in hosts(registry, request) {
        let samples = samples(store, history, &host, (from, to, step), now)?;
        groups.entry(host.group).or_default().push(samples);
    }
    let now_day = (now - from) as f64 / DAY_MS;
    Ok(Report {
        groups: groups
            .into_iter()
            .map(|(name, hosts)| Group {
                report: group_report(&hosts, request.thresholds, now_day),
                name,
            })
            .collect(),
        from,
        to: now,
        step,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn steps_line_up_with_the_tiers_and_bound_the_points() {
        use super::step_for;
        let day = 86_400_000;
        for (since, step) in [
            (60_000, 1_000),
            (3_600_000, 4_000),
            (6 * 3_600_000, 22_000),
            (2 * day, 180_000),
            (14 * day, 30 * 60_000),
            (90 * day, 135 * 60_000),
        ] {
            assert_eq!(step_for(since), step, "since {since}");
            assert!(since / step <= super::MAX_POINTS, "since {since}");
        }
    }
}
