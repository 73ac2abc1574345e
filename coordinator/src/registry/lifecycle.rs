//! A host's lifecycle as operators drive it: cordon (no new jobs or rollouts), uncordon,
//! and remove (forget a host; refused while it is online unless forced). Each change is
//! written to the store before it is answered.

use convoy_proto::v1::AgentSummary;

use super::{Registry, now_unix_ms, summary};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("no agent {0:?} in the inventory")]
    NotFound(String),
    #[error(
        "agent {0:?} is online: removing it would only last until it reconnects; stop it \
         first, or pass --force to end its session and forget it anyway"
    )]
    Online(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Registry {
    /// Cordons (`true`) or uncordons a host, recording who and when.
    pub fn set_cordoned(
        &self,
        id: &str,
        cordoned: bool,
        by: &str,
    ) -> Result<AgentSummary, LifecycleError> {
        let (record, shown) = {
            let mut agents = self.lock();
            let entry = agents
                .get_mut(id)
                .ok_or_else(|| LifecycleError::NotFound(id.to_string()))?;
            entry.record.cordoned = cordoned;
            entry.record.cordoned_by = if cordoned {
                by.to_string()
            } else {
                String::new()
            };
            entry.record.cordoned_unix_ms = if cordoned { now_unix_ms() } else { 0 };
            (entry.record.clone(), summary(entry))
        };
        self.store.put_agent(&record)?;
        Ok(shown)
    }

    /// Whether `id` is cordoned (unknown hosts are not).
    pub fn is_cordoned(&self, id: &str) -> bool {
        self.lock().get(id).is_some_and(|e| e.record.cordoned)
    }

    /// Forgets a host: its record goes, its session (with `force`) ends. Returns whether it
    /// was online. Rollouts are told (they stop waiting for it).
    pub fn remove(&self, id: &str, force: bool) -> Result<bool, LifecycleError> {
        let entry = {
            let mut agents = self.lock();
            let entry = agents
                .get(id)
                .ok_or_else(|| LifecycleError::NotFound(id.to_string()))?;
            if entry.session.is_some() && !force {
                return Err(LifecycleError::Online(id.to_string()));
            }
            agents.remove(id)
        };
        let was_online = entry.as_ref().is_some_and(|e| e.session.is_some());
        if let Some(session) = entry.and_then(|e| e.session) {
            session.cancel.cancel();
        }
        self.store.delete_agent(id)?;
        if let Some(listener) = self.removals.get() {
            let _ = listener.send(id.to_string());
        }
        Ok(was_online)
    }

    /// Sets the one listener told about removed hosts (the rollout driver).
    pub fn on_removal(&self, listener: tokio::sync::mpsc::UnboundedSender<String>) {
        let _ = self.removals.set(listener);
    }
}
