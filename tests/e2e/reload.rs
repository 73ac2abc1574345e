//! SIGHUP reloads (issue 19 point 14) with the real binaries: the agent re-reads its labels
//! and the coordinator sees them; a broken file keeps the running config and the process
//! up; the coordinator logs what it reloaded and what needs a restart; `[[notify]]` sinks
//! added and removed by a reload, against real HTTP receivers.

use std::time::{Duration, Instant};

use super::monitor::{Receiver, json_field};
use super::{Fleet, Proc, json};

/// Waits until `what` holds, polling every 100 ms for at most 30 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool, log: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; log:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ids(fleet: &Fleet, selector: &str) -> Vec<String> {
    fleet
        .agents_json(selector)
        .into_iter()
        .filter(|a| a.state == "online")
        .map(|a| a.id)
        .collect()
}

fn still_running(proc: &mut Proc) -> bool {
    proc.child.try_wait().expect("try_wait").is_none()
}

#[test]
fn sighup_reloads_agent_labels_and_a_broken_file_keeps_the_old_config() {
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    let _coordinator = fleet.serve();
    let mut agent = fleet.agent("web-1");
    fleet.wait_online("role=web", 1);
    let file = fleet.path().join("web-1.toml");
    let original = std::fs::read_to_string(&file).unwrap();

    // New labels, then SIGHUP: the coordinator sees them (over a fresh Hello).
    std::fs::write(
        &file,
        original.replace("role = \"web\"", "role = \"api\"\ntier = \"2\""),
    )
    .unwrap();
    agent.signal("-HUP");
    eventually(
        "web-1 relabelled role=api,tier=2",
        || ids(&fleet, "role=api,tier=2") == ["web-1"],
        || fleet.log("convoy-agent"),
    );
    assert!(ids(&fleet, "role=web").is_empty());
    let log = fleet.log("convoy-agent");
    assert!(
        log.contains("config reloaded: labels: role=web -> role=api,tier=2"),
        "{log}"
    );

    // A file that does not parse: logged, the old config stays, the agent stays up.
    std::fs::write(&file, "coordinator = \"https://\n[[[ not toml").unwrap();
    agent.signal("-HUP");
    eventually(
        "the failed reload logged",
        || {
            fleet
                .log("convoy-agent")
                .contains("config reload failed: keeping the running config")
        },
        || fleet.log("convoy-agent"),
    );
    assert!(still_running(&mut agent), "{}", fleet.log("convoy-agent"));
    assert_eq!(ids(&fleet, "role=api,tier=2"), ["web-1"]);

    // Fixed again, with a setting that needs a restart: labels apply, the address does not.
    std::fs::write(
        &file,
        original
            .replace("role = \"web\"", "role = \"db\"")
            .replace("data_dir = \"web-1-data\"", "data_dir = \"elsewhere\""),
    )
    .unwrap();
    agent.signal("-HUP");
    eventually(
        "web-1 relabelled role=db",
        || ids(&fleet, "role=db") == ["web-1"],
        || fleet.log("convoy-agent"),
    );
    let log = fleet.log("convoy-agent");
    assert!(
        log.contains("data_dir changed but needs a restart"),
        "{log}"
    );
    assert!(!fleet.path().join("elsewhere").exists());
    assert!(still_running(&mut agent));
}

#[test]
fn sighup_on_the_coordinator_reloads_backups_and_keeps_running_on_a_broken_file() {
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    let mut coordinator = fleet.serve();
    let _agent = fleet.agent("web-1");
    fleet.wait_online("", 1);
    let file = fleet.path().join("coordinator.toml");
    let original = std::fs::read_to_string(&file).unwrap();

    std::fs::write(
        &file,
        format!("{original}[backups]\nkeep = 5\nmin_retention = \"2d\"\n")
            .replace("offline_after = \"2s\"", "offline_after = \"3s\""),
    )
    .unwrap();
    coordinator.signal("-HUP");
    eventually(
        "the coordinator's reload logged",
        || fleet.log("convoy").contains("config reloaded: backups:"),
        || fleet.log("convoy"),
    );
    let log = fleet.log("convoy");
    assert!(log.contains("-> keep 5, min_retention 2days"), "{log}");
    assert!(log.contains("agents changed but needs a restart"), "{log}");

    std::fs::write(&file, "listen = [").unwrap();
    coordinator.signal("-HUP");
    eventually(
        "the failed reload logged",
        || {
            fleet
                .log("convoy")
                .contains("config reload failed: keeping the running config")
        },
        || fleet.log("convoy"),
    );
    assert!(still_running(&mut coordinator), "{}", fleet.log("convoy"));
    // Still serving.
    assert_eq!(ids(&fleet, ""), ["web-1"]);
}

