//! SIGHUP: the agent reads its config file again and applies what can change without a
//! restart: labels, actions, apps, app signals and backup sets. [`compare`] is pure: it says what changed
//! (one line per changed part, names only: never an action's argv or environment) and what
//! would need a restart (coordinator address, TLS files, data dir, signature policy and the
//! other settings read once at start), which is logged and ignored. A file that does not
//! parse is logged and the running config stays.
//!
//! Labels, actions and backup sets are announced in the Hello, and the wire has no other
//! message that carries them, so when one of those changed the session is ended cleanly
//! and opened again at once (no backoff): the coordinator sees the new Hello within a
//! connect. Apps need no new session: heartbeats carry their status.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::recovery::{Recovery, RestorePolicy};
use crate::runner::Runner;

/// What a new config changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// One line per reloaded part that changed ("labels: role=web -> role=api").
    pub(crate) applied: Vec<String>,
    /// Settings that changed but need a restart (ignored until then).
    pub(crate) need_restart: Vec<&'static str>,
    /// Labels, actions or backup sets changed: the coordinator must see a new Hello.
    pub(crate) announce: bool,
}

impl Changes {
    pub(crate) fn is_empty(&self) -> bool {
        self.applied.is_empty() && self.need_restart.is_empty()
    }
}

fn labels(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "(none)".into();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// "actions: added restart; removed uptime; changed df": names only.
fn names<T: PartialEq>(
    what: &str,
    old: &BTreeMap<String, T>,
    new: &BTreeMap<String, T>,
) -> Option<String> {
    let added: Vec<&str> = new
        .keys()
        .filter(|k| !old.contains_key(*k))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(String::as_str)
        .collect();
    let changed: Vec<&str> = new
        .iter()
        .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
        .map(|(k, _)| k.as_str())
        .collect();
    let mut parts = Vec::new();
    for (verb, list) in [("added", added), ("removed", removed), ("changed", changed)] {
        if !list.is_empty() {
            parts.push(format!("{verb} {}", list.join(", ")));
        }
    }
    (!parts.is_empty()).then(|| format!("{what}: {}", parts.join("; ")))
}

/// Pure: what applying `new` over `old` changes.
pub(crate) fn compare(old: &Config, new: &Config) -> Changes {
    let mut changes = Changes::default();
    if old.labels != new.labels {
        changes.applied.push(format!(
            "labels: {} -> {}",
            labels(&old.labels),
            labels(&new.labels)
        ));
        changes.announce = true;
    }
    if let Some(line) = names("actions", &old.actions, &new.actions) {
        changes.applied.push(line);
        changes.announce = true;
    }
    if let Some(line) = names("apps", &old.apps, &new.apps) {
        changes.applied.push(line);
    }
    if let Some(line) = names("app signals", &old.app_signals, &new.app_signals) {
        changes.applied.push(line);
    }
    if let Some(line) = names("backup sets", &old.backup_sets, &new.backup_sets) {
        changes.applied.push(line);
        changes.announce = true;
    }
    let debug = |v: &dyn std::fmt::Debug| format!("{v:?}");
    for (name, differs) in [
        ("coordinator", old.coordinator != new.coordinator),
        ("data_dir", old.data_dir != new.data_dir),
        ("tls", debug(&old.tls) != debug(&new.tls)),
        (
            "metrics_interval",
            old.metrics_interval != new.metrics_interval,
        ),
        (
            "release_public_keys",
            old.release_public_keys != new.release_public_keys,
        ),
        (
            "allow_unsigned_releases",
            old.allow_unsigned_releases != new.allow_unsigned_releases,
        ),
        ("keep_releases", old.keep_releases != new.keep_releases),
        (
            "max_release_bytes",
            old.max_release_bytes != new.max_release_bytes,
        ),
        (
            "backup.restore_roots",
            old.backup_restore_roots != new.backup_restore_roots,
        ),
        (
            "backup.accept_restores_from",
            old.backup_accept_restores_from != new.backup_accept_restores_from,
        ),
    ] {
        if differs {
            changes.need_restart.push(name);
        }
    }
    changes
}

/// Keeps `new`'s reloadable parts over `old`: the config the agent runs with from now on
/// (what needs a restart stays as it was).
pub(crate) fn merged(old: &Config, new: Config) -> Config {
    Config {
        labels: new.labels,
        actions: new.actions,
        apps: new.apps,
        app_signals: new.app_signals,
        backup_sets: new.backup_sets,
        ..old.clone()
    }
}

/// The backup, restore and drill side of `config` for host `agent_id`.
pub(crate) fn recovery_for(config: &Config, agent_id: &str) -> Recovery {
    Recovery::new(
        config.data_dir.clone(),
        config.backup_sets.clone(),
        config.max_release_bytes.max(64 << 30),
    )
    .with_restore_policy(RestorePolicy {
        agent_id: agent_id.to_string(),
        roots: config.backup_restore_roots.clone(),
        accept_from: config.backup_accept_restores_from.clone(),
    })
}

/// Applies `new` to the running agent: logs what changed (and what needs a restart), hands
/// the runner and deployer their new actions, apps and backup sets, and keeps the result in
/// `config`. Commands already admitted keep what they started with.
pub(crate) fn apply(config: &mut Config, runner: &Runner, agent_id: &str, new: Config) -> Changes {
    let changes = compare(config, &new);
    for line in &changes.applied {
        tracing::info!(change = %line, "config reloaded: {line}");
    }
    for setting in &changes.need_restart {
        tracing::warn!(%setting, "config reload: {setting} changed but needs a restart; ignored until then");
    }
    if changes.is_empty() {
        tracing::info!("config reloaded: nothing changed");
    }
    let merged = merged(config, new);
    runner.set_actions(merged.actions.clone());
    if merged.apps != config.apps {
        runner.deployer().set_apps(merged.apps.clone());
        runner.apps_changed().notify_one();
    }
    if merged.app_signals != config.app_signals {
        runner.signals().configure(merged.app_signals.clone());
    }
    if merged.backup_sets != config.backup_sets {
        if let Some(transport) = runner.backup_transport() {
            runner.set_recovery(Arc::new(recovery_for(&merged, agent_id)), transport);
        }
    }
    *config = merged;
    changes
}

/// The next config a SIGHUP produced; never, without a watcher (or once it stopped).
pub(crate) async fn next(reloads: &mut Option<mpsc::Receiver<Config>>) -> Config {
    if let Some(receiver) = reloads {
        if let Some(config) = receiver.recv().await {
            return config;
        }
        *reloads = None;
    }
    std::future::pending().await
}

/// Reads `path` again on every SIGHUP and sends the parsed config on; a file that does not
/// load is logged and nothing is sent (the running config stays).
pub(crate) async fn watch_hangups(
    path: PathBuf,
    configs: mpsc::Sender<Config>,
    shutdown: CancellationToken,
) {
    let Ok(mut hangups) = convoy_proto::service::Hangups::install() else {
        tracing::error!("cannot install the SIGHUP handler: config reload is off");
        return;
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            more = hangups.next() => if !more { return },
        }
        tracing::info!(config = %path.display(), "SIGHUP: reloading the config");
        match Config::load(&path) {
            Ok(config) => {
                if configs.send(config).await.is_err() {
                    return;
                }
            }
            Err(err) => tracing::error!(
                config = %path.display(),
                error = %err,
                "config reload failed: keeping the running config"
            ),
        }
    }
}

#[cfg(test)]
mod tests;
