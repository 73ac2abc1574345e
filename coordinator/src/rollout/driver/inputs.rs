//! What the driver does with each kind of input: operator requests (a start is in
//! `start.rs`), finished commands, hosts coming and going, and deadlines. Each turns into
//! log entries through [`Driver::apply`]; whether an operator control may happen is the
//! machine's answer ([`Rollout::check`](crate::rollout::machine::Rollout::check)).

use convoy_proto::v1::{CommandState, RolloutLogEntry};

use super::{Control, Deferred, Driver, JobKind, Loaded, Request, RolloutError};
use crate::clock::now_unix_ms;
use crate::dispatch::Finished;
use crate::rollout::machine::{Action, Event, HostState, Refusal, State};
use crate::rollout::record::{self, Replayed};
use crate::store::StoreError;

/// Applies one entry to a loaded rollout's machine; the actions it returns.
pub(super) fn run_entry(loaded: &mut Loaded, entry: &RolloutLogEntry) -> Vec<Action> {
    match record::replayed(entry) {
        Replayed::Start => loaded.machine.start(entry.at_unix_ms),
        Replayed::Machine(event) => loaded.machine.on_event(entry.at_unix_ms, event),
        Replayed::Unknown => Vec::new(),
    }
}

impl Driver {
    /// Appends one entry to the rollout's log, applies it and queues its jobs.
    pub(super) fn apply(&mut self, id: &str, entry: RolloutLogEntry) -> Result<(), StoreError> {
        let Some(loaded) = self.active.get_mut(id) else {
            return Ok(());
        };
        let seq = loaded.next_seq;
        self.store.append_rollout_entry(id, seq, &entry)?;
        loaded.next_seq += 1;
        self.touched.insert(id.to_string());
        let actions = run_entry(loaded, &entry);
        self.actions(id, seq, actions);
        Ok(())
    }

    pub(super) fn apply_event(&mut self, id: &str, event: &Event) {
        let entry = record::entry(now_unix_ms(), event);
        if let Err(err) = self.apply(id, entry) {
            tracing::error!(rollout = %id, error = %err, "cannot record a rollout event");
        }
    }

    pub(super) fn request(&mut self, request: Request, deferred: &mut Vec<Deferred>) {
        match request {
            Request::Start {
                spec,
                dry_run,
                request_id,
                by,
                reply,
            } => {
                let result = self.start(*spec, dry_run, &request_id, &by);
                deferred.push(Deferred::Started(reply, result));
            }
            Request::Control {
                id,
                control,
                force,
                by,
                reply,
            } => {
                let result = self.control(&id, control, &by, force);
                deferred.push(Deferred::View(reply, result));
            }
            Request::Approve {
                id,
                by,
                role,
                comment,
                withdraw,
                reply,
            } => {
                let result = self.approve(&id, &by, role, &comment, withdraw);
                deferred.push(Deferred::View(reply, result));
            }
            Request::Get { id, reply } => {
                let result = self.view_of(&id);
                deferred.push(Deferred::View(reply, result));
            }
        }
    }

    fn control(
        &mut self,
        id: &str,
        control: Control,
        by: &str,
        force: bool,
    ) -> Result<super::RolloutView, RolloutError> {
        let newer = if control == Control::Rollback {
            self.newer_rollouts(id)?
        } else {
            Vec::new()
        };
        if !self.active.contains_key(id) {
            let record = self
                .store
                .rollout(id)?
                .ok_or_else(|| RolloutError::NotFound(id.to_string()))?;
            if control != Control::Rollback || record.active {
                return Err(RolloutError::Refused {
                    id: id.to_string(),
                    state: record::record_state(&record)
                        .map_or_else(|| record.legacy_state.clone(), |s| s.to_string()),
                    why: Refusal::NothingTo(control),
                });
            }
            let loaded = self.load_one(record, true)?;
            self.active.insert(id.to_string(), loaded);
        }
        let Some(loaded) = self.active.get(id) else {
            return Err(RolloutError::NotFound(id.to_string()));
        };
        let machine = &loaded.machine;
        let checked = match control {
            Control::Rollback => machine.check_rollback(&newer, force),
            _ => machine.check(control),
        };
        let event = checked.map_err(|why| RolloutError::Refused {
            id: id.to_string(),
            state: machine.state().to_string(),
            why,
        })?;
        let mut entry = record::entry(now_unix_ms(), &event);
        entry.by = by.to_string();
        self.apply(id, entry)?;
        tracing::info!(rollout = %id, by, control = control.as_str(), "rollout control");
        self.view_of(id)
    }

    fn approve(
        &mut self,
        id: &str,
        by: &str,
        role: convoy_proto::identity::Role,
        comment: &str,
        withdraw: bool,
    ) -> Result<super::RolloutView, RolloutError> {
        let Some(loaded) = self.active.get(id) else {
            let record = self
                .store
                .rollout(id)?
                .ok_or_else(|| RolloutError::NotFound(id.to_string()))?;
            return Err(RolloutError::Refused {
                id: id.to_string(),
                state: record::record_state(&record)
                    .map_or_else(|| record.legacy_state.clone(), |s| s.to_string()),
                why: Refusal::Over,
            });
        };
        let spec = loaded.record.spec.clone().unwrap_or_default();
        // The environment's role, copied into the spec at start; no role: any operator.
        let qualified = spec.approval_role.is_empty()
            || spec
                .approval_role
                .parse::<convoy_proto::identity::Role>()
                .is_ok_and(|needed| role >= needed);
        let machine = &loaded.machine;
        let checked = if withdraw {
            machine.check_withdraw(by)
        } else {
            machine.check_approval(by, qualified, comment)
        };
        let event = checked.map_err(|why| RolloutError::Refused {
            id: id.to_string(),
            state: machine.state().to_string(),
            why,
        })?;
        let mut entry = record::entry(now_unix_ms(), &event);
        entry.by = by.to_string();
        self.apply(id, entry)?;
        tracing::info!(rollout = %id, by, withdraw, "rollout approval");
        self.view_of(id)
    }

