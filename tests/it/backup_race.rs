//! Two uploads of one backup at once over the real `UploadBackup` RPC: a retry that starts
//! while the older stream is still open stops it (`Aborted`), and only the retry's bytes are
//! stored; the agent's own upload afterwards replaces them whole.

use std::collections::BTreeMap;
use std::time::Duration;

use convoy_agent::config::BackupSetConfig;
use convoy_proto::MAX_AGENT_MESSAGE_BYTES;
use convoy_proto::identity::Role;
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use convoy_proto::v1::backups_client::BackupsClient;
use convoy_proto::v1::{
    BackupState, BackupUpload, BackupUploadHeader, BackupUploaded, JobOptions, JobState,
    ListBackupsRequest, RunBackupRequest, VerifyBackupRequest, backup_upload,
};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, channel, wait_for};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic::transport::Channel;

use crate::support::{finished, fleet_online};

fn part(body: backup_upload::Body) -> BackupUpload {
    BackupUpload { body: Some(body) }
}

/// Opens an upload stream; returns its sender and the call's result to come.
fn open_upload(
    link: &AgentLinkClient<Channel>,
    command_id: &str,
) -> (
    mpsc::Sender<BackupUpload>,
    tokio::task::JoinHandle<Result<BackupUploaded, tonic::Status>>,
) {
    let (tx, rx) = mpsc::channel(8);
    let header = part(backup_upload::Body::Header(BackupUploadHeader {
        command_id: command_id.into(),
        keep: 0,
    }));
    tx.try_send(header).unwrap();
    let mut link = link.clone();
    let call = tokio::spawn(async move {
        link.upload_backup(ReceiverStream::new(rx))
            .await
            .map(tonic::Response::into_inner)
    });
    (tx, call)
}

async fn uploading(backups: &mut BackupsClient<Channel>) -> Vec<convoy_proto::v1::Backup> {
    backups
        .list_backups(ListBackupsRequest {
            all: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .backups
}

#[tokio::test]
async fn a_retried_upload_stops_an_older_stream_still_open_and_only_it_is_stored() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let live = pki.dir().join("live");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(live.join("data"), b"the agent's own bytes").unwrap();
    let mut config = TestAgent::config(&pki, &coordinator.url(), "db-1", &[("role", "db")]);
    // The agent's own upload waits behind `before`, so its command stays unfinished while
    // this test uploads for it with the agent's certificate.
    let gate = pki.dir().join("go");
    config.backup_sets = BTreeMap::from([(
        "pgdata".to_string(),
        BackupSetConfig {
            paths: vec![live.clone()],
            exclude: Vec::new(),
            before: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display()),
            ],
            before_timeout: Duration::from_secs(60),
            keep: 0,
        },
    )]);
    let agent = TestAgent::start_with(config);
    let admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 1).await;
    let operator = pki.operator("op", Role::Operator);
    let mut backups = BackupsClient::new(
        channel(&coordinator.url(), &pki.ca_cert(), Some(&operator))
            .await
            .unwrap(),
    );
    let job = backups
        .run_backup(RunBackupRequest {
            set: "pgdata".into(),
            options: Some(JobOptions {
                selector: "role=db".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let command_id = format!("{}/db-1", job.id);
    let link = AgentLinkClient::new(
        channel(&coordinator.url(), &pki.ca_cert(), Some(&pki.agent("db-1")))
            .await
            .unwrap(),
    )
    .max_encoding_message_size(MAX_AGENT_MESSAGE_BYTES);

    // The older attempt: header and some bytes, and its stream stays open.
    let (old_tx, old_call) = open_upload(&link, &command_id);
    old_tx
        .send(part(backup_upload::Body::Data(b"old bytes ".to_vec())))
        .await
        .unwrap();
    wait_for("the first upload began", Duration::from_secs(10), || {
        let mut backups = backups.clone();
        async move {
            let list = uploading(&mut backups).await;
            list.iter()
                .any(|b| b.state == BackupState::Uploading as i32)
                .then_some(())
        }
    })
    .await;

    // The retry takes over; the older call ends Aborted although its stream is still open.
    let (new_tx, new_call) = open_upload(&link, &command_id);
    let old = tokio::time::timeout(Duration::from_secs(10), old_call)
        .await
        .expect("the older upload was stopped")
        .unwrap()
        .unwrap_err();
    assert_eq!(old.code(), Code::Aborted, "{old:?}");
    assert!(old.message().contains("superseded"), "{old:?}");
    // Whatever the old client still sends goes nowhere.
    let _ = old_tx
        .send(part(backup_upload::Body::Data(b"late".to_vec())))
        .await;

    // A well-formed archive (the coordinator looks inside before completing).
    let forged = convoy_tests::hostile::agent::ForgedUpload::honest(
        &command_id,
        &[("retry", b"the retry's bytes")],
    );
    let archive = forged.data.clone();
    for body in [
        backup_upload::Body::Data(forged.data.clone()),
        backup_upload::Body::Manifest(forged.manifest.clone()),
        backup_upload::Body::Trailer(forged.trailer.clone()),
    ] {
        new_tx.send(part(body)).await.unwrap();
    }
    drop(new_tx);
    let stored = new_call.await.unwrap().unwrap();
    let listed = uploading(&mut backups).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, stored.backup_id);
    assert_eq!(listed[0].state, BackupState::Complete as i32);
    assert_eq!(listed[0].sha256, hex::encode(Sha256::digest(&archive)));
    let verified = backups
        .verify_backup(VerifyBackupRequest {
            id: stored.backup_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(verified.verified_ok, "{verified:?}");

    // The agent's own upload of the same backup then replaces it whole.
    std::fs::write(&gate, b"").unwrap();
    let done = finished(&admin, &job.id).await;
    assert_eq!(done.state, JobState::Succeeded as i32, "{done:?}");
    let listed = uploading(&mut backups).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].state, BackupState::Complete as i32);
    assert_ne!(listed[0].sha256, hex::encode(Sha256::digest(&archive)));
    let verified = backups
        .verify_backup(VerifyBackupRequest {
            id: stored.backup_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(verified.verified_ok, "{verified:?}");

    agent.stop().await;
    coordinator.stop().await;
}
