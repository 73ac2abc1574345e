//! The coordinator's durable state: sled behind a typed API, so the rest of the code never
//! sees keys or bytes. Records are `convoy.v1` protobuf messages (see `store.proto`), so the
//! on-disk schema evolves the way the wire does.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use convoy_proto::v1::AgentRecord;
use prost::Message;

/// The layout version written into a new store; bumped when a migration is needed.
const SCHEMA_VERSION: u32 = 1;
const META_SCHEMA_KEY: &[u8] = b"schema_version";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record {key:?} in tree {tree}: {source}")]
    Decode {
        tree: &'static str,
        key: String,
        source: prost::DecodeError,
    },
    #[error("corrupt history record {key:?} in tree {tree}")]
    CorruptHistory { tree: &'static str, key: String },
    #[error("history file {path}: {source}")]
    HistoryFile {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("a store flush was aborted")]
    FlushAborted,
    #[error("the store at {0} is locked: is another coordinator using this data dir?")]
    Locked(String),
    #[error("store at {path} has schema version {found}, this build reads up to {supported}")]
    UnsupportedSchema {
        path: String,
        found: u32,
        supported: u32,
    },
}

/// sled's page cache. The registry's dirty-record flush rewrites every agent's record each
/// `FLUSH_INTERVAL`, and sled keeps the new versions in this cache until it is full, so
/// at 10,000 agents the cache fills in about a minute: 64 MiB of it was 6.5 KiB per agent
/// of resident memory. The hot set (agent records, active jobs) is a few MiB; reads that
/// miss come from the OS page cache.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// Opens sled, waiting briefly for the file lock: a store closed a moment ago (a restart
/// in the same process) may still be releasing it.
fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .open()
        {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(err)) if err.to_string().contains("could not acquire lock") => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::Locked(path.display().to_string()));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// Sets `dir` and the directories under it to 0700 and its files to 0600.
fn make_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            make_private(&entry.path())?;
        } else if kind.is_file() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

mod audit;
mod backups;
mod events;
pub mod history;
mod identity;
pub mod jobs;

pub use audit::{Appended, AuditPage};
pub mod freezes;
mod releases;
mod rollouts;
mod scaling;
pub mod snapshot;

/// Group commit bookkeeping for [`Store::flush_async`].
#[derive(Debug, Default)]
struct FlushState {
    lock: tokio::sync::Mutex<()>,
    requested: AtomicU64,
    completed: AtomicU64,
}

/// The first I/O error the store hit. sled 0.34 keeps its first I/O error (ENOSPC, EIO)
/// for the life of the handle and fails every later write with it, so the store is dead
/// from then on: `convoy serve` watches [`Store::failed`] and exits non-zero, and the
/// service manager's restart reopens the store cleanly.
#[derive(Debug, Default)]
struct Failure {
    first: std::sync::OnceLock<String>,
    signal: tokio_util::sync::CancellationToken,
}

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    flush: Arc<FlushState>,
    failure: Arc<Failure>,
    agents: sled::Tree,
    jobs: sled::Tree,
    /// `<created_unix_ms, 8 bytes big-endian> <job id>` → nothing: jobs in creation order.
    jobs_by_time: sled::Tree,
    commands: sled::Tree,
    output: sled::Tree,
    inflight: sled::Tree,
    audit: sled::Tree,
    requests: sled::Tree,
    releases: sled::Tree,
    rollouts: sled::Tree,
    rollout_log: sled::Tree,
    rollout_requests: sled::Tree,
    /// Rollout id → its post-deployment report (`RolloutReport`), written when it ended.
    rollout_reports: sled::Tree,
    backups: sled::Tree,
    backup_schedules: sled::Tree,
    refusals: Arc<audit::RefusalBudget>,
    /// Events, the notification outbox and the metrics history (`store/events.rs`).
    monitor: events::MonitorTrees,
}

