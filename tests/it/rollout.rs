//! Rolling releases with real agents and real artifacts: a bad release stops at the
//! canary and is undone, a good one reaches every host wave by wave, gates halt a bake,
//! operators steer, offline hosts converge late, and bad requests change nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::rollouts_client::RolloutsClient;
use convoy_proto::v1::{
    ControlRolloutRequest, GetRolloutRequest, JobState, ListJobsRequest, ListRolloutsRequest,
    RolloutControl, RolloutSpec, RolloutView, StartRolloutRequest,
};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, wait_for};
use tonic::Code;
use tonic::transport::Channel;

use crate::deploy::{artifact, artifact_with, current, push, run};
use crate::support::fleet_online;

const ROLLOUT_WAIT: Duration = Duration::from_secs(60);

pub(crate) struct Fleet {
    pub(crate) pki: TestPki,
    pub(crate) coordinator: TestCoordinator,
    pub(crate) agents: Vec<(TestAgent, std::path::PathBuf)>,
    pub(crate) admin: AdminClient<Channel>,
    pub(crate) rollouts: RolloutsClient<Channel>,
}

/// `n` web agents (web-1..), labels zone=a for the first half and zone=b for the rest,
/// all on 1.0 (deployed by a plain job), with 2.0 (healthy) and 3.0 (unhealthy) pushed.
pub(crate) async fn fleet(n: usize) -> Fleet {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut agents = Vec::new();
    for i in 1..=n {
        let zone = if i <= n.div_ceil(2) { "a" } else { "b" };
        agents.push(web(&pki, &coordinator.url(), &format!("web-{i}"), zone));
    }
    let operator = pki.operator("alice", Role::Operator);
    let mut admin = coordinator.admin(&pki, &operator).await;
    let rollouts = coordinator.rollouts(&pki, &operator).await;
    fleet_online(&admin, n).await;
    for (version, healthy) in [("1.0", true), ("2.0", true), ("3.0", false)] {
        push(
            &mut admin,
            version,
            &artifact(version, healthy),
            Some(pki.signer()),
        )
        .await
        .unwrap();
    }
    let job = run(&mut admin, crate::deploy::deploy("1.0")).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    Fleet {
        pki,
        coordinator,
        agents,
        admin,
        rollouts,
    }
}

pub(crate) fn spec(version: &str) -> RolloutSpec {
    RolloutSpec {
        app: "web".into(),
        version: version.into(),
        selector: "role=web".into(),
        ..Default::default()
    }
}

pub(crate) async fn start(rollouts: &mut RolloutsClient<Channel>, spec: RolloutSpec) -> String {
    let started = rollouts
        .start_rollout(StartRolloutRequest {
            spec: Some(spec),
            ..Default::default()
        })
        .await
        .expect("start rollout")
        .into_inner();
    assert!(started.id.starts_with("r-"), "{started:?}");
    started.id
}

async fn view(rollouts: &mut RolloutsClient<Channel>, id: &str) -> RolloutView {
    rollouts
        .get_rollout(GetRolloutRequest { id: id.into() })
        .await
        .expect("get rollout")
        .into_inner()
}

/// Waits until rollout `id` is in `state`.
async fn reaches(rollouts: &RolloutsClient<Channel>, id: &str, state: &str) -> RolloutView {
    reaches_within(rollouts, id, state, ROLLOUT_WAIT).await
}

/// Waits up to `wait` until rollout `id` is in `state`.
pub(crate) async fn reaches_within(
    rollouts: &RolloutsClient<Channel>,
    id: &str,
    state: &str,
    wait: Duration,
) -> RolloutView {
    wait_for(&format!("rollout {state}"), wait, || {
        let mut rollouts = rollouts.clone();
        let id = id.to_string();
        let state = state.to_string();
        async move {
            let view = rollouts
                .get_rollout(GetRolloutRequest { id })
                .await
                .ok()?
                .into_inner();
            (view.state().name() == state).then_some(view)
        }
    })
    .await
}

