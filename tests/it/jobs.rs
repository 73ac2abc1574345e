//! Durable commands and jobs, end to end in one process: a real coordinator and real
//! agents running real child processes over loopback mTLS.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use convoy_agent::config::ActionConfig;
use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{
    CancelJobRequest, CommandState, GetCommandOutputRequest, GetJobRequest, Job, JobState,
    ListAuditRequest, StartJobRequest,
};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, fast_agents, wait_for};
use tonic::Code;
use tonic::transport::Channel;

use crate::support::{WAIT, finished, fleet_online};

pub(crate) fn sh(script: &str, timeout: Duration) -> ActionConfig {
    ActionConfig {
        run: vec!["/bin/sh".into(), "-c".into(), script.into()],
        timeout,
        env: BTreeMap::new(),
        working_dir: None,
        kill_grace: Duration::from_millis(300),
        params: BTreeMap::new(),
    }
}

pub(crate) fn actions(list: &[(&str, ActionConfig)]) -> BTreeMap<String, ActionConfig> {
    list.iter()
        .map(|(name, a)| ((*name).to_string(), a.clone()))
        .collect()
}

pub(crate) async fn start(
    admin: &mut AdminClient<Channel>,
    action: &str,
    concurrency: &str,
    max_errors: &str,
) -> Job {
    admin
        .start_job(StartJobRequest {
            action: action.into(),
            concurrency: concurrency.into(),
            max_errors: max_errors.into(),
            ..Default::default()
        })
        .await
        .expect("start job")
        .into_inner()
}

/// Waits (with the suite's deadline) until the first host of job `id` runs its command.
pub(crate) async fn first_host_running(admin: &AdminClient<Channel>, id: &str) {
    wait_for("the command running", WAIT, || {
        let mut admin = admin.clone();
        let id = id.to_string();
        async move {
            let job = admin
                .get_job(GetJobRequest { id, tail_bytes: 0 })
                .await
                .ok()?
                .into_inner();
            (job.hosts[0].state == CommandState::Running as i32).then_some(())
        }
    })
    .await;
}

fn host_state(job: &Job, host: &str) -> CommandState {
    CommandState::try_from(
        job.hosts
            .iter()
            .find(|h| h.host == host)
            .expect("host")
            .state,
    )
    .unwrap()
}

fn read_times(dir: &Path, id: &str) -> (u128, u128) {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(format!("{id}.{name}")))
            .unwrap()
            .trim()
            .parse::<u128>()
            .unwrap()
    };
    (read("start"), read("end"))
}

#[tokio::test]
async fn concurrency_one_never_overlaps_and_output_is_kept() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let marks = tempfile::tempdir().unwrap();
    let ids = ["a-1", "a-2", "a-3"];
    let agents: Vec<TestAgent> = ids
        .iter()
        .map(|id| {
            let script = format!(
                "date +%s%N > {dir}/{id}.start; echo hello from {id}; sleep 0.3; date +%s%N > {dir}/{id}.end",
                dir = marks.path().display()
            );
            TestAgent::start_with_actions(&pki, &coordinator.url(), id, &[], actions(&[("stamp", sh(&script, Duration::from_secs(10)))]))
        })
        .collect();
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 3).await;
    let job = start(&mut admin, "stamp", "1", "").await;
    let job = finished(&admin, &job.id).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    let mut spans: Vec<(u128, u128)> = ids.iter().map(|id| read_times(marks.path(), id)).collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "runs overlap: {spans:?}");
    }
    for host in &job.hosts {
        assert_eq!(host.exit_code, Some(0));
        assert_eq!(
            String::from_utf8_lossy(&host.output_tail),
            format!("hello from {}\n", host.host)
        );
    }
    for agent in agents {
        agent.stop().await;
    }
    coordinator.stop().await;
}

