//! What the driver answers without changing anything: one rollout's view, the list, its
//! post-deployment report, and the change feed.

#[allow(unused_imports)]
use super::*;

impl Rollouts {
    pub async fn get(&self, id: &str) -> Result<RolloutView, RolloutError> {
        self.ask(|reply| Request::Get {
            id: id.to_string(),
            reply,
        })
        .await
    }

    /// Rollouts newest first, from their stored summaries.
    pub fn list(
        &self,
        app: &str,
        active_only: bool,
        limit: usize,
    ) -> Result<Vec<RolloutSummary>, RolloutError> {
        Ok(self
            .store
            .rollouts()?
            .iter()
            .filter(|r| app.is_empty() || r.spec.as_ref().is_some_and(|s| s.app == app))
            .filter(|r| !active_only || r.active)
            .take(limit)
            .map(record::summary)
            .collect())
    }

    /// The post-deployment report of rollout `id`: the stored one of its latest end, else
    /// one computed now (`rollout::report`), off the async threads.
    pub async fn report(&self, id: &str) -> Result<RolloutReport, RolloutError> {
        let (store, registry, history) = (self.store.clone(), self.registry.clone(), self.history);
        let id = id.to_string();
        tokio::task::spawn_blocking(move || {
            crate::rollout::report::current(&store, history.as_ref(), &registry, &id, now_unix_ms())
        })
        .await
        .map_err(|_| RolloutError::Stopped)?
        .map_err(|err| match err {
            crate::rollout::report::ReportError::NotFound(id) => RolloutError::NotFound(id),
            crate::rollout::report::ReportError::Store(err) => RolloutError::Store(err),
            crate::rollout::report::ReportError::Spec { source, .. } => RolloutError::Spec(source),
        })
    }

    /// Ids of rollouts as they change (after the change is on disk).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }
}
