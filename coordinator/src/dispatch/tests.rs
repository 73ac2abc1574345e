use std::sync::Arc;
use std::time::Duration;

use convoy_proto::identity::AgentId;
use convoy_proto::v1::{
    CommandEvent, Finished, Hello, OutputChunk, Received, Started, command_event,
    coordinator_message,
};

use super::*;
use crate::registry::Registry;
use convoy_proto::v1::CoordinatorMessage;

fn fixture(dir: &std::path::Path, output_cap: u64) -> (Arc<Registry>, Dispatcher) {
    let store = Store::open(dir).unwrap();
    let registry = Arc::new(Registry::load(store.clone(), Duration::from_secs(15)).unwrap());
    let dispatcher = Dispatcher::load(store, registry.clone(), output_cap).unwrap();
    (registry, dispatcher)
}

fn join(
    registry: &Registry,
    id: &str,
    role: &str,
) -> tokio::sync::mpsc::Receiver<Result<CoordinatorMessage, tonic::Status>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let mut hello = Hello {
        agent_id: id.into(),
        actions: vec!["noop".into()],
        ..Default::default()
    };
    hello.labels.insert("role".into(), role.into());
    registry
        .connect(&AgentId::new(id).unwrap(), hello, None, tx)
        .unwrap();
    rx
}

fn request(action: &str, selector: &str, concurrency: &str) -> JobRequest {
    JobRequest {
        params: Default::default(),
        action: action.into(),
        selector: selector.into(),
        concurrency: concurrency.into(),
        max_errors: String::new(),
        delivery_timeout: None,
        request_id: String::new(),
        deploy: None,
        rollback: None,
        backup: None,
    }
}

fn event(command_id: &str, seq: u64, body: command_event::Body) -> CommandEvent {
    CommandEvent {
        command_id: command_id.into(),
        seq,
        at_unix_ms: 1_000 * seq as i64,
        body: Some(body),
    }
}

fn acked_seq(message: Option<CoordinatorMessage>) -> u64 {
    match message.and_then(|m| m.body) {
        Some(coordinator_message::Body::Ack(ack)) => ack.seq,
        other => panic!("expected an ack, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_requests_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, dispatcher) = fixture(dir.path(), 1024);
    let _web = join(&registry, "web-1", "web");
    for (req, expected) in [
        (request("noop", "role=db", ""), "no agents match"),
        (
            request("rm-rf", "", ""),
            "unknown action \"rm-rf\": none of the 1 matching host allows it (they allow: noop)",
        ),
        (request("Bad Action", "", ""), "invalid action name"),
        (request("noop", "role in (a", ""), "invalid selector"),
        (request("noop", "", "0"), "at least 1"),
        (request("noop", "", "120%"), "over 100%"),
    ] {
        let err = dispatcher.start_job("alice", &req).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    assert!(dispatcher.recent_jobs(10).unwrap().is_empty());
    assert!(matches!(
        dispatcher.job_view("j-nope", 0),
        Err(DispatchError::NoJob(_))
    ));
}

#[tokio::test]
async fn concurrency_releases_one_host_at_a_time_and_events_complete_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, dispatcher) = fixture(dir.path(), 1024);
    let mut rx1 = join(&registry, "web-1", "web");
    let mut rx2 = join(&registry, "web-2", "web");
    let job = dispatcher
        .start_job("alice", &request("noop", "role=web", "1"))
        .await
        .unwrap();
    assert_eq!(job.command_ids.len(), 2);
    dispatcher.tick(10).await.unwrap();
    let first = rx1.try_recv().expect("web-1 gets its command").unwrap();
    assert!(rx2.try_recv().is_err(), "concurrency 1: web-2 waits");
    let Some(coordinator_message::Body::Command(command)) = first.body else {
        panic!()
    };
    let id = command.command_id.clone();
    // Events apply in order; replays and gaps only re-ack.
    assert_eq!(
        acked_seq(
            dispatcher
                .on_event(
                    "web-1",
                    &event(&id, 1, command_event::Body::Received(Received {}))
                )
                .unwrap()
        ),
        1
    );
    assert_eq!(
        acked_seq(
            dispatcher
                .on_event(
                    "web-1",
                    &event(&id, 1, command_event::Body::Received(Received {}))
                )
                .unwrap()
        ),
        1
    );
    assert_eq!(
        acked_seq(
            dispatcher
                .on_event(
                    "web-1",
                    &event(&id, 3, command_event::Body::Started(Started { pid: 1 }))
                )
                .unwrap()
        ),
        1
    );
    // Another host cannot report on web-1's command.
    assert!(
        dispatcher
            .on_event(
                "web-2",
                &event(&id, 2, command_event::Body::Started(Started { pid: 1 }))
            )
            .unwrap()
            .is_none()
    );
    dispatcher
        .on_event(
            "web-1",
            &event(&id, 2, command_event::Body::Started(Started { pid: 1 })),
        )
        .unwrap();
    let output = OutputChunk {
        stream: 1,
        data: b"hello\n".to_vec(),
        offset: 0,
    };
    dispatcher
        .on_event("web-1", &event(&id, 3, command_event::Body::Output(output)))
        .unwrap();
    let done = Finished {
        state: CommandState::Succeeded.into(),
        exit_code: Some(0),
        output_bytes: 6,
        ..Default::default()
    };
    dispatcher
        .on_event("web-1", &event(&id, 4, command_event::Body::Finished(done)))
        .unwrap();
    dispatcher.tick(20).await.unwrap();
    assert!(rx2.try_recv().is_ok(), "web-1 done: web-2's turn");
    let view = dispatcher.job_view(&job.id, 100).unwrap();
    assert_eq!(view.hosts[0].output_tail, b"hello\n");
    assert_eq!(view.hosts[0].state, CommandState::Succeeded as i32);
    assert_eq!(
        view.counts.unwrap().running + view.counts.unwrap().pending,
        1
    );
    assert!(dispatcher.store().inflight_for("web-1").unwrap().is_empty());
    assert_eq!(dispatcher.store().inflight_for("web-2").unwrap().len(), 1);
}

#[tokio::test]
async fn output_over_the_cap_is_cut_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, dispatcher) = fixture(dir.path(), 10);
    let _rx = join(&registry, "web-1", "web");
    let job = dispatcher
        .start_job("alice", &request("noop", "", ""))
        .await
        .unwrap();
    dispatcher.tick(10).await.unwrap();
    let id = &job.command_ids[0];
    for (seq, chunk) in [(1, &b"0123456"[..]), (2, b"789abc"), (3, b"def")] {
        let output = OutputChunk {
            stream: 1,
            data: chunk.to_vec(),
            offset: 0,
        };
        dispatcher
            .on_event(
                "web-1",
                &event(id, seq, command_event::Body::Output(output)),
            )
            .unwrap();
    }
    // Head and tail, half the cap each; the middle is dropped and counted.
    let out = dispatcher.command_output(&job.id, "web-1").unwrap();
    assert_eq!(out.data, b"01234bcdef");
    assert!(out.output_truncated);
    assert_eq!(out.output_bytes, 16);
    assert_eq!((out.dropped_at, out.dropped_bytes), (5, 6));
    // Paged: any page size reads the same bytes.
    let mut paged = Vec::new();
    let mut offset = 0;
    loop {
        let page = dispatcher.output_page(&job.id, "web-1", offset, 3).unwrap();
        paged.extend_from_slice(&page.data);
        offset = page.next_offset;
        if !page.more {
            break;
        }
    }
    assert_eq!(paged, b"01234bcdef");
}

