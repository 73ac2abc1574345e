//! Starting a rollout: resolve the release, plan waves over the matching hosts that run
//! the app (cordoned hosts and hosts without the app are left out and named), then store
//! the record, log `Start` and load the machine. A dry run stops after the plan.

use convoy_proto::v1::{
    AgentState, AgentSummary, RolloutEventKind, RolloutLogEntry, RolloutRecord, RolloutSpec,
};

use super::{Driver, Loaded, RolloutError, Started};
use crate::clock::now_unix_ms;
use crate::releases::deploy_command;
use crate::rollout::machine::{Event, Rollout, Settings, State};
use crate::rollout::plan::{self, Plan};
use crate::rollout::record;
use crate::selector::Selector;

impl Driver {
    pub(super) fn start(
        &mut self,
        spec: RolloutSpec,
        dry_run: bool,
        request_id: &str,
        by: &str,
    ) -> Result<Started, RolloutError> {
        if !request_id.is_empty() {
            if let Some(id) = self.store.rollout_for_request(request_id)? {
                let view = self.view_of(&id)?;
                return Ok(Started {
                    id,
                    plan: Vec::new(),
                    view: Some(view),
                });
            }
        }
        let deploy = deploy_command(&self.store, &spec.app, &spec.version)?;
        let (plan, mut settings, lines) = self.plan(&spec)?;
        settings.starter = by.to_string();
        if dry_run {
            return Ok(Started {
                id: String::new(),
                plan: lines,
                view: None,
            });
        }
        if let Some((id, _)) = self.active.iter().find(|(_, l)| {
            !l.machine.state().is_terminal()
                && l.record.spec.as_ref().is_some_and(|s| s.app == spec.app)
        }) {
            return Err(RolloutError::Active {
                app: spec.app,
                id: id.clone(),
            });
        }
        let now = now_unix_ms();
        let id = new_rollout_id(now, |id| self.store.rollout(id).ok().flatten().is_some());
        let record = RolloutRecord {
            id: id.clone(),
            created_by: by.to_string(),
            created_unix_ms: now,
            plan: Some(record::plan_to_record(&plan)),
            deploy: Some(deploy),
            request_id: request_id.to_string(),
            state: record::codec::state(State::Running).into(),
            active: true,
            spec: Some(spec),
            ..Default::default()
        };
        self.store.put_rollout(&record)?;
        if !request_id.is_empty() {
            self.store.put_rollout_request(request_id, &id)?;
        }
        let env = spec_env(&record);
        let machine = Rollout::new(&plan, settings);
        self.active.insert(
            id.clone(),
            Loaded {
                record,
                machine,
                next_seq: 0,
                host_jobs: Default::default(),
                sampled_before: Default::default(),
            },
        );
        // A window closed or a freeze in force now: logged before `Start`, so the start
        // deploys nothing (and a replay does the same).
        if !env.is_empty() {
            let freezes = self.store.freezes()?;
            let hold = super::holds::hold_for(&self.environments(), &freezes, &env, now);
            if hold.is_some() {
                self.apply(&id, record::entry(now, &Event::Hold { hold }))?;
            }
        }
        self.apply(
            &id,
            RolloutLogEntry {
                at_unix_ms: now,
                kind: RolloutEventKind::Start.into(),
                by: by.to_string(),
                ..Default::default()
            },
        )?;
        tracing::info!(rollout = %id, by, targets = plan.targets(), waves = plan.waves.len(), "rollout started");
        let view = self.active.get(&id).map(Loaded::view);
        Ok(Started {
            id,
            plan: lines,
            view,
        })
    }

    /// The plan over the hosts the spec selects, the machine's settings, and the plan in
    /// words (with the hosts left out, and why).
    fn plan(&self, spec: &RolloutSpec) -> Result<(Plan, Settings, Vec<String>), RolloutError> {
        let (strategy, settings) = record::parse_spec(spec)?;
        if !settings.analyses.is_empty() && self.history.is_none() {
            return Err(RolloutError::NoHistory);
        }
        let selector = Selector::parse(&spec.selector)?;
        let agents = self.registry.list(&selector);
        if agents.is_empty() {
            return Err(RolloutError::NoTargets(spec.selector.clone()));
        }
        // Cordoned hosts take no new rollout; the plan says which were skipped.
        let (cordoned, agents): (Vec<_>, Vec<_>) = agents.into_iter().partition(|a| a.cordoned);
        let (runs_app, others): (Vec<_>, Vec<_>) = agents
            .into_iter()
            .partition(|a| a.apps.iter().any(|s| s.app == spec.app));
        if runs_app.is_empty() {
            return Err(RolloutError::UnknownApp {
                app: spec.app.clone(),
            });
        }
        let hosts: Vec<plan::Host> = runs_app
            .iter()
            .map(|agent| plan_host(agent, &spec.app))
            .collect();
        let plan = plan::build(&spec.version, &selector, &hosts, &strategy)
            .map_err(record::SpecError::from)?;
        let mut lines = plan.describe();
        if !others.is_empty() {
            lines.push(format!(
                "{} left out: no [apps.{}] in their agent config: {}",
                matching_hosts(others.len()),
                spec.app,
                some_ids(&others)
            ));
        }
        if !cordoned.is_empty() {
            lines.push(format!(
                "{} cordoned, skipped: {}",
                matching_hosts(cordoned.len()),
                some_ids(&cordoned)
            ));
        }
        Ok((plan, settings, lines))
    }
}

fn spec_env(record: &RolloutRecord) -> String {
    record
        .spec
        .as_ref()
        .map(|s| s.env.clone())
        .unwrap_or_default()
}

fn plan_host(agent: &AgentSummary, app: &str) -> plan::Host {
    let status = agent.apps.iter().find(|s| s.app == app);
    plan::Host {
        id: agent.id.clone(),
        labels: agent.labels.clone().into_iter().collect(),
        version: status.map(|s| s.version.clone()).filter(|v| !v.is_empty()),
        healthy: status.is_some_and(|s| s.healthy),
        online: agent.state == AgentState::Online as i32,
    }
}

fn matching_hosts(n: usize) -> String {
    if n == 1 {
        "1 matching host".to_string()
    } else {
        format!("{n} matching hosts")
    }
}

/// The first ten ids, then "…" if there are more.
fn some_ids(agents: &[AgentSummary]) -> String {
    let mut ids: Vec<&str> = agents.iter().take(10).map(|a| a.id.as_str()).collect();
    if agents.len() > ids.len() {
        ids.push("…");
    }
    ids.join(", ")
}

/// `r-YYYYMMDD-HHMMSS-xxxx`, unused so far.
fn new_rollout_id(now_unix_ms: i64, taken: impl Fn(&str) -> bool) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_unix_ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    loop {
        let suffix: u16 = rand::random();
        let id = format!(
            "r-{:04}{:02}{:02}-{:02}{:02}{:02}-{suffix:04x}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        if !taken(&id) {
            return id;
        }
    }
}
