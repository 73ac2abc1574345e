use std::path::Path;

use super::*;

const BASE: &str = "coordinator = \"https://127.0.0.1:7443\"\ndata_dir = \"/var/lib/convoy\"\n[tls]\nca = \"ca.pem\"\ncert = \"a.pem\"\nkey = \"a.key\"\n";

fn config(extra: &str) -> Config {
    Config::parse(&format!("{BASE}{extra}"), Path::new("/etc/convoy")).unwrap()
}

#[test]
fn names_what_changed_and_never_an_actions_argv() {
    let old = config(
        "[labels]\nrole = \"web\"\n[actions.uptime]\nrun = [\"uptime\"]\n[actions.df]\nrun = [\"df\"]\n",
    );
    let new = config(
        "[labels]\nrole = \"api\"\nzone = \"b\"\n[actions.df]\nrun = [\"df\", \"-h\"]\n[actions.restart]\nrun = [\"systemctl\", \"restart\", \"secret-unit\"]\n",
    );
    let changes = compare(&old, &new);
    assert_eq!(
        changes.applied,
        [
            "labels: role=web -> role=api,zone=b",
            "actions: added restart; removed uptime; changed df",
        ]
    );
    assert!(changes.announce);
    assert!(changes.need_restart.is_empty());
    assert!(!format!("{changes:?}").contains("secret-unit"));
}

#[test]
fn apps_apply_without_a_new_hello_and_fixed_settings_need_a_restart() {
    let old = config("");
    let new = Config::parse(
        &(BASE
            .replace("7443", "9443")
            .replace("a.pem", "b.pem")
            .replace("/var/lib/convoy", "/srv/convoy")
            + "[apps.web]\n"),
        Path::new("/etc/convoy"),
    )
    .unwrap();
    let changes = compare(&old, &new);
    assert_eq!(changes.applied, ["apps: added web"]);
    assert!(!changes.announce);
    assert_eq!(changes.need_restart, ["coordinator", "data_dir", "tls"]);
    // The merged config takes the app and keeps the fixed settings.
    let merged = merged(&old, new);
    assert!(merged.apps.contains_key("web"));
    assert_eq!(merged.coordinator, old.coordinator);
    assert_eq!(merged.data_dir, old.data_dir);
    assert!(compare(&old, &old.clone()).is_empty());
}

#[test]
fn changed_app_signals_are_applied_without_a_new_hello() {
    let signals = "[apps.web.signals]\nurl = \"http://127.0.0.1:8080/metrics\"\nerrors = \"rate(errors_total)\"\n";
    let old = config(signals);
    let new = config(&signals.replace("rate(errors_total)", "increase(errors_total)"));
    let changes = compare(&old, &new);
    assert_eq!(changes.applied, ["app signals: changed web"]);
    assert!(!changes.announce && changes.need_restart.is_empty());
    let merged = merged(&old, new.clone());
    assert_eq!(merged.app_signals, new.app_signals);
    let gone = compare(&new, &config(""));
    assert_eq!(
        gone.applied,
        ["apps: removed web", "app signals: removed web"]
    );
}
