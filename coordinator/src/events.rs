//! The event log: one durable, ordered record of what happened in the fleet (rollouts,
//! jobs, backups, agents, alerts, notifications), kept in the store with bounded retention,
//! broadcast to live followers (`convoy events --follow`) and handed to the notification
//! outbox in the same write.
//!
//! [`Events`] is a cheap, cloneable handle given to the engines at construction. `append`
//! is synchronous and short (one sled transaction under a mutex that only orders
//! sequence numbers), so an engine can call it from anywhere; durability follows within
//! [`FLUSH_EVERY`] (the [`run`] task's group flush), or at once through `append_durable`.
//! It never waits on a follower or a sink: the broadcast drops for lagging followers and
//! deliveries happen in `notify`'s own task.

pub mod sources;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use convoy_proto::v1::{Delivery, Event};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::clock::now_unix_ms;
use crate::store::{Store, StoreError};

/// How soon an appended event is on disk.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// `[events]` in coordinator.toml.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Events kept at most (oldest dropped first).
    pub keep: usize,
    /// Events older than this are dropped.
    #[serde(with = "humantime_serde")]
    pub keep_for: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            keep: 100_000,
            keep_for: Duration::from_secs(30 * 86_400),
        }
    }
}

/// Severity of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// An event before it has a sequence number.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: &'static str,
    pub severity: Severity,
    pub host: String,
    pub subject: String,
    pub message: String,
    pub fields: BTreeMap<String, String>,
    /// Sinks that get this event whatever their `events` say (a scaling policy's
    /// `notify`); a name no longer configured is skipped.
    pub also_to: Vec<String>,
}

impl Draft {
    pub fn new(kind: &'static str, severity: Severity, message: impl Into<String>) -> Self {
        Draft {
            kind,
            severity,
            host: String::new(),
            subject: String::new(),
            message: message.into(),
            fields: BTreeMap::new(),
            also_to: Vec::new(),
        }
    }
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }
    pub fn field(mut self, key: &str, value: impl Into<String>) -> Self {
        self.fields.insert(key.to_string(), value.into());
        self
    }
    /// Also delivered to `sink` (if configured), whatever kinds it asked for.
    pub fn to_sink(mut self, sink: impl Into<String>) -> Self {
        self.also_to.push(sink.into());
        self
    }
}

/// Whether `kind` matches a pattern: exact, `*`, or `prefix.*` (`rollout.*`).
pub fn kind_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

/// Which sinks want which kinds (the `events` of each `[[notify]]`).
pub type Routes = Vec<(String, Vec<String>)>;

struct Inner {
    store: Store,
    seq: Mutex<u64>,
    live: broadcast::Sender<Event>,
    /// Swapped by a SIGHUP reload (`set_routes`).
    routes: RwLock<Routes>,
    dirty: AtomicBool,
    /// Woken when a delivery is queued.
    outbox: Notify,
}

/// The handle engines append through.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    pub fn open(store: Store, routes: Routes) -> Result<Self, StoreError> {
        let last = store.last_event_seq()?;
        let (live, _) = broadcast::channel(4096);
        Ok(Events {
            inner: Arc::new(Inner {
                store,
                seq: Mutex::new(last),
                live,
                routes: RwLock::new(routes),
                dirty: AtomicBool::new(false),
                outbox: Notify::new(),
            }),
        })
    }

    /// Appends an event (and its deliveries to the sinks that want it); on disk within
    /// [`FLUSH_EVERY`]. A store failure is logged: an event must never fail its engine.
    pub fn append(&self, draft: Draft) -> Option<Event> {
        match self.try_append(draft) {
            Ok(event) => Some(event),
            Err(err) => {
                tracing::error!(error = %err, "cannot append to the event log");
                None
            }
        }
    }

    pub fn try_append(&self, draft: Draft) -> Result<Event, StoreError> {
        let inner = &self.inner;
        let mut seq = inner.seq.lock().unwrap_or_else(PoisonError::into_inner);
        let next = *seq + 1;
        let now = now_unix_ms();
        let event = Event {
            seq: next,
            id: format!("evt-{next}"),
            at_unix_ms: now,
            kind: draft.kind.to_string(),
            severity: draft.severity.as_str().to_string(),
            host: draft.host,
            subject: draft.subject,
            message: draft.message,
            fields: draft.fields,
        };
        let deliveries: Vec<Delivery> = inner
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(sink, kinds)| {
                draft.also_to.contains(sink) || kinds.iter().any(|k| kind_matches(k, &event.kind))
            })
            .map(|(sink, _)| Delivery {
                seq: next,
                event_id: event.id.clone(),
                kind: event.kind.clone(),
                sink: sink.clone(),
                status: "pending".into(),
                created_unix_ms: now,
                next_attempt_unix_ms: now,
                updated_unix_ms: now,
                ..Default::default()
            })
            .collect();
        inner.store.append_event(&event, &deliveries)?;
        *seq = next;
        drop(seq);
        inner.dirty.store(true, Ordering::Release);
        let _ = inner.live.send(event.clone());
        if !deliveries.is_empty() {
            inner.outbox.notify_one();
        }
        Ok(event)
    }

    /// Appends and waits until the event is on disk.
    pub async fn append_durable(&self, draft: Draft) -> Result<Event, StoreError> {
        let event = self.try_append(draft)?;
        self.inner.store.flush_async().await?;
        Ok(event)
    }

    /// Which sinks get the events appended from now on (a SIGHUP reload of `[[notify]]`).
    pub fn set_routes(&self, routes: Routes) {
        *self
            .inner
            .routes
            .write()
            .unwrap_or_else(PoisonError::into_inner) = routes;
    }

    /// Whether `sink` is among the current routes.
    pub fn routes_to(&self, sink: &str) -> bool {
        self.inner
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|(name, _)| name == sink)
    }

    /// Live events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.live.subscribe()
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Waits until a delivery may have been queued.
    pub async fn outbox_changed(&self) {
        self.inner.outbox.notified().await;
    }

    pub fn last_seq(&self) -> u64 {
        *self
            .inner
            .seq
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Flushes appended events every [`FLUSH_EVERY`] and applies retention every minute.
pub async fn run(events: Events, config: EventsConfig, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        ticks += 1;
        if events.inner.dirty.swap(false, Ordering::AcqRel) {
            if let Err(err) = events.inner.store.flush_async().await {
                tracing::error!(error = %err, "cannot flush the event log");
            }
        }
        if ticks % 240 == 1 {
            let store = events.inner.store.clone();
            let before =
                now_unix_ms() - i64::try_from(config.keep_for.as_millis()).unwrap_or(i64::MAX);
            let keep = config.keep;
            match tokio::task::spawn_blocking(move || store.prune_events(keep, before)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::debug!(removed = n, "event log pruned"),
                Ok(Err(err)) => tracing::error!(error = %err, "cannot prune the event log"),
                Err(err) => tracing::error!(error = %err, "event log pruning panicked"),
            }
        }
    }
}

#[cfg(test)]
mod tests;
