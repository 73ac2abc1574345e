//! Rollouts: one record per rollout (what was asked, the plan, a summary for listing) and
//! its event log, keyed `id \0 seq` with the sequence number big-endian so a prefix scan
//! returns entries in order.

use convoy_proto::v1::{RolloutLogEntry, RolloutRecord};
use prost::Message;

use super::{Store, StoreError, decode};

fn log_key(id: &str, seq: u64) -> Vec<u8> {
    let mut key = log_prefix(id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn log_prefix(id: &str) -> Vec<u8> {
    let mut key = id.as_bytes().to_vec();
    key.push(0);
    key
}

impl Store {
    pub fn put_rollout(&self, record: &RolloutRecord) -> Result<(), StoreError> {
        self.rollouts
            .insert(record.id.as_bytes(), record.encode_to_vec())?;
        Ok(())
    }

    pub fn rollout(&self, id: &str) -> Result<Option<RolloutRecord>, StoreError> {
        self.rollouts
            .get(id.as_bytes())?
            .map(|raw| decode("rollouts", id.as_bytes(), &raw))
            .transpose()
    }

    /// Every rollout, newest first.
    pub fn rollouts(&self) -> Result<Vec<RolloutRecord>, StoreError> {
        let mut all = Vec::new();
        for item in &self.rollouts {
            let (key, raw) = item?;
            all.push(decode::<RolloutRecord>("rollouts", &key, &raw)?);
        }
        all.sort_by(|a, b| (b.created_unix_ms, &b.id).cmp(&(a.created_unix_ms, &a.id)));
        Ok(all)
    }

    pub fn append_rollout_entry(
        &self,
        id: &str,
        seq: u64,
        entry: &RolloutLogEntry,
    ) -> Result<(), StoreError> {
        self.rollout_log
            .insert(log_key(id, seq), entry.encode_to_vec())?;
        Ok(())
    }

    /// A rollout's log in order, with each entry's sequence number.
    pub fn rollout_entries(&self, id: &str) -> Result<Vec<(u64, RolloutLogEntry)>, StoreError> {
        let prefix = log_prefix(id);
        let mut entries = Vec::new();
        for item in self.rollout_log.scan_prefix(&prefix) {
            let (key, raw) = item?;
            let seq = key[prefix.len()..]
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or(u64::MAX);
            entries.push((seq, decode("rollout_log", &key, &raw)?));
        }
        Ok(entries)
    }

    pub fn rollout_for_request(&self, request_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .rollout_requests
            .get(request_id.as_bytes())?
            .map(|raw| String::from_utf8_lossy(&raw).into_owned()))
    }

    pub fn put_rollout_request(&self, request_id: &str, id: &str) -> Result<(), StoreError> {
        self.rollout_requests
            .insert(request_id.as_bytes(), id.as_bytes())?;
        Ok(())
    }
}