/// Decodes one record, naming the tree and key when it is corrupt.
fn decode<M: Message + Default>(
    tree: &'static str,
    key: &[u8],
    raw: &[u8],
) -> Result<M, StoreError> {
    M::decode(raw).map_err(|source| StoreError::Decode {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store under `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("coordinator.sled");
        let db = open_db(&path)?;
        // The fleet's state is the coordinator user's alone (sled creates its files with
        // the process umask; the data dir above is 0700 too).
        if let Err(err) = make_private(&path) {
            tracing::warn!(path = %path.display(), error = %err, "cannot restrict the store's permissions");
        }
        let meta = db.open_tree("meta")?;
        match meta.get(META_SCHEMA_KEY)? {
            Some(raw) => {
                let found = raw
                    .as_ref()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .unwrap_or(u32::MAX);
                if found > SCHEMA_VERSION {
                    return Err(StoreError::UnsupportedSchema {
                        path: dir.display().to_string(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                meta.insert(META_SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            }
        }
        let store = Self {
            agents: db.open_tree("agents")?,
            jobs: db.open_tree("jobs")?,
            jobs_by_time: db.open_tree("jobs_by_time")?,
            commands: db.open_tree("commands")?,
            output: db.open_tree("output")?,
            inflight: db.open_tree("inflight")?,
            audit: db.open_tree("audit")?,
            requests: db.open_tree("requests")?,
            releases: db.open_tree("releases")?,
            rollouts: db.open_tree("rollouts")?,
            rollout_log: db.open_tree("rollout_log")?,
            rollout_requests: db.open_tree("rollout_requests")?,
            rollout_reports: db.open_tree("rollout_reports")?,
            backups: db.open_tree("backups")?,
            backup_schedules: db.open_tree("backup_schedules")?,
            refusals: Arc::default(),
            monitor: events::MonitorTrees::open(&db, dir)?,
            flush: Arc::new(FlushState::default()),
            failure: Arc::default(),
            db,
        };
        store.index_jobs_by_time()?;
        Ok(store)
    }

    pub fn delete_agent(&self, id: &str) -> Result<(), StoreError> {
        self.agents.remove(id.as_bytes())?;
        Ok(())
    }

    pub fn put_agent(&self, record: &AgentRecord) -> Result<(), StoreError> {
        self.agents
            .insert(record.id.as_bytes(), record.encode_to_vec())?;
        Ok(())
    }

    pub fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.agents
            .iter()
            .map(|item| {
                let (key, value) = item?;
                AgentRecord::decode(value.as_ref()).map_err(|source| StoreError::Decode {
                    tree: "agents",
                    key: String::from_utf8_lossy(&key).into_owned(),
                    source,
                })
            })
            .collect()
    }

    /// Makes every write so far durable without blocking the runtime. Concurrent callers
    /// share flushes (group commit): while one flush runs, the others queue, and the next
    /// flush covers all of them at once.
    ///
    /// (Not sled's own `flush_async`: concurrent calls to it can hang forever in sled
    /// 0.34, spacejam/sled#1308.)
    pub async fn flush_async(&self) -> Result<(), StoreError> {
        let mine = self.flush.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let _turn = self.flush.lock.lock().await;
        if self.flush.completed.load(Ordering::SeqCst) >= mine {
            // A flush that started after this request already covered it.
            return Ok(());
        }
        // Every request made so far was made before this flush starts.
        let covers = self.flush.requested.load(Ordering::SeqCst);
        let db = self.db.clone();
        let flushed = tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|_| StoreError::FlushAborted)?;
        self.check(flushed)?;
        self.flush.completed.store(covers, Ordering::SeqCst);
        Ok(())
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.check(self.db.flush())?;
        Ok(())
    }

    /// Every write reaches the disk through a flush, so a failed write shows up here (sled
    /// writes in the background and reports at the next flush): an I/O error or corruption
    /// marks the store failed.
    fn check<T>(&self, result: Result<T, sled::Error>) -> Result<T, StoreError> {
        result.map_err(|err| {
            if matches!(err, sled::Error::Io(_) | sled::Error::Corruption { .. }) {
                let _ = self.failure.first.set(err.to_string());
                self.failure.signal.cancel();
            }
            err.into()
        })
    }

    /// Resolves with the first I/O error once the store has failed (it never recovers).
    pub async fn failed(&self) -> String {
        self.failure.signal.cancelled().await;
        self.failure.first.get().cloned().unwrap_or_default()
    }

    /// Whether the store has failed (see [`Store::failed`]).
    pub fn has_failed(&self) -> bool {
        self.failure.signal.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let mut record = AgentRecord {
                id: "web-1".into(),
                version: "0.1.0".into(),
                ..Default::default()
            };
            record.labels.insert("role".into(), "web".into());
            store.put_agent(&record).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let agents = store.agents().unwrap();
        assert_eq!(agents.len(), 1);
        assert_eq!(agents[0].labels["role"], "web");
    }

    #[test]
    fn a_store_in_use_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Locked(_)), "{err}");
        assert!(err.to_string().contains("another coordinator"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_flushes_all_complete() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let store = store.clone();
            tasks.spawn(async move {
                let record = AgentRecord {
                    id: format!("a-{i}"),
                    ..Default::default()
                };
                store.put_agent(&record).unwrap();
                store.flush_async().await.unwrap();
            });
        }
        let all = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(done) = tasks.join_next().await {
                done.unwrap();
            }
        });
        all.await.expect("every flush completes");
        assert_eq!(store.agents().unwrap().len(), 200);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path().join("coordinator.sled")).unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert(META_SCHEMA_KEY, &99u32.to_be_bytes()).unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, StoreError::UnsupportedSchema { found: 99, .. }),
            "{err}"
        );
    }
}
