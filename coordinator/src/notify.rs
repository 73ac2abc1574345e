//! Notifications through a persisted outbox. When an event is appended, one delivery per
//! `[[notify]]` sink that wants its kind is written in the same transaction (see
//! `events`). This module's tasks carry them out: one task per sink, taking that sink's
//! deliveries in event order, so a receiver sees events in order; a failed attempt is
//! retried with exponential backoff and full jitter until `retry_for` has passed, then
//! given up (`failed`). Every attempt's outcome is written back to the delivery, so
//! `convoy notify log` shows it and a coordinator killed mid-delivery resumes after
//! restart (at-least-once: receivers deduplicate on the event id).
//!
//! A SIGHUP reload of `[[notify]]` calls [`Notifier::restart`]: new events are routed to the
//! new sinks at once, the old tasks are cancelled (an attempt in flight is finished or
//! abandoned) and new ones start, re-reading the pending deliveries as at start. A pending
//! delivery for a sink no longer configured, removed by a reload or before a restart, is
//! given up (`failed`, [`SINK_REMOVED`]).
//!
//! Nothing here runs on an engine's path: engines only append events.

pub mod sinks;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use convoy_proto::retry::{Backoff, Jitter};
use convoy_proto::v1::{Delivery, Event};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::now_unix_ms;
use crate::config::monitor::NotifyConfig;
use crate::events::{Events, Routes};

/// First retry after about this long; each later one waits twice as long, up to
/// [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// One attempt's time limit.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Delay before retry number `attempts` (1 = after the first failure): full jitter over
/// an exponentially growing window. `unit` in [0, 1) is the random draw.
pub fn backoff(attempts: u32, unit: f64) -> Duration {
    // At least half the window, so retries do not bunch up at zero.
    Backoff::new(FIRST_BACKOFF, MAX_BACKOFF)
        .with_jitter(Jitter::Half)
        .at_attempt(attempts.saturating_sub(1))
        .delay_for(unit)
}

/// The HTTP client sinks use: rustls, a per-attempt timeout, no redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        // Building fails only if the TLS backend cannot initialise, which the rustls
        // backend (ring, no system files) does not.
        .expect("the HTTP client builds")
}

/// The sinks in force, shared with `convoy notify test` and swapped by a reload.
pub type SharedSinks = Arc<RwLock<Vec<NotifyConfig>>>;

/// Why a delivery to a sink that is no longer configured is given up, whether the sink was
/// removed by a SIGHUP reload or before a restart.
pub const SINK_REMOVED: &str = "sink removed from the config (by a reload or before a restart)";

/// The `events` routes of `sinks`.
pub fn routes(sinks: &[NotifyConfig]) -> Routes {
    sinks
        .iter()
        .map(|n| (n.name.clone(), n.events.clone()))
        .collect()
}

/// The running outbox: [`Notifier::restart`] puts new sinks into effect (SIGHUP).
#[derive(Clone, Debug)]
pub struct Notifier {
    events: Events,
    sinks: SharedSinks,
    wanted: Arc<watch::Sender<Vec<NotifyConfig>>>,
}

impl Notifier {
    /// The sinks in force.
    pub fn sinks(&self) -> SharedSinks {
        self.sinks.clone()
    }

    /// Puts `sinks` into effect: events appended from now on are routed to them at once,
    /// and the outbox's tasks are restarted with them (the old ones are cancelled first:
    /// an attempt in flight is finished or abandoned, and retried by the new tasks if its
    /// sink stays, so a receiver may see a delivery twice; it deduplicates on the event id).
    /// Pending deliveries of a removed sink are given up ([`SINK_REMOVED`]).
    pub fn restart(&self, sinks: Vec<NotifyConfig>) {
        self.events.set_routes(routes(&sinks));
        *self.sinks.write().unwrap_or_else(PoisonError::into_inner) = sinks.clone();
        self.wanted.send_replace(sinks);
    }
}

/// Starts the outbox: a router that reads new deliveries and one task per sink, restarted
/// by [`Notifier::restart`]. The router runs even without sinks, so deliveries left for a
/// sink removed before a restart are given up.
pub fn start(
    events: Events,
    sinks: Vec<NotifyConfig>,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> Notifier {
    let (wanted, mut rx) = watch::channel(sinks.clone());
    let notifier = Notifier {
        events: events.clone(),
        sinks: Arc::new(RwLock::new(sinks)),
        wanted: Arc::new(wanted),
    };
    let outer = tracker.clone();
    tracker.spawn(async move {
        loop {
            let sinks = rx.borrow_and_update().clone();
            let generation = TaskTracker::new();
            let token = shutdown.child_token();
            spawn_generation(&events, sinks, &outer, &generation, &token);
            generation.close();
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = rx.changed() => if changed.is_err() { return },
            }
            // The old tasks stop before the new ones start: no two tasks per sink.
            token.cancel();
            generation.wait().await;
        }
    });
    notifier
}

