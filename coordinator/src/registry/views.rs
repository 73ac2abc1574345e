//! What operators see of the registry: agents by selector, one agent's details, and the
//! summary row both are made of.

use super::*;

impl Registry {
    /// Agents matching `selector`, sorted by id.
    pub fn list(&self, selector: &Selector) -> Vec<AgentSummary> {
        let agents = self.lock();
        let mut list: Vec<AgentSummary> = agents
            .values()
            .filter(|entry| selector.matches_host(&entry.record.id, &entry.record.labels))
            .map(summary)
            .collect();
        drop(agents);
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }

    pub fn get(&self, id: &str) -> Option<AgentDetail> {
        let agents = self.lock();
        let entry = agents.get(id)?;
        Some(AgentDetail {
            agent: Some(summary(entry)),
            facts: entry.record.facts.clone(),
            connections: entry.record.connections.clone(),
            history: entry.history.iter().cloned().collect(),
            inflight_commands: 0,
            takeover_alarm_unix_ms: entry.record.takeover_alarm_unix_ms,
            takeover_replacements: entry.record.takeover_replacements,
        })
    }
}

pub(super) fn summary(entry: &Entry) -> AgentSummary {
    let record = &entry.record;
    let state = if entry.session.is_some() {
        AgentState::Online
    } else {
        AgentState::Offline
    };
    AgentSummary {
        id: record.id.clone(),
        state: state.into(),
        labels: record.labels.clone(),
        version: record.version.clone(),
        first_seen_unix_ms: record.first_seen_unix_ms,
        last_seen_unix_ms: record.last_seen_unix_ms,
        metrics: record.last_metrics.clone(),
        actions: record.actions.clone(),
        apps: record.apps.clone(),
        allow_unsigned_releases: record.allow_unsigned_releases,
        cordoned: record.cordoned,
        cert_not_after_unix_ms: record.cert_not_after_unix_ms,
        cert_renewal_overdue: renewal_overdue(record, now_unix_ms()),
        hostname: record
            .facts
            .as_ref()
            .map(|f| f.hostname.clone())
            .unwrap_or_default(),
    }
}
