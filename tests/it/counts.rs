//! Job states and counts that add up (issue 19 point 16): a job none of whose hosts could be
//! reached says so, and a cancelled job counts the hosts it never reached as cancelled.

use std::collections::BTreeMap;

use convoy_agent::config::ActionConfig;
use convoy_coordinator::cli::output::JobJson;
use convoy_proto::identity::Role;
use convoy_proto::v1::{
    CancelJobRequest, CommandState, GetJobRequest, Job, JobState, ListJobsRequest, StartJobRequest,
    agent_message, coordinator_message,
};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, channel, wait_for};

use crate::operations::sh;
use crate::support::{WAIT, finished, fleet_online, hello, raw_session};

fn actions(name: &str, script: &str) -> BTreeMap<String, ActionConfig> {
    BTreeMap::from([(name.to_string(), sh(script))])
}

fn state_of(job: &Job, host: &str) -> CommandState {
    let host = job.hosts.iter().find(|h| h.host == host).expect("host");
    CommandState::try_from(host.state).expect("state")
}

#[tokio::test]
async fn a_job_whose_hosts_were_all_undeliverable_says_so() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    let mut gone = Vec::new();
    for id in ["away-1", "away-2"] {
        gone.push(TestAgent::start_with_actions(
            &pki,
            &coordinator.url(),
            id,
            &[],
            actions("noop", "true"),
        ));
    }
    fleet_online(&admin, 2).await;
    for agent in gone {
        agent.stop().await;
    }
    fleet_online(&admin, 0).await;
    let job = admin
        .start_job(StartJobRequest {
            action: "noop".into(),
            delivery_timeout_ms: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let job = finished(&admin, &job.id).await;
    assert_eq!(job.state, JobState::Undeliverable as i32, "{job:?}");
    let counts = job.counts.unwrap();
    assert_eq!((counts.total, counts.undeliverable), (2, 2), "{counts:?}");
    assert_eq!(counts.errors + counts.succeeded + counts.pending, 0);

    // The CLI's JSON says it in the state and the counts.
    let json = serde_json::to_value(JobJson::from(&job)).unwrap();
    assert_eq!(json["state"], "undeliverable");
    assert_eq!(json["counts"]["undeliverable"], 2);
    assert_eq!(json["counts"]["total"], 2);

    // `convoy jobs --state undeliverable` finds it, and only it.
    let listed = admin
        .list_jobs(ListJobsRequest {
            state: "undeliverable".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert_eq!(
        listed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        [job.id.as_str()]
    );
    coordinator.stop().await;
}

#[tokio::test]
async fn a_cancelled_job_counts_the_hosts_it_never_reached_as_cancelled() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    let busy = TestAgent::start_with_actions(
        &pki,
        &coordinator.url(),
        "busy-1",
        &[],
        actions("slow", "sleep 30"),
    );
    let mut gone = Vec::new();
    for id in ["away-1", "away-2"] {
        gone.push(TestAgent::start_with_actions(
            &pki,
            &coordinator.url(),
            id,
            &[],
            actions("slow", "sleep 30"),
        ));
    }
    fleet_online(&admin, 3).await;
    for agent in gone {
        agent.stop().await;
    }
    fleet_online(&admin, 1).await;
    // Two at a time: busy-1 runs, one offline host is released (never sent: it is away),
    // the other waits its turn.
    let job = admin
        .start_job(StartJobRequest {
            action: "slow".into(),
            concurrency: "2".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    wait_for("busy-1 running", WAIT, || {
        let mut admin = admin.clone();
        let id = job.id.clone();
        async move {
            let job = admin
                .get_job(GetJobRequest { id, tail_bytes: 0 })
                .await
                .ok()?
                .into_inner();
            (state_of(&job, "busy-1") == CommandState::Running).then_some(())
        }
    })
    .await;

    let reply = admin
        .cancel_job(CancelJobRequest { id: job.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.state, JobState::Cancelled as i32);
    // The reply already counts the never-reached hosts as cancelled, not pending.
    for host in ["away-1", "away-2"] {
        assert_eq!(state_of(&reply, host), CommandState::Cancelled, "{reply:?}");
    }
    let counts = reply.counts.unwrap();
    assert_eq!((counts.cancelled, counts.pending), (2, 0), "{counts:?}");

    // busy-1 is stopped too, well within the 10 minute delivery timeout; everything adds up.
    let done = finished(&admin, &job.id).await;
    assert_eq!(done.state, JobState::Cancelled as i32);
    let counts = done.counts.unwrap();
    assert_eq!((counts.total, counts.cancelled), (3, 3), "{counts:?}");
    let json = serde_json::to_value(JobJson::from(&done)).unwrap();
    assert_eq!(json["state"], "cancelled");
    assert_eq!(json["counts"]["cancelled"], 3);
    assert_eq!(json["counts"]["pending"], 0);
    busy.stop().await;
    coordinator.stop().await;
}

/// A host that was sent the command and went away before saying it received it, in a
/// cancelled job: cancelled after the delivery timeout, never `undeliverable`.
#[tokio::test]
async fn a_cancelled_job_never_reports_a_sent_but_unreceived_host_as_undeliverable() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    // A hand-driven agent: takes the command, never acknowledges it, then disconnects.
    let certs = pki.agent("mute-1");
    let link = channel(&coordinator.url(), &pki.ca_cert(), Some(&certs))
        .await
        .unwrap();
    let mut first = hello("mute-1");
    if let Some(agent_message::Body::Hello(hello)) = first.body.as_mut() {
        hello.actions = vec!["slow".into()];
    }
    let (tx, response) = raw_session(link, first).await;
    let mut inbound = response.expect("session accepted");
    inbound.message().await.unwrap().expect("welcome");
    fleet_online(&admin, 1).await;
    let job = admin
        .start_job(StartJobRequest {
            action: "slow".into(),
            delivery_timeout_ms: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let command = tokio::time::timeout(WAIT, inbound.message())
        .await
        .expect("command sent")
        .unwrap()
        .expect("a message");
    assert!(matches!(
        command.body,
        Some(coordinator_message::Body::Command(_))
    ));
    drop(tx);
    drop(inbound);
    fleet_online(&admin, 0).await;
    admin
        .cancel_job(CancelJobRequest { id: job.id.clone() })
        .await
        .unwrap();
    let done = finished(&admin, &job.id).await;
    assert_eq!(done.state, JobState::Cancelled as i32);
    assert_eq!(
        state_of(&done, "mute-1"),
        CommandState::Cancelled,
        "{done:?}"
    );
    let counts = done.counts.unwrap();
    assert_eq!((counts.cancelled, counts.undeliverable), (1, 0));
    coordinator.stop().await;
}
