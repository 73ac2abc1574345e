//! The health monitor: keeps probing each running release after its deploy, so a release
//! that dies later is noticed (the rollout's bake gates rely on it).
//!
//! - Every configured app whose current release has a health check (its `convoy.toml`, or
//!   the host's `[apps.NAME.health]` override) is probed every `health.monitor_interval`
//!   (default 10s) through the same single probe a deploy uses ([`health::probe_once`]).
//! - Never while a deploy or rollback of that app runs: the monitor only try-locks the app's
//!   deploy lock and skips the round when it is held; a deploy or rollback (seen through the
//!   lock's counter) or a new current version starts the count afresh.
//! - `retries` failed probes in a row turn the app unhealthy, one passing probe healthy
//!   again. A change is written to the app's state file (atomically, under the app's lock), so
//!   [`Deployer::status`] and the deploy's "already current and healthy" check both see it,
//!   logged (WARN / INFO with app and version), and reported through `on_change`, which the
//!   session answers with an immediate heartbeat.
//! - One task and one timer: it sleeps until the next app is due; probes run one after
//!   another. With no apps configured it only waits for shutdown.
//!
//! Knows nothing of gRPC or the runner.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;

use tokio::time::{Duration, Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::Deployer;
use super::health::{self, probe_limit};
use super::manifest::{DEFAULT_MONITOR_INTERVAL, HealthSpec};
use super::state::{self, AppState};

/// Runs until `shutdown` is cancelled; `on_change` is called after an app's health changed
/// (and was stored).
pub(crate) async fn run(deployer: &Deployer, on_change: impl Fn(), shutdown: &CancellationToken) {
    if deployer.apps().is_empty() {
        shutdown.cancelled().await;
        return;
    }
    Monitor::new(deployer, Checks, Instant::now())
        .run(&on_change, shutdown)
        .await;
}

/// One probe of a release. [`Checks`] is the real one; tests use a fake.
trait Prober {
    fn probe(
        &self,
        spec: &HealthSpec,
        working_dir: &Path,
        env: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), health::ProbeError>> + Send;
}

/// The health check itself, limited like a deploy's probes.
struct Checks;

impl Prober for Checks {
    fn probe(
        &self,
        spec: &HealthSpec,
        working_dir: &Path,
        env: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), health::ProbeError>> + Send {
        health::probe_once(&spec.probe, probe_limit(spec), working_dir, env)
    }
}

/// What the monitor knows of one app between probes.
#[derive(Debug)]
struct Watch {
    /// When the app is next probed.
    due: Instant,
    /// The deploy count and current version the rest is about; when either changes, the
    /// health spec is read again and the failures start from zero.
    generation: Option<u64>,
    version: Option<String>,
    /// The current release's health check; `None`: nothing to probe.
    spec: Option<HealthSpec>,
    /// Failed probes in a row.
    failures: u32,
}

impl Watch {
    fn new(due: Instant) -> Self {
        Self {
            due,
            generation: None,
            version: None,
            spec: None,
            failures: 0,
        }
    }

    /// Takes one probe's result; returns the health to store when it differs from what is
    /// `stored`: unhealthy after `retries` failures in a row, healthy after one pass.
    fn observe(&mut self, passed: bool, retries: u32, stored: bool) -> Option<bool> {
        if passed {
            self.failures = 0;
            return (!stored).then_some(true);
        }
        self.failures = self.failures.saturating_add(1);
        (stored && self.failures >= retries).then_some(false)
    }
}

struct Monitor<'a, P> {
    deployer: &'a Deployer,
    prober: P,
    watches: BTreeMap<String, Watch>,
}

impl<'a, P: Prober> Monitor<'a, P> {
    fn new(deployer: &'a Deployer, prober: P, start: Instant) -> Self {
        let watches = deployer
            .apps()
            .keys()
            .map(|app| (app.clone(), Watch::new(start)))
            .collect();
        Self {
            deployer,
            prober,
            watches,
        }
    }

    async fn run(&mut self, on_change: &impl Fn(), shutdown: &CancellationToken) {
        loop {
            // Cancelling drops a running probe, which kills a command check's process group.
            let next = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                next = self.round(Instant::now(), on_change) => next,
            };
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                () = sleep_until(next) => {}
            }
        }
    }

    /// Probes every app due at `now`; returns when the next one is due.
    async fn round(&mut self, now: Instant, on_change: &impl Fn()) -> Instant {
        let Self {
            deployer,
            prober,
            watches,
        } = self;
        for (app, watch) in watches.iter_mut() {
            if watch.due <= now {
                // Start to start; a probe that overran is followed at the next round.
                watch.due = now + check(deployer, prober, app, watch, on_change).await;
            }
        }
        watches
            .values()
            .map(|watch| watch.due)
            .min()
            .unwrap_or(now + DEFAULT_MONITOR_INTERVAL)
    }
}

/// One probe of `app`'s current release, unless a deploy or rollback holds the app; returns
/// how long until the next look.
async fn check(
    deployer: &Deployer,
    prober: &impl Prober,
    app: &str,
    watch: &mut Watch,
    on_change: &impl Fn(),
) -> Duration {
    // Before there is a release to probe: the host's own setting, or the default.
    let idle = deployer
        .apps()
        .get(app)
        .and_then(|manifest| manifest.health.as_ref())
        .map_or(DEFAULT_MONITOR_INTERVAL, |spec| spec.monitor_interval);
    let Ok(lock) = deployer.app_lock(app).try_lock_owned() else {
        // A deploy or rollback runs; it checks health itself, and the count starts afresh.
        watch.failures = 0;
        return watch
            .spec
            .as_ref()
            .map_or(idle, |spec| spec.monitor_interval);
    };
    let dir = deployer.app_dir(app);
    let version = state::current_version(&dir);
    if watch.generation != Some(*lock) || watch.version != version {
        watch.generation = Some(*lock);
        watch.version.clone_from(&version);
        watch.failures = 0;
        watch.spec = version
            .as_deref()
            .and_then(|version| match deployer.manifest(app, version) {
                Ok(manifest) => manifest.health,
                Err(err) => {
                    warn!(%app, %version, error = %err, "cannot read the release's health check; not monitoring it");
                    None
                }
            });
    }
    let (Some(version), Some(spec)) = (version, &watch.spec) else {
        return idle;
    };
    let release_dir = dir.join("releases").join(&version);
    let env = Deployer::env(app, &version, &release_dir);
    let result = prober.probe(spec, &release_dir, &env).await;
    let (retries, interval) = (spec.retries, spec.monitor_interval);
    let mut stored = AppState::load(&dir);
    let Some(healthy) = watch.observe(result.is_ok(), retries, stored.healthy) else {
        if let Err(reason) = &result {
            debug!(%app, %version, failures = watch.failures, %reason, "health probe failed");
        }
        return interval;
    };
    stored.healthy = healthy;
    if let Err(err) = stored.save(&dir) {
        // Not stored, so not reported; the next probe tries again.
        warn!(%app, %version, error = %err, "cannot save the app's health");
        return interval;
    }
    drop(lock);
    match result {
        Ok(()) => info!(%app, %version, "app is healthy again"),
        Err(reason) => warn!(
            %app,
            %version,
            failures = watch.failures,
            %reason,
            "app is unhealthy: its health check failed {} time(s) in a row",
            watch.failures
        ),
    }
    on_change();
    interval
}

#[cfg(test)]
mod tests;
