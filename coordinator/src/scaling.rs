//! Scaling policies (`[[scaling]]`, issue 16): the I/O shell around the pure
//! [`analysis::scaling`](crate::analysis::scaling). Every `interval` each policy counts
//! the online hosts its selector matches, averages its metric over `window` from the
//! metrics history, and decides. A decision to change size is an event (`scale.*`) and an
//! audit entry; a dry-run policy (the default) stops there. A live one writes the action to
//! the store and flushes it *before* it runs the command or notifies, so at most one action
//! per cooldown happens even across a crash and restart; then it runs the operator's
//! command ([`command`]) on its own task (one at a time per policy) and records the result.
//!
//! [`Scaling`] is a cheap handle: the gRPC status call reads it and a SIGHUP reload swaps
//! its policies ([`Scaling::set_policies`]).

mod action;
pub mod command;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use convoy_proto::v1::{ScalingAction, ScalingRecord};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::analysis::scaling::{Decision, Observation, decide};
use crate::config::scaling::{ScalingPolicy, millis};
use crate::events::{Events, Severity};

use crate::history::HistoryConfig;
use crate::history::query::Agg;
use crate::registry::Registry;
use crate::store::StoreError;
use action::{act, audit, draft};

/// How often the loop looks for a policy that is due.
const TICK: Duration = Duration::from_millis(250);

/// The latest evaluation of one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub at_unix_ms: i64,
    pub current: u32,
    pub value: Option<f64>,
    pub decision: Decision,
    /// Its command was still running (nothing new was started).
    pub running: bool,
}

#[derive(Debug, Default)]
struct Inner {
    policies: RwLock<Vec<ScalingPolicy>>,
    latest: Mutex<HashMap<String, Evaluation>>,
    /// Policies whose command runs now.
    running: Mutex<HashSet<String>>,
    /// The cooldown decision last reported per policy (desired, until), so a cooldown is
    /// one event, not one per evaluation.
    noted: Mutex<HashMap<String, (u32, i64)>>,
}

/// The running policies, shared by the evaluator, `ScalingStatus` and reloads.
#[derive(Debug, Clone, Default)]
pub struct Scaling {
    inner: Arc<Inner>,
}

/// What the evaluator reads and writes.
#[derive(Debug, Clone)]
pub struct Deps {
    pub registry: Arc<Registry>,
    pub events: Events,
    /// None: the history is off, so every policy has no data.
    pub history: Option<HistoryConfig>,
}

impl Scaling {
    pub fn new(policies: Vec<ScalingPolicy>) -> Self {
        let scaling = Scaling::default();
        scaling.set_policies(policies);
        scaling
    }

    /// Puts new policies into effect (SIGHUP); a policy's stored last action stays with
    /// its name.
    pub fn set_policies(&self, policies: Vec<ScalingPolicy>) {
        let names: HashSet<String> = policies.iter().map(|p| p.config.name.clone()).collect();
        lock(&self.inner.latest).retain(|name, _| names.contains(name));
        lock(&self.inner.noted).retain(|name, _| names.contains(name));
        *self
            .inner
            .policies
            .write()
            .unwrap_or_else(PoisonError::into_inner) = policies;
    }

