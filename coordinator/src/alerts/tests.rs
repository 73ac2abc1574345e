//! Alert tests: the expression grammar (errors with their column), `for` honoured, firing
//! and resolving, fleet facts. The evaluator is pure: time is an argument.

use std::time::Duration;

use super::*;
use crate::config::monitor::AlertConfig;
use crate::history::{BASE_SERIES, Sample};

fn rule(name: &str, expr: &str, for_secs: u64, selector: &str) -> Rule {
    Rule::new(&AlertConfig {
        name: name.into(),
        expr: expr.into(),
        for_: Duration::from_secs(for_secs),
        severity: "critical".into(),
        selector: selector.into(),
        summary: "disk filling".into(),
    })
    .unwrap()
}

fn host(id: &str, role: &str, disk: f32, cpu: f32) -> HostFacts {
    let mut base = [0.0; BASE_SERIES.len()];
    base[0] = cpu;
    base[3] = 1.0;
    HostFacts {
        id: id.into(),
        labels: [("role".to_string(), role.to_string())].into(),
        online: true,
        sample: Some(Sample {
            at_ms: 0,
            base,
            disks: vec![("/".into(), disk)],
        }),
        cpus: 2,
        failing_apps: Vec::new(),
    }
}

#[test]
fn expressions_parse() {
    use crate::history::SeriesId;
    assert_eq!(
        Expr::parse("disk:/>90").unwrap(),
        Expr::Metric {
            series: SeriesId::Disk("/".into()),
            op: Op::Gt,
            limit: Limit::Absolute(90.0)
        }
    );
    assert_eq!(
        Expr::parse(" load1 >= 2*cpus").unwrap(),
        Expr::Metric {
            series: SeriesId::Base(3),
            op: Op::Ge,
            limit: Limit::PerCpu(2.0)
        }
    );
    assert_eq!(Expr::parse("offline").unwrap(), Expr::Offline);
    assert_eq!(Expr::parse("health=failing").unwrap(), Expr::HealthFailing);
    assert_eq!(Expr::parse("rollout=failed").unwrap(), Expr::RolloutFailed);
    assert_eq!(
        Expr::parse("backup_age>26h").unwrap(),
        Expr::BackupAge {
            op: Op::Gt,
            age: Duration::from_secs(26 * 3600)
        }
    );
    assert_eq!(
        Expr::parse("cert_expires<7d").unwrap(),
        Expr::CertExpires {
            op: Op::Lt,
            within: Duration::from_secs(7 * 86_400)
        }
    );
}

#[test]
fn bad_expressions_name_the_column() {
    for (expr, column, words) in [
        ("cpu>>95", 5, "expected a number"),
        ("cpuu>95", 1, "unknown series"),
        ("health=ok", 8, "expected health=failing"),
        ("disk:/>90*baseline", 8, "FACTOR*cpus"),
        ("backup_age>soon", 12, "duration"),
        ("cpu=5", 4, "'<' or '>'"),
        ("", 1, "empty"),
        ("flying", 1, "expected METRIC>LIMIT"),
    ] {
        let err = Expr::parse(expr).unwrap_err();
        assert!(err.contains(&format!("column {column}")), "{expr}: {err}");
        assert!(err.contains(words), "{expr}: {err}");
    }
}

#[test]
fn for_is_honoured_then_it_fires_once_and_resolves() {
    let rules = [rule("disk-full", "disk:/>90", 2, "role=web")];
    let mut evaluator = Evaluator::default();
    let full = Facts {
        hosts: vec![
            host("web-1", "web", 95.0, 1.0),
            host("db-1", "db", 99.0, 1.0),
        ],
        ..Facts::default()
    };
    assert!(
        evaluator.evaluate(&rules, &full, 1_000).is_empty(),
        "pending, not firing"
    );
    assert_eq!(evaluator.alerts(&rules, true)[0].state, "pending");
    assert!(evaluator.alerts(&rules, false).is_empty());
    assert!(
        evaluator.evaluate(&rules, &full, 2_999).is_empty(),
        "for = 2s not yet over"
    );
    let fired = evaluator.evaluate(&rules, &full, 3_000);
    let [Transition::Firing(alert)] = fired.as_slice() else {
        panic!("{fired:?}")
    };
    assert_eq!(
        (alert.host.as_str(), alert.value, alert.firing_since_unix_ms),
        ("web-1", 95.0, 3_000)
    );
    assert!(
        evaluator.evaluate(&rules, &full, 4_000).is_empty(),
        "fires once"
    );
    let calm = Facts {
        hosts: vec![host("web-1", "web", 50.0, 1.0)],
        ..Facts::default()
    };
    let resolved = evaluator.evaluate(&rules, &calm, 5_000);
    assert!(
        matches!(resolved.as_slice(), [Transition::Resolved(a)] if a.host == "web-1"),
        "{resolved:?}"
    );
    assert!(evaluator.alerts(&rules, true).is_empty());
}

#[test]
fn a_blip_shorter_than_for_never_fires() {
    let rules = [rule("hot", "cpu>95", 2, "")];
    let mut evaluator = Evaluator::default();
    let hot = Facts {
        hosts: vec![host("a", "web", 0.0, 99.0)],
        ..Facts::default()
    };
    let cool = Facts {
        hosts: vec![host("a", "web", 0.0, 10.0)],
        ..Facts::default()
    };
    assert!(evaluator.evaluate(&rules, &hot, 0).is_empty());
    assert!(
        evaluator.evaluate(&rules, &cool, 1_500).is_empty(),
        "no resolved for a pending alert"
    );
    assert!(
        evaluator.evaluate(&rules, &hot, 2_000).is_empty(),
        "pending restarts from 2000"
    );
    assert_eq!(evaluator.evaluate(&rules, &hot, 4_000).len(), 1);
}