#[tokio::test]
async fn max_errors_stops_new_starts_and_unknown_actions_are_rejected() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let agents: Vec<TestAgent> = ["f-1", "f-2", "f-3", "f-4"]
        .iter()
        .map(|id| {
            TestAgent::start_with_actions(
                &pki,
                &coordinator.url(),
                id,
                &[],
                actions(&[("fail", sh("echo oops >&2; exit 3", Duration::from_secs(5)))]),
            )
        })
        .collect();
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 4).await;
    let started = start(&mut admin, "fail", "1", "1").await;
    let job = finished(&admin, &started.id).await;
    assert_eq!(job.state, JobState::Failed as i32);
    let counts = job.counts.unwrap();
    assert_eq!((counts.errors, counts.cancelled), (2, 2), "{job:?}");
    for host in job
        .hosts
        .iter()
        .filter(|h| h.state == CommandState::Failed as i32)
    {
        assert_eq!(host.exit_code, Some(3));
        assert_eq!(host.output_tail, b"oops\n");
    }
    for host in job
        .hosts
        .iter()
        .filter(|h| h.state == CommandState::Cancelled as i32)
    {
        assert!(host.message.contains("--max-errors"), "{}", host.message);
        assert_eq!(host.started_unix_ms, 0, "never started");
    }

    // An action no target allows is refused up front and creates nothing.
    let refused = admin
        .start_job(StartJobRequest {
            action: "rm-rf".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("unknown action \"rm-rf\"")
            && refused.message().contains("fail"),
        "{}",
        refused.message()
    );
    // One that only some targets allow goes to those only (issue 19); the others are
    // named as left out, never sent it, and do not fail the job.
    let other = TestAgent::start_with_actions(
        &pki,
        &coordinator.url(),
        "g-1",
        &[],
        actions(&[("other", sh("true", Duration::from_secs(5)))]),
    );
    fleet_online(&admin, 5).await;
    let started = start(&mut admin, "other", "", "100%").await;
    let job = finished(&admin, &started.id).await;
    assert_eq!(host_state(&job, "g-1"), CommandState::Succeeded);
    assert_eq!(job.hosts.len(), 1, "{job:?}");
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    assert_eq!(started.left_out, ["f-1", "f-2", "f-3", "f-4"]);
    other.stop().await;
    for agent in agents {
        agent.stop().await;
    }
    coordinator.stop().await;
}