    pub fn policies(&self) -> Vec<ScalingPolicy> {
        self.inner
            .policies
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The latest evaluation of `name`, if any.
    pub fn latest(&self, name: &str) -> Option<Evaluation> {
        lock(&self.inner.latest).get(name).cloned()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Evaluates every policy when due until `shutdown`; commands run on `tracker`.
pub async fn run(scaling: Scaling, deps: Deps, tracker: TaskTracker, shutdown: CancellationToken) {
    let mut due: HashMap<String, i64> = HashMap::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let policies = scaling.policies();
        due.retain(|name, _| policies.iter().any(|p| &p.config.name == name));
        for policy in policies {
            let now = crate::clock::now_unix_ms();
            let next = due.entry(policy.config.name.clone()).or_insert(now);
            if now < *next {
                continue;
            }
            *next = now.saturating_add(millis(policy.config.interval));
            if let Err(err) = evaluate(&scaling, &deps, &policy, &tracker, &shutdown).await {
                tracing::error!(policy = %policy.config.name, error = %err, "scaling policy evaluation failed");
            }
        }
    }
}

/// Online hosts matching the policy's selector.
fn group(registry: &Registry, policy: &ScalingPolicy) -> HashSet<String> {
    let mut hosts = HashSet::new();
    registry.visit(|record, online| {
        if online && policy.selector.matches_host(&record.id, &record.labels) {
            hosts.insert(record.id.clone());
        }
    });
    hosts
}

/// The metric's average over the window: the mean of the per-minute averages across the
/// group's hosts.
async fn value(
    deps: &Deps,
    policy: &ScalingPolicy,
    hosts: HashSet<String>,
    now: i64,
) -> Result<Option<f64>, StoreError> {
    let Some(history) = deps.history else {
        return Ok(None);
    };
    if hosts.is_empty() {
        return Ok(None);
    }
    let store = deps.events.store().clone();
    let metric = policy.metric.clone();
    let from = now - millis(policy.config.window);
    let points = tokio::task::spawn_blocking(move || {
        crate::history::query_selector(
            &store,
            &history,
            &hosts,
            &metric,
            Agg::Avg,
            (from, now, crate::history::MINUTE_MS),
            now,
        )
    })
    .await
    .map_err(|_| StoreError::FlushAborted)?;
    let points = match points {
        Ok((points, _)) => points,
        Err(crate::history::QueryError::Store(err)) => return Err(err),
        Err(crate::history::QueryError::Invalid(_)) => return Ok(None),
    };
    if points.is_empty() {
        return Ok(None);
    }
    let sum: f64 = points.iter().map(|p| f64::from(p.stat.avg)).sum();
    Ok(Some(sum / points.len() as f64))
}

/// One evaluation of one policy, and what follows from it.
async fn evaluate(
    scaling: &Scaling,
    deps: &Deps,
    policy: &ScalingPolicy,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), StoreError> {
    let name = policy.config.name.clone();
    let now = crate::clock::now_unix_ms();
    let hosts = group(&deps.registry, policy);
    let current = u32::try_from(hosts.len()).unwrap_or(u32::MAX);
    let value = value(deps, policy, hosts, now).await?;
    let store = deps.events.store().clone();
    let record = store.scaling_record(&name)?.unwrap_or_default();
    let last = last_of_mode(&record, policy.config.dry_run)
        .map(|a| a.at_unix_ms)
        .filter(|at| *at > 0);
    let observation = Observation {
        now_unix_ms: now,
        current,
        value,
    };
    let decision = decide(&observation, &policy.bounds(), last);
    let running = lock(&scaling.inner.running).contains(&name);
    lock(&scaling.inner.latest).insert(
        name.clone(),
        Evaluation {
            at_unix_ms: now,
            current,
            value,
            decision: decision.clone(),
            running,
        },
    );
    match decision {
        Decision::Scale { current, desired } if !running => {
            lock(&scaling.inner.noted).remove(&name);
            let action = ScalingAction {
                at_unix_ms: now,
                current,
                desired,
                value: value.unwrap_or_default(),
                dry_run: policy.config.dry_run,
                ..Default::default()
            };
            act(scaling, deps, policy, record, action, tracker, shutdown).await
        }
        Decision::Cooldown {
            current,
            desired,
            until_unix_ms,
        } => {
            let seen = lock(&scaling.inner.noted).insert(name.clone(), (desired, until_unix_ms));
            if seen == Some((desired, until_unix_ms)) {
                return Ok(());
            }
            let until = crate::cli::output::rfc3339(until_unix_ms).unwrap_or_default();
            let message = format!(
                "{name}: would scale {current} -> {desired} ({} {:.2} against {}), held by \
                 the cooldown until {until}",
                policy.config.metric,
                value.unwrap_or_default(),
                policy.config.target
            );
            let draft = draft(
                "scale.cooldown",
                Severity::Info,
                policy,
                message,
                current,
                desired,
                value,
            )
            .field("until_unix_ms", until_unix_ms.to_string());
            deps.events.append(draft);
            audit(
                &store,
                policy,
                current,
                desired,
                value,
                true,
                "held by the cooldown",
            )
            .await
        }
        _ => Ok(()),
    }
}

fn last_of_mode(record: &ScalingRecord, dry_run: bool) -> Option<&ScalingAction> {
    if dry_run {
        record.last_dry_run.as_ref()
    } else {
        record.last_action.as_ref()
    }
}
