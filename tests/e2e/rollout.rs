//! Rollouts through the real binaries: a coordinator killed with SIGKILL mid-wave resumes
//! the rollout where it stood and finishes it without deploying any host twice; `--wait`
//! exits 0 only for a rollout that succeeded.

use std::path::{Path, PathBuf};

use std::time::Duration;

use super::{Fleet, json, wait_until};

/// A release of `web` whose start hook appends its version to `apps/web/deploys`, so a
/// host deployed twice shows it; its health check fails unless `healthy`.
fn release(dir: &Path, version: &str, healthy: bool) -> PathBuf {
    let check = if healthy { "VERSION" } else { "MISSING" };
    let manifest = format!(
        "[hooks]\nstart = [\"/bin/sh\", \"-c\", \"echo $CONVOY_VERSION >> ../../deploys\"]\n[health]\ncommand = [\"/bin/sh\", \"-c\", \"test -f {check}\"]\ninterval = \"50ms\"\nretries = 2\ndeadline = \"2s\"\nmonitor_interval = \"200ms\"\n"
    );
    super::web_release_with(dir, version, &manifest)
}

fn deploys(fleet: &Fleet, id: &str) -> String {
    std::fs::read_to_string(fleet.path().join(format!("{id}-data/apps/web/deploys")))
        .unwrap_or_default()
}

