//! A compromised host cannot rewrite history: once a command reached a terminal state, no
//! later event from its host changes it; a `Finished` must carry a terminal state; and the
//! host's clock never decides when something happened.
//!
//! The host here is the test crate's `HostileAgent`: a real agent certificate, sending
//! exactly the events a compromised host would.

use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{
    CommandState, Finished, GetJobRequest, Job, JobState, Received, StartJobRequest, Started,
    command_event,
};
use convoy_tests::hostile::{self, agent::HostileAgent};
use convoy_tests::{TestCoordinator, TestPki, wait_for};
use tonic::transport::Channel;

use crate::support::{WAIT, fleet_online};

/// A hostile agent that says it allows the action `noop`.
async fn host(coordinator: &TestCoordinator, pki: &TestPki, id: &str) -> HostileAgent {
    HostileAgent::connect(pki, coordinator, id, hostile::agent::hello(id, &["noop"]))
        .await
        .expect("session accepted")
}

/// The next command sent to `host`.
async fn next_command(host: &mut HostileAgent) -> String {
    host.command_where(WAIT, |_| true).await.command_id
}

/// Sends one event and waits until the coordinator acknowledges it.
async fn send(
    host: &mut HostileAgent,
    command_id: &str,
    seq: u64,
    at: i64,
    body: command_event::Body,
) {
    host.send_acked(hostile::agent::event(command_id, seq, at, body), WAIT)
        .await;
}

fn finished(state: i32, message: &str) -> command_event::Body {
    command_event::Body::Finished(Finished {
        state,
        exit_code: Some(0),
        message: message.into(),
        ..Default::default()
    })
}

async fn job(admin: &mut AdminClient<Channel>, id: &str) -> Job {
    admin
        .get_job(GetJobRequest {
            id: id.into(),
            tail_bytes: 0,
        })
        .await
        .expect("get job")
        .into_inner()
}

/// Waits until job `id` is no longer running.
async fn ended(admin: &AdminClient<Channel>, id: &str) -> Job {
    wait_for("job ended", WAIT, || {
        let mut admin = admin.clone();
        let id = id.to_string();
        async move {
            let job = job(&mut admin, &id).await;
            (job.state != JobState::Running as i32).then_some(job)
        }
    })
    .await
}

fn state_of(job: &Job, host: &str) -> CommandState {
    let host = job.hosts.iter().find(|h| h.host == host).expect("host");
    CommandState::try_from(host.state).expect("known state")
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_finished_result_cannot_be_rewritten_by_its_host() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    let mut evil = host(&coordinator, &pki, "evil-1").await;
    // A second host that never answers keeps the job active while evil-1 replays.
    let mut quiet = host(&coordinator, &pki, "quiet-1").await;
    fleet_online(&admin, 2).await;

    let started = admin
        .start_job(StartJobRequest {
            action: "noop".into(),
            ..Default::default()
        })
        .await
        .expect("start job")
        .into_inner();
    let command = next_command(&mut evil).await;
    let quiet_command = next_command(&mut quiet).await;
    let rejected = CommandState::Rejected as i32;
    send(
        &mut evil,
        &command,
        1,
        now_ms(),
        command_event::Body::Received(Received {}),
    )
    .await;
    send(
        &mut evil,
        &command,
        2,
        now_ms(),
        finished(rejected, "refused"),
    )
    .await;
    assert_eq!(
        state_of(&job(&mut admin, &started.id).await, "evil-1"),
        CommandState::Rejected
    );

    // While the job is active: a second Finished claiming success, then a Started.
    let succeeded = CommandState::Succeeded as i32;
    send(
        &mut evil,
        &command,
        3,
        now_ms(),
        finished(succeeded, "all good"),
    )
    .await;
    send(
        &mut evil,
        &command,
        4,
        now_ms(),
        command_event::Body::Started(Started { pid: 1 }),
    )
    .await;
    let view = job(&mut admin, &started.id).await;
    assert_eq!(state_of(&view, "evil-1"), CommandState::Rejected);
    let host = view.hosts.iter().find(|h| h.host == "evil-1").unwrap();
    assert_eq!(host.message, "refused", "the message is the first result's");

    // The other host finishes; the job ends; evil-1 tries again on the ended job.
    send(
        &mut quiet,
        &quiet_command,
        1,
        now_ms(),
        finished(succeeded, "done"),
    )
    .await;
    let ended = ended(&admin, &started.id).await;
    assert_eq!(
        ended.state,
        JobState::Failed as i32,
        "one host was rejected"
    );
    send(
        &mut evil,
        &command,
        5,
        now_ms(),
        finished(succeeded, "really"),
    )
    .await;
    // The coordinator restarts its view from the store: still what was first recorded.
    let view = job(&mut admin, &started.id).await;
    assert_eq!(state_of(&view, "evil-1"), CommandState::Rejected);
    assert_eq!(view.state, JobState::Failed as i32);
    coordinator.stop().await;
}

#[tokio::test]
async fn a_finished_without_a_terminal_state_is_a_failure_and_agent_clocks_are_not_used() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    let mut running = host(&coordinator, &pki, "odd-1").await;
    let mut unknown = host(&coordinator, &pki, "odd-2").await;
    fleet_online(&admin, 2).await;
    let started = admin
        .start_job(StartJobRequest {
            action: "noop".into(),
            max_errors: "100%".into(),
            ..Default::default()
        })
        .await
        .expect("start job")
        .into_inner();
    let before = now_ms();
    let first = next_command(&mut running).await;
    let second = next_command(&mut unknown).await;
    // Clocks decades off: 1970 and the year 2500.
    send(
        &mut running,
        &first,
        1,
        1,
        command_event::Body::Started(Started { pid: 7 }),
    )
    .await;
    send(
        &mut running,
        &first,
        2,
        16_725_225_600_000,
        finished(CommandState::Running as i32, "still going"),
    )
    .await;
    send(
        &mut unknown,
        &second,
        1,
        now_ms(),
        finished(99, "what state is this"),
    )
    .await;
    let view = ended(&admin, &started.id).await;
    for host in ["odd-1", "odd-2"] {
        assert_eq!(state_of(&view, host), CommandState::Failed, "{host}");
        let entry = view.hosts.iter().find(|h| h.host == host).unwrap();
        assert!(
            entry.message.contains("non-terminal state"),
            "{host}: {}",
            entry.message
        );
    }
    let odd = view.hosts.iter().find(|h| h.host == "odd-1").unwrap();
    let after = now_ms() + 1;
    for (what, at) in [
        ("started", odd.started_unix_ms),
        ("finished", odd.finished_unix_ms),
    ] {
        assert!(
            (before..=after).contains(&at),
            "{what} at {at} is the coordinator's time, between {before} and {after}"
        );
    }
    coordinator.stop().await;
}
