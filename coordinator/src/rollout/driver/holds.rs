//! Windows and freezes: every second (with the gates) the driver reads each environment
//! rollout's window (from the environments in force, `[[environments]]`, swapped by a
//! SIGHUP reload) and the freezes in the store, and logs a `Hold` entry when what holds the
//! rollout changed. The machine takes the hold as an input like any other, so a replay
//! needs neither the clock nor the config. A start logs the hold first (`hold_for`).

use convoy_proto::v1::Freeze;

use super::Driver;
use crate::clock::now_unix_ms;
use crate::config::environments::{self, Environment, WindowState};
use crate::rollout::machine::{Event, Hold};
use crate::store::freezes::in_force;

/// What holds a rollout of environment `env` at `now`: a freeze in force, else a closed
/// window, else nothing. An environment no longer configured holds nothing but freezes.
pub(super) fn hold_for(
    envs: &[Environment],
    freezes: &[Freeze],
    env: &str,
    now: i64,
) -> Option<Hold> {
    if let Some(freeze) = in_force(freezes, env, now) {
        return Some(Hold::Freeze {
            until: freeze.until_unix_ms,
            reason: freeze.reason.clone(),
        });
    }
    match environments::find(envs, env).map(|e| e.window_at(now)) {
        Some(WindowState::Closed { next_open }) => Some(Hold::Window { next_open }),
        _ => None,
    }
}

impl Driver {
    /// The environments in force now.
    pub(super) fn environments(&self) -> Vec<Environment> {
        self.environments
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Logs a `Hold` for every environment rollout whose hold changed.
    pub(super) fn check_holds(&mut self) {
        let now = now_unix_ms();
        let mut changed = Vec::new();
        let mut inputs = None;
        for (id, loaded) in &self.active {
            let env = loaded.record.spec.as_ref().map_or("", |s| s.env.as_str());
            if env.is_empty() || loaded.machine.state().is_terminal() {
                continue;
            }
            let (envs, freezes) = inputs.get_or_insert_with(|| {
                let freezes = self.store.freezes().unwrap_or_else(|err| {
                    tracing::error!(error = %err, "cannot read freezes");
                    Vec::new()
                });
                (self.environments(), freezes)
            });
            let hold = hold_for(envs, freezes, env, now);
            if loaded.machine.hold() != hold.as_ref() {
                changed.push((id.clone(), hold));
            }
        }
        for (id, hold) in changed {
            tracing::info!(rollout = %id, ?hold, "rollout hold changed");
            self.apply_event(&id, &Event::Hold { hold });
        }
    }
}
