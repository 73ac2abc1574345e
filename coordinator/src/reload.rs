//! SIGHUP on `convoy serve`: the config file is read again and [`apply`] puts what can
//! change without a restart into effect, logging one line per changed part (no secrets: only
//! names, counts and durations): `[backups]` (retention rules, `keep`, `min_retention`,
//! `max_bytes_per_host`), `[[environments]]` (rollouts started from then on), `[[alerts]]` (firing alerts of a removed or changed rule are
//! resolved), `[[policies]]` (for operator connections made from then on) and `[[notify]]`
//! sinks (events appended from then on go to the new sinks; the outbox's tasks restart with
//! them, `convoy notify test` sees them, and deliveries still pending for a removed sink
//! are given up), and `[[scaling]]` policies (from their next evaluation; a policy's last
//! action stays with its name). What cannot change without a restart (listen address, TLS files, data
//! dir, agent timing, the job output cap, release keys, `[metrics]`, `[history]`,
//! `[events]`, `[ca]`) is logged as "needs a restart" and ignored. A file that does not load is logged
//! and the running config stays.

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::backups::Backups;
use crate::config::monitor::NotifyConfig;
use crate::config::{BackupsConfig, Config};

/// Handles to the parts of a running coordinator that a reload may change.
#[derive(Clone, Debug)]
pub struct Reloadable {
    pub backups: Backups,
    pub alerts: std::sync::Arc<crate::alerts::Alerts>,
    /// Where resolved alerts of removed rules go.
    pub events: crate::events::Events,
    pub policies: crate::policy::SharedPolicies,
    pub notifier: crate::notify::Notifier,
    pub environments: crate::config::environments::SharedEnvironments,
    pub scaling: crate::scaling::Scaling,
}

/// What a new config changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// One line per reloaded part that changed.
    pub applied: Vec<String>,
    /// Settings that changed but need a restart (ignored until then).
    pub need_restart: Vec<&'static str>,
}

fn describe_backups(b: &BackupsConfig) -> String {
    format!(
        "keep {}, min_retention {}, {} retention rule(s), max_bytes_per_host {}",
        b.keep,
        humantime::format_duration(b.min_retention),
        b.retention.len(),
        b.max_bytes_per_host
            .map_or_else(|| "unlimited".to_string(), |n| n.to_string())
    )
}

/// Whether two `[[notify]]` lists are the same, secrets included (their `Debug` hides the
/// secret, so it cannot tell a changed secret).
fn same_sinks(a: &[NotifyConfig], b: &[NotifyConfig]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.name == b.name
                && a.kind == b.kind
                && a.url == b.url
                && a.events == b.events
                && a.secret == b.secret
                && a.retry_for == b.retry_for
        })
}

fn debug_of(v: &dyn std::fmt::Debug) -> String {
    format!("{v:?}")
}