async fn control(
    rollouts: &mut RolloutsClient<Channel>,
    id: &str,
    control: RolloutControl,
) -> Result<RolloutView, tonic::Status> {
    rollouts
        .control_rollout(ControlRolloutRequest {
            id: id.into(),
            control: control.into(),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

fn host_states(view: &RolloutView) -> Vec<Vec<(String, String)>> {
    view.waves
        .iter()
        .map(|w| {
            w.hosts
                .iter()
                .map(|h| (h.host.clone(), h.state().name().to_string()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn a_bad_release_stops_at_the_canary_and_is_rolled_back() {
    let mut f = fleet(3).await;
    let id = start(
        &mut f.rollouts,
        RolloutSpec {
            canary: "1".into(),
            batch: "1".into(),
            on_failure: "rollback".into(),
            auto_promote: true,
            ..spec("3.0")
        },
    )
    .await;
    let done = reaches(&f.rollouts, &id, "rolled_back").await;
    assert_eq!(done.failures, 1);
    assert_eq!(
        host_states(&done),
        vec![
            vec![("web-1".to_string(), "rolled_back".to_string())],
            vec![("web-2".to_string(), "pending".to_string())],
            vec![("web-3".to_string(), "pending".to_string())],
        ]
    );
    assert!(done.waves[0].hosts[0].reason.contains("health"), "{done:?}");
    // The canary is back on 1.0; nobody else was touched.
    for (_, dir) in &f.agents {
        assert_eq!(current(dir), "releases/1.0");
    }
    // The history says so too.
    let history = f
        .rollouts
        .list_rollouts(ListRolloutsRequest {
            app: "web".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .rollouts;
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].state().name(), history[0].failures),
        ("rolled_back", 1)
    );
    f.coordinator.stop().await;
}

#[tokio::test]
async fn a_good_release_reaches_every_host_wave_by_wave() {
    let mut f = fleet(4).await;
    let id = start(
        &mut f.rollouts,
        RolloutSpec {
            canary: "1".into(),
            batch: "2".into(),
            auto_promote: true,
            bake_ms: 300,
            ..spec("2.0")
        },
    )
    .await;
    let done = reaches(&f.rollouts, &id, "succeeded").await;
    let sizes: Vec<usize> = done.waves.iter().map(|w| w.hosts.len()).collect();
    assert_eq!(sizes, vec![1, 2, 1]);
    assert!(
        done.waves.iter().all(|w| w.state().name() == "done"),
        "{done:?}"
    );
    assert!(
        host_states(&done)
            .iter()
            .flatten()
            .all(|(_, state)| state == "succeeded")
    );
    for (_, dir) in &f.agents {
        assert_eq!(current(dir), "releases/2.0");
    }
    // One deploy job per wave, each started after the previous one finished.
    let mut jobs: Vec<_> = f
        .admin
        .list_jobs(ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .jobs
        .into_iter()
        .filter(|j| j.id.starts_with(&id))
        .collect();
    jobs.sort_by_key(|j| j.created_unix_ms);
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    for pair in jobs.windows(2) {
        assert!(
            pair[1].created_unix_ms >= pair[0].finished_unix_ms,
            "{pair:?}"
        );
    }
    // Every host already runs 2.0 healthy: a second rollout has nothing to do.
    let again = start(&mut f.rollouts, spec("2.0")).await;
    let nothing = reaches(&f.rollouts, &again, "succeeded").await;
    assert_eq!((nothing.targets, nothing.already_current.len()), (0, 4));
    f.coordinator.stop().await;
}

#[tokio::test]
async fn operators_promote_pause_resume_and_abort() {
    let mut f = fleet(3).await;
    let id = start(
        &mut f.rollouts,
        RolloutSpec {
            canary: "1".into(),
            batch: "1".into(),
            ..spec("2.0")
        },
    )
    .await;
    let waiting = reaches(&f.rollouts, &id, "awaiting_promotion").await;
    assert_eq!(waiting.waves[1].hosts[0].state().name(), "pending");
    // One active rollout per app: a second start names the first.
    let refused = f
        .rollouts
        .start_rollout(StartRolloutRequest {
            spec: Some(spec("3.0")),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    assert!(refused.message().contains(&id), "{refused:?}");
    // Controls that make no sense now are refused and change nothing.
    let refused = control(&mut f.rollouts, &id, RolloutControl::Resume)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    let paused = control(&mut f.rollouts, &id, RolloutControl::Pause)
        .await
        .unwrap();
    assert_eq!(paused.state().name(), "paused");
    let resumed = control(&mut f.rollouts, &id, RolloutControl::Resume)
        .await
        .unwrap();
    assert_eq!(resumed.state().name(), "awaiting_promotion");
    control(&mut f.rollouts, &id, RolloutControl::Pause)
        .await
        .unwrap();
    // Promoting a paused rollout records the promotion; it moves on when resumed.
    control(&mut f.rollouts, &id, RolloutControl::Promote)
        .await
        .unwrap();
    control(&mut f.rollouts, &id, RolloutControl::Resume)
        .await
        .unwrap();
    let done = reaches(&f.rollouts, &id, "succeeded").await;
    assert!(
        host_states(&done)
            .iter()
            .flatten()
            .all(|(_, s)| s == "succeeded")
    );

    // Abort wins: nothing new starts and nothing is reverted.
    let second = start(
        &mut f.rollouts,
        RolloutSpec {
            canary: "1".into(),
            batch: "1".into(),
            version: "1.0".into(),
            ..spec("1.0")
        },
    )
    .await;
    reaches(&f.rollouts, &second, "awaiting_promotion").await;
    let aborted = control(&mut f.rollouts, &second, RolloutControl::Abort)
        .await
        .unwrap();
    assert_eq!(aborted.state().name(), "aborted");
    let refused = control(&mut f.rollouts, &second, RolloutControl::Promote)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let states: Vec<String> = f.agents.iter().map(|(_, dir)| current(dir)).collect();
    assert_eq!(states, vec!["releases/1.0", "releases/2.0", "releases/2.0"]);
    f.coordinator.stop().await;
}

#[tokio::test]
async fn an_abort_lets_hosts_in_flight_finish_and_records_them() {
    let mut f = fleet(2).await;
    // 4.0's start hook takes a while: the abort lands while the canary deploys.
    let slow = "[hooks]\nstart = [\"/bin/sh\", \"-c\", \"sleep 1\"]\n[health]\ncommand = [\"/bin/sh\", \"-c\", \"test -f healthy\"]\ninterval = \"50ms\"\nretries = 3\ndeadline = \"5s\"\n";
    push(
        &mut f.admin,
        "4.0",
        &artifact_with("4.0", true, slow),
        Some(f.pki.signer()),
    )
    .await
    .unwrap();
    let id = start(
        &mut f.rollouts,
        RolloutSpec {
            canary: "1".into(),
            auto_promote: true,
            ..spec("4.0")
        },
    )
    .await;
    let aborted = control(&mut f.rollouts, &id, RolloutControl::Abort)
        .await
        .unwrap();
    assert_eq!(aborted.state().name(), "aborted");
    assert_eq!(
        aborted.waves[0].hosts[0].state().name(),
        "deploying",
        "{aborted:?}"
    );
    // The canary's deploy finishes and is recorded; the next wave never starts.
    let done = wait_for("the in-flight deploy is recorded", ROLLOUT_WAIT, || {
        let mut rollouts = f.rollouts.clone();
        let id = id.clone();
        async move {
            let view = view(&mut rollouts, &id).await;
            (view.waves[0].hosts[0].state().name() == "succeeded").then_some(view)
        }
    })
    .await;
    assert_eq!(done.state().name(), "aborted");
    assert_eq!(done.waves[1].hosts[0].state().name(), "pending");
    assert_eq!(current(&f.agents[0].1), "releases/4.0");
    assert_eq!(current(&f.agents[1].1), "releases/1.0");
    // Issue 19: the aborted rollout can be rolled back as a rollout, so the fleet does not
    // stay on mixed versions.
    let rolling = control(&mut f.rollouts, &id, RolloutControl::Rollback)
        .await
        .unwrap();
    assert_eq!(rolling.state().name(), "rolling_back", "{rolling:?}");
    reaches(&f.rollouts, &id, "rolled_back").await;
    assert_eq!(current(&f.agents[0].1), "releases/1.0");
    let again = control(&mut f.rollouts, &id, RolloutControl::Rollback)
        .await
        .unwrap_err();
    assert!(again.message().contains("already rolled back"), "{again:?}");
    f.coordinator.stop().await;
}

#[tokio::test]
async fn a_failing_gate_during_bake_halts_the_rollout() {
    let mut f = fleet(3).await;
    let id = start(
        &mut f.rollouts,
        RolloutSpec {
            canary: "1".into(),
            batch: "1".into(),
            bake_ms: 30_000,
            // Any real host uses more than 0.001% of its memory.
            gates: vec!["mem<0.001".into()],
            auto_promote: true,
            ..spec("2.0")
        },
    )
    .await;
    let halted = reaches(&f.rollouts, &id, "paused").await;
    assert_eq!(halted.failures, 1);
    let canary = &halted.waves[0].hosts[0];
    assert_eq!(canary.state().name(), "failed");
    assert!(canary.reason.contains("mem"), "{canary:?}");
    assert!(halted.waiting_for.contains("budget"), "{halted:?}");
    // Nothing beyond the canary moved.
    assert_eq!(current(&f.agents[1].1), "releases/1.0");
    // The operator decides: roll back.
    control(&mut f.rollouts, &id, RolloutControl::Rollback)
        .await
        .unwrap();
    reaches(&f.rollouts, &id, "rolled_back").await;
    assert_eq!(current(&f.agents[0].1), "releases/1.0");
    f.coordinator.stop().await;
}

#[tokio::test]
async fn group_by_goes_zone_by_zone() {
    let mut f = fleet(4).await;
    let id = start(
        &mut f.rollouts,
        RolloutSpec {
            canary: "1".into(),
            batch: "1".into(),
            group_by: "zone".into(),
            auto_promote: true,
            ..spec("2.0")
        },
    )
    .await;
    let done = reaches(&f.rollouts, &id, "succeeded").await;
    let groups: Vec<&str> = done.waves.iter().map(|w| w.group.as_str()).collect();
    assert_eq!(groups, vec!["a", "a", "b", "b"]);
    let hosts: Vec<Vec<(String, String)>> = host_states(&done);
    assert_eq!(hosts[0][0].0, "web-1");
    assert_eq!(hosts[2][0].0, "web-3");
    f.coordinator.stop().await;
}

#[tokio::test]
async fn an_offline_host_converges_when_it_returns() {
    let pki_fleet = fleet(2).await;
    let Fleet {
        pki,
        coordinator,
        mut agents,
        admin,
        mut rollouts,
    } = pki_fleet;
    // web-2 goes away before the rollout.
    let (web2, dir2) = agents.pop().unwrap();
    web2.stop().await;
    fleet_online(&admin, 1).await;
    let id = start(
        &mut rollouts,
        RolloutSpec {
            offline: "skip".into(),
            auto_promote: true,
            ..spec("2.0")
        },
    )
    .await;
    let done = reaches(&rollouts, &id, "succeeded").await;
    let states: Vec<(String, String)> = host_states(&done).into_iter().flatten().collect();
    assert!(
        states.contains(&("web-2".to_string(), "skipped".to_string())),
        "{states:?}"
    );
    assert_eq!(current(&dir2), "releases/1.0");
    // It comes back: it gets the version the rollout established.
    let (_web2, dir2) = web(&pki, &coordinator.url(), "web-2", "b");
    let late = wait_for("late convergence", ROLLOUT_WAIT, || {
        let mut rollouts = rollouts.clone();
        let id = id.clone();
        async move {
            let view = view(&mut rollouts, &id).await;
            view.late
                .iter()
                .any(|h| h.host == "web-2" && h.state().name() == "succeeded")
                .then_some(view)
        }
    })
    .await;
    assert_eq!(late.state().name(), "succeeded");
    assert_eq!(current(&dir2), "releases/2.0");
    coordinator.stop().await;
}

/// A web agent (role=web, the given zone) that names app `web`; and its app dir.
fn web(pki: &TestPki, url: &str, id: &str, zone: &str) -> (TestAgent, std::path::PathBuf) {
    let mut config = TestAgent::config(pki, url, id, &[("role", "web"), ("zone", zone)]);
    config.apps = BTreeMap::from([("web".to_string(), Default::default())]);
    let dir = config.data_dir.join("apps/web");
    (TestAgent::start_with(config), dir)
}

#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    let mut f = fleet(2).await;
    let cases: Vec<(RolloutSpec, Code, &str)> = vec![
        (
            RolloutSpec {
                gates: vec!["cpu<<9".into()],
                ..spec("2.0")
            },
            Code::InvalidArgument,
            "gate",
        ),
        (
            RolloutSpec {
                canary: "0".into(),
                ..spec("2.0")
            },
            Code::InvalidArgument,
            "canary",
        ),
        (
            RolloutSpec {
                steps: "50%,10%".into(),
                ..spec("2.0")
            },
            Code::InvalidArgument,
            "cumulative",
        ),
        (
            RolloutSpec {
                steps: "1,50%".into(),
                ..spec("2.0")
            },
            Code::InvalidArgument,
            "100%",
        ),
        (
            RolloutSpec {
                selector: "role in (".into(),
                ..spec("2.0")
            },
            Code::InvalidArgument,
            "selector",
        ),
        (
            RolloutSpec {
                selector: "role=db".into(),
                ..spec("2.0")
            },
            Code::InvalidArgument,
            "no agents",
        ),
        (
            RolloutSpec {
                on_failure: "explode".into(),
                ..spec("2.0")
            },
            Code::InvalidArgument,
            "on-failure",
        ),
        (spec("9.9"), Code::NotFound, "9.9"),
        (
            RolloutSpec {
                app: "api".into(),
                ..spec("2.0")
            },
            Code::NotFound,
            "api",
        ),
        (
            RolloutSpec {
                app: "Bad App".into(),
                ..spec("2.0")
            },
            Code::InvalidArgument,
            "app",
        ),
    ];
    for (spec, code, needle) in cases {
        let err = f
            .rollouts
            .start_rollout(StartRolloutRequest {
                spec: Some(spec.clone()),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{spec:?}: {err:?}");
        assert!(err.message().contains(needle), "{spec:?}: {err:?}");
    }
    let unknown = control(&mut f.rollouts, "r-nope", RolloutControl::Abort)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    // A viewer may plan and read, not start.
    let viewer = f.pki.operator("victor", Role::Viewer);
    let mut as_viewer = f.coordinator.rollouts(&f.pki, &viewer).await;
    let plan = as_viewer
        .start_rollout(StartRolloutRequest {
            spec: Some(spec("2.0")),
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(plan.id.is_empty());
    assert!(plan.plan[0].contains("2 to update"), "{plan:?}");
    let denied = as_viewer
        .start_rollout(StartRolloutRequest {
            spec: Some(spec("2.0")),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let none = f
        .rollouts
        .list_rollouts(ListRolloutsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .rollouts;
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(current(&f.agents[0].1), "releases/1.0");
    f.coordinator.stop().await;
}

/// Issue 19 point 10: a cordoned host is skipped with a line in the plan; a removed host
/// does not make the rollout wait out its offline timeout.
#[tokio::test]
async fn rollouts_skip_cordoned_hosts_and_do_not_wait_for_removed_ones() {
    use convoy_proto::v1::{CordonAgentRequest, RemoveAgentRequest};
    let mut f = fleet(3).await;
    f.admin
        .cordon_agent(CordonAgentRequest {
            id: "web-2".into(),
            cordoned: true,
        })
        .await
        .unwrap();
    // web-3 goes away; with `--offline wait` (10 minutes) the rollout would wait for it.
    let (gone, _) = f.agents.pop().unwrap();
    gone.stop().await;
    wait_for("web-3 offline", ROLLOUT_WAIT, || {
        let mut admin = f.admin.clone();
        async move {
            let agents = crate::support::list(&mut admin, "id=web-3").await;
            (!crate::support::online(&agents[0])).then_some(())
        }
    })
    .await;
    let started = f
        .rollouts
        .start_rollout(StartRolloutRequest {
            spec: Some(RolloutSpec {
                canary: "1".into(),
                batch: "100%".into(),
                auto_promote: true,
                ..spec("2.0")
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        started
            .plan
            .iter()
            .any(|l| l == "1 matching host cordoned, skipped: web-2"),
        "{:?}",
        started.plan
    );
    let planned: Vec<String> = host_states(started.rollout.as_ref().unwrap())
        .into_iter()
        .flatten()
        .map(|(h, _)| h)
        .collect();
    assert!(!planned.contains(&"web-2".to_string()), "{planned:?}");
    let mut root = f
        .coordinator
        .admin(&f.pki, &f.pki.operator("root", Role::Admin))
        .await;
    let removed = root
        .remove_agent(RemoveAgentRequest {
            id: "web-3".into(),
            force: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!removed.was_online);
    let done = reaches(&f.rollouts, &started.id, "succeeded").await;
    let web3 = done
        .waves
        .iter()
        .flat_map(|w| &w.hosts)
        .find(|h| h.host == "web-3")
        .unwrap();
    assert!(
        matches!(web3.state().name(), "unreachable" | "skipped"),
        "{web3:?}"
    );
    assert_eq!(web3.reason, "removed from the fleet");
    assert_eq!(current(&f.agents[0].1), "releases/2.0");
    assert_eq!(
        current(&f.agents[1].1),
        "releases/1.0",
        "cordoned: untouched"
    );
    for (agent, _) in f.agents {
        agent.stop().await;
    }
    f.coordinator.stop().await;
}