fn spawn_generation(
    events: &Events,
    sinks: Vec<NotifyConfig>,
    tracker: &TaskTracker,
    generation: &TaskTracker,
    shutdown: &CancellationToken,
) {
    let client = client();
    let mut queues = HashMap::new();
    for sink in sinks {
        let (tx, rx) = mpsc::unbounded_channel();
        queues.insert(sink.name.clone(), tx);
        tracker.spawn(generation.track_future(sink_task(
            events.clone(),
            sink,
            client.clone(),
            rx,
            shutdown.clone(),
        )));
    }
    tracker.spawn(generation.track_future(router(events.clone(), queues, shutdown.clone())));
}

/// Hands every pending delivery to its sink's task: those left from before a restart,
/// then new ones as they are written.
async fn router(
    events: Events,
    queues: HashMap<String, mpsc::UnboundedSender<Delivery>>,
    shutdown: CancellationToken,
) {
    let mut after = 0u64;
    loop {
        let pending = match events.store().pending_deliveries_after(after) {
            Ok(pending) => pending,
            Err(err) => {
                tracing::error!(error = %err, "cannot read the notification outbox");
                Vec::new()
            }
        };
        for delivery in pending {
            after = after.max(delivery.seq);
            match queues.get(&delivery.sink) {
                Some(queue) => {
                    let _ = queue.send(delivery);
                }
                // A sink added by a reload whose tasks start next: left for them.
                None if events.routes_to(&delivery.sink) => {}
                None => {
                    // A sink removed from the config: its deliveries are given up.
                    let mut delivery = delivery;
                    delivery.status = "failed".into();
                    delivery.last_error = SINK_REMOVED.into();
                    tracing::warn!(sink = %delivery.sink, event = %delivery.event_id, "notification given up: {SINK_REMOVED}");
                    delivery.updated_unix_ms = now_unix_ms();
                    let _ = events.store().put_delivery(&delivery);
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = events.outbox_changed() => {}
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

async fn sink_task(
    events: Events,
    sink: NotifyConfig,
    client: reqwest::Client,
    mut queue: mpsc::UnboundedReceiver<Delivery>,
    shutdown: CancellationToken,
) {
    loop {
        let delivery = tokio::select! {
            () = shutdown.cancelled() => return,
            next = queue.recv() => match next {
                Some(delivery) => delivery,
                None => return,
            },
        };
        if deliver(&events, &sink, &client, delivery, &shutdown)
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Delivers one delivery until it succeeds or is given up. `Err` on shutdown.
async fn deliver(
    events: &Events,
    sink: &NotifyConfig,
    client: &reqwest::Client,
    mut delivery: Delivery,
    shutdown: &CancellationToken,
) -> Result<(), ()> {
    let store = events.store();
    let event = match store.event(delivery.seq) {
        Ok(Some(event)) => event,
        _ => {
            delivery.status = "failed".into();
            delivery.last_error = "event no longer in the log".into();
            let _ = store.put_delivery(&delivery);
            return Ok(());
        }
    };
    let retry_for = i64::try_from(sink.retry_for.as_millis()).unwrap_or(i64::MAX);
    loop {
        let wait = delivery.next_attempt_unix_ms - now_unix_ms();
        if wait > 0 {
            tokio::select! {
                () = shutdown.cancelled() => return Err(()),
                () = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            }
        }
        delivery.attempts += 1;
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return Err(()),
            outcome = sinks::send(client, sink, &event, delivery.attempts) => outcome,
        };
        let now = now_unix_ms();
        delivery.updated_unix_ms = now;
        if outcome.ok {
            delivery.status = "delivered".into();
            delivery.last_error.clear();
        } else {
            delivery.last_error = outcome.error;
            let delay = backoff(delivery.attempts, rand::random::<f64>());
            let next = now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            if next - delivery.created_unix_ms > retry_for {
                delivery.status = "failed".into();
                tracing::warn!(sink = %sink.name, event = %event.id, attempts = delivery.attempts, error = %delivery.last_error, "notification given up");
            } else {
                delivery.next_attempt_unix_ms = next;
            }
        }
        if let Err(err) = store.put_delivery(&delivery) {
            tracing::error!(error = %err, "cannot record a delivery");
        }
        let _ = store.flush_async().await;
        if delivery.status != "pending" {
            return Ok(());
        }
    }
}

/// Sends a test event through `sink` now (`convoy notify test`).
pub async fn test(sink: &NotifyConfig) -> sinks::Outcome {
    let now = now_unix_ms();
    let event = Event {
        seq: 0,
        id: format!("test-{now}"),
        at_unix_ms: now,
        kind: "notify.test".into(),
        severity: "info".into(),
        host: String::new(),
        subject: sink.name.clone(),
        message: format!("test notification from convoy to {}", sink.name),
        fields: Default::default(),
    };
    sinks::send(&client(), sink, &event, 1).await
}

#[cfg(test)]
mod tests;
