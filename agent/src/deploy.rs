//! Deploys and rollbacks of one host's apps: fetch (through the session's
//! [`ArtifactSource`]), verify (sha256 always, ed25519 when keys are configured), unpack
//! safely into `<data_dir>/apps/<app>/releases/<version>`, run the hooks, switch the
//! `current` symlink atomically, check health, and switch back when the new release is not
//! healthy. Progress goes out as lines of command output. Once a release runs, [`monitor`]
//! keeps probing its health check.
//!
//! Knows nothing of gRPC: the bytes come from an [`ArtifactSource`].

pub mod health;
pub mod manifest;
pub mod monitor;
mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use convoy_proto::v1::AppStatus;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::archive::{self, Limits};
use crate::executor::{self, ActionSpec, Outcome};
use health::{HealthOutcome, wait_healthy};
use manifest::{Hook, Manifest, ManifestError};
use state::AppState;

/// Where release bytes come from (the coordinator, over the session's link).
pub trait ArtifactSource: Send + Sync {
    /// Appends the artifact's bytes from `offset` to `file`, feeding each chunk to `hasher`
    /// as it is written (one pass over the bytes); returns when all arrived.
    fn fetch_into<'a>(
        &'a self,
        sha256: &'a str,
        offset: u64,
        file: &'a mut tokio::fs::File,
        hasher: &'a mut Sha256,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// What a deploy or rollback asks for.
#[derive(Debug, Clone)]
pub struct Release {
    pub app: String,
    pub version: String,
    pub sha256: String,
    pub size: u64,
    pub signature: Vec<u8>,
    pub signer: String,
}

/// The host's deploy settings, from its agent config.
#[derive(Debug, Clone)]
pub struct DeployConfig {
    pub data_dir: PathBuf,
    /// Apps this host may deploy, with per-app overrides of the release's `convoy.toml`.
    pub apps: BTreeMap<String, Manifest>,
    /// Release signing keys; when any is set, unsigned releases are refused.
    pub trusted_keys: Vec<(String, VerifyingKey)>,
    /// Releases kept per app (the current one included).
    pub keep_releases: usize,
    pub limits: Limits,
}

/// How a deploy or rollback ended: `Ok` lines for success, `Err` for failure; both say
/// what happened for the job's message.
pub type DeployResult = Result<String, String>;

pub struct Deployer {
    config: DeployConfig,
    /// Per app: the lock deploys, rollbacks and the health monitor take, holding the
    /// number of deploys and rollbacks so far (so the monitor can tell one happened).
    locks: std::sync::Mutex<BTreeMap<String, std::sync::Arc<tokio::sync::Mutex<u64>>>>,
}

impl Deployer {
    pub fn new(config: DeployConfig) -> Self {
        Self {
            config,
            locks: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// Serialises deploys and rollbacks of one app (and the health monitor's probes of it);
    /// counts them in the lock.
    pub async fn lock_app(&self, app: &str) -> tokio::sync::OwnedMutexGuard<u64> {
        let mut guard = self.app_lock(app).lock_owned().await;
        *guard = guard.wrapping_add(1);
        guard
    }

    fn app_lock(&self, app: &str) -> std::sync::Arc<tokio::sync::Mutex<u64>> {
        self.locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(app.to_string())
            .or_default()
            .clone()
    }

    /// The manifest of `app`'s release `version`, with this host's overrides applied.
    fn manifest(&self, app: &str, version: &str) -> Result<Manifest, ManifestError> {
        let overrides = self.config.apps.get(app).cloned().unwrap_or_default();
        Manifest::load(&self.app_dir(app).join("releases").join(version))
            .map(|m| m.overridden_by(&overrides))
    }

    fn app_dir(&self, app: &str) -> PathBuf {
        self.config.data_dir.join("apps").join(app)
    }

    pub fn allows(&self, app: &str) -> bool {
        self.config.apps.contains_key(app)
    }

    /// Every configured app and what runs of it.
    pub fn status(&self) -> Vec<AppStatus> {
        self.config
            .apps
            .keys()
            .map(|app| {
                let dir = self.app_dir(app);
                let state = AppState::load(&dir);
                AppStatus {
                    app: app.clone(),
                    version: state::current_version(&dir).unwrap_or_default(),
                    healthy: state.healthy,
                    previous: state.previous.clone().unwrap_or_default(),
                    kept: state::kept_versions(&dir),
                }
            })
            .collect()
    }

    /// Deploys `release`; `progress` receives one line per phase.
    pub async fn deploy(
        &self,
        release: &Release,
        source: &dyn ArtifactSource,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> DeployResult {
        let dir = self.app_dir(&release.app);
        let current = state::current_version(&dir);
        let state = AppState::load(&dir);
        if current.as_deref() == Some(release.version.as_str()) && state.healthy {
            return Ok(format!(
                "{} {} is already current and healthy; nothing to do",
                release.app, release.version
            ));
        }
        let release_dir = dir.join("releases").join(&release.version);
        if release_dir.exists() {
            progress(format!(
                "release {} is already on this host",
                release.version
            ));
        } else {
            let artifact = self.fetch_verified(release, source, progress).await?;
            progress(format!("unpacking into {}", release_dir.display()));
            tokio::fs::create_dir_all(dir.join("releases"))
                .await
                .map_err(|e| format!("cannot create {}: {e}", dir.join("releases").display()))?;
            let report = tokio::task::spawn_blocking({
                let (artifact, release_dir, limits) = (
                    artifact.clone(),
                    release_dir.clone(),
                    self.config.limits.clone(),
                );
                move || archive::unpack_file(&artifact, &release_dir, &limits)
            })
            .await
            .map_err(|_| "unpack task failed".to_string())?
            .map_err(|err| match err {
                // The disk, not the archive: say so.
                archive::ArchiveError::Io { .. } => format!("cannot unpack: {err}"),
                _ => format!("refused the archive: {err}"),
            })?;
            let _ = tokio::fs::remove_file(&artifact).await;
            progress(format!(
                "unpacked {} files, {} bytes",
                report.files, report.bytes
            ));
        }
        self.activate(&release.app, &release.version, progress, cancel)
            .await
    }

    /// Rolls back to `version`, or to the previous release when empty. Nothing is fetched.
    pub async fn rollback(
        &self,
        app: &str,
        version: &str,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> DeployResult {
        let dir = self.app_dir(app);
        let target = if version.is_empty() {
            AppState::load(&dir)
                .previous
                .ok_or_else(|| format!("{app} has no previous release on this host"))?
        } else {
            version.to_string()
        };
        if !dir.join("releases").join(&target).is_dir() {
            return Err(format!(
                "{app} {target} is not kept on this host (kept: {})",
                state::kept_versions(&dir).join(", ")
            ));
        }
        self.activate(app, &target, progress, cancel).await
    }

    async fn fetch_verified(
        &self,
        release: &Release,
        source: &dyn ArtifactSource,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<PathBuf, String> {
        if !self.config.trusted_keys.is_empty() {
            let signer = convoy_proto::signing::verify(
                &self.config.trusted_keys,
                &release.app,
                &release.version,
                &release.sha256,
                &release.signature,
            )
            .map_err(|err| format!("refused {} {}: {err}", release.app, release.version))?;
            progress(format!("signature by {signer} verified"));
        }
        let downloads = self.config.data_dir.join("downloads");
        tokio::fs::create_dir_all(&downloads)
            .await
            .map_err(|e| format!("cannot create {}: {e}", downloads.display()))?;
        let part = downloads.join(format!("{}.part", release.sha256));
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&part)
            .await
            .map_err(|e| format!("cannot open {}: {e}", part.display()))?;
        let have = file.metadata().await.map(|m| m.len()).unwrap_or(0);
        if have > release.size {
            let _ = tokio::fs::remove_file(&part).await;
            return Err("a partial download is larger than the artifact; removed it, retry".into());
        }
        if have > 0 {
            progress(format!(
                "resuming the download at {have} of {} bytes",
                release.size
            ));
        } else {
            progress(format!(
                "fetching {} {} ({} bytes)",
                release.app, release.version, release.size
            ));
        }
        // The bytes already on disk are hashed once; new ones as they arrive.
        let mut hasher = Sha256::new();
        if have > 0 {
            hash_prefix(&part, have, &mut hasher)
                .await
                .map_err(|e| format!("cannot read the partial download: {e}"))?;
        }
        if have < release.size {
            source
                .fetch_into(&release.sha256, have, &mut file, &mut hasher)
                .await?;
        }
        let size = file
            .metadata()
            .await
            .map(|m| m.len())
            .map_err(|e| format!("cannot read the download: {e}"))?;
        drop(file);
        let digest = hex::encode(hasher.finalize());
        if digest != release.sha256 || size != release.size {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(format!(
                "checksum mismatch: expected sha256 {} ({} bytes), got {digest} ({size} bytes)",
                release.sha256, release.size
            ));
        }
        progress(format!("sha256 {digest} verified"));
        Ok(part)
    }

    /// Stops the current release, switches to `version`, starts it and checks its health;
    /// on failure switches back to what ran before.
    async fn activate(
        &self,
        app: &str,
        version: &str,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> DeployResult {
        let dir = self.app_dir(app);
        let manifest_of = |v: &str| -> Result<Manifest, String> {
            self.manifest(app, v)
                .map_err(|err| format!("bad convoy.toml in {v}: {err}"))
        };
        let manifest = manifest_of(version)?;
        let old = state::current_version(&dir).filter(|old| old != version);
        if let Some(old) = &old {
            let old_manifest = manifest_of(old).unwrap_or_default();
            self.hook(app, old, "stop", old_manifest.hooks.stop.as_ref(), progress)
                .await?;
        }
        self.hook(
            app,
            version,
            "before_activate",
            manifest.hooks.before_activate.as_ref(),
            progress,
        )
        .await?;
        state::switch_current(&dir, version).map_err(|e| format!("cannot switch current: {e}"))?;
        progress(format!("current -> releases/{version}"));
        let started = self
            .hook(
                app,
                version,
                "start",
                manifest.hooks.start.as_ref(),
                progress,
            )
            .await;
        let healthy = match started {
            Ok(()) => self.health(app, version, &manifest, progress, cancel).await,
            Err(err) => Err(err),
        };
        match healthy {
            Ok(()) => {
                let mut state = AppState::load(&dir);
                state.healthy = true;
                if old.is_some() {
                    state.previous = old;
                }
                state
                    .save(&dir)
                    .map_err(|e| format!("cannot save app state: {e}"))?;
                let pruned = state::prune(
                    &dir,
                    self.config.keep_releases,
                    version,
                    state.previous.as_deref(),
                );
                if !pruned.is_empty() {
                    progress(format!("pruned old releases: {}", pruned.join(", ")));
                }
                Ok(format!("{app} {version} is current and healthy"))
            }
            Err(why) => Err(self
                .revert(app, version, old.as_deref(), &why, progress, cancel)
                .await),
        }
    }

    async fn revert(
        &self,
        app: &str,
        failed: &str,
        old: Option<&str>,
        why: &str,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> String {
        let dir = self.app_dir(app);
        let load = |v: &str| self.manifest(app, v).unwrap_or_default();
        let _ = self
            .hook(
                app,
                failed,
                "stop",
                load(failed).hooks.stop.as_ref(),
                progress,
            )
            .await;
        let Some(old) = old else {
            let mut state = AppState::load(&dir);
            state.healthy = false;
            let _ = state.save(&dir);
            return format!("{failed} failed: {why}; there is no previous release to revert to");
        };
        progress(format!("{failed} failed ({why}); switching back to {old}"));
        if let Err(err) = state::switch_current(&dir, old) {
            return format!("{failed} failed: {why}; switching back to {old} failed too: {err}");
        }
        let manifest = load(old);
        let mut state = AppState::load(&dir);
        let back = match self
            .hook(app, old, "start", manifest.hooks.start.as_ref(), progress)
            .await
        {
            Ok(()) => self.health(app, old, &manifest, progress, cancel).await,
            Err(err) => Err(err),
        };
        state.healthy = back.is_ok();
        let _ = state.save(&dir);
        match back {
            Ok(()) => format!("{failed} failed: {why}; reverted to {old}, which is healthy"),
            Err(err) => format!(
                "{failed} failed: {why}; reverted to {old}, which is NOT healthy either: {err}"
            ),
        }
    }

    fn env(app: &str, version: &str, release_dir: &Path) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("CONVOY_APP".to_string(), app.to_string()),
            ("CONVOY_VERSION".to_string(), version.to_string()),
            (
                "CONVOY_RELEASE_DIR".to_string(),
                release_dir.display().to_string(),
            ),
        ])
    }

    async fn hook(
        &self,
        app: &str,
        version: &str,
        name: &str,
        hook: Option<&Hook>,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<(), String> {
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
        let run = executor::run(&spec, tx, CancellationToken::new(), Duration::from_secs(10));
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
            Outcome::Exited { code } => Err(format!(
                "{name} hook of {version} exited with status {code}"
            )),
            Outcome::Signaled { signal } => Err(format!(
                "{name} hook of {version} was killed by signal {signal}"
            )),
            Outcome::TimedOut => Err(format!(
                "{name} hook of {version} timed out after {}",
                humantime::format_duration(hook.timeout)
            )),
            Outcome::Cancelled => Err(format!("{name} hook of {version} was cancelled")),
            Outcome::SpawnFailed(why) => Err(format!("{name} hook of {version}: {why}")),
        }
    }

    async fn health(
        &self,
        app: &str,
        version: &str,
        manifest: &Manifest,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> Result<(), String> {
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
            } => Err(format!(
                "health check failed after {attempts} attempt(s): {last_error}"
            )),
        }
    }
}

/// Feeds the first `len` bytes of `path` to `hasher`.
async fn hash_prefix(path: &Path, len: u64, hasher: &mut Sha256) -> std::io::Result<()> {
    let mut file = tokio::fs::File::open(path).await?.take(len);
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        hasher.update(&buffer[..read]);
    }
}
