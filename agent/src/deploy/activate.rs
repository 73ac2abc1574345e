//! Activation, the one way a release becomes `current` (deploy, rollback, switch back):
//! check its record, stop the old release, switch `current`, start the new one and check
//! its health; any failure from the old release's `stop` hook on (or a cancel) brings back
//! what ran before, with its own deadline ([`Deployer::revert`]).

use tokio_util::sync::CancellationToken;

use super::*;

impl Deployer {
    /// Checks `version`'s record (and signature) first; then stops the current release,
    /// switches to `version`, starts it and checks its health. From the old release's
    /// `stop` hook on, any failure or a cancel (`cancel` fires: an operator's cancel or the
    /// agent stopping; it ends the running hook's process group and the health wait) brings
    /// back what ran before: see [`Deployer::revert`].
    pub(super) async fn activate(
        &self,
        app: &str,
        version: &str,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> DeployResult {
        self.activation(app, version, progress, cancel)
            .await
            .map_err(DeployError::Activation)
    }

    /// [`Deployer::activate`]'s steps; the error is the message.
    async fn activation(
        &self,
        app: &str,
        version: &str,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> Result<String, String> {
        let verified = self
            .check_activation(app, version)
            .map_err(|err| err.to_string())?;
        progress(match verified.signer.as_str() {
            "" => format!(
                "{version}: record of sha256 {} checked (unsigned)",
                verified.sha256
            ),
            signer => format!(
                "{version}: record of sha256 {} and signature by {signer} checked",
                verified.sha256
            ),
        });
        let dir = self.app_dir(app);
        let manifest = self
            .manifest(app, version)
            .map_err(|err| format!("bad convoy.toml in {version}: {err}"))?;
        let old = state::current_version(&dir).filter(|old| old != version);
        if cancel.is_cancelled() {
            return Err(format!("{version}: cancelled before anything was changed"));
        }
        match self
            .switch_and_start(app, version, old.as_deref(), &manifest, progress, cancel)
            .await
        {
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
                for version in &pruned {
                    record::remove(&dir, version);
                }
                if !pruned.is_empty() {
                    progress(format!("pruned old releases: {}", pruned.join(", ")));
                }
                Ok(format!("{app} {version} is current and healthy"))
            }
            Err(failure) => Err(self
                .revert(app, version, old.as_deref(), &failure, progress)
                .await),
        }
    }

    /// The phases of an activation: the old release's `stop`, the new one's
    /// `before_activate`, the switch, its `start` and its health check, each stopped by
    /// `cancel` (and none started once it fired).
    async fn switch_and_start(
        &self,
        app: &str,
        version: &str,
        old: Option<&str>,
        manifest: &Manifest,
        progress: &(dyn Fn(String) + Sync),
        cancel: &CancellationToken,
    ) -> Result<(), Failure> {
        let before = |why: String| Failure::new(false, why, cancel);
        let after = |why: String| Failure::new(true, why, cancel);
        if let Some(old) = old {
            let old_manifest = self.manifest(app, old).unwrap_or_default();
            let stop = old_manifest.hooks.stop.as_ref();
            self.hook(app, old, "stop", stop, progress, cancel)
                .await
                .map_err(|err| before(err.to_string()))?;
        }
        let before_activate = manifest.hooks.before_activate.as_ref();
        self.hook(
            app,
            version,
            "before_activate",
            before_activate,
            progress,
            cancel,
        )
        .await
        .map_err(|err| before(err.to_string()))?;
        if cancel.is_cancelled() {
            return Err(before("cancelled before the switch".into()));
        }
        let dir = self.app_dir(app);
        state::switch_current(&dir, version)
            .map_err(|e| before(format!("cannot switch current: {e}")))?;
        progress(format!("current -> releases/{version}"));
        let start = manifest.hooks.start.as_ref();
        self.hook(app, version, "start", start, progress, cancel)
            .await
            .map_err(|err| after(err.to_string()))?;
        if cancel.is_cancelled() {
            return Err(after("cancelled before the health check".into()));
        }
        self.health(app, version, manifest, progress, cancel)
            .await
            .map_err(|err| after(err.to_string()))
    }

    /// Brings back what ran before a failed or cancelled activation of `failed`: stops
    /// `failed` if it was switched to, switches back to `old` (which passes the same record
    /// check first), starts it and probes it. This runs with its own cancellation token
    /// (the activation's has usually fired): its hooks are bounded by their own timeouts
    /// and the probe by its health check's deadline, so the stored health is the result of
    /// a real probe, never of the cancel.
    async fn revert(
        &self,
        app: &str,
        failed: &str,
        old: Option<&str>,
        failure: &Failure,
        progress: &(dyn Fn(String) + Sync),
    ) -> String {
        let own = CancellationToken::new();
        let dir = self.app_dir(app);
        let why = &failure.why;
        let load = |v: &str| self.manifest(app, v).unwrap_or_default();
        if failure.switched {
            let stop = load(failed).hooks.stop;
            let _ = self
                .hook(app, failed, "stop", stop.as_ref(), progress, &own)
                .await;
        }
        let Some(old) = old else {
            let mut state = AppState::load(&dir);
            state.healthy = false;
            let _ = state.save(&dir);
            return format!("{failed} failed: {why}; there is no previous release to revert to");
        };
        if let Err(err) = self.check_activation(app, old) {
            let mut state = AppState::load(&dir);
            state.healthy = false;
            let _ = state.save(&dir);
            return format!("{failed} failed: {why}; not switching back to {old}: {err}");
        }
        if failure.switched {
            progress(format!("{failed} failed ({why}); switching back to {old}"));
            if let Err(err) = state::switch_current(&dir, old) {
                return format!(
                    "{failed} failed: {why}; switching back to {old} failed too: {err}"
                );
            }
        } else {
            progress(format!("{failed} failed ({why}); starting {old} again"));
        }
        let manifest = load(old);
        let start = manifest.hooks.start.as_ref();
        let back = match self.hook(app, old, "start", start, progress, &own).await {
            Ok(()) => self.health(app, old, &manifest, progress, &own).await,
            Err(err) => Err(err),
        };
        let mut state = AppState::load(&dir);
        state.healthy = back.is_ok();
        let _ = state.save(&dir);
        match back {
            Ok(()) => format!("{failed} failed: {why}; reverted to {old}, which is healthy"),
            Err(err) => format!(
                "{failed} failed: {why}; reverted to {old}, which is NOT healthy either: {err}"
            ),
        }
    }
}

/// Why an activation stopped, and whether `current` had been switched to the new release
/// by then (what a revert must undo).
struct Failure {
    switched: bool,
    why: String,
}

impl Failure {
    fn new(switched: bool, why: String, cancel: &CancellationToken) -> Self {
        let why = if cancel.is_cancelled() && !why.contains("cancelled") {
            format!("cancelled ({why})")
        } else {
            why
        };
        Self { switched, why }
    }
}
