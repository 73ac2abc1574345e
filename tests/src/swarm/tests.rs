//! The swarm against an in-process coordinator: sessions, and commands answered with
//! the real event pipeline.

use std::time::Duration;

use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{
    CancelJobRequest, CommandState, GetJobRequest, Job, JobState, StartJobRequest,
};
use tonic::transport::Channel;

use super::*;

#[test]
fn nearest_rank_percentiles() {
    let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
    assert_eq!(percentile(&values, 50), Some(Duration::from_millis(50)));
    assert_eq!(percentile(&values, 99), Some(Duration::from_millis(99)));
    assert_eq!(percentile(&values[..1], 99), Some(Duration::from_millis(1)));
    assert_eq!(percentile::<Duration>(&[], 50), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_swarm_comes_online_and_leaves_cleanly() {
    use convoy_proto::identity::Role;
    use convoy_proto::v1::{AgentState, ListAgentsRequest};

    let pki = crate::TestPki::new();
    let coordinator = crate::TestCoordinator::start(&pki).await;
    let mut config = SwarmConfig::new(coordinator.url(), pki.dir(), 20);
    config.heartbeat = Duration::from_millis(100);
    config.connect_concurrency = 4;
    let mut swarm = Swarm::start(config).await.unwrap();
    let progress = swarm.settled(Duration::from_secs(30)).await;
    assert_eq!((progress.connected, progress.failed), (20, 0));
    assert!(progress.all_connected_after.is_some());

    let operator = pki.operator("bench", Role::Viewer);
    let admin = coordinator.admin(&pki, &operator).await;
    let agents = crate::wait_for("20 agents with metrics", Duration::from_secs(10), || {
        let mut admin = admin.clone();
        async move {
            let agents = admin
                .list_agents(ListAgentsRequest {
                    selector: "role=sim".into(),
                })
                .await
                .ok()?
                .into_inner()
                .agents;
            let ready = agents
                .iter()
                .all(|a| a.state == i32::from(AgentState::Online) && a.metrics.is_some());
            (agents.len() == 20 && ready).then_some(agents)
        }
    })
    .await;
    assert_eq!(agents[0].id, "sim-00");
    assert_eq!(agents[19].id, "sim-19");

    let report = swarm.stop().await;
    assert_eq!((report.connected, report.dropped), (20, 0), "{report}");
    assert!(report.heartbeats_sent >= 20, "{report}");
    assert!(report.connect_p50 <= report.connect_p99);
    crate::wait_for("agents offline", Duration::from_secs(10), || {
        let mut admin = admin.clone();
        async move {
            let agents = admin
                .list_agents(ListAgentsRequest::default())
                .await
                .ok()?
                .into_inner()
                .agents;
            agents
                .iter()
                .all(|a| a.state == i32::from(AgentState::Offline))
                .then_some(())
        }
    })
    .await;
    drop(admin);
    coordinator.stop().await;
}

pub(super) async fn job_done(
    admin: &AdminClient<Channel>,
    job_id: &str,
    what: &str,
    done: impl Fn(&Job) -> bool,
) -> Job {
    crate::wait_for(what, Duration::from_secs(20), || {
        let mut admin = admin.clone();
        let request = GetJobRequest {
            id: job_id.to_string(),
            tail_bytes: 64,
        };
        let done = &done;
        async move {
            let job = admin.get_job(request).await.ok()?.into_inner();
            done(&job).then_some(job)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_answers_a_job_and_fails_its_share() {
    let pki = crate::TestPki::new();
    let coordinator = crate::TestCoordinator::start(&pki).await;
    let mut config = SwarmConfig::new(coordinator.url(), pki.dir(), 20);
    config.fail_share = 0.25;
    let mut swarm = Swarm::start(config).await.unwrap();
    assert_eq!(swarm.settled(Duration::from_secs(30)).await.connected, 20);

    let operator = pki.operator("ops", Role::Operator);
    let mut admin = coordinator.admin(&pki, &operator).await;
    let job = admin
        .start_job(StartJobRequest {
            action: "noop".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let job = job_done(&admin, &job.id, "the job to end", |job| {
        job.state != JobState::Running as i32
    })
    .await;
    assert_eq!(job.state, JobState::Failed as i32);
    let counts = job.counts.unwrap();
    assert_eq!((counts.succeeded, counts.errors), (15, 5), "{counts:?}");
    for host in &job.hosts {
        let index: usize = host.host["sim-".len()..].parse().unwrap();
        if commands::fails(index, 0.25) {
            assert_eq!(host.state, CommandState::Failed as i32, "{host:?}");
            assert_eq!(host.exit_code, Some(1));
            assert_eq!(host.output_tail, commands::FAIL_OUTPUT);
        } else {
            assert_eq!(host.state, CommandState::Succeeded as i32, "{host:?}");
            assert_eq!(host.exit_code, Some(0));
            assert_eq!(host.output_tail, commands::OK_OUTPUT);
            assert_eq!(host.output_bytes, 3);
        }
        assert!(host.started_unix_ms >= job.created_unix_ms);
        assert!(host.finished_unix_ms >= host.started_unix_ms);
    }

    // Every result was acked, so every agent retired its command. (`take_traces` hands
    // each trace out once: gather them across polls, or a poll that sees 19 loses them.)
    let mut traces = Vec::new();
    let traces = crate::wait_for("20 acked results", Duration::from_secs(10), || {
        traces.extend(swarm.take_traces());
        let all = (traces.len() == 20).then(|| traces.clone());
        async move { all }
    })
    .await;
    for CommandTrace { agent, trace } in &traces {
        assert_eq!(trace.command_id, format!("{}/sim-{agent:02}", job.id));
        assert!(trace.arrived_unix_ms <= trace.finished_unix_ms);
        assert!(trace.finished_unix_ms <= trace.acked_unix_ms);
    }
    let report = swarm.stop().await;
    assert_eq!(report.commands.commands, 20, "{report}");
    assert_eq!(report.commands.duplicates, 0, "{report}");
    assert_eq!(report.commands.events, 80, "{report}");
    assert_eq!(report.commands_open, 0, "{report}");
    drop(admin);
    coordinator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_commands_are_cancelled_not_finished() {
    let pki = crate::TestPki::new();
    let coordinator = crate::TestCoordinator::start(&pki).await;
    let mut config = SwarmConfig::new(coordinator.url(), pki.dir(), 5);
    config.command_delay = Duration::from_secs(60);
    let mut swarm = Swarm::start(config).await.unwrap();
    assert_eq!(swarm.settled(Duration::from_secs(30)).await.connected, 5);

    let operator = pki.operator("ops", Role::Operator);
    let mut admin = coordinator.admin(&pki, &operator).await;
    let job = admin
        .start_job(StartJobRequest {
            action: "noop".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    job_done(&admin, &job.id, "every host running", |job| {
        job.hosts
            .iter()
            .all(|h| h.state == CommandState::Running as i32)
    })
    .await;
    admin
        .cancel_job(CancelJobRequest { id: job.id.clone() })
        .await
        .unwrap();
    let job = job_done(&admin, &job.id, "every host cancelled", |job| {
        job.hosts
            .iter()
            .all(|h| h.state == CommandState::Cancelled as i32)
    })
    .await;
    assert_eq!(job.state, JobState::Cancelled as i32);
    let report = swarm.stop().await;
    assert_eq!(report.commands.cancels, 5, "{report}");
    // received, started, cancelled: no output, never a second finish.
    assert_eq!(report.commands.events, 15, "{report}");
    drop(admin);
    coordinator.stop().await;
}

mod scale;
