//! Turning the machine's actions into dispatcher jobs. A job's id derives from the log
//! entry that asked for it (`<rollout>.<seq>.deploy`, `.late`, `.rollbackN`), so replaying
//! the log after a crash asks for the same ids and nothing is sent twice.

use std::collections::BTreeMap;

use super::Driver;
use crate::dispatch::{HostJob, Work};
use crate::rollout::machine::Action;
use crate::rollout::record;

/// What a job of a rollout does, to read its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JobKind {
    Deploy,
    Rollback,
    Late,
}

impl Driver {
    /// Turns a batch of the machine's actions, from the entry numbered `seq`, into jobs.
    pub(super) fn actions(&mut self, id: &str, seq: u64, actions: Vec<Action>) {
        let Some(loaded) = self.active.get_mut(id) else {
            return;
        };
        let origin = format!("rollout {id}");
        let timeout = record::delivery_timeout(loaded.machine.settings());
        let deploy = loaded.record.deploy.clone().unwrap_or_default();
        let mut deploys = Vec::new();
        let mut late = Vec::new();
        let mut rollbacks: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for action in actions {
            match action {
                Action::Deploy { host } => deploys.push(host),
                Action::ConvergeLate { host } => late.push(host),
                Action::RollbackHost { host, to } => {
                    rollbacks
                        .entry(to.unwrap_or_default())
                        .or_default()
                        .push(host);
                }
                Action::Finished { state } => {
                    tracing::info!(rollout = %id, state = state.as_str(), "rollout finished");
                }
                Action::WaitUntil { .. } => {}
            }
        }
        let mut jobs = Vec::new();
        if !deploys.is_empty() {
            jobs.push((
                format!("{id}.{seq}.deploy"),
                deploys,
                JobKind::Deploy,
                Work::Deploy(deploy.clone()),
            ));
        }
        if !late.is_empty() {
            jobs.push((
                format!("{id}.{seq}.late"),
                late,
                JobKind::Late,
                Work::Deploy(deploy.clone()),
            ));
        }
        for (n, (to, hosts)) in rollbacks.into_iter().enumerate() {
            let work = Work::Rollback(convoy_proto::v1::Rollback {
                app: deploy.app.clone(),
                version: to,
            });
            jobs.push((
                format!("{id}.{seq}.rollback{n}"),
                hosts,
                JobKind::Rollback,
                work,
            ));
        }
        for (job_id, hosts, kind, work) in jobs {
            for host in &hosts {
                loaded.host_jobs.insert(host.clone(), job_id.clone());
            }
            self.jobs.insert(job_id.clone(), (id.to_string(), kind));
            self.pending_jobs.push(HostJob {
                id: job_id,
                hosts,
                work,
                created_by: loaded.record.created_by.clone(),
                origin: origin.clone(),
                delivery_timeout: timeout,
            });
        }
    }
}
