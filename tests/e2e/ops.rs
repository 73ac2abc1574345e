//! Everyday operations through the real binaries (issue 19): config checks that say what a
//! config means and fail on any error, and help that never asks for env-supplied flags.

use std::process::Command;

use super::Fleet;

fn agent_check(fleet: &Fleet, config: &str) -> std::process::Output {
    Command::new(convoy_tests::binary("convoy-agent"))
        .args(["check", "--config", config])
        .current_dir(fleet.path())
        .output()
        .unwrap()
}

#[test]
fn config_checks_print_what_a_config_means_and_fail_on_any_error() {
    let fleet = Fleet::new(&[("web-1", "role=web,zone=a")]);
    // The coordinator's: meaning on stdout, exit 0, nothing served.
    let checked = fleet.convoy(&["serve", "--check", "--config", "coordinator.toml"]);
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        stdout.contains("heartbeat every 300ms, offline after 2s"),
        "{stdout}"
    );
    assert!(
        stdout.contains("release keys:      release.pub"),
        "{stdout}"
    );
    assert!(stdout.contains("coordinator.toml: OK"), "{stdout}");
    assert!(
        !fleet.path().join("data").exists(),
        "a check opens no store"
    );
    // A file it names that is not there: exit 1, named.
    let text = std::fs::read_to_string(fleet.path().join("coordinator.toml")).unwrap();
    std::fs::write(
        fleet.path().join("broken.toml"),
        text.replace("pki/coordinator.key", "pki/missing.key"),
    )
    .unwrap();
    let broken = fleet.convoy(&["serve", "--check", "--config", "broken.toml"]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&broken.stderr).contains("missing.key"));

    // The agent's.
    let config = std::fs::read_to_string(fleet.path().join("web-1.toml")).unwrap();
    std::fs::write(
        fleet.path().join("web-1.toml"),
        format!("{config}\n[actions.restart]\nrun = [\"systemctl\", \"restart\", \"{{unit}}\"]\n[actions.restart.params.unit]\nallow = [\"nginx\", \"app\"]\n"),
    )
    .unwrap();
    let checked = agent_check(&fleet, "web-1.toml");
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(stdout.contains("agent id:      web-1"), "{stdout}");
    assert!(
        stdout.contains("labels:        role=web, zone=a"),
        "{stdout}"
    );
    assert!(stdout.contains("{unit} one of nginx|app"), "{stdout}");
    assert!(
        !fleet.path().join("web-1-data").exists(),
        "a check writes nothing"
    );
    for (bad, want) in [
        (
            config.replace("pki/web-1.pem", "pki/coordinator.pem"),
            "is not an agent certificate",
        ),
        (
            format!(
                "{config}\n[actions.restart]\nrun = [\"systemctl\", \"--unit={{unit}}\"]\n[actions.restart.params.unit]\nallow = [\"nginx\"]\n"
            ),
            "must be a whole argv element",
        ),
        (format!("{config}\nunknown_key = 1\n"), "unknown_key"),
    ] {
        std::fs::write(fleet.path().join("bad.toml"), bad).unwrap();
        let out = agent_check(&fleet, "bad.toml");
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn usage_mistakes_exit_2_and_unknown_things_exit_1() {
    let fleet = Fleet::new(&[]);
    for args in [
        &[
            "cert",
            "issue",
            "agent",
            "Not An Id",
            "--ca-dir",
            "pki",
            "--out",
            "pki",
        ][..],
        &[
            "cert", "issue", "operator", "bob", "--ca-dir", "pki", "--out", "pki",
        ][..],
        &[
            "cert", "issue", "agent", "web-9", "--role", "admin", "--ca-dir", "pki",
        ][..],
        &["exec", "uptime", "--param", "no-equals-sign"][..],
        &["exec", "uptime", "--host", "Bad Host"][..],
    ] {
        let out = fleet.convoy(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let coordinator = fleet.serve();
    super::wait_until(
        "the coordinator answers",
        std::time::Duration::from_secs(20),
        || fleet.convoy(&["agents"]).status.success(),
    );
    // TLS failures say which side refused and why.
    fleet.ok(&["ca", "init", "--dir", "other"]);
    let foreign = fleet.convoy(&["agents", "--ca", "other/ca.pem"]);
    assert_eq!(foreign.status.code(), Some(1));
    let said = String::from_utf8_lossy(&foreign.stderr);
    assert!(
        said.contains("this CLI does not trust the coordinator's certificate"),
        "{said}"
    );
    let unknown = fleet.convoy(&["release", "status", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no host allows app \"nope\""));
    coordinator.signal("-TERM");
    drop(coordinator);
}

#[test]
fn agents_show_lists_the_hosts_recent_jobs_with_its_own_outcome() {
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    let config = std::fs::read_to_string(fleet.path().join("web-1.toml")).unwrap();
    std::fs::write(
        fleet.path().join("web-1.toml"),
        format!("{config}\n[actions.hello]\nrun = [\"echo\", \"hi\"]\n"),
    )
    .unwrap();
    let coordinator = fleet.serve();
    let _agent = fleet.agent("web-1");
    fleet.wait_online("role=web", 1);
    fleet.ok(&["exec", "hello", "--host", "web-1", "--wait"]);
    let shown = super::json(&fleet.ok(&["agents", "show", "web-1", "-o", "json"]));
    let recent = shown["recent_jobs"].as_array().unwrap();
    assert_eq!(recent.len(), 1, "{shown}");
    assert_eq!(recent[0]["action"], "hello");
    assert_eq!(recent[0]["kind"], "action");
    assert_eq!(recent[0]["state"], "succeeded");
    let table = fleet.ok(&["agents", "show", "web-1"]);
    assert!(table.contains("recent jobs and deployments"), "{table}");
    coordinator.signal("-TERM");
}
