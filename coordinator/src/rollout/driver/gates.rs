//! Checking a baking wave's gates against what its hosts last reported. Only a gate that
//! fails becomes a log entry; passing checks leave no trace (the machine would ignore
//! them, and a bake of minutes would otherwise log thousands of entries).

use convoy_proto::v1::MetricsSample;

use super::Driver;
use crate::registry::HostSnapshot;
use crate::rollout::gate::{self, Baseline, Gate, MetricsView};
use crate::rollout::machine::Event;

impl Driver {
    pub(super) fn check_gates(&mut self) {
        let mut failing = Vec::new();
        for (id, loaded) in &self.active {
            let machine = &loaded.machine;
            let hosts = machine.gated_hosts();
            if hosts.is_empty() {
                continue;
            }
            let app = loaded.record.spec.as_ref().map_or("", |s| s.app.as_str());
            let baseline_hosts = machine.baseline_hosts();
            let baseline = if baseline_hosts.is_empty() {
                Baseline::default()
            } else {
                baseline(&self.registry.snapshots(&baseline_hosts, app))
            };
            for (host, snapshot) in hosts.iter().zip(self.registry.snapshots(&hosts, app)) {
                let Some(snapshot) = snapshot else { continue };
                let after = loaded
                    .sampled_before
                    .get(*host)
                    .copied()
                    .unwrap_or(i64::MIN);
                let has_metrics = snapshot
                    .metrics
                    .as_ref()
                    .is_some_and(|m| m.sampled_at_unix_ms > after);
                let Some(view) = view(&snapshot, machine.version()) else {
                    continue;
                };
                // Without a sample taken since the deploy only the health check can be
                // judged.
                let gates: &[Gate] = if has_metrics {
                    &machine.settings().gates
                } else {
                    &[]
                };
                if gate::check_all(gates, &view, &baseline).is_some() {
                    failing.push((
                        id.clone(),
                        Event::Metrics {
                            host: (*host).to_string(),
                            view,
                            baseline: baseline.clone(),
                        },
                    ));
                }
            }
        }
        for (id, event) in failing {
            self.apply_event(&id, &event);
        }
    }
}

/// What the gates see of a host, or None while it has not reported the rollout's version
/// yet (its first report after the deploy is still on its way).
fn view(snapshot: &HostSnapshot, version: &str) -> Option<MetricsView> {
    let app = snapshot.app.as_ref()?;
    if app.version != version {
        return None;
    }
    let metrics = snapshot.metrics.clone().unwrap_or_default();
    Some(MetricsView {
        cpu_percent: metrics.cpu_percent,
        mem_percent: mem_percent(&metrics),
        load1: metrics.load1,
        disks: disks(&metrics),
        healthy: app.healthy,
        signals: metrics.signals.into_iter().collect(),
    })
}

fn mem_percent(metrics: &MetricsSample) -> f64 {
    if metrics.mem_total_bytes == 0 {
        return 0.0;
    }
    metrics.mem_used_bytes as f64 * 100.0 / metrics.mem_total_bytes as f64
}

fn disks(metrics: &MetricsSample) -> Vec<(String, f64)> {
    metrics
        .disks
        .iter()
        .filter(|d| d.total_bytes > 0)
        .map(|d| {
            (
                d.mount.clone(),
                d.used_bytes as f64 * 100.0 / d.total_bytes as f64,
            )
        })
        .collect()
}

/// The median of each metric over the hosts not yet updated that have reported.
fn baseline(snapshots: &[Option<HostSnapshot>]) -> Baseline {
    let samples: Vec<&MetricsSample> = snapshots
        .iter()
        .flatten()
        .filter(|s| s.online)
        .filter_map(|s| s.metrics.as_ref())
        .collect();
    if samples.is_empty() {
        return Baseline::default();
    }
    let mut mounts: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for sample in &samples {
        for (mount, percent) in disks(sample) {
            mounts.entry(mount).or_default().push(percent);
        }
    }
    let mut signals: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for sample in &samples {
        for (key, value) in &sample.signals {
            signals.entry(key.clone()).or_default().push(*value);
        }
    }
    Baseline {
        signals: signals
            .into_iter()
            .filter_map(|(key, values)| median(values).map(|m| (key, m)))
            .collect(),
        cpu_percent: median(samples.iter().map(|s| s.cpu_percent).collect()),
        mem_percent: median(samples.iter().map(|s| mem_percent(s)).collect()),
        load1: median(samples.iter().map(|s| s.load1).collect()),
        disks: mounts
            .into_iter()
            .filter_map(|(mount, values)| median(values).map(|m| (mount, m)))
            .collect(),
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn a_host_on_another_version_is_not_judged_yet() {
        let snapshot = HostSnapshot {
            online: true,
            metrics: None,
            app: Some(convoy_proto::v1::AppStatus {
                app: "web".into(),
                version: "1.0".into(),
                healthy: false,
                ..Default::default()
            }),
        };
        assert!(view(&snapshot, "2.0").is_none());
        let judged = view(&snapshot, "1.0").unwrap();
        assert!(!judged.healthy);
    }
}
