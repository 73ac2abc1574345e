//! The rollout driver: the I/O shell around the pure [`machine`](super::machine). One task
//! owns every loaded rollout; the gRPC layer talks to it through [`Rollouts`].
//!
//! Each input (an operator's request, a command that finished, a host coming or going, a
//! deadline, a gate that failed) becomes a `RolloutLogEntry` appended to the rollout's
//! log, is applied to its machine, and the machine's actions become jobs whose ids derive
//! from the entry's sequence number. Inputs are taken in batches; a batch's entries are
//! flushed to disk before any of its jobs is created or any reply is sent
//! (persist-before-effects). After a crash, replaying a rollout's log from its plan
//! rebuilds the machine and the same job ids, so a job created before the crash is not
//! created again and one that was not is created now; commands that finished while the
//! driver was down are fed in from the store.

mod analysis;
mod gates;
mod holds;
mod inputs;
mod jobs;
mod load;
mod queries;
mod start;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use convoy_proto::v1::{RolloutReport, RolloutSpec, RolloutSummary, RolloutView};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use super::machine::Control;
use super::machine::Refusal;
use super::record::{self, SpecError};
use crate::clock::now_unix_ms;
use crate::dispatch::{DispatchError, Dispatcher, HostJob};
use crate::registry::Registry;
use crate::releases::ReleaseError;
use crate::selector::SelectorError;
use crate::store::{Store, StoreError};
pub(crate) use analysis::written_by;
use jobs::JobKind;
use load::Loaded;

/// How often the gates of baking waves are checked against the hosts' latest reports.
pub const GATE_INTERVAL: Duration = Duration::from_secs(1);
/// Inputs taken into one batch (one flush) at most.
const MAX_BATCH: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("invalid selector: {0}")]
    Selector(#[from] SelectorError),
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error("no agents match the selector {0:?}")]
    NoTargets(String),
    #[error(
        "no agent matching the selector allows app {app:?}: add [apps.{app}] to their agent config"
    )]
    UnknownApp { app: String },
    #[error("app {app:?} already has an active rollout: {id}")]
    Active { app: String, id: String },
    #[error("no rollout {0:?}")]
    NotFound(String),
    #[error("rollout {id} is {state}: {why}")]
    Refused {
        id: String,
        /// The state's operator name (`paused`, `rolled_back`, ...).
        state: String,
        why: Refusal,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    #[error(
        "--analysis reads the metrics history, which is disabled ([monitor.history] enabled = false)"
    )]
    NoHistory,
    #[error("the coordinator is shutting down")]
    Stopped,
}

impl From<crate::releases::DeployLookupError> for RolloutError {
    fn from(err: crate::releases::DeployLookupError) -> Self {
        match err {
            crate::releases::DeployLookupError::Release(e) => RolloutError::Release(e),
            crate::releases::DeployLookupError::Store(e) => RolloutError::Store(e),
        }
    }
}

/// A started (or, for a dry run, only planned) rollout.
#[derive(Debug, Clone)]
pub struct Started {
    /// Empty for a dry run.
    pub id: String,
    pub plan: Vec<String>,
    pub view: Option<RolloutView>,
}

type Reply<T> = oneshot::Sender<Result<T, RolloutError>>;

enum Request {
    Start {
        spec: Box<RolloutSpec>,
        dry_run: bool,
        request_id: String,
        by: String,
        reply: Reply<Started>,
    },
    Control {
        id: String,
        control: Control,
        force: bool,
        by: String,
        reply: Reply<RolloutView>,
    },
    /// An approval (or its withdrawal) by `by`, whose certificate role is `role`.
    Approve {
        id: String,
        by: String,
        role: convoy_proto::identity::Role,
        comment: String,
        withdraw: bool,
        reply: Reply<RolloutView>,
    },
    Get {
        id: String,
        reply: Reply<RolloutView>,
    },
}

/// A reply held until the batch that produced it is on disk.
enum Deferred {
    Started(Reply<Started>, Result<Started, RolloutError>),
    View(Reply<RolloutView>, Result<RolloutView, RolloutError>),
}

