//! Deploys and rollbacks of one host's apps: check the names and the signature (ed25519,
//! required unless the host set `allow_unsigned_releases`), fetch (through the session's
//! [`ArtifactSource`]) and check the sha256, unpack safely into
//! `<data_dir>/apps/<app>/releases/<version>` and [`record`] what was verified, then, for
//! every activation (deploy, rollback, switch back), re-check that record, run the hooks,
//! switch the `current` symlink atomically, check health, and switch back when the new
//! release is not healthy. Progress goes out as lines of command output. Once a release
//! runs, [`monitor`] keeps probing its health check.
//!
//! Knows nothing of gRPC: the bytes come from an [`ArtifactSource`].

mod activate;
mod fetch;
pub(crate) mod health;
mod hooks;
mod install;
pub mod manifest;
pub(crate) mod monitor;
pub(crate) mod record;
mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use convoy_proto::v1::AppStatus;
use ed25519_dalek::VerifyingKey;
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use crate::archive::{self, Limits};
use manifest::{Manifest, ManifestError};
use record::{ReleaseRecord, SignaturePolicy};
use state::AppState;

/// Where release bytes come from (the coordinator, over the session's link).
pub(crate) trait ArtifactSource: Send + Sync {
    /// Appends the artifact's bytes from `offset` to `file`, feeding each chunk to `hasher`
    /// as it is written (one pass over the bytes); returns when all arrived.
    fn fetch_into<'a>(
        &'a self,
        sha256: &'a str,
        offset: u64,
        file: &'a mut tokio::fs::File,
        hasher: &'a mut Sha256,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), FetchError>> + Send + 'a>>;
}

/// Why an artifact download failed; the text is what the deploy's message says.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The coordinator does not hold the artifact: retrying cannot help.
    #[error("the coordinator has no artifact {sha256}")]
    NotFound { sha256: String },
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The coordinator refused the download (gRPC code and message).
    #[error("{code}: {message}")]
    Refused { code: String, message: String },
    #[error("download broke off: {0}")]
    BrokeOff(String),
    /// Nothing arrived for the stall limit: the attempt is abandoned and resumed.
    #[error("download stalled: {0}")]
    Stalled(String),
    #[error("chunk at {got} while expecting {expected}")]
    OutOfOrder { got: u64, expected: u64 },
    #[error("cannot write the download: {0}")]
    Write(#[source] std::io::Error),
    /// Every attempt failed; `last` is the last attempt's failure.
    #[error("download failed after {attempts} attempts: {last}")]
    GaveUp {
        attempts: u32,
        last: Box<FetchError>,
    },
}

impl FetchError {
    /// True when another attempt (resuming where this one stopped) may succeed.
    pub(crate) fn is_transient(&self) -> bool {
        !matches!(self, Self::NotFound { .. } | Self::GaveUp { .. })
    }
}

/// What a deploy or rollback asks for.
#[derive(Debug, Clone)]
pub(crate) struct Release {
    pub(crate) app: String,
    pub(crate) version: String,
    pub(crate) sha256: String,
    pub(crate) size: u64,
    pub(crate) signature: Vec<u8>,
    /// The key name the coordinator says signed it: not trusted, so not read (the agent
    /// names the key of its own that verified the signature).
    #[allow(dead_code)]
    pub(crate) signer: String,
}

/// The host's deploy settings, from its agent config.
#[derive(Debug, Clone)]
pub(crate) struct DeployConfig {
    pub(crate) data_dir: PathBuf,
    /// Apps this host may deploy, with per-app overrides of the release's `convoy.toml`.
    pub(crate) apps: BTreeMap<String, Manifest>,
    /// Release signing keys; when any is set, only releases signed by one of them run.
    pub(crate) trusted_keys: Vec<(String, VerifyingKey)>,
    /// `allow_unsigned_releases`: with no keys, run releases nobody signed. Without keys
    /// and without this, every deploy and rollback is refused.
    pub(crate) allow_unsigned: bool,
    /// Releases kept per app (the current one included).
    pub(crate) keep_releases: usize,
    pub(crate) limits: Limits,
}

/// How a deploy or rollback ended: `Ok` lines for success, `Err` for failure; both say
/// what happened for the job's message.
pub(crate) type DeployResult = Result<String, DeployError>;

/// Why a deploy or rollback did not succeed, by how far it got; the text is the command's
/// message, unchanged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeployError {
    /// Refused before anything on the host changed: a name, the signature or its policy, a
    /// kept release's record, a rollback target that is not kept.
    #[error("{0}")]
    Refused(String),
    /// Fetching, checking, unpacking or recording the release failed; `current` was not
    /// touched.
    #[error("{0}")]
    Prepare(String),
    /// The activation did not stick (a hook, the switch, the health check or a cancel);
    /// the text says what runs now.
    #[error("{0}")]
    Activation(String),
}

