//! Bringing rollouts back from the store: replay a rollout's log from its plan, recreate
//! any job the log asked for that does not exist yet, and feed in results that reached
//! the store while the driver was not listening.

use convoy_proto::v1::{RolloutRecord, RolloutView};

use super::inputs::run_entry;
use std::collections::HashMap;

use super::{Driver, JobKind, RolloutError};
use crate::clock::now_unix_ms;
use crate::dispatch::Finished;
use crate::dispatch::plan::is_terminal;
use crate::rollout::machine::{HostState, Rollout, State};
use crate::rollout::record;

/// A rollout that ended is looked at again on start (late convergence, results of hosts
/// still deploying when it was aborted) this long after it ended at most; its own late
/// window, checked by [`Loaded::keep`], may be shorter.
const LATE_LOOKBACK_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// One loaded rollout.
pub(super) struct Loaded {
    pub(super) record: RolloutRecord,
    pub(super) machine: Rollout,
    pub(super) next_seq: u64,
    /// Each host's latest job: results of older ones are stale.
    pub(super) host_jobs: HashMap<String, String>,
    /// For each host whose deploy succeeded while this driver ran: the time of the metrics
    /// sample it had then. Gates judge only later samples, never one taken mid-deploy.
    /// (Not persisted: after a restart every sample counts.)
    pub(super) sampled_before: HashMap<String, i64>,
}

impl Loaded {
    pub(super) fn view(&self) -> RolloutView {
        record::view(&self.record, &self.machine)
    }

    /// Whether the driver still has anything to do for it ([`Rollout::can_unload`]).
    pub(super) fn keep(&self, now: i64) -> bool {
        !self.machine.can_unload(now)
    }
}

impl Driver {
    /// Loads every rollout the driver still has work for.
    pub(super) fn load_all(&mut self) -> Result<(), RolloutError> {
        let now = now_unix_ms();
        for record in self.store.rollouts()? {
            // A recent success may still await late hosts, a recent abort results of
            // hosts in flight (no other end leaves any); `Loaded::keep` decides once
            // replayed.
            let recent = now.saturating_sub(record.finished_unix_ms) < LATE_LOOKBACK_MS
                && matches!(
                    record::record_state(&record),
                    Some(State::Succeeded | State::Aborted)
                );
            if !record.active && !recent {
                continue;
            }
            let id = record.id.clone();
            let loaded = self.load_one(record, true)?;
            if !loaded.keep(now) {
                self.jobs.retain(|_, (owner, _)| owner != &id);
                continue;
            }
            tracing::info!(rollout = %id, state = loaded.machine.state().as_str(), entries = loaded.next_seq, "rollout resumed");
            self.active.insert(id.clone(), loaded);
            self.reconcile(&id)?;
        }
        Ok(())
    }

    /// Rebuilds a rollout by replaying its log. With `register`, the jobs its entries
    /// asked for are queued (creating them is a no-op for those that exist) and tracked.
    pub(super) fn load_one(
        &mut self,
        record: RolloutRecord,
        register: bool,
    ) -> Result<Loaded, RolloutError> {
        let version = record
            .spec
            .as_ref()
            .map(|s| s.version.clone())
            .unwrap_or_default();
        let plan = record::plan_from_record(&version, &record.plan.clone().unwrap_or_default());
        let (_, mut settings) = record::parse_spec(&record.spec.clone().unwrap_or_default())?;
        settings.starter = record.created_by.clone();
        let id = record.id.clone();
        let entries = self.store.rollout_entries(&id)?;
        let mut loaded = Loaded {
            machine: Rollout::new(&plan, settings),
            record,
            next_seq: 0,
            host_jobs: Default::default(),
            sampled_before: Default::default(),
        };
        if !register {
            for (seq, entry) in &entries {
                run_entry(&mut loaded, entry);
                loaded.next_seq = seq + 1;
            }
            return Ok(loaded);
        }
        // Actions are turned into jobs through `self.actions`, which finds the rollout in
        // `self.active`: replay it there, then take it back out.
        self.active.insert(id.clone(), loaded);
        for (seq, entry) in &entries {
            let Some(loaded) = self.active.get_mut(&id) else {
                break;
            };
            let actions = run_entry(loaded, entry);
            loaded.next_seq = seq + 1;
            self.actions(&id, *seq, actions);
        }
        self.active
            .remove(&id)
            .ok_or_else(|| RolloutError::NotFound(id.clone()))
    }

    /// Feeds in the results of commands that finished while nobody listened.
    fn reconcile(&mut self, id: &str) -> Result<(), RolloutError> {
        let Some(loaded) = self.active.get(id) else {
            return Ok(());
        };
        let mut done = Vec::new();
        for (host, state) in loaded.machine.host_states() {
            let Some(job_id) = loaded.host_jobs.get(host) else {
                continue;
            };
            let waiting = match self.jobs.get(job_id).map(|(_, kind)| *kind) {
                Some(JobKind::Deploy) => state == HostState::Deploying,
                Some(JobKind::Rollback) => state == HostState::RollingBack,
                Some(JobKind::Late) => loaded.machine.awaits_late(host),
                None => false,
            };
            if !waiting {
                continue;
            }
            let Some(command) = self.store.command(&format!("{job_id}/{host}"))? else {
                continue;
            };
            let state = crate::dispatch::plan::command_state(command.state);
            if is_terminal(state) {
                done.push(Finished {
                    job_id: job_id.clone(),
                    agent_id: host.to_string(),
                    state,
                    message: command.message,
                });
            }
        }
        for finished in done {
            self.finished(&finished);
        }
        Ok(())
    }
}