#[tokio::test]
async fn a_restart_resumes_unsettled_jobs_and_resends_owed_commands() {
    let dir = tempfile::tempdir().unwrap();
    let job_id = {
        let (registry, dispatcher) = fixture(dir.path(), 1024);
        let _rx = join(&registry, "web-1", "web");
        let _rx2 = join(&registry, "web-2", "web");
        let job = dispatcher
            .start_job("alice", &request("noop", "", "1"))
            .await
            .unwrap();
        dispatcher.tick(10).await.unwrap();
        dispatcher.store().flush().unwrap();
        job.id
    };
    let (registry, dispatcher) = fixture(dir.path(), 1024);
    let view = dispatcher.job_view(&job_id, 0).unwrap();
    assert_eq!(view.state, JobState::Running as i32);
    // web-1's command was released before the restart: it is owed again on reconnect.
    let _rx = join(&registry, "web-1", "web");
    let owed = dispatcher.on_connect("web-1").unwrap();
    assert_eq!(owed.len(), 1);
    assert!(
        dispatcher.on_connect("web-2").unwrap().is_empty(),
        "web-2 was never released"
    );
}

#[tokio::test]
async fn cancelling_skips_queued_hosts_and_tells_running_ones_to_stop() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, dispatcher) = fixture(dir.path(), 1024);
    let mut rx1 = join(&registry, "web-1", "web");
    let _rx2 = join(&registry, "web-2", "web");
    let job = dispatcher
        .start_job("alice", &request("noop", "", "1"))
        .await
        .unwrap();
    dispatcher.tick(10).await.unwrap();
    rx1.try_recv().unwrap().unwrap();
    dispatcher.cancel_job(&job.id).await.unwrap();
    match rx1.try_recv().unwrap().unwrap().body {
        Some(coordinator_message::Body::Cancel(cancel)) => {
            assert_eq!(cancel.command_id, job.command_ids[0])
        }
        other => panic!("expected a cancel, got {other:?}"),
    }
    dispatcher.tick(20).await.unwrap();
    let view = dispatcher.job_view(&job.id, 0).unwrap();
    assert_eq!(view.state, JobState::Cancelled as i32);
    assert_eq!(view.hosts[1].state, CommandState::Cancelled as i32);
    assert_eq!(view.hosts[1].message, "not started: job cancelled");
    // The cancel is owed again if web-1 reconnects before it answers.
    let owed = dispatcher.on_connect("web-1").unwrap();
    assert!(matches!(
        owed[0].body,
        Some(coordinator_message::Body::Cancel(_))
    ));
}

