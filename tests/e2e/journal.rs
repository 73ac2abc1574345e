//! The agent's journal under kill -9, against a hostile coordinator that records every
//! event: an event leaves the agent only once it is on disk, so a restart never reuses the
//! sequence number of an event the coordinator already holds (the lost `interrupted`
//! results of RELIABILITY.md's run F).

use std::time::Duration;

use convoy_proto::v1::{Command, RunAction, command, command_event};
use convoy_tests::TestPki;
use convoy_tests::hostile::coordinator::HostileCoordinator;

use super::Proc;

fn agent_config(pki: &TestPki, url: &str, dir: &std::path::Path) -> std::path::PathBuf {
    pki.agent("a1");
    let p = pki.dir().display();
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "coordinator = \"{url}\"\ndata_dir = \"{data}\"\nrelease_public_keys = [\"{key}\"]\n\
             [tls]\nca = \"{p}/ca.pem\"\ncert = \"{p}/a1.pem\"\nkey = \"{p}/a1.key\"\n\
             [actions.slow]\nrun = [\"/bin/sh\", \"-c\", \"echo ok; sleep 30\"]\ntimeout = \"60s\"\n",
            data = dir.join("data").display(),
            key = pki.release_public_key().display(),
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_right_after_sending_output_never_reuses_its_sequence_numbers() {
    let pki = TestPki::new();
    let coordinator = HostileCoordinator::start(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(&pki, &coordinator.url(), dir.path());
    let config = config.to_str().unwrap();
    let agent = Proc::spawn("convoy-agent", dir.path(), &["run", "--config", config]);
    coordinator.wait_hello(Duration::from_secs(20)).await;
    coordinator
        .send_command(Command {
            command_id: "c-1".into(),
            job_id: "j-1".into(),
            output_cap_bytes: 1 << 20,
            issued_unix_ms: 0,
            action: Some(command::Action::Run(RunAction {
                name: "slow".into(),
                ..Default::default()
            })),
        })
        .await;
    // The output is acknowledged as it arrives (the hostile coordinator acks everything).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while coordinator.output("c-1").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no output from c-1");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // At once: well inside sled's 500 ms background flush.
    agent.signal("-KILL");
    drop(agent);
    let agent = Proc::spawn("convoy-agent", dir.path(), &["run", "--config", config]);
    let result = coordinator.finished("c-1", Duration::from_secs(20)).await;
    assert_eq!(
        result.state,
        convoy_proto::v1::CommandState::Interrupted as i32,
        "{result:?}"
    );
    let events: Vec<_> = coordinator
        .events()
        .into_iter()
        .filter(|e| e.command_id == "c-1")
        .collect();
    let output_seq = events
        .iter()
        .filter(|e| matches!(e.body, Some(command_event::Body::Output(_))))
        .map(|e| e.seq)
        .max()
        .unwrap();
    let finished_seq = events
        .iter()
        .find(|e| matches!(e.body, Some(command_event::Body::Finished(_))))
        .unwrap()
        .seq;
    assert!(
        finished_seq > output_seq,
        "the result reused the number of acknowledged output: {events:?}"
    );
    drop(agent);
    coordinator.stop().await;
}
