//! An agent stopped (SIGTERM, as systemd does) in the middle of a deploy: the deploy's
//! running hook and its whole process group end with it, the host is brought back to the
//! release that ran before, and the command ends `interrupted`, reported after the restart.

use std::time::Duration;

use super::{Fleet, json, wait_until};

#[test]
fn sigterm_to_the_agent_mid_deploy_stops_the_hook_reverts_and_reports_interrupted() {
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    let path = fleet.path().join("web-1.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{config}\n[apps.web]\n")).unwrap();
    let _coordinator = fleet.serve();
    let agent = fleet.agent("web-1");
    fleet.wait_online("role=web", 1);

    let start = "start = [\"/bin/sh\", \"-c\", \"echo $CONVOY_VERSION >> ../../started\"]\n";
    let health = "[health]\ncommand = [\"/bin/sh\", \"-c\", \"test -f VERSION\"]\ninterval = \"50ms\"\nretries = 3\ndeadline = \"5s\"\n";
    // 2.0's before_activate leaves a long child in its process group and records its pid.
    let slow = "before_activate = { run = [\"/bin/sh\", \"-c\", \"sleep 300 & echo $! > ../../child.pid; wait\"], timeout = \"10m\" }\n";
    for (version, hooks) in [
        ("1.0", start.to_string()),
        ("2.0", format!("{start}{slow}")),
    ] {
        let artifact =
            super::web_release_with(fleet.path(), version, &format!("[hooks]\n{hooks}{health}"));
        let artifact = artifact.to_str().unwrap();
        fleet.ok(&[
            "release",
            "push",
            "web",
            version,
            artifact,
            "--sign-key",
            "release.key",
        ]);
    }
    fleet.ok(&["deploy", "web", "1.0", "--selector", "role=web", "--wait"]);

    let started = json(&fleet.ok(&[
        "deploy",
        "web",
        "2.0",
        "--selector",
        "role=web",
        "-o",
        "json",
    ]));
    let job = started["id"].as_str().unwrap().to_string();
    let app = fleet.path().join("web-1-data/apps/web");
    wait_until(
        "2.0's before_activate runs",
        Duration::from_secs(30),
        || std::fs::read_to_string(app.join("child.pid")).is_ok_and(|pid| pid.ends_with('\n')),
    );
    let child = std::fs::read_to_string(app.join("child.pid")).unwrap();

    agent.signal("-TERM");
    let status = agent.wait(Duration::from_secs(25));
    assert!(status.success(), "the agent exits cleanly: {status:?}");
    let alive = std::fs::read_to_string(format!("/proc/{}/stat", child.trim()))
        .is_ok_and(|stat| stat.split_whitespace().nth(2) != Some("Z"));
    assert!(!alive, "the hook's child {child} outlived the agent's stop");
    // Never switched; 1.0 started again before the agent exited.
    let current = std::fs::read_link(app.join("current")).unwrap();
    assert!(current.ends_with("releases/1.0"), "{}", current.display());
    assert_eq!(
        std::fs::read_to_string(app.join("started")).unwrap(),
        "1.0\n1.0\n",
        "{}",
        fleet.log("convoy-agent")
    );

    // The result reaches the coordinator once the agent is back: interrupted, not re-run.
    let _agent = fleet.agent("web-1");
    let host = || {
        let shown = json(&fleet.ok(&["job", "show", &job, "-o", "json"]));
        shown["hosts"][0].clone()
    };
    wait_until(
        "the command ends interrupted",
        Duration::from_secs(30),
        || host()["state"] == "interrupted",
    );
    let message = host()["message"].as_str().unwrap_or_default().to_string();
    assert!(
        message.contains("the agent was stopped during the deploy")
            && message.contains("reverted to 1.0, which is healthy"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(app.join("started")).unwrap(),
        "1.0\n1.0\n",
        "nothing ran again after the restart"
    );
}
