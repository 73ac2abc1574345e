//! Running a release's hooks and waiting for its health check, with the release's
//! environment (`CONVOY_APP`, `CONVOY_VERSION`, `CONVOY_RELEASE_DIR`), reporting each line
//! as progress. Called only for a release that passed `record::check_activation`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Deployer;
use super::health::{HealthOutcome, wait_healthy};
use super::manifest::{Hook, Manifest};
use crate::executor::{self, ActionSpec, Outcome};

/// Time between SIGTERM and SIGKILL for a hook that is cancelled or times out.
const HOOK_KILL_GRACE: Duration = Duration::from_secs(10);

/// Why a hook or a health check did not pass; the text is part of the deploy's message.
#[derive(Debug, thiserror::Error)]
pub(super) enum HookError {
    #[error("{name} hook of {version} exited with status {code}")]
    Exited {
        name: String,
        version: String,
        code: i32,
    },
    #[error("{name} hook of {version} was killed by signal {signal}")]
    Signalled {
        name: String,
        version: String,
        signal: i32,
    },
    #[error("{name} hook of {version} timed out after {}", humantime::format_duration(*timeout))]
    TimedOut {
        name: String,
        version: String,
        timeout: Duration,
    },
    #[error("{name} hook of {version} was cancelled")]
    Cancelled { name: String, version: String },
    #[error("{name} hook of {version}: {why}")]
    Spawn {
        name: String,
        version: String,
        why: String,
    },
    #[error("health check failed after {attempts} attempt(s): {last_error}")]
    Unhealthy { attempts: u32, last_error: String },
}

impl Deployer {
    pub(super) fn env(app: &str, version: &str, release_dir: &Path) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("CONVOY_APP".to_string(), app.to_string()),
            ("CONVOY_VERSION".to_string(), version.to_string()),
            (
                "CONVOY_RELEASE_DIR".to_string(),
                release_dir.display().to_string(),
            ),
        ])
    }

    pub(super) async fn hook(
        &self,
        app: &str,
        version: &str,
        name: &str,
        hook: Option<&Hook>,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> Result<(), HookError> {
        let Some(hook) = hook else {
            return Ok(());
        };
        let release_dir = self.app_dir(app).join("releases").join(version);
        let spec = ActionSpec {
            argv: hook.run.clone(),
            env: Self::env(app, version, &release_dir),
            working_dir: Some(release_dir),
            timeout: hook.timeout,
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        // A cancel ends the hook's whole process group (SIGTERM, SIGKILL after the grace).
        let run = executor::run(&spec, tx, cancel.clone(), HOOK_KILL_GRACE);
        tokio::pin!(run);
        let report = loop {
            tokio::select! {
                report = &mut run => break report,
                Some(chunk) = rx.recv() => progress(format!("{name}: {}", String::from_utf8_lossy(&chunk.data).trim_end())),
            }
        };
        match report.outcome {
            Outcome::Exited { code: 0 } => {
                progress(format!("{name} hook of {version} succeeded"));
                Ok(())
            }
            Outcome::Exited { code } => Err(HookError::Exited {
                name: name.to_string(),
                version: version.to_string(),
                code,
            }),
            Outcome::Signaled { signal } => Err(HookError::Signalled {
                name: name.to_string(),
                version: version.to_string(),
                signal,
            }),
            Outcome::TimedOut => Err(HookError::TimedOut {
                name: name.to_string(),
                version: version.to_string(),
                timeout: hook.timeout,
            }),
            Outcome::Cancelled => Err(HookError::Cancelled {
                name: name.to_string(),
                version: version.to_string(),
            }),
            Outcome::SpawnFailed(why) => Err(HookError::Spawn {
                name: name.to_string(),
                version: version.to_string(),
                why,
            }),
        }
    }

    pub(super) async fn health(
        &self,
        app: &str,
        version: &str,
        manifest: &Manifest,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> Result<(), HookError> {
        let Some(spec) = &manifest.health else {
            progress(format!(
                "{version} has no health check; taken as healthy once started"
            ));
            return Ok(());
        };
        let release_dir = self.app_dir(app).join("releases").join(version);
        match wait_healthy(
            spec,
            &release_dir,
            &Self::env(app, version, &release_dir),
            cancel.clone(),
        )
        .await
        {
            HealthOutcome::Healthy { attempts } => {
                progress(format!(
                    "{version} is healthy (after {attempts} attempt(s))"
                ));
                Ok(())
            }
            HealthOutcome::Unhealthy {
                attempts,
                last_error,
            } => Err(HookError::Unhealthy {
                attempts,
                last_error,
            }),
        }
    }
}
