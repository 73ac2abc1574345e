//! The post-deployment report's I/O shell: reads a rollout's record and log (replayed
//! through a machine of its own, never the driver's), the refused controls in the audit
//! log and its hosts' metrics around their update from the history (`history::query_host`),
//! and hands them to the pure `analysis::report::assemble`. [`writer`] stores the report
//! once the rollout ends and appends `rollout.finished` with its summary; [`current`] is
//! what `convoy rollout report` gets: the stored report of the rollout's latest end, else
//! one computed now.

pub mod writer;

use std::collections::BTreeMap;

use convoy_proto::v1::{ReportAction, ReportHost, ReportWave, RolloutReport};

use crate::analysis::report::{
    self as pure, BASE_SERIES, Frame, HostSamples, Inputs, MAX_HOSTS, WINDOW_MS,
};
use crate::history::{HistoryConfig, MAX_DISKS, MAX_SIGNALS, MINUTE_MS, SeriesId, query_host};
use crate::registry::Registry;
use crate::rollout::machine::Rollout;
use crate::rollout::record::{self, Replayed, SpecError};
use crate::store::{Store, StoreError};

/// Audit entries read for refused controls at most (newest first within the rollout's
/// lifetime), and their bytes.
const AUDIT_ENTRIES: usize = 10_000;
const AUDIT_BYTES: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no rollout {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rollout {id}: its stored spec no longer parses: {source}")]
    Spec { id: String, source: SpecError },
}

/// The report of rollout `id`: the stored one if it belongs to the rollout's latest end,
/// else one computed at `now` (`stored` false).
pub fn current(
    store: &Store,
    history: Option<&HistoryConfig>,
    registry: &Registry,
    id: &str,
    now: i64,
) -> Result<RolloutReport, ReportError> {
    let record = store
        .rollout(id)?
        .ok_or_else(|| ReportError::NotFound(id.to_string()))?;
    if let Some(report) = store.rollout_report(id)? {
        if is_current(&report, &record) {
            return Ok(report);
        }
    }
    build(store, history, registry, &record, now)
}

/// Whether a stored report is the one of the record's latest end (a rollback of a
/// succeeded rollout reopens it, and its next end gets a report of its own).
pub fn is_current(report: &RolloutReport, record: &convoy_proto::v1::RolloutRecord) -> bool {
    !record.active
        && record.finished_unix_ms > 0
        && report.finished_unix_ms == record.finished_unix_ms
}

/// Assembles the report of `record` as of `now`.
pub fn build(
    store: &Store,
    history: Option<&HistoryConfig>,
    registry: &Registry,
    record: &convoy_proto::v1::RolloutRecord,
    now: i64,
) -> Result<RolloutReport, ReportError> {
    let id = record.id.clone();
    let spec = record.spec.clone().unwrap_or_default();
    let plan_record = record.plan.clone().unwrap_or_default();
    let plan = record::plan_from_record(&spec.version, &plan_record);
    let (_, settings) = record::parse_spec(&spec).map_err(|source| ReportError::Spec {
        id: id.clone(),
        source,
    })?;
    let bake_ms = settings.bake_ms;
    let mut machine = Rollout::new(&plan, settings);
    let mut frames = Vec::new();
    let mut previous = None;
    for (_, entry) in store.rollout_entries(&id)? {
        match record::replayed(&entry) {
            Replayed::Start => drop(machine.start(entry.at_unix_ms)),
            Replayed::Machine(event) => drop(machine.on_event(entry.at_unix_ms, event)),
            Replayed::Unknown => continue,
        }
        let state = machine.state();
        let waiting_for = (previous != Some(state)).then(|| machine.status().waiting_for);
        previous = Some(state);
        frames.push(Frame {
            at: entry.at_unix_ms,
            kind: entry.kind(),
            host: entry.host.clone(),
            by: entry.by.clone(),
            state: record::codec::state(state),
            wave: machine.current_wave(),
            waiting_for,
        });
    }
    let status = machine.status();
    let mut hosts = Vec::new();
    let mut final_waves = Vec::new();
    for (index, wave) in status.waves.iter().enumerate() {
        let mut last = ReportWave {
            analysis: machine
                .wave_analysis(index)
                .iter()
                .map(record::analysis::to_proto)
                .collect(),
            ..Default::default()
        };
        last.set_state(record::codec::wave_state(wave.state));
        final_waves.push(last);
        for host in &wave.hosts {
            let mut out = ReportHost {
                host: host.id.clone(),
                wave: u32::try_from(index).unwrap_or(u32::MAX),
                reason: host.reason.clone().unwrap_or_default(),
                previous_version: host.previous_version.clone().unwrap_or_default(),
                ..Default::default()
            };
            out.set_state(record::codec::host_state(host.state));
            hosts.push(out);
        }
    }
    let mut header = RolloutReport {
        id: id.clone(),
        app: spec.app.clone(),
        version: spec.version.clone(),
        selector: spec.selector.clone(),
        created_by: record.created_by.clone(),
        created_unix_ms: record.created_unix_ms,
        finished_unix_ms: if status.state.is_terminal() {
            record.finished_unix_ms
        } else {
            0
        },
        targets: u32::try_from(status.targets).unwrap_or(u32::MAX),
        failures: status.failures,
        failure_budget: status.failure_budget,
        ..Default::default()
    };
    header.set_state(record::codec::state(status.state));
    let times = pure::host_times(&frames);
    let deployed_hosts = hosts
        .iter()
        .filter(|h| times.get(&h.host).is_some_and(|t| t.ran))
        .count();
    let samples = match history {
        Some(history) => {
            let compared = pure::compared(&hosts, &times, MAX_HOSTS);
            compared
                .iter()
                .map(|host| {
                    let t = times.get(host).copied().unwrap_or_default();
                    let names = series_of(registry, host, &spec.app, &spec.analysis);
                    host_samples(store, history, host, &names, t, now)
                })
                .collect()
        }
        None => Vec::new(),
    };
    let end = (header.finished_unix_ms > 0).then_some(header.finished_unix_ms + 1);
    Ok(pure::assemble(Inputs {
        header,
        planned: plan_record.waves,
        bake_ms,
        frames,
        final_waves,
        hosts,
        refused: refused(store, &id, record.created_unix_ms, end)?,
        samples,
        deployed_hosts,
        now,
    }))
}

