//! The backup catalog and backup schedules: one `Backup` record per backup id and one
//! `BackupSchedule` per schedule id (both `backup.proto` messages).

use convoy_proto::v1::{Backup, BackupSchedule};
use prost::Message;

use super::{Store, StoreError, decode};

impl Store {
    pub fn put_backup(&self, backup: &Backup) -> Result<(), StoreError> {
        self.backups
            .insert(backup.id.as_bytes(), backup.encode_to_vec())?;
        Ok(())
    }

    pub fn backup(&self, id: &str) -> Result<Option<Backup>, StoreError> {
        self.backups
            .get(id.as_bytes())?
            .map(|raw| decode("backups", id.as_bytes(), &raw))
            .transpose()
    }

    pub fn remove_backup(&self, id: &str) -> Result<(), StoreError> {
        self.backups.remove(id.as_bytes())?;
        Ok(())
    }

    /// Every backup record, in id order (ids start with their creation time).
    pub fn backups(&self) -> Result<Vec<Backup>, StoreError> {
        self.backups
            .iter()
            .map(|item| {
                let (key, raw) = item?;
                decode("backups", &key, &raw)
            })
            .collect()
    }

    pub fn put_backup_schedule(&self, schedule: &BackupSchedule) -> Result<(), StoreError> {
        self.backup_schedules
            .insert(schedule.id.as_bytes(), schedule.encode_to_vec())?;
        Ok(())
    }

    pub fn remove_backup_schedule(&self, id: &str) -> Result<Option<BackupSchedule>, StoreError> {
        self.backup_schedules
            .remove(id.as_bytes())?
            .map(|raw| decode("backup_schedules", id.as_bytes(), &raw))
            .transpose()
    }

    pub fn backup_schedules(&self) -> Result<Vec<BackupSchedule>, StoreError> {
        self.backup_schedules
            .iter()
            .map(|item| {
                let (key, raw) = item?;
                decode("backup_schedules", &key, &raw)
            })
            .collect()
    }
}