#[tokio::test]
async fn the_same_request_id_returns_the_first_job() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, dispatcher) = fixture(dir.path(), 1024);
    let _rx = join(&registry, "web-1", "web");
    let mut req = request("noop", "", "");
    req.request_id = "deploy-42".into();
    let first = dispatcher.start_job("alice", &req).await.unwrap();
    let second = dispatcher.start_job("alice", &req).await.unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(dispatcher.recent_jobs(10).unwrap().len(), 1);
}

#[tokio::test]
async fn a_result_restated_after_a_gap_settles_a_command_whose_events_this_coordinator_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, dispatcher) = fixture(dir.path(), 1024);
    let mut rx = join(&registry, "web-1", "web");
    let job = dispatcher
        .start_job("alice", &request("noop", "", ""))
        .await
        .unwrap();
    dispatcher.tick(10).await.unwrap();
    let Some(coordinator_message::Body::Command(command)) = rx.try_recv().unwrap().unwrap().body
    else {
        panic!()
    };
    let id = command.command_id;
    // The agent ran it (events 1..=4, acknowledged by a store that was then lost) and
    // reports its result again under the next number. Output after a gap is not taken...
    let output = OutputChunk {
        stream: 1,
        data: b"late".to_vec(),
        offset: 0,
    };
    assert_eq!(
        acked_seq(
            dispatcher
                .on_event("web-1", &event(&id, 5, command_event::Body::Output(output)))
                .unwrap()
        ),
        0
    );
    // ...but the result is: the command ran once, and must not wait forever.
    let done = Finished {
        state: CommandState::Failed.into(),
        exit_code: Some(3),
        output_bytes: 6,
        message: "exit status 3 (reported again)".into(),
        ..Default::default()
    };
    assert_eq!(
        acked_seq(
            dispatcher
                .on_event("web-1", &event(&id, 5, command_event::Body::Finished(done)))
                .unwrap()
        ),
        5
    );
    let view = dispatcher.job_view(&job.id, 100).unwrap();
    let host = &view.hosts[0];
    assert_eq!(host.state, CommandState::Failed as i32);
    assert_eq!(host.exit_code, Some(3));
    assert!(host.output_truncated, "the lost output is marked: {host:?}");
    assert!(dispatcher.store().inflight_for("web-1").unwrap().is_empty());
    // Settled: a later result changes nothing.
    let other = Finished {
        state: CommandState::Succeeded.into(),
        ..Default::default()
    };
    dispatcher
        .on_event(
            "web-1",
            &event(&id, 9, command_event::Body::Finished(other)),
        )
        .unwrap();
    let view = dispatcher.job_view(&job.id, 100).unwrap();
    assert_eq!(view.hosts[0].state, CommandState::Failed as i32);
}

/// The unknown-enum rule in the job views: a stored command state this version does not
/// know counts as running (not pending, not done, not an error).
#[test]
fn an_unknown_stored_command_state_counts_as_running() {
    let commands = [
        CommandRecord {
            state: 42,
            ..Default::default()
        },
        CommandRecord {
            state: CommandState::Unspecified.into(),
            ..Default::default()
        },
    ];
    let counts = views::counts(&commands);
    assert_eq!(counts.running, 2);
    assert_eq!((counts.pending, counts.errors, counts.succeeded), (0, 0, 0));
}

/// The unknown-enum rule in the scheduler and in cancel: a command whose stored state this
/// version does not know is in flight on its host, so it is neither sent as new nor
/// cancelled as never-sent, and its stored value is left as it is.
#[tokio::test]
async fn a_command_in_an_unknown_state_is_never_sent_nor_cancelled_as_unsent() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, dispatcher) = fixture(dir.path(), 1024);
    let mut rx1 = join(&registry, "web-1", "web");
    let mut rx2 = join(&registry, "web-2", "web");
    let job = dispatcher
        .start_job("alice", &request("noop", "", "2"))
        .await
        .unwrap();
    dispatcher
        .lock()
        .jobs
        .get_mut(&job.id)
        .unwrap()
        .commands
        .iter_mut()
        .find(|c| c.agent_id == "web-1")
        .unwrap()
        .state = 42;
    dispatcher.tick(10).await.unwrap();
    assert!(rx1.try_recv().is_err(), "web-1's command was sent");
    rx2.try_recv().unwrap().unwrap();
    dispatcher.cancel_job(&job.id).await.unwrap();
    let view = dispatcher.job_view(&job.id, 0).unwrap();
    let web1 = view.hosts.iter().find(|h| h.host == "web-1").unwrap();
    assert_eq!(web1.state, 42, "the unknown state was rewritten");
}
