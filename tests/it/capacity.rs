//! Capacity and scaling (issue 16 points 4 and 5) through the real coordinator: swarm
//! agents report set load profiles, the history keeps them, and the capacity report and
//! the `[[scaling]]` evaluator read them back. The history writes a minute when it closes,
//! so the first numbers come up to a minute after the agents start: the waits are long,
//! and every wait has a deadline.

use std::path::Path;
use std::time::Duration;

use convoy_coordinator::config::Config;
use convoy_coordinator::config::scaling::{CommandLine, ScalingPolicy};
use convoy_proto::identity::Role;
use convoy_proto::v1::monitor_client::MonitorClient;
use convoy_proto::v1::{
    CapacityReportRequest, CapacityReportResponse, Event, ListEventsRequest, ScalingStatusRequest,
};
use convoy_tests::swarm::{Swarm, SwarmConfig};
use convoy_tests::{TestCoordinator, TestPki, channel, wait_for};
use tonic::Code;
use tonic::transport::Channel;

/// A minute for the history to close the first minute of samples, and some slack.
const HISTORY_WAIT: Duration = Duration::from_secs(150);

/// A swarm of `profiles.len()` agents, agent `i` reporting `profiles[i]` as (cpu %, mem %).
/// They reconnect after a coordinator restart.
async fn swarm(coordinator: &TestCoordinator, pki: &TestPki, profiles: &[(f64, f64)]) -> Swarm {
    let mut swarm = Swarm::start(SwarmConfig {
        heartbeat: Duration::from_millis(500),
        source_addresses: 0,
        reconnect: true,
        load: std::sync::Arc::new(std::sync::Mutex::new(profiles.to_vec())),
        ..SwarmConfig::new(coordinator.url(), pki.dir(), profiles.len())
    })
    .await
    .expect("swarm starts");
    let n = profiles.len();
    let progress = swarm
        .wait(Duration::from_secs(20), |p| p.connected == n)
        .await;
    assert_eq!(progress.connected, n, "{progress:?}");
    swarm
}

async fn viewer(coordinator: &TestCoordinator, pki: &TestPki) -> MonitorClient<Channel> {
    let vera = pki.operator("vera", Role::Viewer);
    MonitorClient::new(
        channel(&coordinator.url(), &pki.ca_cert(), Some(&vera))
            .await
            .expect("viewer channel"),
    )
}

fn request(target: f64) -> CapacityReportRequest {
    CapacityReportRequest {
        selector: "role=sim".into(),
        since_ms: 10 * 60_000,
        target,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_capacity_report_names_hot_and_idle_hosts_and_sizes_the_group_by_the_target() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    // sim-0 hot on cpu, sim-1 idle, sim-2 busy but not hot, sim-3 hot on memory.
    let swarm = swarm(
        &coordinator,
        &pki,
        &[(95.0, 40.0), (3.0, 5.0), (50.0, 50.0), (30.0, 90.0)],
    )
    .await;
    let mut monitor = viewer(&coordinator, &pki).await;
    let report: CapacityReportResponse =
        wait_for("every host in the history", HISTORY_WAIT, || {
            let mut monitor = monitor.clone();
            async move {
                let report = monitor
                    .capacity_report(request(0.0))
                    .await
                    .ok()?
                    .into_inner();
                (report.groups.first()?.hosts_with_data == 4).then_some(report)
            }
        })
        .await;
    assert_eq!(report.groups.len(), 1, "{report:?}");
    let group = &report.groups[0];
    assert_eq!((group.name.as_str(), group.hosts), ("role=sim", 4));
    assert_eq!(group.hot, ["sim-0", "sim-3"], "{group:?}");
    assert_eq!(group.idle, ["sim-1"], "{group:?}");
    let cpu = group.cpu.expect("cpu");
    assert!((cpu.p95 - 95.0).abs() < 0.01, "{cpu:?}");
    // The default target is 0.6: p95 95 % (cpu, busier than mem's 90 %) on 4 hosts needs
    // ceil(4 × 95 / 60) = 7.
    assert_eq!(report.target, 0.6);
    assert_eq!(
        (group.recommended_hosts, group.sized_by.as_str()),
        (Some(7), "cpu")
    );
    // The recommendation follows the target.
    for (target, needed) in [(0.5, 8), (0.95, 4), (1.0, 4), (0.25, 16)] {
        let report = monitor
            .capacity_report(request(target))
            .await
            .expect("report")
            .into_inner();
        assert_eq!(
            report.groups[0].recommended_hosts,
            Some(needed),
            "target {target}"
        );
    }
    // One group per value of a label; a host without it is a group of its own name.
    let by_role = monitor
        .capacity_report(CapacityReportRequest {
            group_by: "role".into(),
            ..request(0.0)
        })
        .await
        .expect("grouped")
        .into_inner();
    let names: Vec<&str> = by_role.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["sim"]);
    let by_zone = monitor
        .capacity_report(CapacityReportRequest {
            group_by: "zone".into(),
            ..request(0.0)
        })
        .await
        .expect("grouped")
        .into_inner();
    assert_eq!(by_zone.groups[0].name, "(no zone)");
    // Bad input is refused and names what is wrong.
    for (bad, words) in [
        (
            CapacityReportRequest {
                selector: "role==".into(),
                ..request(0.0)
            },
            "selector",
        ),
        (
            CapacityReportRequest {
                group_by: "Not A Label".into(),
                ..request(0.0)
            },
            "not a label key",
        ),
        (request(1.5), "--target"),
        (
            CapacityReportRequest {
                since_ms: 5_000,
                ..request(0.0)
            },
            "--since",
        ),
    ] {
        let status = monitor.capacity_report(bad).await.expect_err(words);
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(words), "{status:?}");
    }
    swarm.stop().await;
    coordinator.stop().await;
}

