//! `convoy release delete`: what may not be pulled out from under the fleet, and the delete
//! itself (record first, then the artifact file when no other release has the same bytes).

use convoy_proto::v1::{AgentSummary, CommandRecord, Release, RolloutRecord};

use super::{Artifacts, ReleaseError, validate_app, validate_version};
use crate::store::{Store, StoreError};

/// At most this many names of each kind in a refusal.
const NAMED: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error(transparent)]
    Invalid(#[from] ReleaseError),
    #[error("no release {app} {version} (convoy releases {app} lists them)")]
    NotFound { app: String, version: String },
    #[error("release {app} {version} is in use: {why}; nothing was deleted")]
    InUse {
        app: String,
        version: String,
        why: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who still needs a release: hosts running it, unfinished deploy jobs that send it, active
/// rollouts that deploy it or list it as a host's version to roll back to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InUse {
    pub hosts: Vec<String>,
    pub jobs: Vec<String>,
    pub rollouts: Vec<String>,
}

impl InUse {
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.jobs.is_empty() && self.rollouts.is_empty()
    }

    /// "running on 2 hosts: web-1, web-2; deploy job j-…; active rollout r-…".
    pub fn describe(&self) -> String {
        let list = |names: &[String]| {
            let mut text = names
                .iter()
                .take(NAMED)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if names.len() > NAMED {
                text.push_str(&format!(" and {} more", names.len() - NAMED));
            }
            text
        };
        let mut parts = Vec::new();
        if !self.hosts.is_empty() {
            parts.push(format!(
                "running on {}: {}",
                crate::dispatch::admit::hosts(self.hosts.len()),
                list(&self.hosts)
            ));
        }
        if !self.jobs.is_empty() {
            parts.push(format!("unfinished deploy job(s) {}", list(&self.jobs)));
        }
        if !self.rollouts.is_empty() {
            parts.push(format!("active rollout(s) {}", list(&self.rollouts)));
        }
        parts.join("; ")
    }
}

/// Pure: who needs `app` `version` among these agents, unfinished commands and rollouts.
pub fn in_use(
    app: &str,
    version: &str,
    agents: &[AgentSummary],
    unfinished: &[CommandRecord],
    rollouts: &[RolloutRecord],
) -> InUse {
    let mut hosts: Vec<String> = agents
        .iter()
        .filter(|a| a.apps.iter().any(|s| s.app == app && s.version == version))
        .map(|a| a.id.clone())
        .collect();
    hosts.sort();
    let mut jobs: Vec<String> = unfinished
        .iter()
        .filter(|c| {
            c.deploy
                .as_ref()
                .is_some_and(|d| d.app == app && d.version == version)
        })
        .map(|c| c.job_id.clone())
        .collect();
    jobs.sort();
    jobs.dedup();
    let rollouts = rollouts
        .iter()
        .filter(|r| r.active)
        .filter(|r| r.spec.as_ref().is_some_and(|s| s.app == app))
        .filter(|r| {
            r.spec.as_ref().is_some_and(|s| s.version == version)
                || r.deploy.as_ref().is_some_and(|d| d.version == version)
                || r.plan.as_ref().is_some_and(|p| {
                    p.waves
                        .iter()
                        .flat_map(|w| w.hosts.iter())
                        .any(|h| h.previous_version.as_deref() == Some(version))
                })
        })
        .map(|r| r.id.clone())
        .collect();
    InUse {
        hosts,
        jobs,
        rollouts,
    }
}

/// Deletes `app` `version` if `needed_by` is empty: the record (flushed), then the artifact
/// file unless another release has the same sha256. Returns the release and whether its
/// file went. On any refusal nothing changes.
pub async fn delete(
    store: &Store,
    artifacts: &Artifacts,
    app: &str,
    version: &str,
    needed_by: impl FnOnce() -> Result<InUse, StoreError>,
) -> Result<(Release, bool), DeleteError> {
    validate_app(app)?;
    validate_version(version)?;
    let release = store
        .release(app, version)?
        .ok_or_else(|| DeleteError::NotFound {
            app: app.to_string(),
            version: version.to_string(),
        })?;
    let users = needed_by()?;
    if !users.is_empty() {
        return Err(DeleteError::InUse {
            app: app.to_string(),
            version: version.to_string(),
            why: users.describe(),
        });
    }
    store.remove_release(app, version)?;
    store.flush_async().await?;
    let shared = store
        .releases("")?
        .iter()
        .any(|r| r.sha256 == release.sha256);
    let removed = if shared {
        false
    } else {
        match tokio::fs::remove_file(artifacts.path(&release.sha256)).await {
            Ok(()) => true,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => false,
            Err(err) => {
                // The record is gone; a leftover file is only disk, never served again
                // (downloads go through a deploy command, which needs the record).
                tracing::warn!(sha256 = %release.sha256, error = %err, "cannot remove a deleted release's artifact");
                false
            }
        }
    };
    tracing::info!(%app, %version, artifact_removed = removed, "release deleted");
    Ok((release, removed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use convoy_proto::v1::{AppStatus, Deploy, PlannedHost, PlannedWave, RolloutPlan, RolloutSpec};

    fn agent(id: &str, version: &str) -> AgentSummary {
        AgentSummary {
            id: id.into(),
            apps: vec![AppStatus {
                app: "web".into(),
                version: version.into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn names_hosts_jobs_and_active_rollouts_that_need_it() {
        let agents = [
            agent("web-2", "1.0"),
            agent("web-1", "1.0"),
            agent("web-3", "2.0"),
        ];
        let deploy = CommandRecord {
            job_id: "j-1".into(),
            deploy: Some(Deploy {
                app: "web".into(),
                version: "1.0".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let rollout =
            |id: &str, active: bool, version: &str, previous: Option<&str>| RolloutRecord {
                id: id.into(),
                active,
                spec: Some(RolloutSpec {
                    app: "web".into(),
                    version: version.into(),
                    ..Default::default()
                }),
                plan: Some(RolloutPlan {
                    waves: vec![PlannedWave {
                        hosts: vec![PlannedHost {
                            id: "web-9".into(),
                            previous_version: previous.map(str::to_string),
                            online: true,
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            };
        let rollouts = [
            rollout("r-deploys", true, "1.0", None),
            rollout("r-back-to", true, "3.0", Some("1.0")),
            rollout("r-over", false, "1.0", None),
        ];
        let used = in_use(
            "web",
            "1.0",
            &agents,
            std::slice::from_ref(&deploy),
            &rollouts,
        );
        assert_eq!(used.hosts, ["web-1", "web-2"]);
        assert_eq!(used.jobs, ["j-1"]);
        assert_eq!(used.rollouts, ["r-deploys", "r-back-to"]);
        assert_eq!(
            used.describe(),
            "running on 2 hosts: web-1, web-2; unfinished deploy job(s) j-1; active rollout(s) r-deploys, r-back-to"
        );
        assert!(in_use("web", "4.0", &agents, &[deploy], &rollouts).is_empty());
        assert!(in_use("api", "1.0", &agents, &[], &[]).is_empty());
    }
}