impl Deferred {
    fn send(self) {
        // A caller that went away does not need its answer.
        match self {
            Deferred::Started(reply, result) => drop(reply.send(result)),
            Deferred::View(reply, result) => drop(reply.send(result)),
        }
    }

    fn fail(self, err: &StoreError) {
        let failed = || RolloutError::Store(StoreError::FlushAborted);
        tracing::error!(error = %err, "rollout driver cannot persist its log");
        match self {
            Deferred::Started(reply, _) => drop(reply.send(Err(failed()))),
            Deferred::View(reply, _) => drop(reply.send(Err(failed()))),
        }
    }
}

/// The handle the gRPC layer holds.
#[derive(Debug)]
pub struct Rollouts {
    requests: mpsc::Sender<Request>,
    changes: broadcast::Sender<String>,
    store: Store,
    /// For post-deployment reports computed on demand.
    registry: Arc<Registry>,
    history: Option<crate::history::HistoryConfig>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Request")
    }
}

impl Rollouts {
    /// Loads every rollout that is still going, brings each up to date with what
    /// happened while the coordinator was down, and starts the driver task.
    pub async fn start(
        store: Store,
        registry: Arc<Registry>,
        dispatcher: Arc<Dispatcher>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Arc<Rollouts>, RolloutError> {
        Self::start_with_history(
            store,
            registry,
            dispatcher,
            None,
            Default::default(),
            tracker,
            shutdown,
        )
        .await
    }

    /// [`Rollouts::start`] with the metrics history canary analyses read from (`None`:
    /// history disabled, and a rollout with `--analysis` is refused), and the
    /// environments whose windows hold rollouts (swapped by a reload).
    pub async fn start_with_history(
        store: Store,
        registry: Arc<Registry>,
        dispatcher: Arc<Dispatcher>,
        history: Option<crate::history::HistoryConfig>,
        environments: crate::config::environments::SharedEnvironments,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Arc<Rollouts>, RolloutError> {
        let (finished_tx, finished) = mpsc::unbounded_channel();
        let (presence_tx, presence) = mpsc::unbounded_channel();
        let (removals_tx, removals) = mpsc::unbounded_channel();
        // Listen before reading the store: a command finishing in between is then seen
        // twice (harmless) rather than never.
        dispatcher.on_finished(finished_tx);
        registry.on_presence(presence_tx);
        registry.on_removal(removals_tx);
        let (changes, _) = broadcast::channel(1024);
        let mut driver = Driver {
            store: store.clone(),
            registry: registry.clone(),
            dispatcher,
            active: BTreeMap::new(),
            jobs: HashMap::new(),
            changes: changes.clone(),
            touched: BTreeSet::new(),
            pending_jobs: Vec::new(),
            history,
            environments,
        };
        driver.load_all()?;
        driver.commit(Vec::new()).await;
        let (requests, requests_rx) = mpsc::channel(256);
        tracker.spawn(driver.run(requests_rx, finished, presence, removals, shutdown));
        Ok(Arc::new(Rollouts {
            requests,
            changes,
            store,
            registry,
            history,
        }))
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, RolloutError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(make(reply))
            .await
            .map_err(|_| RolloutError::Stopped)?;
        answer.await.map_err(|_| RolloutError::Stopped)?
    }

    pub async fn start_rollout(
        &self,
        spec: RolloutSpec,
        dry_run: bool,
        request_id: String,
        by: String,
    ) -> Result<Started, RolloutError> {
        self.ask(|reply| Request::Start {
            spec: Box::new(spec),
            dry_run,
            request_id,
            by,
            reply,
        })
        .await
    }

    pub async fn control(
        &self,
        id: &str,
        control: Control,
        by: &str,
        force: bool,
    ) -> Result<RolloutView, RolloutError> {
        self.ask(|reply| Request::Control {
            id: id.to_string(),
            control,
            force,
            by: by.to_string(),
            reply,
        })
        .await
    }

    /// An operator's approval of rollout `id` (or its withdrawal): the machine decides
    /// whether it may ([`Rollout::check_approval`](super::machine::Rollout::check_approval)).
    pub async fn approve(
        &self,
        id: &str,
        by: &str,
        role: convoy_proto::identity::Role,
        comment: &str,
        withdraw: bool,
    ) -> Result<RolloutView, RolloutError> {
        self.ask(|reply| Request::Approve {
            id: id.to_string(),
            by: by.to_string(),
            role,
            comment: comment.to_string(),
            withdraw,
            reply,
        })
        .await
    }
}

struct Driver {
    store: Store,
    registry: Arc<Registry>,
    dispatcher: Arc<Dispatcher>,
    active: BTreeMap<String, Loaded>,
    /// Job id -> (rollout id, kind), for every job of a loaded rollout.
    jobs: HashMap<String, (String, JobKind)>,
    changes: broadcast::Sender<String>,
    /// Rollouts changed in the current batch.
    touched: BTreeSet<String>,
    pending_jobs: Vec<HostJob>,
    /// Where canary analyses read samples (None: history disabled).
    history: Option<crate::history::HistoryConfig>,
    /// `[[environments]]` in force (windows), shared with the services and a reload.
    environments: crate::config::environments::SharedEnvironments,
}

impl Driver {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut finished: mpsc::UnboundedReceiver<crate::dispatch::Finished>,
        mut presence: mpsc::UnboundedReceiver<(String, bool)>,
        mut removals: mpsc::UnboundedReceiver<String>,
        shutdown: CancellationToken,
    ) {
        let mut gates = tokio::time::interval(GATE_INTERVAL);
        gates.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut deferred = Vec::new();
            let wait = self
                .next_deadline()
                .map(|at| Duration::from_millis(u64::try_from(at - now_unix_ms()).unwrap_or(0)));
            let sleep = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(3600)));
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(request) = requests.recv() => self.request(request, &mut deferred),
                Some(done) = finished.recv() => self.finished(&done),
                Some((host, online)) = presence.recv() => self.presence(&host, online),
                Some(host) = removals.recv() => self.removed(&host),
                () = sleep, if wait.is_some() => self.tick(),
                _ = gates.tick() => {
                    self.check_holds();
                    self.check_gates();
                    self.check_analyses();
                }
            }
            for _ in 0..MAX_BATCH {
                let mut took = false;
                if let Ok(done) = finished.try_recv() {
                    self.finished(&done);
                    took = true;
                }
                if let Ok((host, online)) = presence.try_recv() {
                    self.presence(&host, online);
                    took = true;
                }
                if !took {
                    break;
                }
            }
            self.commit(deferred).await;
        }
        tracing::info!(loaded = self.active.len(), "rollout driver stopped");
    }

    /// Writes the batch's summaries, flushes, creates the batch's jobs, then answers.
    async fn commit(&mut self, deferred: Vec<Deferred>) {
        let now = now_unix_ms();
        let touched = std::mem::take(&mut self.touched);
        let mut result = Ok(());
        for id in &touched {
            if let Some(loaded) = self.active.get_mut(id) {
                record::summarize(&mut loaded.record, &loaded.machine, now);
                if let Err(err) = self.store.put_rollout(&loaded.record) {
                    result = Err(err);
                }
            }
        }
        if result.is_ok() && !touched.is_empty() {
            result = self.store.flush_async().await;
        }
        if let Err(err) = &result {
            for reply in deferred {
                reply.fail(err);
            }
            return;
        }
        let jobs = std::mem::take(&mut self.pending_jobs);
        if !jobs.is_empty() {
            if let Err(err) = self.dispatcher.create_host_jobs(jobs).await {
                // The entries are on disk: the next start replays them and creates these.
                tracing::error!(error = %err, "rollout driver cannot create its jobs");
            }
        }
        for reply in deferred {
            reply.send();
        }
        for id in touched {
            let _ = self.changes.send(id.clone());
            let keep = self.active.get(&id).is_some_and(|l| l.keep(now));
            if !keep {
                if let Some(loaded) = self.active.remove(&id) {
                    tracing::info!(rollout = %id, state = %loaded.machine.state(), "rollout ended");
                    self.jobs.retain(|_, (owner, _)| owner != &id);
                }
            }
        }
    }

    fn next_deadline(&self) -> Option<i64> {
        self.active
            .values()
            .filter_map(|l| l.machine.next_deadline())
            .min()
    }
}
