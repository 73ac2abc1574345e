//! The live inventory: every agent the coordinator knows, whether it is connected, its
//! labels, facts and latest metrics, and a short in-memory metrics history.
//!
//! One std mutex guards the map; it is never held across an `.await`. Records are written
//! to the store when an agent connects or disconnects, and heartbeats mark a record dirty
//! for the periodic [`Registry::flush_dirty`], so 10,000 heartbeats a second do not mean
//! 10,000 disk writes a second.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use convoy_proto::identity::AgentId;
use convoy_proto::v1::{
    AgentDetail, AgentRecord, AgentState, AgentSummary, AppStatus, Connection, CoordinatorMessage,
    Hello, MetricsPoint, MetricsSample,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::selector::Selector;
use crate::store::{Store, StoreError};

/// Points of metrics history kept in memory per agent.
pub const HISTORY_POINTS: usize = 30;
/// Sessions kept in an agent's connection history.
pub const CONNECTION_HISTORY: usize = 20;
/// Session takeover alarm: an agent id replacing its own session more than this many
/// times within [`TAKEOVER_WINDOW`] (a stolen key racing the real agent, each reconnecting
/// in turn) raises a warning and is shown by `convoy agents show`.
pub const TAKEOVER_REPLACEMENTS: usize = 3;
pub const TAKEOVER_WINDOW: Duration = Duration::from_secs(60);
/// Records copied and written per step of [`Registry::flush_dirty`].
const FLUSH_CHUNK: usize = 256;

/// Why a session ended, as recorded in the agent's connection history.
pub mod reason {
    pub const STREAM_CLOSED: &str = "stream closed";
    pub const REPLACED: &str = "replaced by a newer session";
    pub const HEARTBEAT_TIMEOUT: &str = "heartbeat timeout";
    pub const SHUTDOWN: &str = "coordinator shutting down";
}

/// A live session's handle, given to the gRPC layer when an agent connects.
#[derive(Debug, Clone)]
pub struct SessionTicket {
    pub generation: u64,
    /// Cancelled when the session must end; `reason` says why.
    pub cancel: CancellationToken,
}

#[derive(Debug)]
struct LiveSession {
    generation: u64,
    cancel: CancellationToken,
    last_heartbeat: Instant,
    /// Set before `cancel` fires.
    end_reason: Option<&'static str>,
    /// The session's outbound queue.
    sender: SessionSender,
}

/// Where messages for one agent's session are queued.
pub type SessionSender = mpsc::Sender<Result<CoordinatorMessage, tonic::Status>>;

#[derive(Debug)]
struct Entry {
    record: AgentRecord,
    session: Option<LiveSession>,
    history: VecDeque<MetricsPoint>,
    dirty: bool,
    /// When this id's recent sessions were replaced (within [`TAKEOVER_WINDOW`]).
    replacements: VecDeque<Instant>,
}

#[derive(Debug)]
pub struct Registry {
    store: Store,
    offline_after: Duration,
    next_generation: AtomicU64,
    agents: Mutex<HashMap<String, Entry>>,
    /// Set (under the `agents` lock) when shutdown begins: later sessions end at once.
    closed: std::sync::atomic::AtomicBool,
    /// Told `(agent id, online)` at every session start and end (the rollout driver).
    /// Unbounded: one message per connection change, and a full channel must not stall a
    /// session.
    presence: std::sync::OnceLock<mpsc::UnboundedSender<(String, bool)>>,
    /// The event log and the metrics history (`with_monitoring`); told outside the lock.
    monitoring: std::sync::OnceLock<(crate::events::Events, crate::history::Recorder)>,
    /// Told the id of every removed host (the rollout driver).
    removals: std::sync::OnceLock<mpsc::UnboundedSender<String>>,
    /// Labels an enrollment token granted, by agent id: they override what the host's
    /// Hello says for those keys.
    granted: std::sync::RwLock<HashMap<String, std::collections::BTreeMap<String, String>>>,
}

/// What the rollout driver reads of a host for its gates.
#[derive(Debug, Clone)]
pub struct HostSnapshot {
    pub online: bool,
    pub metrics: Option<MetricsSample>,
    pub app: Option<AppStatus>,
}

use crate::clock::now_unix_ms;

impl Registry {
    /// Loads every known agent from the store; all start offline.
    pub fn load(store: Store, offline_after: Duration) -> Result<Self, StoreError> {
        let mut agents = HashMap::new();
        for mut record in store.agents()? {
            // A session left open by a crash ends at the last time we heard from it.
            if let Some(last) = record.connections.last_mut() {
                if last.disconnected_unix_ms == 0 {
                    last.disconnected_unix_ms = record.last_seen_unix_ms;
                    last.reason = "coordinator restarted".into();
                }
            }
            agents.insert(
                record.id.clone(),
                Entry {
                    record,
                    session: None,
                    history: VecDeque::new(),
                    dirty: false,
                    replacements: VecDeque::new(),
                },
            );
        }
        let granted = store
            .granted_labels()?
            .into_iter()
            .map(|g| (g.agent_id, g.labels))
            .collect();
        Ok(Self {
            granted: std::sync::RwLock::new(granted),
            store,
            offline_after,
            next_generation: AtomicU64::new(1),
            agents: Mutex::new(agents),
            closed: std::sync::atomic::AtomicBool::new(false),
            presence: std::sync::OnceLock::new(),
            monitoring: std::sync::OnceLock::new(),
            removals: std::sync::OnceLock::new(),
        })
    }

    /// Reports agents going offline and coming back to `events`, and every heartbeat's
    /// sample to the history's `recorder`.
    pub fn with_monitoring(
        self,
        events: crate::events::Events,
        recorder: crate::history::Recorder,
    ) -> Self {
        let _ = self.monitoring.set((events, recorder));
        self
    }

    /// Whether `id` is in the inventory.
    pub fn is_known(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// Calls `each` with every agent's record and whether it is online, under the lock
    /// (keep it short: the alert evaluator reads the fleet this way).
    pub fn visit(&self, mut each: impl FnMut(&AgentRecord, bool)) {
        let agents = self.lock();
        for entry in agents.values() {
            each(&entry.record, entry.session.is_some());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned lock means a panic while updating plain data; the data is still
        // usable, and refusing every later request would be worse.
        self.agents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets the one listener told about sessions starting and ending. Later calls are
    /// ignored.
    pub fn on_presence(&self, listener: mpsc::UnboundedSender<(String, bool)>) {
        let _ = self.presence.set(listener);
    }

    fn tell_presence(&self, id: &str, online: bool) {
        if let Some(listener) = self.presence.get() {
            let _ = listener.send((id.to_string(), online));
        }
    }

    /// Online state, latest metrics and the status of `app` for each of `ids` (None for
    /// an unknown host), under one lock.
    pub fn snapshots(&self, ids: &[&str], app: &str) -> Vec<Option<HostSnapshot>> {
        let agents = self.lock();
        ids.iter()
            .map(|id| {
                agents.get(*id).map(|entry| HostSnapshot {
                    online: entry.session.is_some(),
                    metrics: entry.record.last_metrics.clone(),
                    app: entry.record.apps.iter().find(|a| a.app == app).cloned(),
                })
            })
            .collect()
    }

    /// Writes records changed by heartbeats since the last flush. It works in chunks of
    /// [`FLUSH_CHUNK`] records, so that at 10,000 agents it neither holds every record's
    /// copy at once (tens of MiB every few seconds, which the allocator keeps) nor the
    /// registry lock for long.
    pub fn flush_dirty(&self) -> Result<usize, StoreError> {
        let dirty: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, entry)| entry.dirty)
            .map(|(id, _)| id.clone())
            .collect();
        let mut written = 0;
        for ids in dirty.chunks(FLUSH_CHUNK) {
            let records: Vec<AgentRecord> = {
                let mut agents = self.lock();
                let mut records = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(entry) = agents.get_mut(id).filter(|entry| entry.dirty) {
                        entry.dirty = false;
                        records.push(entry.record.clone());
                    }
                }
                records
            };
            for record in &records {
                self.store.put_agent(record)?;
            }
            written += records.len();
        }
        Ok(written)
    }

    /// Records the labels an enrollment token granted `id` (persisted) and applies them
    /// from its next session on.
    pub fn grant_labels(
        &self,
        id: &AgentId,
        labels: std::collections::BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        self.store
            .put_granted_labels(&convoy_proto::v1::GrantedLabels {
                agent_id: id.to_string(),
                labels: labels.clone(),
            })?;
        self.granted
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_string(), labels);
        Ok(())
    }

    /// Whether `id` has a live session.
    /// Records the certificate of the agent's current session (validity, serial, issuer),
    /// shown by `convoy agents` and read by a CA rotation; flushed with the record.
    pub fn note_cert(&self, id: &AgentId, cert: &crate::revocation::CertFacts) {
        if let Some(entry) = self.lock().get_mut(id.as_str()) {
            let record = &mut entry.record;
            record.cert_not_before_unix_ms = cert.not_before_unix_ms;
            record.cert_not_after_unix_ms = cert.not_after_unix_ms;
            record.cert_serial.clone_from(&cert.serial);
            record.cert_issuer.clone_from(&cert.issuer);
            entry.dirty = true;
        }
    }

    /// Online agents and the issuer ([`crate::revocation::dn_id`]) of their session's
    /// certificate.
    pub fn online_issuers(&self) -> Vec<(String, String)> {
        self.lock()
            .values()
            .filter(|entry| entry.session.is_some())
            .map(|entry| (entry.record.id.clone(), entry.record.cert_issuer.clone()))
            .collect()
    }

    pub fn is_online(&self, id: &str) -> bool {
        self.lock().get(id).is_some_and(|e| e.session.is_some())
    }

    /// Queues a message for `id`'s session without waiting. False if the agent is
    /// offline or its queue is full; durable senders retry later.
    pub fn try_send(&self, id: &str, message: CoordinatorMessage) -> bool {
        let sender = self
            .lock()
            .get(id)
            .and_then(|e| e.session.as_ref().map(|s| s.sender.clone()));
        sender.is_some_and(|sender| sender.try_send(Ok(message)).is_ok())
    }

    /// Number of agents with a live session.
    pub fn online_count(&self) -> usize {
        self.lock().values().filter(|e| e.session.is_some()).count()
    }

    /// Waits until every registry write so far is on disk.
    pub async fn sync(&self) -> Result<(), StoreError> {
        self.store.flush_async().await
    }

    pub fn flush_store(&self) -> Result<(), StoreError> {
        self.flush_dirty()?;
        self.store.flush()
    }
}

