//! Which upload attempt of a backup may write and commit it. The agent restarts a broken-off
//! upload under the same backup id, and the old stream's handler may still be writing when the
//! retry begins (its connection is not yet known to be dead). So:
//!
//! - every attempt writes its own part files, named by a process-wide attempt number, so no
//!   attempt truncates, appends to or removes another's;
//! - beginning an attempt takes the backup id over: the older attempt is cancelled and stops at
//!   its next message, removing only its own files;
//! - only the newest attempt may commit (rename its files into place and complete the record),
//!   and commits and take-overs are serialized (`commit`), so a record and the files it names
//!   always come from the same attempt.
//!
//! The map holds one entry per upload in flight: an attempt's [`Lease`] removes its entry when
//! dropped, unless a newer attempt already replaced it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub(super) struct Attempts {
    next: AtomicU64,
    /// Backup id → the attempt allowed to write it, and how to cancel that attempt.
    current: Mutex<HashMap<String, (u64, CancellationToken)>>,
    /// Held while a backup's record and final files change hands (take-over and commit).
    commit: Arc<tokio::sync::Mutex<()>>,
}

impl Attempts {
    /// Serializes take-overs and commits.
    pub(super) async fn commit_lock(&self) -> OwnedMutexGuard<()> {
        self.commit.clone().lock_owned().await
    }

    /// Makes a new attempt the one allowed to write `backup_id`, cancelling the older one.
    /// Call with the commit lock held.
    pub(super) fn take_over(self: &Arc<Self>, backup_id: &str) -> Lease {
        let attempt = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let cancel = CancellationToken::new();
        // The map is consistent after every statement, so a poisoned lock is still usable.
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((older, token)) =
            current.insert(backup_id.to_string(), (attempt, cancel.clone()))
        {
            tracing::warn!(%backup_id, older, attempt, "a newer upload attempt supersedes a running one");
            token.cancel();
        }
        Lease {
            attempts: self.clone(),
            backup_id: backup_id.to_string(),
            attempt,
            cancel,
        }
    }

    /// Cancels whatever attempt is writing `backup_id` (its command is over). Call with the
    /// commit lock held.
    pub(super) fn cancel(&self, backup_id: &str) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, token)) = current.remove(backup_id) {
            token.cancel();
        }
    }

    fn is_current(&self, backup_id: &str, attempt: u64) -> bool {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.get(backup_id).is_some_and(|(a, _)| *a == attempt)
    }
}

/// One attempt's right to write a backup, until a newer attempt takes it over.
pub struct Lease {
    attempts: Arc<Attempts>,
    backup_id: String,
    attempt: u64,
    cancel: CancellationToken,
}

impl Lease {
    pub fn attempt(&self) -> u64 {
        self.attempt
    }

    /// Resolves once a newer attempt took the backup over (or its command ended).
    pub async fn superseded(&self) {
        self.cancel.cancelled().await;
    }

    /// Still the attempt allowed to commit; meaningful only with the commit lock held.
    pub(super) fn is_current(&self) -> bool {
        !self.cancel.is_cancelled() && self.attempts.is_current(&self.backup_id, self.attempt)
    }

    pub(super) async fn commit_lock(&self) -> OwnedMutexGuard<()> {
        self.attempts.commit_lock().await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut current = self
            .attempts
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if current
            .get(&self.backup_id)
            .is_some_and(|(a, _)| *a == self.attempt)
        {
            current.remove(&self.backup_id);
        }
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("backup_id", &self.backup_id)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}