#[test]
fn fleet_facts() {
    let now = 100 * 86_400_000;
    let mut offline = host("web-2", "web", 0.0, 0.0);
    offline.online = false;
    let mut sick = host("web-3", "web", 0.0, 0.0);
    sick.failing_apps = vec!["shop".into()];
    let mut loaded = host("web-4", "web", 0.0, 0.0);
    loaded.sample.as_mut().unwrap().base[3] = 4.5; // load1 4.5 > 2*2 cpus
    let facts = Facts {
        hosts: vec![host("web-1", "web", 0.0, 0.0), offline, sick, loaded],
        backups: vec![
            ("web-1".into(), "db".into(), now - 27 * 3_600_000),
            ("web-3".into(), "db".into(), now - 3_600_000),
        ],
        drills: vec![("web-1".into(), "db".into(), now - 9 * 86_400_000)],
        certs: vec![("coordinator.pem".into(), now + 3 * 86_400_000)],
        failed_rollouts: vec![("shop".into(), "r-1".into())],
    };
    let instances = |expr: &str| -> Vec<String> {
        matches(&rule("r", expr, 0, "role=web"), &facts, now)
            .into_iter()
            .map(|(i, _)| i)
            .collect()
    };
    assert_eq!(instances("offline"), ["web-2"]);
    assert_eq!(instances("health=failing"), ["web-3/shop"]);
    assert_eq!(instances("load1>2*cpus"), ["web-4"]);
    assert_eq!(instances("backup_age>26h"), ["web-1/db"]);
    assert_eq!(instances("drill_age>8d"), ["web-1/db"]);
    assert_eq!(instances("cert_expires<7d"), ["coordinator.pem"]);
    assert!(instances("cert_expires<2d").is_empty());
    assert_eq!(instances("rollout=failed"), ["shop (r-1)"]);
}

#[test]
fn a_bad_rule_fails_the_config_with_its_position() {
    let text = "data_dir = \"d\"\n[tls]\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n[[alerts]]\nname = \"ok\"\nexpr = \"cpu>90\"\n[[alerts]]\nname = \"disk\"\nexpr = \"disk:/>9O\"\nfor = \"5m\"\n";
    let err = crate::config::Config::parse(text, std::path::Path::new("/")).unwrap_err();
    assert!(err.contains("alerts[1] (\"disk\")"), "{err}");
    assert!(err.contains("column 8"), "{err}");
    let ok = text.replace("9O", "90");
    let config = crate::config::Config::parse(&ok, std::path::Path::new("/")).unwrap();
    assert_eq!(config.monitor.alerts.len(), 2);
    assert_eq!(config.monitor.alerts[1].for_, Duration::from_secs(300));
}

/// A reload swapping the rules while `/metrics` and `convoy alerts` list them: both take
/// the rules before the evaluator, so neither waits on the other forever (they once took
/// the two locks in opposite orders).
#[test]
fn listing_while_the_rules_are_swapped_never_deadlocks() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::Store::open(dir.path()).unwrap();
    let events = Events::open(store, Vec::new()).unwrap();
    let alerts = Alerts::new(vec![rule("a", "cpu>1", 0, "")]);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let lister = {
        let (alerts, done) = (alerts.clone(), done_tx.clone());
        std::thread::spawn(move || {
            for _ in 0..20_000 {
                let _ = alerts.list(true);
            }
            let _ = done.send(());
        })
    };
    let swapper = std::thread::spawn(move || {
        for i in 0..20_000 {
            let name = if i % 2 == 0 { "a" } else { "b" };
            alerts.set_rules(vec![rule(name, "cpu>1", 0, "")], &events);
        }
        let _ = done_tx.send(());
    });
    for _ in 0..2 {
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("listing and swapping rules deadlocked");
    }
    lister.join().unwrap();
    swapper.join().unwrap();
}

/// An app signal is a series in an alert rule, by its full `APP.NAME`, read from the live
/// heartbeat (`Sample::from_metrics`).
#[test]
fn an_app_signal_fires_an_alert() {
    use crate::history::SeriesId;
    assert_eq!(
        Expr::parse("web.error_rate>0.05").unwrap(),
        Expr::Metric {
            series: SeriesId::Signal("web.error_rate".into()),
            op: Op::Gt,
            limit: Limit::Absolute(0.05)
        }
    );
    let rules = [rule("errors", "web.error_rate>0.05", 0, "role=web")];
    let metrics = |rate: f64| convoy_proto::v1::MetricsSample {
        signals: [("web.error_rate".to_string(), rate)].into(),
        ..Default::default()
    };
    let with = |rate: f64| Facts {
        hosts: vec![HostFacts {
            sample: Some(Sample::from_metrics(0, &metrics(rate))),
            ..host("web-1", "web", 10.0, 1.0)
        }],
        ..Facts::default()
    };
    let mut evaluator = Evaluator::default();
    assert!(evaluator.evaluate(&rules, &with(0.01), 1_000).is_empty());
    let fired = evaluator.evaluate(&rules, &with(0.5), 2_000);
    let [Transition::Firing(alert)] = fired.as_slice() else {
        panic!("{fired:?}")
    };
    assert_eq!((alert.host.as_str(), alert.value), ("web-1", 0.5));
}