/// Whether a session ended because the agent was lost (not replaced, not a coordinator
/// shutdown or restart): what `agent.offline` and `agent.back` report.
fn is_outage(why: &str) -> bool {
    !why.is_empty()
        && why != reason::REPLACED
        && why != reason::SHUTDOWN
        && why != "coordinator restarted"
}

fn close_connection(record: &mut AgentRecord, now: i64, why: &str) {
    if let Some(last) = record.connections.last_mut() {
        if last.disconnected_unix_ms == 0 {
            last.disconnected_unix_ms = now;
            last.reason = why.to_string();
        }
    }
}

pub mod lifecycle;
mod sessions;
mod views;

use views::summary;
/// Past 90 % of the certificate's lifetime (it should have renewed at 2/3).
pub fn renewal_overdue(record: &AgentRecord, now_ms: i64) -> bool {
    let (start, end) = (
        record.cert_not_before_unix_ms,
        record.cert_not_after_unix_ms,
    );
    end > start && start > 0 && now_ms >= start + (end - start) / 10 * 9
}

/// Counts a replaced session; past [`TAKEOVER_REPLACEMENTS`] within [`TAKEOVER_WINDOW`]
/// the alarm is raised: a warning, the record's `takeover_alarm_unix_ms` and (returned true)
/// a `session.takeover` event.
fn note_replacement(id: &AgentId, entry: &mut Entry, now_ms: i64) -> bool {
    let now = Instant::now();
    while entry
        .replacements
        .front()
        .is_some_and(|at| now.duration_since(*at) > TAKEOVER_WINDOW)
    {
        entry.replacements.pop_front();
    }
    entry.replacements.push_back(now);
    let count = entry.replacements.len();
    if count > TAKEOVER_REPLACEMENTS {
        entry.record.takeover_alarm_unix_ms = now_ms;
        entry.record.takeover_replacements = u32::try_from(count).unwrap_or(u32::MAX);
        tracing::warn!(
            agent_id = %id,
            replacements = count,
            window = ?TAKEOVER_WINDOW,
            "session takeover suspected: this agent id keeps replacing its own session \
             (a stolen key racing the real agent?); revoke it with `convoy agent revoke`"
        );
        return true;
    }
    false
}

#[cfg(test)]
mod tests;
