//! The store's side of a coordinator snapshot: every sled tree read out in one pass per tree
//! as chunks of length-prefixed records, and a fresh store written back from such chunks.
//! The snapshot format itself (tar, header, hashes) is `crate::snapshot`'s; only this file
//! sees sled's trees and bytes.
//!
//! Consistency: sled 0.34 has no point-in-time snapshots, so a tree is read with one
//! ordinary scan while the coordinator keeps writing. Each record read is whole (a key and
//! the value it had at some moment of the scan); a record written or removed during the
//! scan may or may not be in it; there is no cross-tree point in time. Trees are read in
//! [`order`]: whatever refers to a record before the tree holding it (indexes before jobs,
//! jobs before their commands, commands before their output, rollout records before their
//! logs; the blobs after every tree). The store writes a target before anything that refers
//! to it, so a reference read earlier finds its target read later (unless the target was
//! deleted in between: a job or backup pruned during the save).

use std::path::Path;

use super::StoreError;

/// Trees derived from others, rebuilt by `Store::open` when empty rather than restored:
/// `jobs_by_time` (from `jobs`). It is read before `jobs`, so a job created during the save
/// can be in `jobs` without its entry; rebuilding it lists every restored job.
pub const DERIVED: [&str; 1] = ["jobs_by_time"];

/// Records buffered per chunk before it is handed out (a chunk is one tar entry).
pub const CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// A tree name the snapshot format accepts: `[a-z0-9_]`, 1..=64 bytes.
pub fn valid_tree_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The order trees are read in: references before their targets (see the module doc);
/// trees not named here (added later) come after, by name.
fn order(name: &str) -> usize {
    const FIRST: [&str; 12] = [
        "meta",
        // Indexes before what they index.
        "jobs_by_time",
        "requests",
        "inflight",
        // A job names its commands (written first); a command's output is written before
        // the command's record changes.
        "jobs",
        "commands",
        "output",
        // A rollout's summary record follows its log.
        "rollout_requests",
        "rollouts",
        "rollout_log",
        "backups",
        "releases",
    ];
    FIRST.iter().position(|n| *n == name).unwrap_or(FIRST.len())
}

/// Appends one record to a chunk: `u32 BE key length, key, u32 BE value length, value`.
fn put_record(chunk: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    // Keys and values of this store are far below 4 GiB (records are a few KiB at most).
    chunk.extend_from_slice(&(key.len() as u32).to_be_bytes());
    chunk.extend_from_slice(key);
    chunk.extend_from_slice(&(value.len() as u32).to_be_bytes());
    chunk.extend_from_slice(value);
}

/// Splits a chunk back into records; `None` when it is malformed.
pub fn records(chunk: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut out = Vec::new();
    let mut rest = chunk;
    let take = |rest: &mut &[u8]| -> Option<usize> {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        *rest = tail;
        Some(u32::from_be_bytes(*len) as usize)
    };
    while !rest.is_empty() {
        let key_len = take(&mut rest)?;
        let key = rest.get(..key_len)?;
        rest = &rest[key_len..];
        let value_len = take(&mut rest)?;
        let value = rest.get(..value_len)?;
        rest = &rest[value_len..];
        out.push((key, value));
    }
    Some(out)
}

impl super::Store {
    /// Reads every tree, one pass each, handing out chunks of at most about
    /// [`CHUNK_BYTES`]: `emit(tree, chunk index, records in the chunk, bytes)`. Returns the
    /// records per tree. Memory is one chunk. Blocking: call from a blocking thread.
    pub fn export_trees<E>(
        &self,
        mut emit: impl FnMut(&str, u32, u64, &[u8]) -> Result<(), E>,
    ) -> Result<Vec<(String, u64)>, E>
    where
        E: From<StoreError>,
    {
        let mut names: Vec<String> = self
            .db
            .tree_names()
            .into_iter()
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .filter(|n| valid_tree_name(n))
            .collect();
        names.sort_by(|a, b| order(a).cmp(&order(b)).then(a.cmp(b)));
        let mut counts = Vec::new();
        for name in names {
            let tree = self.db.open_tree(&name).map_err(StoreError::from)?;
            let mut chunk = Vec::with_capacity(64 * 1024);
            let (mut index, mut in_chunk, mut total) = (0u32, 0u64, 0u64);
            for item in tree.iter() {
                let (key, value) = item.map_err(StoreError::from)?;
                put_record(&mut chunk, &key, &value);
                in_chunk += 1;
                total += 1;
                if chunk.len() >= CHUNK_BYTES {
                    emit(&name, index, in_chunk, &chunk)?;
                    chunk.clear();
                    index += 1;
                    in_chunk = 0;
                }
            }
            if in_chunk > 0 || index == 0 {
                emit(&name, index, in_chunk, &chunk)?;
            }
            counts.push((name, total));
        }
        Ok(counts)
    }
}

