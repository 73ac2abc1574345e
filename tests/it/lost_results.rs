//! Results that must not be lost between an agent's restart and the coordinator (the bug
//! run F of `convoy-torture` found, RELIABILITY.md): an agent killed mid-command after the
//! coordinator acknowledged some of its output restarts with a journal that may have lost
//! that output (written, sent, not yet on disk) and journals the `interrupted` result under
//! a sequence number the coordinator already holds. The coordinator must still end the
//! command, never keep it `running`.

use convoy_proto::identity::Role;
use convoy_proto::v1::{
    CommandState, CoordinatorMessage, GetJobRequest, JobState, OutputChunk, OutputStream,
    StartJobRequest, Started, command_event, coordinator_message,
};
use convoy_tests::hostile::agent::{HostileAgent, event, finished, hello};
use convoy_tests::{TestCoordinator, TestPki};

use crate::support::{WAIT, finished as job_finished};

/// Waits for the ack of `seq` for `command_id` (other messages are skipped).
async fn acked(agent: &mut HostileAgent, command_id: &str, seq: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match agent.next_message(left).await {
            Some(CoordinatorMessage {
                body: Some(coordinator_message::Body::Ack(ack)),
            }) if ack.command_id == command_id && ack.seq >= seq => return,
            Some(_) => {}
            None => panic!("no ack of {command_id} seq {seq} within {WAIT:?}"),
        }
    }
}

#[tokio::test]
async fn an_interrupted_result_under_a_reused_sequence_number_ends_the_command() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    let mut agent = HostileAgent::connect(&pki, &coordinator, "web-1", hello("web-1", &["slow"]))
        .await
        .expect("welcomed");
    let job = admin
        .start_job(StartJobRequest {
            action: "slow".into(),
            ..Default::default()
        })
        .await
        .expect("start job")
        .into_inner();
    let command = agent.command_where(WAIT, |c| c.job_id == job.id).await;
    let id = command.command_id.clone();
    // Received (1), Started (2) and one output chunk (3), all acknowledged: on the
    // coordinator's disk.
    agent.received(&id).await;
    let started = command_event::Body::Started(Started { pid: 42 });
    agent.send_event(event(&id, 2, 0, started)).await;
    let output = command_event::Body::Output(OutputChunk {
        stream: OutputStream::Stdout.into(),
        data: b"ok\n".to_vec(),
        offset: 0,
    });
    agent.send_event(event(&id, 3, 0, output)).await;
    acked(&mut agent, &id, 3).await;
    // kill -9 before the chunk reached the agent's disk; the restarted agent journals its
    // result as the next number it knows of: 3 again.
    drop(agent);
    let agent = HostileAgent::connect(&pki, &coordinator, "web-1", hello("web-1", &["slow"]))
        .await
        .expect("welcomed again");
    let interrupted = finished(CommandState::Interrupted, "the agent stopped");
    agent.send_event(event(&id, 3, 0, interrupted)).await;
    let job = job_finished(&admin, &job.id).await;
    assert_eq!(job.hosts.len(), 1);
    assert_eq!(
        job.hosts[0].state,
        CommandState::Interrupted as i32,
        "{job:?}"
    );
    assert_eq!(job.state, JobState::Failed as i32, "{job:?}");
    // The output acknowledged before the kill is still there, once.
    let job = admin
        .get_job(GetJobRequest {
            id: job.id.clone(),
            tail_bytes: 1024,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(job.hosts[0].output_tail, b"ok\n");
    drop(agent);
    coordinator.stop().await;
}
