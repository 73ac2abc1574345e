//! The agent's health monitor end to end: a deployed release whose check starts failing
//! turns unhealthy in the coordinator's inventory, and healthy again once it passes.

use std::collections::BTreeMap;
use std::time::Duration;

use convoy_agent::deploy::manifest::Manifest;
use convoy_coordinator::config::{AgentsConfig, JobsConfig};
use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{AppStatus, JobState};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, wait_for};
use tonic::transport::Channel;

use crate::deploy::{artifact, deploy, push, run};
use crate::support::{WAIT, fleet_online, list};

/// web's status as the coordinator's agent list shows it.
async fn web_status(admin: &AdminClient<Channel>) -> Option<AppStatus> {
    let mut admin = admin.clone();
    list(&mut admin, "")
        .await
        .first()?
        .apps
        .iter()
        .find(|app| app.app == "web")
        .cloned()
}

async fn wait_health(admin: &AdminClient<Channel>, healthy: bool) -> AppStatus {
    let what = format!("web healthy={healthy} in the agent list");
    wait_for(&what, WAIT, || async {
        web_status(admin)
            .await
            .filter(|status| status.version == "1.0" && status.healthy == healthy)
    })
    .await
}

#[tokio::test]
async fn a_release_that_dies_after_its_deploy_turns_unhealthy_and_recovers() {
    let pki = TestPki::new();
    // Heartbeats a minute apart: within the test, the news can only come by the immediate
    // heartbeat a change of health triggers.
    let agents = AgentsConfig {
        heartbeat_interval: Duration::from_secs(60),
        offline_after: Duration::from_secs(180),
    };
    let coordinator = TestCoordinator::start_with(&pki, agents, JobsConfig::default()).await;
    let flag_dir = tempfile::tempdir().unwrap();
    let flag = flag_dir.path().join("up");
    let mut config = TestAgent::config(&pki, &coordinator.url(), "web-1", &[("role", "web")]);
    // The host's own start hook and health check (replacing the release's): starting puts
    // the flag file in place, the check looks for it.
    let overrides = format!(
        "[hooks]\nstart = [\"touch\", \"{flag}\"]\n\
         [health]\ncommand = [\"test\", \"-f\", \"{flag}\"]\n\
         interval = \"50ms\"\nretries = 2\ndeadline = \"5s\"\nmonitor_interval = \"200ms\"\n",
        flag = flag.display()
    );
    config.apps = BTreeMap::from([("web".to_string(), Manifest::parse(&overrides).unwrap())]);
    let agent = TestAgent::start_with(config);
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 1).await;
    push(
        &mut admin,
        "1.0",
        &artifact("1.0", true),
        Some(pki.signer()),
    )
    .await
    .unwrap();
    let job = run(&mut admin, deploy("1.0")).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    wait_health(&admin, true).await;

    // The release dies: two failed probes later the inventory says so.
    std::fs::remove_file(&flag).unwrap();
    let status = wait_health(&admin, false).await;
    assert_eq!(status.kept, vec!["1.0".to_string()]);

    // It comes back: one passing probe is enough.
    std::fs::write(&flag, "").unwrap();
    wait_health(&admin, true).await;

    // Unhealthy, a redeploy of the same version is not a no-op: it starts the release again.
    std::fs::remove_file(&flag).unwrap();
    wait_health(&admin, false).await;
    let job = run(&mut admin, deploy("1.0")).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    assert!(
        !job.hosts[0].message.contains("nothing to do"),
        "{}",
        job.hosts[0].message
    );
    wait_health(&admin, true).await;
    agent.stop().await;
    coordinator.stop().await;
}