/// A fresh sled store being written from a snapshot's chunks (`convoy snapshot restore`).
pub struct Importer {
    db: sled::Db,
}

impl Importer {
    /// Creates the store at `<dir>/coordinator.sled`; `dir` must be new and empty.
    pub fn create(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir.join("coordinator.sled"))
            .create_new(true)
            .open()?;
        Ok(Self { db })
    }

    /// Writes one chunk's records into `tree`; returns how many (`None`: malformed chunk).
    /// A [`DERIVED`] tree's records are counted, not written: the store rebuilds it on open.
    pub fn import(&self, tree: &str, chunk: &[u8]) -> Result<Option<u64>, StoreError> {
        let Some(records) = records(chunk) else {
            return Ok(None);
        };
        if DERIVED.contains(&tree) {
            return Ok(Some(records.len() as u64));
        }
        let tree = self.db.open_tree(tree)?;
        let mut batch = sled::Batch::default();
        let count = records.len() as u64;
        for (key, value) in records {
            batch.insert(key, value);
        }
        tree.apply_batch(batch)?;
        Ok(Some(count))
    }

    /// Flushes and closes the new store, making its files private.
    pub fn finish(self, dir: &Path) -> Result<(), StoreError> {
        self.db.flush()?;
        drop(self.db);
        let path = dir.join("coordinator.sled");
        super::make_private(&path).map_err(|source| StoreError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(())
    }
}

/// Records per tree of the store under `dir` (the drill's count of what a restore holds).
pub fn count_trees(store: &super::Store) -> Result<Vec<(String, u64)>, StoreError> {
    let mut counts = Vec::new();
    for name in store.db.tree_names() {
        let name = String::from_utf8_lossy(&name).into_owned();
        if !valid_tree_name(&name) {
            continue;
        }
        let tree = store.db.open_tree(&name)?;
        counts.push((name, tree.len() as u64));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_malformed_chunks_are_refused() {
        let mut chunk = Vec::new();
        put_record(&mut chunk, b"k1", b"v1");
        put_record(&mut chunk, b"", b"");
        put_record(&mut chunk, b"k3", &[0u8; 300]);
        let back = records(&chunk).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0], (&b"k1"[..], &b"v1"[..]));
        assert!(records(&chunk[..chunk.len() - 1]).is_none());
        assert!(records(&[0, 0, 0, 9, 1]).is_none());
    }

    #[test]
    fn export_then_import_gives_the_same_trees() {
        let from = tempfile::tempdir().unwrap();
        let store = super::super::Store::open(from.path()).unwrap();
        for i in 0..1000 {
            store
                .put_agent(&convoy_proto::v1::AgentRecord {
                    id: format!("a-{i:04}"),
                    version: "x".repeat(10_000),
                    ..Default::default()
                })
                .unwrap();
        }
        let to = tempfile::tempdir().unwrap();
        let importer = Importer::create(to.path()).unwrap();
        let mut chunks = 0;
        let counts = store
            .export_trees(|tree, _, _, chunk| {
                chunks += 1;
                importer.import(tree, chunk).map(|n| assert!(n.is_some()))
            })
            .unwrap();
        assert!(chunks > 3, "{chunks} chunks: 10 MB should need several");
        importer.finish(to.path()).unwrap();
        assert!(counts.contains(&("agents".to_string(), 1000)), "{counts:?}");
        let copy = super::super::Store::open(to.path()).unwrap();
        assert_eq!(copy.agents().unwrap(), store.agents().unwrap());
        let mut a = count_trees(&copy).unwrap();
        let mut b = count_trees(&store).unwrap();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn a_job_saved_without_its_index_entry_is_listed_after_a_restore() {
        let from = tempfile::tempdir().unwrap();
        let store = super::super::Store::open(from.path()).unwrap();
        for (i, id) in ["j-1", "j-2", "j-3"].iter().enumerate() {
            store
                .put_job(&convoy_proto::v1::JobRecord {
                    id: (*id).into(),
                    created_unix_ms: 1000 + i as i64,
                    ..Default::default()
                })
                .unwrap();
        }
        // As if j-3 was created between the index's pass and the jobs' pass.
        let newest = store.jobs_by_time.iter().next_back().unwrap().unwrap().0;
        store.jobs_by_time.remove(newest).unwrap();
        let to = tempfile::tempdir().unwrap();
        let importer = Importer::create(to.path()).unwrap();
        store
            .export_trees(|tree, _, _, chunk| importer.import(tree, chunk).map(|_| ()))
            .unwrap();
        importer.finish(to.path()).unwrap();
        let copy = super::super::Store::open(to.path()).unwrap();
        let (jobs, _) = copy.jobs_page(None, 10, 100, |_| true).unwrap();
        let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["j-3", "j-2", "j-1"]);
    }
}
