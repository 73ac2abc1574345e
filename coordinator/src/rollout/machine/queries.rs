//! What the driver asks of a rollout instead of reading its fields: which hosts the gates
//! judge and which make the baseline, what a host is doing, whether a presence change or
//! a removal is news, and whether the rollout can be unloaded.

use super::{HostState, Rollout, Settings, State};
use crate::rollout::gate;

impl Rollout {
    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Failures so far, gate failures included.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// 0-based index of the current wave.
    pub(crate) fn current_wave(&self) -> usize {
        self.wave
    }

    /// Hosts whose deploy succeeded (and no gate failed since).
    pub(crate) fn succeeded_hosts(&self) -> u32 {
        let count = self
            .hosts
            .iter()
            .filter(|h| h.state == HostState::Succeeded)
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// Whether the gates judge host `i` now: it succeeded in the current wave, which is
    /// baking or awaiting promotion.
    pub(super) fn is_gated(&self, i: usize) -> bool {
        let watched = matches!(self.phase, State::Baking | State::AwaitingPromotion);
        let host = &self.hosts[i];
        watched && host.wave == self.wave && host.state == HostState::Succeeded
    }

    /// The hosts whose metrics the gates judge now (a `Metrics` event for any other host
    /// changes nothing).
    pub(crate) fn gated_hosts(&self) -> Vec<&str> {
        let Some(wave) = self.waves.get(self.wave) else {
            return Vec::new();
        };
        wave.hosts
            .iter()
            .filter(|&&i| self.is_gated(i))
            .map(|&i| self.hosts[i].id.as_str())
            .collect()
    }

    /// The hosts whose metrics make the baseline of relative gates (`cpu<1.5*baseline`):
    /// those not yet updated. Empty when no gate is relative.
    pub(crate) fn baseline_hosts(&self) -> Vec<&str> {
        if !gate::needs_baseline(&self.settings.gates) {
            return Vec::new();
        }
        self.hosts
            .iter()
            .filter(|h| h.state == HostState::Pending)
            .map(|h| h.id.as_str())
            .collect()
    }

    /// Every host of the rollout with its state, in plan order.
    pub(crate) fn host_states(&self) -> impl Iterator<Item = (&str, HostState)> {
        self.hosts.iter().map(|h| (h.id.as_str(), h.state))
    }

    /// The state of one host, if the rollout targets it.
    pub(crate) fn host_state(&self, id: &str) -> Option<HostState> {
        self.index.get(id).map(|&i| self.hosts[i].state)
    }

    /// Whether `HostOnline`/`HostOffline` for this host would tell the rollout anything.
    pub(crate) fn presence_is_news(&self, id: &str, online: bool) -> bool {
        self.index
            .get(id)
            .is_some_and(|&i| self.hosts[i].online != online)
    }

    /// Whether `HostRemoved` for this host would tell the rollout anything.
    pub(crate) fn removal_is_news(&self, id: &str) -> bool {
        !self.state().is_terminal() && self.index.get(id).is_some_and(|&i| !self.hosts[i].removed)
    }

    /// Whether a late convergence deploy was sent to this host and has no result yet.
    pub(crate) fn awaits_late(&self, id: &str) -> bool {
        self.index.get(id).is_some_and(|&i| {
            let host = &self.hosts[i];
            host.late_sent && host.late_result.is_none()
        })
    }

    /// Whether the driver may let go of the rollout at `now`: it ended, no host it started
    /// is still deploying (an aborted rollout lets its in-flight hosts finish, and their
    /// results still count), and no host skipped or unreachable may still converge late
    /// (the late window is over, or every such host has its late result).
    pub(crate) fn can_unload(&self, now: i64) -> bool {
        if !self.state().is_terminal() || self.deploying > 0 {
            return false;
        }
        let Some(established) = self.established_at else {
            return true;
        };
        let in_window = now.saturating_sub(established) <= self.settings.late_window_ms;
        let late_open = self.late.iter().any(|&i| {
            let host = &self.hosts[i];
            !host.late_sent || host.late_result.is_none()
        });
        !(in_window && late_open)
    }
}