/// The series a host is compared on: cpu, mem, load1, its disks and app signals (as its
/// latest heartbeat reports them, as many as the history keeps) and the rollout's
/// `--analysis` signals.
fn series_of(registry: &Registry, host: &str, app: &str, analyses: &[String]) -> Vec<String> {
    let mut names: Vec<String> = BASE_SERIES.iter().map(|s| s.to_string()).collect();
    let latest = registry
        .snapshots(&[host], app)
        .into_iter()
        .flatten()
        .find_map(|s| s.metrics);
    if let Some(m) = latest {
        names.extend(
            m.disks
                .iter()
                .take(MAX_DISKS)
                .map(|d| format!("disk:{}", d.mount)),
        );
        names.extend(m.signals.keys().take(MAX_SIGNALS).cloned());
    }
    for text in analyses {
        if let Ok(analysis) = crate::analysis::verdict::Analysis::parse(text) {
            names.push(analysis.signal);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| SeriesId::parse(n).is_ok() && seen.insert(n.clone()));
    names
}

/// Per-minute averages of each series in the hour before the host's update and after it.
fn host_samples(
    store: &Store,
    history: &HistoryConfig,
    host: &str,
    names: &[String],
    times: pure::HostTimes,
    now: i64,
) -> HostSamples {
    let ids: Vec<SeriesId> = names
        .iter()
        .filter_map(|n| SeriesId::parse(n).ok())
        .collect();
    let [before, after] = pure::windows(times, now, WINDOW_MS);
    let read = |(from, to): (i64, i64)| -> Vec<Vec<f64>> {
        if to <= from {
            return vec![Vec::new(); ids.len()];
        }
        match query_host(store, history, host, &ids, (from, to, MINUTE_MS), now) {
            Ok(series) => series
                .into_iter()
                .map(|points| points.iter().map(|p| f64::from(p.stat.avg)).collect())
                .collect(),
            Err(err) => {
                tracing::warn!(host, error = %err, "report: cannot read the metrics history");
                vec![Vec::new(); ids.len()]
            }
        }
    };
    let (before, after) = (read(before), read(after));
    let series: BTreeMap<String, pure::BeforeAfter> = names
        .iter()
        .cloned()
        .zip(before.into_iter().zip(after))
        .filter(|(_, (b, a))| !b.is_empty() || !a.is_empty())
        .collect();
    HostSamples {
        host: host.to_string(),
        series,
    }
}

/// Refused `rollout pause|resume|promote|abort|rollback RID` calls from the audit log,
/// within the rollout's lifetime (`end` exclusive; None: until now).
fn refused(
    store: &Store,
    id: &str,
    since: i64,
    end: Option<i64>,
) -> Result<Vec<ReportAction>, StoreError> {
    let before = end.map(|at| at.to_be_bytes().to_vec());
    let page = store.audit(since, "", AUDIT_ENTRIES, before.as_deref(), AUDIT_BYTES)?;
    Ok(page
        .entries
        .into_iter()
        .filter(|e| !e.ok && e.call == "ControlRollout")
        .filter_map(|e| {
            let (action, target) = e.request.split_once(' ')?;
            (target == id).then(|| ReportAction {
                at_unix_ms: e.at_unix_ms,
                by: e.operator.clone(),
                action: action.to_string(),
                ok: false,
                detail: e.outcome.clone(),
            })
        })
        .collect())
}
