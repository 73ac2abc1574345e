//! A 200-agent swarm against an in-process coordinator: connections from several source
//! addresses, a fake deploy, a second one and a rollback through real deploy jobs; and
//! the reconnect and vanish modes the benches use, on a smaller swarm.

use std::time::Duration;

use convoy_coordinator::config::{AgentsConfig, JobsConfig};
use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{
    AgentState, DeploySpec, GetAgentRequest, HostRelease, JobState, PushReleaseChunk, ReleaseMeta,
    ReleaseStatusRequest, RollbackSpec, StartJobRequest, push_release_chunk,
};
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use super::super::*;
use super::job_done;

/// A tiny tar.gz: the coordinator only checks the format and the hash.
fn artifact(version: &str) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let mut header = tar::Header::new_gnu();
    let contents = format!("{version}\n");
    header.set_size(contents.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "VERSION", contents.as_bytes())
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

async fn push(admin: &mut AdminClient<Channel>, app: &str, version: &str) {
    let bytes = artifact(version);
    let chunks = vec![
        PushReleaseChunk {
            body: Some(push_release_chunk::Body::Meta(ReleaseMeta {
                app: app.into(),
                version: version.into(),
                sha256: hex::encode(Sha256::digest(&bytes)),
                ..Default::default()
            })),
        },
        PushReleaseChunk {
            body: Some(push_release_chunk::Body::Data(bytes)),
        },
    ];
    admin
        .push_release(tokio_stream::iter(chunks))
        .await
        .expect("push release");
}

/// Runs a job to its end and returns its state and (succeeded, errors).
async fn run(admin: &mut AdminClient<Channel>, request: StartJobRequest) -> (i32, (u32, u32)) {
    let job = admin.start_job(request).await.unwrap().into_inner();
    let job = job_done(admin, &job.id, "the job to end", |job| {
        job.state != JobState::Running as i32
    })
    .await;
    let counts = job.counts.unwrap_or_default();
    (job.state, (counts.succeeded, counts.errors))
}