/// Pure: what applying `new` over `old` changes.
pub fn compare(old: &Config, new: &Config) -> Changes {
    let debug = |v: &dyn std::fmt::Debug| format!("{v:?}");
    let mut changes = Changes::default();
    if debug(&old.backups) != debug(&new.backups) {
        changes.applied.push(format!(
            "backups: {} -> {}",
            describe_backups(&old.backups),
            describe_backups(&new.backups)
        ));
    }
    let rule_names = |c: &Config| {
        c.monitor
            .alerts
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if debug(&old.monitor.alerts) != debug(&new.monitor.alerts) {
        changes.applied.push(format!(
            "alerts: {} rule(s) [{}] -> {} rule(s) [{}]",
            old.monitor.alerts.len(),
            rule_names(old),
            new.monitor.alerts.len(),
            rule_names(new)
        ));
    }
    let sink_names = |c: &Config| {
        c.monitor
            .notify
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !same_sinks(&old.monitor.notify, &new.monitor.notify) {
        // Names only: a sink's URL or secret never reaches the log.
        changes.applied.push(format!(
            "notify: {} sink(s) [{}] -> {} sink(s) [{}]",
            old.monitor.notify.len(),
            sink_names(old),
            new.monitor.notify.len(),
            sink_names(new)
        ));
    }
    if old.environments != new.environments {
        let names = |c: &Config| {
            c.environments
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        changes.applied.push(format!(
            "environments: [{}] -> [{}]",
            names(old),
            names(new)
        ));
    }
    if old.policies != new.policies {
        changes.applied.push(format!(
            "policies: {} -> {} (operator connections made from now on)",
            old.policies.len(),
            new.policies.len()
        ));
    }
    if old.scaling != new.scaling {
        let names = |c: &Config| {
            c.scaling
                .iter()
                .map(|p| p.config.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        changes.applied.push(format!(
            "scaling: {} policy(ies) [{}] -> {} policy(ies) [{}]",
            old.scaling.len(),
            names(old),
            new.scaling.len(),
            names(new)
        ));
    }
    for (name, differs) in [
        ("listen", old.listen != new.listen),
        ("data_dir", old.data_dir != new.data_dir),
        ("tls", debug(&old.tls) != debug(&new.tls)),
        ("agents", debug(&old.agents) != debug(&new.agents)),
        ("jobs", debug(&old.jobs) != debug(&new.jobs)),
        (
            "release_public_keys",
            old.release_public_keys != new.release_public_keys,
        ),
        (
            "metrics",
            debug(&old.monitor.metrics) != debug(&new.monitor.metrics),
        ),
        (
            "history",
            debug(&old.monitor.history) != debug(&new.monitor.history),
        ),
        (
            "events",
            debug(&old.monitor.events) != debug(&new.monitor.events),
        ),
        ("ca", debug(&old.ca) != debug(&new.ca)),
    ] {
        if differs {
            changes.need_restart.push(name);
        }
    }
    changes
}

/// The one place a reload takes effect: applies `new`'s reloadable parts to `targets`,
/// logs what changed, and keeps in `current` what now runs (what needs a restart stays).
pub fn apply(current: &mut Config, targets: &Reloadable, new: Config) -> Changes {
    let changes = compare(current, &new);
    for line in &changes.applied {
        tracing::info!(change = %line, "config reloaded: {line}");
    }
    for setting in &changes.need_restart {
        tracing::warn!(%setting, "config reload: {setting} changed but needs a restart; ignored until then");
    }
    if changes.applied.is_empty() && changes.need_restart.is_empty() {
        tracing::info!("config reloaded: nothing changed");
    }
    targets.backups.set_policy(new.backups.clone());
    current.backups = new.backups;
    if debug_of(&current.monitor.alerts) != debug_of(&new.monitor.alerts) {
        let resolved = targets
            .alerts
            .set_rules(new.monitor.alerts.clone(), &targets.events);
        if resolved > 0 {
            tracing::info!(resolved, "alerts of removed or changed rules resolved");
        }
        current.monitor.alerts = new.monitor.alerts;
    }
    if !same_sinks(&current.monitor.notify, &new.monitor.notify) {
        targets.notifier.restart(new.monitor.notify.clone());
        current.monitor.notify = new.monitor.notify;
    }
    if current.environments != new.environments {
        *targets
            .environments
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = new.environments.clone();
        current.environments = new.environments;
    }
    if current.policies != new.policies {
        *targets
            .policies
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = new.policies.clone();
        current.policies = new.policies;
    }
    if current.scaling != new.scaling {
        targets.scaling.set_policies(new.scaling.clone());
        current.scaling = new.scaling;
    }
    changes
}

/// Reads `path` again on every SIGHUP and applies it; a file that does not load is logged
/// and the running config stays.
pub async fn watch_hangups(
    path: PathBuf,
    mut current: Config,
    targets: Reloadable,
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
            Ok(new) => {
                apply(&mut current, &targets, new);
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
mod tests {
    use super::*;

    const GOOD: &str = "listen = \"127.0.0.1:7443\"\ndata_dir = \"/var/lib/convoy\"\n[tls]\nca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"c.key\"\n";

    fn config(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coordinator.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path).unwrap()
    }

    #[test]
    fn notify_changes_are_logged_by_name_without_urls_or_secrets() {
        let old = config(GOOD);
        let sink = |name: &str, secret: &str| {
            format!(
                "[[notify]]\nname = \"{name}\"\nkind = \"webhook\"\nurl = \"https://hooks.example/very-private-path\"\nsecret = \"{secret}\"\n"
            )
        };
        let new = config(&(GOOD.to_string() + &sink("ops", "s3cret") + &sink("pager", "s3cret")));
        let changes = compare(&old, &new);
        assert_eq!(
            changes.applied,
            ["notify: 0 sink(s) [] -> 2 sink(s) [ops, pager]"]
        );
        // (Each file is in its own temporary dir, so `tls` paths differ.)
        assert!(!changes.need_restart.contains(&"notify"), "{changes:?}");
        // A changed secret alone is a change, and is not shown.
        let rotated =
            config(&(GOOD.to_string() + &sink("ops", "other") + &sink("pager", "s3cret")));
        let changes = compare(&new, &rotated);
        assert_eq!(
            changes.applied,
            ["notify: 2 sink(s) [ops, pager] -> 2 sink(s) [ops, pager]"]
        );
        for line in &changes.applied {
            assert!(
                !line.contains("hooks.example")
                    && !line.contains("s3cret")
                    && !line.contains("other"),
                "{line}"
            );
        }
        assert!(compare(&new, &new.clone()).applied.is_empty());
    }

    #[tokio::test]
    async fn backups_apply_and_fixed_settings_need_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).unwrap();
        let backups = Backups::open(dir.path(), store).unwrap();
        let mut current = config(GOOD);
        backups.set_policy(current.backups.clone());
        let new = config(
            &(GOOD.replace("7443", "9443").replace("c.pem", "d.pem")
                + "[backups]\nmin_retention = \"1d\"\nkeep = 3\n"
                + "[[environments]]\nname = \"staging\"\n[[environments]]\nname = \"prod\"\nrequires = \"staging\"\n"),
        );
        let events = crate::events::Events::open(
            crate::store::Store::open(&dir.path().join("events")).unwrap(),
            Vec::new(),
        )
        .unwrap();
        let tracker = tokio_util::task::TaskTracker::new();
        let notifier = crate::notify::start(
            events.clone(),
            Vec::new(),
            &tracker,
            CancellationToken::new(),
        );
        let targets = Reloadable {
            backups: backups.clone(),
            alerts: crate::alerts::Alerts::new(Vec::new()),
            events,
            policies: Default::default(),
            notifier,
            environments: Default::default(),
            scaling: Default::default(),
        };
        let changes = apply(&mut current, &targets, new);
        assert_eq!(changes.applied.len(), 2, "{changes:?}");
        assert_eq!(changes.applied[1], "environments: [] -> [staging, prod]");
        let envs = targets.environments.read().unwrap().clone();
        assert_eq!(envs.len(), 2);
        assert_eq!(envs[1].requires.as_deref(), Some("staging"));
        assert!(
            changes.applied[0].ends_with(
                "-> keep 3, min_retention 1day, 0 retention rule(s), max_bytes_per_host unlimited"
            ),
            "{changes:?}"
        );
        assert_eq!(changes.need_restart, ["listen", "tls"]);
        // In force now; the fixed settings are the old ones.
        assert_eq!(backups.policy().keep, 3);
        assert_eq!(backups.policy().min_retention.as_secs(), 24 * 3600);
        assert_eq!(current.listen.port(), 7443);
        assert_eq!(current.backups.keep, 3);
        let same = current.clone();
        assert_eq!(compare(&current, &same), Changes::default());
        // [[scaling]]: applied to the running evaluator by name.
        let policy = "[[scaling]]\nname = \"web\"\nselector = \"role=web\"\nmetric = \"cpu\"\n\
                      target = 60\nmin = 1\nmax = 4\ncooldown = \"1m\"\n";
        let mut with_scaling = current.clone();
        let loaded = config(&(GOOD.to_string() + policy));
        with_scaling.scaling = loaded.scaling.clone();
        let changes = apply(&mut current, &targets, with_scaling);
        assert_eq!(
            changes.applied,
            ["scaling: 0 policy(ies) [] -> 1 policy(ies) [web]"]
        );
        assert_eq!(targets.scaling.policies(), loaded.scaling);
        assert_eq!(current.scaling, loaded.scaling);
    }
}
