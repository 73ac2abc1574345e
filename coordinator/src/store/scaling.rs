//! The `scaling` tree: one `ScalingRecord` per `[[scaling]]` policy (its last action and
//! last dry-run decision), so a policy's cooldown survives a coordinator restart.

use convoy_proto::v1::ScalingRecord;
use prost::Message;

use super::{Store, StoreError, decode};

const TREE: &str = "scaling";

impl Store {
    /// The record of policy `name`, if it ever acted.
    pub fn scaling_record(&self, name: &str) -> Result<Option<ScalingRecord>, StoreError> {
        let tree = self.db.open_tree(TREE)?;
        tree.get(name.as_bytes())?
            .map(|raw| decode(TREE, name.as_bytes(), &raw))
            .transpose()
    }

    /// Writes the record of `record.policy` (durable after the next flush).
    pub fn put_scaling_record(&self, record: &ScalingRecord) -> Result<(), StoreError> {
        let tree = self.db.open_tree(TREE)?;
        tree.insert(record.policy.as_bytes(), record.encode_to_vec())?;
        Ok(())
    }
}
