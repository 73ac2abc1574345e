//! The agent's signal collector: scrapes every app with `[apps.NAME.signals]` once per
//! heartbeat tick, on its own task so a slow app never delays a heartbeat, and keeps the
//! previous scrape per app for rates. Each heartbeat takes the values of the round that
//! finished since the last one ([`Collector::take`]): a failed (or still running) scrape
//! yields no values for that app that beat. A failure is logged at most once a minute
//! per app.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Scrape;
use super::config::{AppSignals, key};

/// A failing app is logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct Collector {
    state: Mutex<State>,
    /// A round is running: the next tick does not start another.
    busy: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    apps: BTreeMap<String, AppSignals>,
    /// The last good scrape per app, for rates.
    previous: HashMap<String, Scrape>,
    /// Values of the latest finished round, keyed `APP.NAME`, until a heartbeat takes them.
    values: BTreeMap<String, f64>,
    warned: HashMap<String, Instant>,
}

impl State {
    fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
        state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Collector {
    /// Sets the apps to scrape (at start and on a reload); an app whose url changed, or
    /// that is gone, loses its previous scrape.
    pub(crate) fn configure(&self, apps: BTreeMap<String, AppSignals>) {
        let mut state = State::lock(&self.state);
        let old = std::mem::take(&mut state.apps);
        state.previous.retain(|app, _| {
            apps.get(app)
                .is_some_and(|new| Some(&new.url) == old.get(app).map(|o| &o.url))
        });
        state.values.clear();
        state.apps = apps;
    }

    /// The values of the last finished round (taken: the next heartbeat has only newer).
    pub(crate) fn take(&self) -> BTreeMap<String, f64> {
        std::mem::take(&mut State::lock(&self.state).values)
    }

    /// Starts a scrape round on its own task unless one is running or no app has signals.
    pub(crate) fn tick(self: &Arc<Self>) {
        if State::lock(&self.state).apps.is_empty() || self.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        let collector = self.clone();
        tokio::spawn(async move {
            collector.round().await;
            collector.busy.store(false, Ordering::Release);
        });
    }

    /// Scrapes every app at once, then evaluates its signals against its previous scrape.
    pub(crate) async fn round(&self) {
        let apps = State::lock(&self.state).apps.clone();
        let mut scrapes = tokio::task::JoinSet::new();
        for (app, signals) in apps {
            scrapes.spawn(async move {
                let page = super::fetch::get(&signals.target, &signals.url, signals.timeout)
                    .await
                    .map_err(|err| err.to_string());
                let at = crate::journal::now_unix_ms();
                let scrape = page.and_then(|text| {
                    super::scrape::parse(&text, at).map_err(|err| {
                        format!("cannot parse the metrics from {}: {err}", signals.url)
                    })
                });
                (app, signals, scrape)
            });
        }
        while let Some(joined) = scrapes.join_next().await {
            let Ok((app, signals, scrape)) = joined else {
                continue;
            };
            let mut state = State::lock(&self.state);
            // A reload while scraping: the new config's next round decides.
            if state.apps.get(&app) != Some(&signals) {
                continue;
            }
            for name in signals.signals.keys() {
                state.values.remove(&key(&app, name));
            }
            match scrape {
                Ok(scrape) => {
                    let previous = state.previous.get(&app);
                    let values: Vec<(String, f64)> = signals
                        .signals
                        .iter()
                        .filter_map(|(name, (_, expr))| {
                            expr.eval(&scrape, previous).map(|v| (key(&app, name), v))
                        })
                        .collect();
                    state.values.extend(values);
                    state.previous.insert(app, scrape);
                }
                Err(why) => {
                    let now = Instant::now();
                    let due = state
                        .warned
                        .get(&app)
                        .is_none_or(|at| now.duration_since(*at) >= WARN_EVERY);
                    if due {
                        state.warned.insert(app.clone(), now);
                        tracing::warn!(%app, error = %why, "cannot scrape the app's signals; none reported this time (logged at most once a minute)");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
