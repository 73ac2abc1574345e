//! The apps of one simulated agent and which release of each "runs": fake deploys and
//! rollbacks, so a deploy job or a rollout can run across a swarm. Pure: nothing is
//! fetched, unpacked or checked; a deploy that succeeds makes the version current and
//! healthy, as a real agent reports it after a passing health check.
//!
//! The rules follow the real agent's: deploying the current version is a no-op, the
//! release before the current one is `previous`, the last [`KEPT`] releases are kept,
//! and a rollback goes to `previous` (or to a named kept release) without a download.

use convoy_proto::v1::AppStatus;

/// Releases kept per app, the current one included.
pub const KEPT: usize = 3;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SimApp {
    name: String,
    current: Option<String>,
    previous: Option<String>,
    /// Oldest first; holds `current` once something is deployed.
    kept: Vec<String>,
}

/// The apps one simulated agent allows, and what runs of each.
#[derive(Debug, Clone, Default)]
pub struct Apps {
    apps: Vec<SimApp>,
    changed: bool,
}

impl Apps {
    pub fn new(names: &[String]) -> Self {
        Self {
            apps: names
                .iter()
                .map(|name| SimApp {
                    name: name.clone(),
                    ..SimApp::default()
                })
                .collect(),
            changed: false,
        }
    }

    pub fn allows(&self, app: &str) -> bool {
        self.apps.iter().any(|a| a.name == app)
    }

    fn app(&mut self, app: &str) -> Result<&mut SimApp, String> {
        self.apps
            .iter_mut()
            .find(|a| a.name == app)
            .ok_or_else(|| format!("app {app:?} is not configured on this host"))
    }

    /// Makes `version` current. Returns a line for the command's output.
    pub fn deploy(&mut self, app: &str, version: &str) -> Result<String, String> {
        let entry = self.app(app)?;
        if entry.current.as_deref() == Some(version) {
            return Ok(format!("{app} {version} is already current\n"));
        }
        entry.previous = entry.current.replace(version.to_string());
        entry.kept.retain(|v| v != version);
        entry.kept.push(version.to_string());
        let excess = entry.kept.len().saturating_sub(KEPT);
        entry.kept.drain(..excess);
        self.changed = true;
        Ok(format!("activated {app} {version} (simulated)\n"))
    }

    /// Switches back to `version`, or to the previous release when it is empty.
    pub fn rollback(&mut self, app: &str, version: &str) -> Result<String, String> {
        let entry = self.app(app)?;
        let target = if version.is_empty() {
            entry
                .previous
                .clone()
                .ok_or_else(|| format!("{app} has no previous release on this host"))?
        } else if entry.kept.iter().any(|v| v == version) {
            version.to_string()
        } else {
            return Err(format!(
                "{app} {version} is not kept on this host (kept: {})",
                entry.kept.join(", ")
            ));
        };
        if entry.current.as_deref() == Some(target.as_str()) {
            return Ok(format!("{app} {target} is already current\n"));
        }
        entry.previous = entry.current.replace(target.clone());
        self.changed = true;
        Ok(format!("rolled {app} back to {target} (simulated)\n"))
    }

    /// What a heartbeat or Hello reports.
    pub fn status(&self) -> Vec<AppStatus> {
        self.apps
            .iter()
            .map(|a| AppStatus {
                app: a.name.clone(),
                version: a.current.clone().unwrap_or_default(),
                healthy: a.current.is_some(),
                previous: a.previous.clone().unwrap_or_default(),
                kept: a.kept.clone(),
            })
            .collect()
    }

    /// Whether a deploy or rollback changed something since the last call (the agent
    /// then reports at once, as a real one does).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> Apps {
        Apps::new(&["web".to_string()])
    }

    #[test]
    fn deploys_move_current_and_previous_and_keep_three() {
        let mut apps = web();
        assert_eq!(apps.status()[0].version, "");
        assert!(!apps.status()[0].healthy);
        for version in ["1", "2", "3", "4"] {
            apps.deploy("web", version).unwrap();
        }
        assert!(apps.take_changed());
        assert!(!apps.take_changed());
        let status = &apps.status()[0];
        assert_eq!(
            (status.version.as_str(), status.previous.as_str()),
            ("4", "3")
        );
        assert!(status.healthy);
        assert_eq!(status.kept, ["2", "3", "4"]);
        // Deploying the current version changes nothing.
        assert!(apps.deploy("web", "4").unwrap().contains("already current"));
        assert!(!apps.take_changed());
        assert!(apps.deploy("db", "1").is_err());
        assert!(!apps.allows("db"));
    }

    #[test]
    fn rollbacks_go_to_previous_or_a_kept_release() {
        let mut apps = web();
        assert!(
            apps.rollback("web", "")
                .unwrap_err()
                .contains("no previous")
        );
        apps.deploy("web", "1").unwrap();
        apps.deploy("web", "2").unwrap();
        apps.rollback("web", "").unwrap();
        let status = &apps.status()[0];
        assert_eq!(
            (status.version.as_str(), status.previous.as_str()),
            ("1", "2")
        );
        apps.rollback("web", "2").unwrap();
        assert_eq!(apps.status()[0].version, "2");
        assert!(apps.rollback("web", "9").unwrap_err().contains("not kept"));
        assert_eq!(apps.status()[0].version, "2");
    }
}