    /// Rollouts of the same app created after `id` that still stand (not rolled back).
    fn newer_rollouts(&self, id: &str) -> Result<Vec<String>, RolloutError> {
        let Some(this) = self.store.rollout(id)? else {
            return Ok(Vec::new());
        };
        let app = this
            .spec
            .as_ref()
            .map(|s| s.app.clone())
            .unwrap_or_default();
        Ok(self
            .store
            .rollouts()?
            .into_iter()
            .filter(|r| r.id != id && r.created_unix_ms > this.created_unix_ms)
            .filter(|r| r.spec.as_ref().is_some_and(|s| s.app == app))
            .filter(|r| record::record_state(r) != Some(State::RolledBack))
            .map(|r| r.id)
            .collect())
    }

    pub(super) fn view_of(&mut self, id: &str) -> Result<super::RolloutView, RolloutError> {
        if let Some(loaded) = self.active.get(id) {
            return Ok(loaded.view());
        }
        let record = self
            .store
            .rollout(id)?
            .ok_or_else(|| RolloutError::NotFound(id.to_string()))?;
        Ok(self.load_one(record, false)?.view())
    }

    /// A command of one of our jobs finished.
    pub(super) fn finished(&mut self, done: &Finished) {
        let Some((id, kind)) = self.jobs.get(&done.job_id).cloned() else {
            return;
        };
        let Some(loaded) = self.active.get(&id) else {
            return;
        };
        if loaded.host_jobs.get(&done.agent_id) != Some(&done.job_id) {
            return;
        }
        let Some(state) = loaded.machine.host_state(&done.agent_id) else {
            return;
        };
        let host = done.agent_id.clone();
        let ok = done.state == CommandState::Succeeded;
        let reason = failure_reason(done);
        let event = match kind {
            JobKind::Deploy if state == HostState::Deploying => match done.state {
                CommandState::Succeeded => {
                    let app = loaded.record.spec.as_ref().map_or("", |s| s.app.as_str());
                    let sampled = self
                        .registry
                        .snapshots(&[host.as_str()], app)
                        .into_iter()
                        .flatten()
                        .find_map(|s| s.metrics.map(|m| m.sampled_at_unix_ms))
                        .unwrap_or(0);
                    if let Some(loaded) = self.active.get_mut(&id) {
                        loaded.sampled_before.insert(host.clone(), sampled);
                    }
                    Event::DeploySucceeded { host }
                }
                CommandState::Undeliverable => Event::DeployUndelivered { host },
                _ => Event::DeployFailed { host, reason },
            },
            JobKind::Rollback if state == HostState::RollingBack => {
                if ok {
                    Event::RollbackSucceeded { host }
                } else {
                    Event::RollbackFailed { host, reason }
                }
            }
            JobKind::Late if loaded.machine.awaits_late(&host) => {
                if ok {
                    Event::LateSucceeded { host }
                } else {
                    Event::LateFailed { host, reason }
                }
            }
            _ => return,
        };
        self.apply_event(&id, &event);
    }

    /// A host's session started or ended.
    pub(super) fn presence(&mut self, host: &str, online: bool) {
        let changed: Vec<String> = self
            .active
            .iter()
            .filter(|(_, l)| l.machine.presence_is_news(host, online))
            .map(|(id, _)| id.clone())
            .collect();
        for id in changed {
            let host = host.to_string();
            let event = if online {
                Event::HostOnline { host }
            } else {
                Event::HostOffline { host }
            };
            self.apply_event(&id, &event);
        }
    }

    /// A host was removed from the fleet: no rollout waits for it any more.
    pub(super) fn removed(&mut self, host: &str) {
        let touched: Vec<String> = self
            .active
            .iter()
            .filter(|(_, l)| l.machine.removal_is_news(host))
            .map(|(id, _)| id.clone())
            .collect();
        for id in touched {
            let event = Event::HostRemoved {
                host: host.to_string(),
            };
            self.apply_event(&id, &event);
        }
    }

    /// A deadline passed: bakes end, offline waits and pauses time out.
    pub(super) fn tick(&mut self) {
        let now = now_unix_ms();
        let due: Vec<String> = self
            .active
            .iter()
            .filter(|(_, l)| l.machine.next_deadline().is_some_and(|at| at <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.apply_event(&id, &Event::Tick);
        }
    }
}

/// Why a command failed, in words.
fn failure_reason(done: &Finished) -> String {
    let state = match done.state {
        CommandState::Failed => "failed",
        CommandState::TimedOut => "timed out",
        CommandState::Cancelled => "cancelled",
        CommandState::Interrupted => "interrupted (the agent restarted mid-command)",
        CommandState::Undeliverable => "undeliverable",
        CommandState::Rejected => "rejected",
        _ => "did not succeed",
    };
    if done.message.is_empty() {
        state.to_string()
    } else {
        format!("{state}: {}", done.message)
    }
}
