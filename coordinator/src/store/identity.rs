//! Revocations and the certificates the coordinator has seen: the trees `revocations`
//! (keyed `kind\0target`) and `certs` (keyed by serial).

use convoy_proto::v1::{Revocation, SeenCert};
use prost::Message;

use super::{Store, StoreError, decode};

fn revocation_key(kind: &str, target: &str) -> Vec<u8> {
    let mut key = kind.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(target.as_bytes());
    key
}

impl Store {
    /// Stores a revocation and flushes it to disk before returning: a revocation the
    /// operator was told about must survive a crash.
    pub fn put_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let tree = self.db.open_tree("revocations")?;
        tree.insert(
            revocation_key(&revocation.kind, &revocation.target),
            revocation.encode_to_vec(),
        )?;
        tree.flush()?;
        Ok(())
    }

    pub fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        let tree = self.db.open_tree("revocations")?;
        tree.iter()
            .map(|item| {
                let (key, raw) = item?;
                decode::<Revocation>("revocations", &key, &raw)
            })
            .collect()
    }

    /// Records a certificate seen at a handshake, or its latest use (the caller keeps the
    /// first sighting's time and bounds how often this is written).
    pub fn put_seen_cert(&self, cert: &SeenCert) -> Result<(), StoreError> {
        let tree = self.db.open_tree("certs")?;
        tree.insert(cert.serial.as_bytes(), cert.encode_to_vec())?;
        Ok(())
    }

    pub fn seen_certs(&self) -> Result<Vec<SeenCert>, StoreError> {
        let tree = self.db.open_tree("certs")?;
        tree.iter()
            .map(|item| {
                let (key, raw) = item?;
                decode::<SeenCert>("certs", &key, &raw)
            })
            .collect()
    }
}

/// Enrollment tokens (tree `tokens`, keyed by token id) and the labels tokens granted
/// (tree `granted_labels`, keyed by agent id).
impl Store {
    pub fn token(&self, id: &str) -> Result<Option<convoy_proto::v1::TokenRecord>, StoreError> {
        let tree = self.db.open_tree("tokens")?;
        tree.get(id.as_bytes())?
            .map(|raw| decode("tokens", id.as_bytes(), &raw))
            .transpose()
    }

    pub fn tokens(&self) -> Result<Vec<convoy_proto::v1::TokenRecord>, StoreError> {
        let tree = self.db.open_tree("tokens")?;
        tree.iter()
            .map(|item| {
                let (key, raw) = item?;
                decode("tokens", &key, &raw)
            })
            .collect()
    }

    /// Writes a token and flushes: a token the operator was shown must exist after a
    /// crash, and a use (or revocation) must not be undone by one.
    pub fn put_token(&self, record: &convoy_proto::v1::TokenRecord) -> Result<(), StoreError> {
        let tree = self.db.open_tree("tokens")?;
        let id = record
            .info
            .as_ref()
            .map(|i| i.id.clone())
            .unwrap_or_default();
        tree.insert(id.as_bytes(), record.encode_to_vec())?;
        tree.flush()?;
        Ok(())
    }

    /// Replaces `old` by `new` only if the stored record is still `old`: two enrollments
    /// racing for a token's last use cannot both win.
    pub fn swap_token(
        &self,
        old: &convoy_proto::v1::TokenRecord,
        new: &convoy_proto::v1::TokenRecord,
    ) -> Result<bool, StoreError> {
        let tree = self.db.open_tree("tokens")?;
        let id = new.info.as_ref().map(|i| i.id.clone()).unwrap_or_default();
        let swapped = tree
            .compare_and_swap(
                id.as_bytes(),
                Some(old.encode_to_vec()),
                Some(new.encode_to_vec()),
            )?
            .is_ok();
        tree.flush()?;
        Ok(swapped)
    }

    pub fn put_granted_labels(
        &self,
        granted: &convoy_proto::v1::GrantedLabels,
    ) -> Result<(), StoreError> {
        let tree = self.db.open_tree("granted_labels")?;
        tree.insert(granted.agent_id.as_bytes(), granted.encode_to_vec())?;
        tree.flush()?;
        Ok(())
    }

    pub fn granted_labels(&self) -> Result<Vec<convoy_proto::v1::GrantedLabels>, StoreError> {
        let tree = self.db.open_tree("granted_labels")?;
        tree.iter()
            .map(|item| {
                let (key, raw) = item?;
                decode("granted_labels", &key, &raw)
            })
            .collect()
    }
}