async fn release_status(admin: &mut AdminClient<Channel>) -> Vec<HostRelease> {
    admin
        .release_status(ReleaseStatusRequest {
            app: "web".into(),
            selector: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .hosts
}

/// Waits until 190 hosts run `version` (healthy, after `previous`) and the 10 failing
/// ones still run nothing.
async fn wait_release(admin: &AdminClient<Channel>, version: &str, previous: &str) {
    crate::wait_for("the release status", Duration::from_secs(10), || {
        let mut admin = admin.clone();
        async move {
            let hosts = release_status(&mut admin).await;
            let moved = hosts
                .iter()
                .filter(|h| h.version == version && h.previous == previous && h.healthy)
                .count();
            let untouched = hosts.iter().filter(|h| h.version.is_empty()).count();
            ((moved, untouched) == (190, 10)).then_some(())
        }
    })
    .await;
}

fn deploy(version: &str) -> StartJobRequest {
    StartJobRequest {
        deploy: Some(DeploySpec {
            app: "web".into(),
            version: version.into(),
        }),
        ..Default::default()
    }
}

fn slow_heartbeats() -> AgentsConfig {
    AgentsConfig {
        heartbeat_interval: Duration::from_secs(1),
        offline_after: Duration::from_secs(10),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_agents_take_fake_deploys_and_a_rollback() {
    const AGENTS: usize = 200;
    let pki = crate::TestPki::new();
    let coordinator =
        crate::TestCoordinator::start_with(&pki, slow_heartbeats(), JobsConfig::default()).await;
    let mut config = SwarmConfig::new(coordinator.url(), pki.dir(), AGENTS);
    config.apps = vec!["web".into()];
    // Every twentieth agent fails its commands: 10 of 200.
    config.fail_share = 0.05;
    config.source_addresses = 4;
    let mut swarm = Swarm::start(config).await.unwrap();
    let progress = swarm.settled(Duration::from_secs(60)).await;
    assert_eq!((progress.connected, progress.failed), (AGENTS, 0));

    // An admin: the releases pushed below are unsigned (the swarm allows them).
    let operator = pki.operator("ops", Role::Admin);
    let mut admin = coordinator.admin(&pki, &operator).await;
    // Agents 0 and 1 connected from different source addresses.
    for (id, ip) in [("sim-000", "127.0.0.1:"), ("sim-001", "127.0.0.2:")] {
        let detail = admin
            .get_agent(GetAgentRequest { id: id.into() })
            .await
            .unwrap()
            .into_inner();
        let remote = &detail.connections[0].remote_addr;
        assert!(remote.starts_with(ip), "{id} came from {remote}");
    }

    push(&mut admin, "web", "1.0").await;
    push(&mut admin, "web", "2.0").await;
    assert_eq!(
        run(&mut admin, deploy("1.0")).await,
        (JobState::Failed as i32, (190, 10))
    );
    // The agents report the new version at once, not at their next heartbeat.
    wait_release(&admin, "1.0", "").await;

    assert_eq!(
        run(&mut admin, deploy("2.0")).await,
        (JobState::Failed as i32, (190, 10))
    );
    wait_release(&admin, "2.0", "1.0").await;
    let rollback = StartJobRequest {
        rollback: Some(RollbackSpec {
            app: "web".into(),
            version: String::new(),
        }),
        ..Default::default()
    };
    assert_eq!(
        run(&mut admin, rollback).await,
        (JobState::Failed as i32, (190, 10))
    );
    wait_release(&admin, "1.0", "2.0").await;

    let report = swarm.stop().await;
    assert_eq!((report.connected, report.dropped), (AGENTS, 0), "{report}");
    assert_eq!(report.commands.commands, 3 * AGENTS as u64, "{report}");
    assert_eq!(report.commands.duplicates, 0, "{report}");
    assert_eq!(report.commands_open, 0, "{report}");
    drop(admin);
    coordinator.stop().await;
}

async fn agent_state(admin: &AdminClient<Channel>, id: &str) -> Option<i32> {
    let mut admin = admin.clone();
    let detail = admin
        .get_agent(GetAgentRequest { id: id.into() })
        .await
        .ok()?
        .into_inner();
    Some(detail.agent?.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_reconnect_after_a_restart_and_vanished_ones_go_offline() {
    const AGENTS: usize = 20;
    let pki = crate::TestPki::new();
    let coordinator = crate::TestCoordinator::start(&pki).await;
    let (addr, data_dir) = (coordinator.addr, coordinator.data_dir.clone());
    let mut config = SwarmConfig::new(coordinator.url(), pki.dir(), AGENTS);
    config.heartbeat = Duration::from_millis(200);
    config.reconnect = true;
    let mut swarm = Swarm::start(config).await.unwrap();
    assert_eq!(
        swarm.settled(Duration::from_secs(30)).await.connected,
        AGENTS
    );
    assert_eq!(
        swarm
            .wait(Duration::from_secs(10), |p| p.online == AGENTS)
            .await
            .online,
        AGENTS
    );

    // The coordinator goes away and comes back on the same address and data.
    coordinator.stop().await;
    let progress = swarm.wait(Duration::from_secs(10), |p| p.online == 0).await;
    assert_eq!(progress.online, 0);
    let coordinator =
        crate::TestCoordinator::start_in(&pki, &data_dir, addr, crate::fast_agents()).await;
    let progress = swarm
        .wait(Duration::from_secs(30), |p| p.online == AGENTS)
        .await;
    assert_eq!((progress.online, progress.reconnects), (AGENTS, AGENTS));

    // One host freezes (the connection stays open), one dies (it closes).
    let operator = pki.operator("ops", Role::Viewer);
    let admin = coordinator.admin(&pki, &operator).await;
    let frozen = swarm.vanish(3, Vanish::Silent).unwrap();
    let dead = swarm.vanish(4, Vanish::Closed).unwrap();
    assert_eq!((frozen.as_str(), dead.as_str()), ("sim-03", "sim-04"));
    assert!(swarm.vanish(AGENTS, Vanish::Closed).is_none());
    for id in [&frozen, &dead] {
        crate::wait_for(
            "the vanished agent offline",
            Duration::from_secs(10),
            || {
                let admin = &admin;
                async move {
                    (agent_state(admin, id).await == Some(AgentState::Offline as i32)).then_some(())
                }
            },
        )
        .await;
    }
    assert_eq!(
        agent_state(&admin, "sim-05").await,
        Some(AgentState::Online as i32)
    );
    let report = swarm.stop().await;
    assert_eq!(report.reconnects, AGENTS, "{report}");
    drop(admin);
    coordinator.stop().await;
}