#[test]
fn a_rollout_survives_a_coordinator_sigkill_mid_wave_and_wait_tells_the_outcome() {
    let hosts = ["web-1", "web-2", "web-3", "web-4"];
    let fleet = Fleet::new(&hosts.map(|h| (h, "role=web")));
    for id in hosts {
        let path = fleet.path().join(format!("{id}.toml"));
        let config = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{config}\n[apps.web]\n")).unwrap();
    }
    let mut coordinator = fleet.serve();
    let _agents: Vec<_> = hosts.iter().map(|id| fleet.agent(id)).collect();
    fleet.wait_online("role=web", hosts.len());
    for (version, healthy) in [("1.0", true), ("2.0", true), ("3.0", false)] {
        let artifact = release(fleet.path(), version, healthy);
        fleet.ok(&[
            "release",
            "push",
            "web",
            version,
            artifact.to_str().unwrap(),
            "--sign-key",
            "release.key",
        ]);
    }
    fleet.ok(&["deploy", "web", "1.0", "--selector", "role=web", "--wait"]);

    // The plan first: one canary, then one host at a time.
    let plan = fleet.ok(&[
        "rollout",
        "start",
        "web",
        "2.0",
        "--selector",
        "role=web",
        "--canary",
        "1",
        "--batch",
        "1",
        "--dry-run",
    ]);
    assert!(plan.contains("4 to update in 4 waves"), "{plan}");

    let started = json(&fleet.ok(&[
        "rollout",
        "start",
        "web",
        "2.0",
        "--selector",
        "role=web",
        "--canary",
        "1",
        "--batch",
        "1",
        "--bake",
        "1s",
        "--auto-promote",
        "-o",
        "json",
    ]));
    let id = started["id"].as_str().unwrap().to_string();
    let status = || json(&fleet.ok(&["rollout", "status", &id, "-o", "json"]));
    // Mid-wave: the second wave has started.
    wait_until(
        "the rollout reaches wave 2",
        Duration::from_secs(30),
        || status()["current_wave"].as_u64() >= Some(1),
    );
    coordinator.signal("-KILL");
    drop(coordinator);
    coordinator = fleet.serve();
    wait_until("the rollout is resumed", Duration::from_secs(20), || {
        fleet.log("convoy").contains("rollout resumed")
    });

    // `watch` follows it to the end, exit 0 for success.
    let watched = fleet.convoy(&["rollout", "watch", &id, "-o", "json"]);
    assert!(
        watched.status.success(),
        "watch: {}\n{}",
        String::from_utf8_lossy(&watched.stderr),
        fleet.log("convoy")
    );
    let done = json(&String::from_utf8_lossy(&watched.stdout));
    assert_eq!(done["state"], "succeeded", "{done}");
    let waves = done["waves"].as_array().unwrap();
    assert_eq!(waves.len(), 4);
    for wave in waves {
        assert_eq!(wave["hosts"][0]["state"], "succeeded", "{done}");
    }
    // Every host got 2.0 exactly once, after 1.0.
    for id in hosts {
        assert_eq!(deploys(&fleet, id), "1.0\n2.0\n", "{id}");
    }

    // A release that fails its health check: stopped at the canary, rolled back,
    // `--wait` exits 1 and prints the final state.
    let bad = fleet.convoy(&[
        "rollout",
        "start",
        "web",
        "3.0",
        "--selector",
        "role=web",
        "--canary",
        "1",
        "--batch",
        "25%",
        "--on-failure",
        "rollback",
        "--auto-promote",
        "--wait",
        "-o",
        "json",
    ]);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let bad = json(&String::from_utf8_lossy(&bad.stdout));
    assert_eq!(bad["state"], "rolled_back", "{bad}");
    assert_eq!(bad["failures"], 1);
    assert_eq!(bad["waves"][0]["hosts"][0]["state"], "rolled_back");
    assert_eq!(bad["waves"][1]["hosts"][0]["state"], "pending");
    let running = |id: &str| {
        std::fs::read_link(fleet.path().join(format!("{id}-data/apps/web/current")))
            .unwrap()
            .display()
            .to_string()
    };
    for id in hosts {
        assert_eq!(running(id), "releases/2.0", "{id}");
    }

    let history = json(&fleet.ok(&["rollout", "history", "web", "-o", "json"]));
    let states: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["rolled_back", "succeeded"]);
    let unknown = fleet.convoy(&["rollout", "abort", "r-nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    let usage = fleet.convoy(&["rollout", "start", "web", "2.0", "--gate", "cpu<<1"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("invalid gate"));
    let audit = fleet.ok(&["audit", "-o", "json"]);
    assert!(audit.contains("StartRollout"), "{audit}");

    // Issue 19 point 3: with the default `--on-failure pause`, `--wait` does not block on
    // the paused rollout: it prints it and exits 3 (needs an operator); so does `watch`.
    let paused = fleet.convoy(&[
        "rollout",
        "start",
        "web",
        "3.0",
        "--selector",
        "role=web",
        "--canary",
        "1",
        "--wait",
        "-o",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&paused.stderr).to_string();
    assert_eq!(paused.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("needs an operator"), "{stderr}");
    let paused = json(&String::from_utf8_lossy(&paused.stdout));
    assert_eq!(paused["state"], "paused", "{paused}");
    let paused_id = paused["id"].as_str().unwrap().to_string();
    let watched = fleet.convoy(&["rollout", "watch", &paused_id]);
    assert_eq!(watched.status.code(), Some(3));
    // `--wait-through-pauses` keeps following: it returns only once the rollout ends
    // (here: aborted, exit 1), although it was already paused when it started.
    let progress = fleet.path().join("through.log");
    let mut through = std::process::Command::new(convoy_tests::binary("convoy"))
        .args(["rollout", "watch", &paused_id, "--wait-through-pauses"])
        .current_dir(fleet.path())
        .env("CONVOY_ADDR", &fleet.addr)
        .env("CONVOY_CA", "pki/ca.pem")
        .env("CONVOY_CERT", "pki/alice.pem")
        .env("CONVOY_KEY", "pki/alice.key")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&progress).unwrap())
        .spawn()
        .unwrap();
    // Its first progress line shows the rollout paused: it saw the pause and stayed.
    wait_until("the watcher saw the pause", Duration::from_secs(20), || {
        std::fs::read_to_string(&progress)
            .unwrap_or_default()
            .contains(&format!("{paused_id} paused"))
    });
    assert!(
        through.try_wait().unwrap().is_none(),
        "the watcher stopped at the pause"
    );
    fleet.ok(&["rollout", "abort", &paused_id]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = through.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher never ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        status.code(),
        Some(1),
        "{}",
        std::fs::read_to_string(&progress).unwrap_or_default()
    );
    // Point 4: the aborted rollout is rolled back as a rollout, through the CLI.
    fleet.ok(&["rollout", "rollback", &paused_id, "--wait"]);
    for id in hosts {
        assert_eq!(running(id), "releases/2.0", "{id}");
    }

    coordinator.signal("-TERM");
    assert!(coordinator.wait(Duration::from_secs(20)).success());
}
