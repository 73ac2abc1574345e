//! Wiring of monitoring and alerting for `convoy serve`: the event log and its sources,
//! the metrics history writer, the alert evaluator, the notification outbox, the
//! `[[scaling]]` evaluator and the `/metrics` listener, all tracked tasks that stop with
//! the shutdown token. `server.rs` calls [`prepare`] before the registry exists and
//! [`start`] once the engines run.

use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::Alerts;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::events::Events;
use crate::exposition::{Counters, Exposition};
use crate::grpc::monitor::MonitorService;
use crate::history::{History, Recorder};
use crate::registry::Registry;
use crate::rollout::driver::Rollouts;
use crate::store::Store;

/// What exists before the registry: the event log and the history's recorder.
pub struct Prepared {
    pub events: Events,
    pub recorder: Recorder,
    history: Option<History>,
    pub counters: Counters,
}

pub fn prepare(config: &Config, store: &Store) -> anyhow::Result<Prepared> {
    let routes = crate::notify::routes(&config.monitor.notify);
    let events = Events::open(store.clone(), routes).context("cannot open the event log")?;
    let (history, recorder) = if config.monitor.history.enabled {
        let (history, recorder) = History::new(store.clone(), config.monitor.history)
            .context("cannot open the metrics history")?;
        (Some(history), recorder)
    } else {
        (None, Recorder::counting_only())
    };
    Ok(Prepared {
        events,
        recorder,
        history,
        counters: Counters::default(),
    })
}

/// Starts every monitoring task; returns the `Monitor` gRPC service.
pub async fn start(
    prepared: Prepared,
    config: &Config,
    registry: Arc<Registry>,
    dispatcher: Arc<Dispatcher>,
    rollouts: Arc<Rollouts>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> anyhow::Result<MonitorService> {
    let Prepared {
        events,
        recorder,
        history,
        counters,
    } = prepared;
    let monitor = &config.monitor;
    let certs = vec![config.tls.cert.clone(), config.tls.ca.clone()];
    tracker.spawn(crate::events::run(
        events.clone(),
        monitor.events,
        shutdown.clone(),
    ));
    let reports = crate::rollout::report::writer::Writer {
        store: events.store().clone(),
        registry: registry.clone(),
        history: monitor.history.enabled.then_some(monitor.history),
        events: events.clone(),
    };
    tracker.spawn(crate::rollout::report::writer::run(
        reports,
        rollouts.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(crate::events::sources::run(
        events.clone(),
        counters.clone(),
        dispatcher,
        rollouts,
        certs.clone(),
        shutdown.clone(),
    ));
    if let Some(history) = history {
        tracker.spawn(crate::history::run(
            history,
            registry.clone(),
            shutdown.clone(),
        ));
    }
    let alerts = Alerts::new(monitor.alerts.clone());
    tracker.spawn(crate::alerts::run(
        alerts.clone(),
        crate::alerts::facts::Source {
            registry: registry.clone(),
            store: events.store().clone(),
            certs: certs.clone(),
        },
        events.clone(),
        shutdown.clone(),
    ));
    let notifier = crate::notify::start(
        events.clone(),
        monitor.notify.clone(),
        tracker,
        shutdown.clone(),
    );
    let scaling = crate::scaling::Scaling::new(config.scaling.clone());
    tracker.spawn(crate::scaling::run(
        scaling.clone(),
        crate::scaling::Deps {
            registry: registry.clone(),
            events: events.clone(),
            history: monitor.history.enabled.then_some(monitor.history),
        },
        tracker.clone(),
        shutdown.clone(),
    ));
    if let Some(listen) = monitor.metrics.listen {
        let exposition = Arc::new(Exposition {
            config: monitor.metrics.clone(),
            registry: registry.clone(),
            store: events.store().clone(),
            alerts: alerts.clone(),
            counters,
            certs,
            recorder,
            events: events.clone(),
        });
        let local = crate::exposition::serve(listen, exposition, tracker, shutdown.clone())
            .await
            .with_context(|| format!("cannot listen for /metrics on {listen}"))?;
        tracing::info!(metrics = %local, "serving Prometheus metrics on /metrics");
    }
    Ok(MonitorService {
        registry,
        events,
        alerts,
        history: monitor.history,
        notifier,
        scaling,
    })
}