/// A live policy over the swarm's hosts: cpu against `target`, the command given.
fn policy(name: &str, target: f64, cooldown: Duration, command: Option<String>) -> ScalingPolicy {
    let text = format!(
        "data_dir = \"/tmp\"\n[tls]\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n[[scaling]]\n\
         name = \"{name}\"\nselector = \"role=sim\"\nmetric = \"cpu\"\ntarget = {target}\n\
         min = 1\nmax = 20\ncooldown = \"{}\"\ninterval = \"1s\"\nwindow = \"2m\"\n",
        humantime::format_duration(cooldown)
    );
    let config = Config::parse(&text, Path::new("/")).expect("policy parses");
    let mut policy = config.scaling.into_iter().next().expect("one policy");
    if let Some(command) = command {
        policy.config.command = Some(CommandLine::Shell(command));
        policy.config.dry_run = false;
    }
    policy
}

/// A command that appends its `CONVOY_SCALE_*` variables to `file`, one run per block.
fn env_to(file: &Path) -> String {
    format!(
        "{{ env | grep '^CONVOY_SCALE_' | sort; echo ---; }} >> '{}'",
        file.display()
    )
}

/// The `CONVOY_SCALE_*` variables of each run the file records.
fn runs(file: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.split("---\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| block.lines().map(str::to_string).collect())
        .collect()
}

async fn events(monitor: &MonitorClient<Channel>, kind: &str) -> Vec<Event> {
    monitor
        .clone()
        .list_events(ListEventsRequest {
            kind: kind.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().events)
        .unwrap_or_default()
}

/// Waits until at least `n` events of `kind` are in the log.
async fn at_least(
    monitor: &MonitorClient<Channel>,
    kind: &str,
    n: usize,
    within: Duration,
) -> Vec<Event> {
    wait_for(&format!("{n} {kind} event(s)"), within, || async move {
        let found = events(monitor, kind).await;
        (found.len() >= n).then_some(found)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_scales_to_its_target_once_per_cooldown_and_its_command_gets_the_variables() {
    let pki = TestPki::new();
    let file = pki.dir().join("scale-runs.txt");
    let cooldown = Duration::from_secs(4);
    let web = policy("web", 50.0, cooldown, Some(env_to(&file)));
    let coordinator = TestCoordinator::start_configured(&pki, |config| {
        config.scaling = vec![web];
    })
    .await;
    // Two hosts at 100 % cpu against a target of 50 %: the group should double.
    let swarm = swarm(&coordinator, &pki, &[(100.0, 20.0), (100.0, 20.0)]).await;
    let monitor = viewer(&coordinator, &pki).await;
    let first = at_least(&monitor, "scale.succeeded", 1, HISTORY_WAIT).await;
    let run = &runs(&file)[0];
    for expected in [
        "CONVOY_SCALE_CURRENT=2",
        "CONVOY_SCALE_DESIRED=4",
        "CONVOY_SCALE_GROUP=web",
        "CONVOY_SCALE_METRIC=cpu",
        "CONVOY_SCALE_VALUE=100.0000",
    ] {
        assert!(
            run.contains(&expected.to_string()),
            "{expected} not in {run:?}"
        );
    }
    assert_eq!(first[0].fields["desired"], "4", "{first:?}");
    // Evaluations every second meanwhile: the cooldown holds the next action, and says so
    // once.
    let held = at_least(&monitor, "scale.cooldown", 1, Duration::from_secs(10)).await;
    assert!(held[0].at_unix_ms < first[0].at_unix_ms + cooldown.as_millis() as i64);
    at_least(&monitor, "scale.succeeded", 2, Duration::from_secs(30)).await;
    let decided = events(&monitor, "scale.decided").await;
    assert!(decided.len() >= 2, "{decided:?}");
    let at = |e: &Event| e.fields["at_unix_ms"].parse::<i64>().expect("at_unix_ms");
    for pair in decided.windows(2) {
        let gap = at(&pair[1]) - at(&pair[0]);
        assert!(
            gap >= cooldown.as_millis() as i64,
            "two actions {gap} ms apart: {decided:?}"
        );
    }
    assert!(runs(&file).len() >= 2);
    // The status shows the policy, its last action and when the next may come.
    let status = monitor
        .clone()
        .scaling_status(ScalingStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    let web = &status.policies[0];
    assert_eq!(
        (web.name.as_str(), web.metric.as_str(), web.dry_run),
        ("web", "cpu", false)
    );
    assert_eq!((web.current, web.desired), (2, Some(4)), "{web:?}");
    assert!(
        web.value.is_some_and(|v| (v - 100.0).abs() < 0.01),
        "{web:?}"
    );
    let last = web.last_action.as_ref().expect("last action");
    assert!(!last.dry_run && last.desired == 4, "{last:?}");
    swarm.stop().await;
    coordinator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cooldown_survives_a_coordinator_restart() {
    let pki = TestPki::new();
    let file = pki.dir().join("scale-runs.txt");
    let web = policy("web", 50.0, Duration::from_secs(3600), Some(env_to(&file)));
    let data_dir = pki.dir().join("data-restart");
    let again = web.clone();
    let coordinator = TestCoordinator::start_in_configured(
        &pki,
        &data_dir,
        "127.0.0.1:0".parse().expect("addr"),
        |config| config.scaling = vec![web],
    )
    .await;
    let addr = coordinator.addr;
    let swarm = swarm(&coordinator, &pki, &[(100.0, 20.0), (100.0, 20.0)]).await;
    let monitor = viewer(&coordinator, &pki).await;
    let first = at_least(&monitor, "scale.succeeded", 1, HISTORY_WAIT).await;
    coordinator.stop().await;
    let coordinator = TestCoordinator::start_in_configured(&pki, &data_dir, addr, |config| {
        config.scaling = vec![again];
    })
    .await;
    let monitor = viewer(&coordinator, &pki).await;
    // The agents reconnect; the restarted coordinator wants to scale again but is held by
    // the cooldown of the action taken before the restart.
    let held = wait_for(
        "a cooldown after the restart",
        Duration::from_secs(60),
        || {
            let monitor = monitor.clone();
            let after = first[0].seq;
            async move {
                let held = events(&monitor, "scale.cooldown").await;
                held.into_iter().find(|e| e.seq > after)
            }
        },
    )
    .await;
    let until: i64 = held.fields["until_unix_ms"].parse().expect("until");
    let acted: i64 = first[0].fields["at_unix_ms"].parse().expect("at");
    assert_eq!(until, acted + 3_600_000, "{held:?}");
    assert_eq!(events(&monitor, "scale.decided").await.len(), 1);
    assert_eq!(runs(&file).len(), 1, "the command ran once");
    swarm.stop().await;
    coordinator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_policy_records_its_decision_and_runs_nothing() {
    let pki = TestPki::new();
    let file = pki.dir().join("scale-runs.txt");
    // dry_run is the default: the command is configured but must not run.
    let mut web = policy("web", 25.0, Duration::from_secs(3600), Some(env_to(&file)));
    web.config.dry_run = true;
    let coordinator = TestCoordinator::start_configured(&pki, |config| {
        config.scaling = vec![web];
    })
    .await;
    let swarm = swarm(&coordinator, &pki, &[(100.0, 20.0), (100.0, 20.0)]).await;
    let monitor = viewer(&coordinator, &pki).await;
    let decided = at_least(&monitor, "scale.dry_run", 1, HISTORY_WAIT).await;
    // 2 hosts at 100 % against 25 %: 8.
    assert_eq!(decided[0].fields["desired"], "8", "{decided:?}");
    assert_eq!(decided[0].fields["dry_run"], "true");
    let status = monitor
        .clone()
        .scaling_status(ScalingStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    let last = status.policies[0].last_action.clone().expect("recorded");
    assert!(last.dry_run && last.result.contains("dry run"), "{last:?}");
    assert!(status.policies[0].next_action_unix_ms > last.at_unix_ms);
    assert!(events(&monitor, "scale.decided").await.is_empty());
    assert!(!file.exists(), "a dry run ran the command");
    // The decision is in the audit log, as the coordinator's own call.
    let admin = pki.operator("ada", Role::Admin);
    let audit = coordinator
        .admin(&pki, &admin)
        .await
        .list_audit(convoy_proto::v1::ListAuditRequest::default())
        .await
        .expect("audit")
        .into_inner()
        .entries;
    let scale = audit
        .iter()
        .find(|e| e.call == "Scale")
        .expect("a Scale entry");
    assert_eq!(
        (scale.operator.as_str(), scale.role.as_str()),
        ("coordinator", "scaling")
    );
    assert!(scale.request.contains("policy=web") && scale.request.contains("desired=8"));
    assert!(scale.outcome.contains("dry run"), "{scale:?}");
    swarm.stop().await;
    coordinator.stop().await;
}