#[tokio::test]
async fn a_timeout_ends_the_whole_process_tree_and_cancel_stops_a_job() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let marks = tempfile::tempdir().unwrap();
    let stubborn = format!(
        "trap '' TERM; sh -c 'trap \"\" TERM; sleep 1000' & echo $! > {}/grandchild; wait",
        marks.path().display()
    );
    let agent = TestAgent::start_with_actions(
        &pki,
        &coordinator.url(),
        "t-1",
        &[],
        actions(&[
            ("stubborn", sh(&stubborn, Duration::from_millis(700))),
            ("long", sh("sleep 1000", Duration::from_secs(600))),
        ]),
    );
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 1).await;
    let started = start(&mut admin, "stubborn", "", "").await;
    let job = finished(&admin, &started.id).await;
    assert_eq!(host_state(&job, "t-1"), CommandState::TimedOut, "{job:?}");
    assert!(
        job.hosts[0].message.contains("SIGKILL"),
        "{}",
        job.hosts[0].message
    );
    let grandchild: i32 = std::fs::read_to_string(marks.path().join("grandchild"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_for("grandchild gone", WAIT, || async move {
        let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for init to reap it.
        (stat.is_empty() || stat.contains(") Z ")).then_some(())
    })
    .await;

    let job = start(&mut admin, "long", "", "").await;
    first_host_running(&admin, &job.id).await;
    admin
        .cancel_job(CancelJobRequest { id: job.id.clone() })
        .await
        .unwrap();
    let job = finished(&admin, &job.id).await;
    assert_eq!(job.state, JobState::Cancelled as i32);
    assert_eq!(host_state(&job, "t-1"), CommandState::Cancelled);
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn a_coordinator_restart_mid_job_loses_no_output_and_the_job_completes() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let (addr, data_dir) = (coordinator.addr, coordinator.data_dir.clone());
    let script = "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); sleep 0.005; done";
    let agents: Vec<TestAgent> = ["r-1", "r-2"]
        .iter()
        .map(|id| {
            TestAgent::start_with_actions(
                &pki,
                &coordinator.url(),
                id,
                &[],
                actions(&[("count", sh(script, Duration::from_secs(30)))]),
            )
        })
        .collect();
    let operator = pki.operator("alice", Role::Operator);
    let mut admin = coordinator.admin(&pki, &operator).await;
    fleet_online(&admin, 2).await;
    let job = start(&mut admin, "count", "", "").await;
    // Let output start flowing, then take the coordinator away mid-job.
    wait_for("output flowing", WAIT, || {
        let mut admin = admin.clone();
        let id = job.id.clone();
        async move {
            let job = admin
                .get_job(GetJobRequest { id, tail_bytes: 0 })
                .await
                .ok()?
                .into_inner();
            job.hosts
                .iter()
                .all(|h| h.output_stored_bytes > 0)
                .then_some(())
        }
    })
    .await;
    coordinator.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let coordinator = TestCoordinator::start_in(&pki, &data_dir, addr, fast_agents()).await;
    let admin = coordinator.admin(&pki, &operator).await;
    let job = finished(&admin, &job.id).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    let expected: String = (0..300).map(|i| format!("line {i}\n")).collect();
    for host in ["r-1", "r-2"] {
        let out = admin
            .clone()
            .get_command_output(GetCommandOutputRequest {
                job_id: job.id.clone(),
                host: host.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(String::from_utf8_lossy(&out.data), expected, "{host}");
        assert!(!out.output_truncated);
    }
    for agent in agents {
        agent.stop().await;
    }
    coordinator.stop().await;
}

#[tokio::test]
async fn output_over_the_cap_is_marked_truncated() {
    let pki = TestPki::new();
    let jobs = convoy_coordinator::config::JobsConfig {
        output_cap_bytes: 1000,
    };
    let coordinator = TestCoordinator::start_with(&pki, fast_agents(), jobs).await;
    let agent = TestAgent::start_with_actions(
        &pki,
        &coordinator.url(),
        "o-1",
        &[],
        actions(&[(
            "chatty",
            sh(
                "head -c 5000 /dev/zero | tr '\\0' x",
                Duration::from_secs(10),
            ),
        )]),
    );
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 1).await;
    let started = start(&mut admin, "chatty", "", "").await;
    let job = finished(&admin, &started.id).await;
    let host = &job.hosts[0];
    assert_eq!(host.state, CommandState::Succeeded as i32);
    assert!(host.output_truncated);
    assert_eq!((host.output_stored_bytes, host.output_bytes), (1000, 5000));
    // The tail is kept: the GetJob tail ends where the output ended.
    assert!(host.output_tail.ends_with(b"xxx"));
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn viewers_cannot_start_jobs_and_every_attempt_is_audited() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let agent = TestAgent::start_with_actions(
        &pki,
        &coordinator.url(),
        "v-1",
        &[],
        actions(&[("noop", sh("true", Duration::from_secs(5)))]),
    );
    let mut viewer = coordinator
        .admin(&pki, &pki.operator("vera", Role::Viewer))
        .await;
    let mut operator = coordinator
        .admin(&pki, &pki.operator("otto", Role::Operator))
        .await;
    fleet_online(&viewer, 1).await;
    let refused = viewer
        .start_job(StartJobRequest {
            action: "noop".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    // Bad requests are refused, audited, and create nothing.
    for (action, selector, concurrency) in [
        ("noop", "role=none", ""),
        ("noop", "", "0"),
        ("noop", "", "150%"),
        ("noop", "x in (", ""),
    ] {
        let status = operator
            .start_job(StartJobRequest {
                action: action.into(),
                selector: selector.into(),
                concurrency: concurrency.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{selector} {concurrency}: {status:?}"
        );
    }
    let missing = operator
        .get_job(GetJobRequest {
            id: "j-missing".into(),
            tail_bytes: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let started = start(&mut operator, "noop", "", "").await;
    let job = finished(&operator, &started.id).await;
    assert_eq!(job.created_by, "otto");
    let audit = operator
        .list_audit(ListAuditRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(audit.len(), 6, "{audit:?}");
    assert_eq!((audit[0].operator.as_str(), audit[0].ok), ("vera", false));
    assert!(
        audit[0].outcome.contains("PermissionDenied"),
        "{}",
        audit[0].outcome
    );
    assert!(audit[1..5].iter().all(|e| !e.ok && e.operator == "otto"));
    assert!(audit[5].ok && audit[5].outcome.contains(&job.id));
    let vera_only = viewer
        .list_audit(ListAuditRequest {
            operator: "vera".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(vera_only.len(), 1);
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn an_offline_host_becomes_undeliverable_and_is_reported_apart() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let noop = || actions(&[("noop", sh("true", Duration::from_secs(5)))]);
    let up = TestAgent::start_with_actions(&pki, &coordinator.url(), "u-1", &[], noop());
    let gone = TestAgent::start_with_actions(&pki, &coordinator.url(), "u-2", &[], noop());
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 2).await;
    gone.stop().await;
    fleet_online(&admin, 1).await;
    let job = admin
        .start_job(StartJobRequest {
            action: "noop".into(),
            delivery_timeout_ms: 1_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let job = finished(&admin, &job.id).await;
    assert_eq!(job.state, JobState::Failed as i32);
    assert_eq!(host_state(&job, "u-1"), CommandState::Succeeded);
    assert_eq!(host_state(&job, "u-2"), CommandState::Undeliverable);
    let counts = job.counts.unwrap();
    assert_eq!((counts.undeliverable, counts.errors), (1, 0));
    up.stop().await;
    coordinator.stop().await;
}
