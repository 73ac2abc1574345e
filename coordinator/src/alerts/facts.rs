//! What alert rules are evaluated against: the registry's hosts (online, labels, latest
//! sample, failing apps, CPU count) and, only when a rule needs them, the store's backup
//! and drill times, failed rollouts and the coordinator's certificate expiry dates.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use convoy_proto::v1::{BackupState, RolloutState};

use super::{Expr, Rule};
use crate::history::Sample;
use crate::registry::Registry;
use crate::store::{Store, StoreError};

/// One host, as rules see it.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub online: bool,
    pub sample: Option<Sample>,
    pub cpus: u32,
    pub failing_apps: Vec<String>,
}

/// Everything a rule may look at, gathered once per evaluation.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub hosts: Vec<HostFacts>,
    /// (host, set, last complete backup unix ms).
    pub backups: Vec<(String, String, i64)>,
    /// (host, set, last passed drill unix ms).
    pub drills: Vec<(String, String, i64)>,
    /// (certificate, not-after unix ms).
    pub certs: Vec<(String, i64)>,
    /// (app, rollout id) of each app whose latest rollout failed.
    pub failed_rollouts: Vec<(String, String)>,
}

/// Where facts come from.
#[derive(Debug, Clone)]
pub struct Source {
    pub registry: Arc<Registry>,
    pub store: Store,
    /// The coordinator's own certificate files, for `cert_expires`.
    pub certs: Vec<PathBuf>,
}

/// The not-after time of the first certificate in a PEM file, unix ms.
pub fn cert_not_after(path: &std::path::Path) -> Option<i64> {
    let pem = std::fs::read(path).ok()?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    Some(cert.validity().not_after.timestamp() * 1000)
}

impl Source {
    pub fn gather(&self, rules: &[Rule]) -> Result<Facts, StoreError> {
        let needs = |f: fn(&Expr) -> bool| rules.iter().any(|r| f(&r.expr));
        let mut facts = Facts::default();
        self.registry.visit(|record, online| {
            facts.hosts.push(HostFacts {
                id: record.id.clone(),
                labels: record.labels.clone(),
                online,
                sample: record
                    .last_metrics
                    .as_ref()
                    .map(|m| Sample::from_metrics(m.sampled_at_unix_ms, m)),
                cpus: record.facts.as_ref().map(|f| f.cpus).unwrap_or(0),
                failing_apps: record
                    .apps
                    .iter()
                    .filter(|a| !a.healthy && !a.version.is_empty())
                    .map(|a| a.app.clone())
                    .collect(),
            });
        });
        let backups = needs(|e| matches!(e, Expr::BackupAge { .. }));
        let drills = needs(|e| matches!(e, Expr::DrillAge { .. }));
        if backups || drills {
            let mut last: HashMap<(String, String), i64> = HashMap::new();
            let mut drilled: HashMap<(String, String), i64> = HashMap::new();
            for backup in self.store.backups()? {
                if backup.state != BackupState::Complete as i32 {
                    continue;
                }
                let key = (backup.host.clone(), backup.set.clone());
                let at = last.entry(key.clone()).or_insert(0);
                *at = (*at).max(backup.completed_unix_ms);
                let drill = drilled.entry(key).or_insert(0);
                if let Some(result) = backup.last_drill.as_ref().filter(|d| d.ok) {
                    *drill = (*drill).max(result.at_unix_ms);
                }
            }
            let flat = |map: HashMap<(String, String), i64>| {
                let mut rows: Vec<_> = map.into_iter().map(|((h, s), at)| (h, s, at)).collect();
                rows.sort();
                rows
            };
            facts.backups = flat(last);
            facts.drills = flat(drilled);
        }
        if needs(|e| matches!(e, Expr::CertExpires { .. })) {
            facts.certs = self
                .certs
                .iter()
                .filter_map(|path| {
                    let name = path.file_name()?.to_string_lossy().into_owned();
                    Some((name, cert_not_after(path)?))
                })
                .collect();
        }
        if needs(|e| matches!(e, Expr::RolloutFailed)) {
            let mut latest: BTreeMap<String, (i64, String, RolloutState)> = BTreeMap::new();
            for record in self.store.rollouts()? {
                let app = record
                    .spec
                    .as_ref()
                    .map(|s| s.app.clone())
                    .unwrap_or_default();
                let slot = latest.entry(app).or_insert((
                    i64::MIN,
                    String::new(),
                    RolloutState::Unspecified,
                ));
                if record.created_unix_ms > slot.0 {
                    *slot = (record.created_unix_ms, record.id.clone(), record.state());
                }
            }
            facts.failed_rollouts = latest
                .into_iter()
                .filter(|(_, (_, _, state))| *state == RolloutState::Failed)
                .map(|(app, (_, id, _))| (app, id))
                .collect();
        }
        Ok(facts)
    }
}
