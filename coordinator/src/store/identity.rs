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

    /// Records a certificate seen at a handshake (the first sighting wins).
    pub fn put_seen_cert(&self, cert: &SeenCert) -> Result<(), StoreError> {
        let tree = self.db.open_tree("certs")?;
        let _ = tree.compare_and_swap(
            cert.serial.as_bytes(),
            None as Option<&[u8]>,
            Some(cert.encode_to_vec()),
        )?;
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