pub(crate) struct Deployer {
    config: DeployConfig,
    /// `config.apps`, replaced by a config reload (`set_apps`).
    apps: std::sync::RwLock<BTreeMap<String, Manifest>>,
    /// Per app: the lock deploys, rollbacks and the health monitor take, holding the
    /// number of deploys and rollbacks so far (so the monitor can tell one happened).
    locks: std::sync::Mutex<BTreeMap<String, std::sync::Arc<tokio::sync::Mutex<u64>>>>,
}

impl Deployer {
    pub(crate) fn new(config: DeployConfig) -> Self {
        Self {
            apps: std::sync::RwLock::new(config.apps.clone()),
            config,
            locks: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    /// The apps this host allows, with their overrides.
    pub(crate) fn apps(&self) -> BTreeMap<String, Manifest> {
        self.apps
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A config reload's apps: deploys and status use them from now on.
    pub(crate) fn set_apps(&self, apps: BTreeMap<String, Manifest>) {
        *self
            .apps
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = apps;
    }

    /// Serialises deploys and rollbacks of one app (and the health monitor's probes of it);
    /// counts them in the lock.
    pub(crate) async fn lock_app(&self, app: &str) -> tokio::sync::OwnedMutexGuard<u64> {
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
        let overrides = self.apps().get(app).cloned().unwrap_or_default();
        Manifest::load(&self.app_dir(app).join("releases").join(version))
            .map(|m| m.overridden_by(&overrides))
    }

    fn app_dir(&self, app: &str) -> PathBuf {
        self.config.data_dir.join("apps").join(app)
    }

    pub(crate) fn allows(&self, app: &str) -> bool {
        self.apps().contains_key(app)
    }

    /// Every configured app and what runs of it.
    pub(crate) fn status(&self) -> Vec<AppStatus> {
        self.apps()
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

    /// The host's signature policy (keys, the opt-out, or neither).
    pub(crate) fn policy(&self) -> SignaturePolicy {
        SignaturePolicy::of(&self.config.trusted_keys, self.config.allow_unsigned)
    }

    /// Checks what a deploy names before anything is touched: the app and version grammar,
    /// the digest's form, the host's policy and (with keys) the signature. Returns the
    /// signer that verified it, empty for an unsigned release on an opted-out host.
    pub(crate) fn check_deploy(&self, release: &Release) -> Result<String, DeployError> {
        let refused = DeployError::Refused;
        convoy_proto::labels::validate_release(&release.app, &release.version)
            .map_err(|err| refused(format!("refused: {err}")))?;
        if !convoy_proto::labels::valid_sha256(&release.sha256) {
            return Err(refused(format!(
                "refused: invalid sha256 {:?}: expected 64 lowercase hex digits",
                release.sha256
            )));
        }
        match self.policy() {
            SignaturePolicy::Unconfigured => {
                Err(refused(format!("refused: {}", record::UNCONFIGURED)))
            }
            SignaturePolicy::Unsigned => Ok(String::new()),
            SignaturePolicy::Required => convoy_proto::signing::verify(
                &self.config.trusted_keys,
                &release.app,
                &release.version,
                &release.sha256,
                &release.signature,
            )
            .map_err(|err| {
                refused(format!(
                    "refused {} {}: {err}",
                    release.app, release.version
                ))
            }),
        }
    }

    /// Rolls back to `version`, or to the previous release when empty. Nothing is fetched;
    /// the target passes the same record and signature checks as a deploy's.
    pub(crate) async fn rollback(
        &self,
        app: &str,
        version: &str,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> DeployResult {
        let refused = |err: String| DeployError::Refused(format!("refused: {err}"));
        if !version.is_empty() {
            convoy_proto::labels::validate_release(app, version).map_err(refused)?;
        }
        let dir = self.app_dir(app);
        let target = if version.is_empty() {
            AppState::load(&dir).previous.ok_or_else(|| {
                DeployError::Refused(format!("{app} has no previous release on this host"))
            })?
        } else {
            version.to_string()
        };
        convoy_proto::labels::validate_release(app, &target).map_err(refused)?;
        if !record::release_exists(&dir, &target) {
            return Err(DeployError::Refused(format!(
                "{app} {target} is not kept on this host (kept: {})",
                state::kept_versions(&dir).join(", ")
            )));
        }
        self.activate(app, &target, progress, cancel).await
    }

    /// [`record::check_activation`] with this host's keys and policy.
    fn check_activation(
        &self,
        app: &str,
        version: &str,
    ) -> Result<ReleaseRecord, record::RecordError> {
        record::check_activation(
            &self.app_dir(app),
            app,
            version,
            self.policy(),
            &self.config.trusted_keys,
        )
    }
}