/// SIGHUP puts new `[[alerts]]` and `[[policies]]` into effect: a rule added by the reload
/// fires, one removed by the next reload is resolved (an event), and a policy added by the
/// reload narrows the operator's next connection.
#[test]
fn sighup_on_the_coordinator_reloads_alerts_and_policies() {
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    let coordinator = fleet.serve();
    let _agent = fleet.agent("web-1");
    fleet.wait_online("", 1);
    let file = fleet.path().join("coordinator.toml");
    let original = std::fs::read_to_string(&file).unwrap();
    let firing = || {
        let alerts = json(&fleet.ok(&["alerts", "-o", "json"]));
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "always" && a["host"] == "web-1")
    };

    // A rule that holds for every online host.
    let rule = "\n[[alerts]]\nname = \"always\"\nexpr = \"load1>=0\"\nseverity = \"info\"\n";
    std::fs::write(&file, format!("{original}{rule}")).unwrap();
    coordinator.signal("-HUP");
    eventually("the reloaded rule fires", firing, || fleet.log("convoy"));
    assert!(
        fleet
            .log("convoy")
            .contains("config reloaded: alerts: 0 rule(s) [] -> 1 rule(s) [always]"),
        "{}",
        fleet.log("convoy")
    );

    // Removed again, and alice may only run backups from her next connection on.
    let policy = "\n[[policies]]\noperators = [\"alice\"]\nverbs = [\"backup\"]\n";
    std::fs::write(&file, format!("{original}{policy}")).unwrap();
    coordinator.signal("-HUP");
    eventually(
        "the removed rule's alert is resolved",
        || {
            let events = fleet.ok(&["events", "--kind", "alert.*", "-o", "json"]);
            events.contains("alert.resolved") && !firing()
        },
        || fleet.log("convoy"),
    );
    let refused = fleet.convoy(&["exec", "hello", "--selector", "role=web"]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("outside your policy"), "{stderr}");
    let who = fleet.ok(&["whoami"]);
    assert!(who.contains("backup"), "{who}");
}

/// The `notify log` deliveries, parsed.
fn deliveries(fleet: &Fleet) -> Vec<serde_json::Value> {
    let log = fleet.ok(&["notify", "log", "-o", "json"]);
    json(&log).as_array().cloned().unwrap_or_default()
}

fn kinds(receiver: &Receiver) -> Vec<String> {
    receiver
        .accepted()
        .iter()
        .map(|r| json_field(&r.body, "kind"))
        .collect()
}

/// SIGHUP puts new `[[notify]]` sinks into effect without a restart: a sink added by a
/// reload gets `convoy notify test` and the events from then on; once removed by the next
/// reload it gets nothing more, and its delivery still pending (its receiver always
/// answers 500) is given up and shown so in `notify log`. The log names sinks, never their
/// URL or secret.
#[test]
fn sighup_on_the_coordinator_reloads_notify_sinks() {
    let hook = Receiver::start(0);
    let stuck = Receiver::start(usize::MAX);
    let later = Receiver::start(0);
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    let coordinator = fleet.serve();
    let agent = fleet.agent("web-1");
    fleet.wait_online("", 1);
    let file = fleet.path().join("coordinator.toml");
    let original = std::fs::read_to_string(&file).unwrap();
    let sink = |name: &str, port: u16| {
        format!(
            "\n[[notify]]\nname = \"{name}\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\nevents = [\"agent.*\"]\nsecret = \"secret-of-{name}\"\n"
        )
    };
    let unknown = fleet.convoy(&["notify", "test", "hook"]);
    assert_ne!(unknown.status.code(), Some(0), "no sink yet");

    std::fs::write(
        &file,
        format!(
            "{original}{}{}",
            sink("hook", hook.port),
            sink("stuck", stuck.port)
        ),
    )
    .unwrap();
    coordinator.signal("-HUP");
    eventually(
        "the notify reload logged",
        || {
            fleet
                .log("convoy")
                .contains("config reloaded: notify: 0 sink(s) [] -> 2 sink(s) [hook, stuck]")
        },
        || fleet.log("convoy"),
    );
    let log = fleet.log("convoy");
    assert!(
        !log.contains("secret-of-") && !log.contains("/hook"),
        "{log}"
    );
    assert!(!log.contains("notify changed but needs a restart"), "{log}");

    // `notify test` knows the new sink, and an event from now on reaches it.
    fleet.ok(&["notify", "test", "hook"]);
    assert!(kinds(&hook).contains(&"notify.test".to_string()));
    drop(agent);
    eventually(
        "agent.offline delivered to the added sink",
        || kinds(&hook).contains(&"agent.offline".to_string()),
        || fleet.log("convoy"),
    );
    eventually(
        "agent.offline attempted on the failing sink",
        || {
            deliveries(&fleet).iter().any(|d| {
                d["sink"] == "stuck"
                    && d["kind"] == "agent.offline"
                    && d["status"] == "pending"
                    && d["attempts"].as_u64() >= Some(1)
            })
        },
        || fleet.log("convoy"),
    );

    // Both removed, another added.
    std::fs::write(&file, format!("{original}{}", sink("later", later.port))).unwrap();
    coordinator.signal("-HUP");
    eventually(
        "the second notify reload logged",
        || {
            fleet
                .log("convoy")
                .contains("notify: 2 sink(s) [hook, stuck] -> 1 sink(s) [later]")
        },
        || fleet.log("convoy"),
    );
    eventually(
        "the removed sink's pending delivery given up",
        || {
            deliveries(&fleet).iter().any(|d| {
                d["sink"] == "stuck"
                    && d["kind"] == "agent.offline"
                    && d["status"] == "failed"
                    && d["last_error"]
                        .as_str()
                        .is_some_and(|e| e.contains("sink removed from the config"))
            })
        },
        || fleet.log("convoy"),
    );
    let _agent = fleet.agent("web-1");
    eventually(
        "agent.back delivered to the new sink",
        || kinds(&later).contains(&"agent.back".to_string()),
        || fleet.log("convoy"),
    );
    // The same append routed it: the removed sinks got no delivery for it.
    assert!(!kinds(&hook).contains(&"agent.back".to_string()));
    let log = deliveries(&fleet);
    assert!(
        !log.iter()
            .any(|d| d["kind"] == "agent.back" && d["sink"] != "later"),
        "{log:?}"
    );
    let gone = fleet.convoy(&["notify", "test", "hook"]);
    assert_ne!(gone.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&gone.stderr);
    assert!(stderr.contains("no [[notify]] sink named"), "{stderr}");
}
