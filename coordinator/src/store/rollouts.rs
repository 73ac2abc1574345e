//! Rollouts: one record per rollout (what was asked, the plan, a summary for listing) and
//! its event log, keyed `id \0 seq` with the sequence number big-endian so a prefix scan
//! returns entries in order. Each ended rollout's post-deployment report is kept beside it
//! (tree `rollout_reports`, by id).
//!
//! A record's state is the `RolloutState` enum (field 14). Records written before that
//! carry the state's name in `legacy_state` (field 8); reading one fills in the enum from
//! the name ([`upgrade`]), so nothing above the store sees the old form.

use convoy_proto::v1::{RolloutLogEntry, RolloutRecord, RolloutReport, RolloutState};
use prost::Message;

use super::{Store, StoreError, decode};

/// Fills in the enum state of a record written with a string state.
fn upgrade(mut record: RolloutRecord) -> RolloutRecord {
    if record.state() == RolloutState::Unspecified {
        if let Some(state) = RolloutState::from_name(&record.legacy_state) {
            record.set_state(state);
        }
    }
    record
}

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
            .map(|raw| decode("rollouts", id.as_bytes(), &raw).map(upgrade))
            .transpose()
    }

    /// Every rollout, newest first.
    pub fn rollouts(&self) -> Result<Vec<RolloutRecord>, StoreError> {
        let mut all = Vec::new();
        for item in &self.rollouts {
            let (key, raw) = item?;
            all.push(upgrade(decode::<RolloutRecord>("rollouts", &key, &raw)?));
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

    /// Stores a rollout's post-deployment report (the one of its latest end).
    pub fn put_rollout_report(&self, report: &RolloutReport) -> Result<(), StoreError> {
        self.rollout_reports
            .insert(report.id.as_bytes(), report.encode_to_vec())?;
        Ok(())
    }

    pub fn rollout_report(&self, id: &str) -> Result<Option<RolloutReport>, StoreError> {
        self.rollout_reports
            .get(id.as_bytes())?
            .map(|raw| decode("rollout_reports", id.as_bytes(), &raw))
            .transpose()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A data dir written by the version that kept rollout states as strings (field 8)
    /// still loads: the state reads as the enum, and the rest of the record is intact.
    #[test]
    fn a_rollout_record_with_a_string_state_loads() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut raw = Vec::new();
        prost::encoding::string::encode(1, &"r-old".to_string(), &mut raw);
        prost::encoding::string::encode(8, &"rolled_back".to_string(), &mut raw);
        prost::encoding::uint32::encode(10, &2, &mut raw);
        store.rollouts.insert(b"r-old", raw).unwrap();
        let record = store.rollout("r-old").unwrap().unwrap();
        assert_eq!(record.state(), RolloutState::RolledBack);
        assert_eq!(record.failures, 2);
        let listed = store.rollouts().unwrap();
        assert_eq!(listed[0].state(), RolloutState::RolledBack);
        // Written again, it carries only the enum.
        let mut record = record;
        record.legacy_state.clear();
        store.put_rollout(&record).unwrap();
        let again = store.rollout("r-old").unwrap().unwrap();
        assert_eq!(
            (again.state(), again.legacy_state.as_str()),
            (RolloutState::RolledBack, "")
        );
    }
}
