//! Late convergence: a host skipped or unreachable that comes back within the late window
//! after the version was established is sent the version ([`Action::ConvergeLate`]), and
//! the result of that deploy is recorded (`Event::LateSucceeded`/`LateFailed`).

use super::{Action, HostState, Rollout};

impl Rollout {
    pub(super) fn converge_late(&mut self, now: i64, i: usize, out: &mut Vec<Action>) {
        let Some(established) = self.established_at else {
            return;
        };
        let host = &mut self.hosts[i];
        let late_state = matches!(host.state, HostState::Skipped | HostState::Unreachable);
        let in_window = now.saturating_sub(established) <= self.settings.late_window_ms;
        if late_state && !host.late_sent && host.online && in_window {
            host.late_sent = true;
            out.push(Action::ConvergeLate {
                host: host.id.clone(),
            });
        }
    }

    pub(super) fn late_done(&mut self, id: &str, state: HostState, reason: String) {
        let Some(&i) = self.index.get(id) else { return };
        let host = &mut self.hosts[i];
        if host.late_sent && host.late_result.is_none() {
            host.late_result = Some((state, reason));
        }
    }
}
