//! Release metadata: one record per app and version.

use convoy_proto::v1::{Release, ReleaseRecord};
use prost::Message;

use super::{Store, StoreError, decode};

fn key(app: &str, version: &str) -> Vec<u8> {
    let mut key = app.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(version.as_bytes());
    key
}

impl Store {
    pub fn put_release(&self, release: &Release) -> Result<(), StoreError> {
        let record = ReleaseRecord {
            release: Some(release.clone()),
        };
        self.releases
            .insert(key(&release.app, &release.version), record.encode_to_vec())?;
        Ok(())
    }

    /// Forgets one release record (the caller removes its artifact).
    pub fn remove_release(&self, app: &str, version: &str) -> Result<(), StoreError> {
        self.releases.remove(key(app, version))?;
        Ok(())
    }

    pub fn release(&self, app: &str, version: &str) -> Result<Option<Release>, StoreError> {
        let key = key(app, version);
        Ok(self
            .releases
            .get(&key)?
            .map(|raw| decode::<ReleaseRecord>("releases", &key, &raw))
            .transpose()?
            .and_then(|record| record.release))
    }

    /// Every release of `app` (all apps if empty), newest push first.
    pub fn releases(&self, app: &str) -> Result<Vec<Release>, StoreError> {
        let prefix = if app.is_empty() {
            Vec::new()
        } else {
            let mut prefix = app.as_bytes().to_vec();
            prefix.push(0);
            prefix
        };
        let mut releases = Vec::new();
        for item in self.releases.scan_prefix(prefix) {
            let (key, raw) = item?;
            if let Some(release) = decode::<ReleaseRecord>("releases", &key, &raw)?.release {
                releases.push(release);
            }
        }
        releases.sort_by_key(|r| std::cmp::Reverse(r.pushed_unix_ms));
        Ok(releases)
    }
}
