//! Freezes of environments (`convoy freeze add|list|remove`): tree `freezes`, one
//! `Freeze` per id. They survive restarts like every record.

use convoy_proto::v1::Freeze;
use prost::Message;

use super::{Store, StoreError, decode};

const TREE: &str = "freezes";

impl Store {
    pub fn put_freeze(&self, freeze: &Freeze) -> Result<(), StoreError> {
        self.db
            .open_tree(TREE)?
            .insert(freeze.id.as_bytes(), freeze.encode_to_vec())?;
        Ok(())
    }

    /// Removes a freeze; whether there was one.
    pub fn remove_freeze(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.db.open_tree(TREE)?.remove(id.as_bytes())?.is_some())
    }

    /// Every freeze, by start time.
    pub fn freezes(&self) -> Result<Vec<Freeze>, StoreError> {
        let mut all = Vec::new();
        for item in &self.db.open_tree(TREE)? {
            let (key, raw) = item?;
            all.push(decode::<Freeze>(TREE, &key, &raw)?);
        }
        all.sort_by(|a, b| (a.from_unix_ms, &a.id).cmp(&(b.from_unix_ms, &b.id)));
        Ok(all)
    }
}

/// The freeze of `env` in force at `now` that ends last, if any.
pub fn in_force<'a>(freezes: &'a [Freeze], env: &str, now: i64) -> Option<&'a Freeze> {
    freezes
        .iter()
        .filter(|f| f.env == env && f.from_unix_ms <= now && now < f.until_unix_ms)
        .max_by_key(|f| f.until_unix_ms)
}
