//! Certificates that abuse what they are allowed to send: oversized operator requests,
//! floods of refused calls, and hosts that describe themselves with hostile strings. Each
//! is refused or bounded, and the audit log stays small and readable.

use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use convoy_proto::v1::{
    AgentMessage, FetchArtifactRequest, Hello, ListAgentsRequest, ListAuditRequest,
    PushReleaseChunk, ReleaseMeta, StartJobRequest, agent_message, push_release_chunk,
};
use convoy_tests::{TestCoordinator, TestPki, channel};
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::Channel;

use crate::support::raw_session;

async fn audit(admin: &mut AdminClient<Channel>, operator: &str, limit: u32) -> (usize, u64) {
    let page = admin
        .list_audit(ListAuditRequest {
            operator: operator.into(),
            limit,
            ..Default::default()
        })
        .await
        .expect("audit readable")
        .into_inner();
    (page.entries.len(), page.refusals_not_stored)
}

#[tokio::test]
async fn oversized_requests_and_refusal_floods_cannot_fill_or_break_the_audit_log() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut viewer = coordinator
        .admin(&pki, &pki.operator("vera", Role::Viewer))
        .await;
    let viewer = &mut viewer;
    let mut admin = coordinator
        .admin(&pki, &pki.operator("root", Role::Admin))
        .await;

    // 15 MB selectors: refused before anything is decoded into a request.
    for _ in 0..3 {
        let status = viewer
            .start_job(StartJobRequest {
                action: "noop".into(),
                selector: "a".repeat(15 * 1024 * 1024),
                ..Default::default()
            })
            .await
            .expect_err("15 MB selector refused");
        assert_ne!(status.code(), Code::Ok);
    }
    // Just over the selector cap: a clear InvalidArgument that names the field.
    let status = admin
        .start_job(StartJobRequest {
            action: "noop".into(),
            selector: "a".repeat(4097),
            ..Default::default()
        })
        .await
        .expect_err("5 KiB selector refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("selector"),
        "{}",
        status.message()
    );
    let status = admin
        .list_agents(ListAgentsRequest {
            selector: "role=".repeat(1000),
        })
        .await
        .expect_err("oversized read selector refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        audit(&mut admin, "", 100).await.0,
        0,
        "nothing was recorded"
    );

    // A flood of refused calls of ordinary size: the burst is stored, the rest counted.
    for _ in 0..60 {
        let status = viewer
            .start_job(StartJobRequest {
                action: "noop".into(),
                selector: format!("role={}", "w".repeat(60)),
                ..Default::default()
            })
            .await
            .expect_err("viewer refused");
        assert_eq!(status.code(), Code::PermissionDenied);
    }
    let (stored, not_stored) = audit(&mut admin, "vera", 1000).await;
    assert!((20..=25).contains(&stored), "{stored} refusals stored");
    assert_eq!(stored as u64 + not_stored, 60);
    // And the log still reads in small pages.
    assert_eq!(audit(&mut admin, "", 3).await.0, 3);
    coordinator.stop().await;
}

#[tokio::test]
async fn a_hello_with_hostile_strings_is_refused_and_nothing_is_stored() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let certs = pki.agent("web-1");
    let agent_channel = channel(&coordinator.url(), &pki.ca_cert(), Some(&certs))
        .await
        .unwrap();
    let hostile = [
        ("version", "1.0\u{1b}]0;owned\u{7}".to_string()),
        ("version", "v".repeat(129)),
    ];
    for (field, version) in hostile {
        let hello = AgentMessage {
            body: Some(agent_message::Body::Hello(Hello {
                agent_id: "web-1".into(),
                version,
                ..Default::default()
            })),
        };
        let (_tx, response) = raw_session(agent_channel.clone(), hello).await;
        let status = response.expect_err("hostile hello refused");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains(field), "{}", status.message());
    }
    let mut admin = coordinator
        .admin(&pki, &pki.operator("vera", Role::Viewer))
        .await;
    let agents = admin
        .list_agents(ListAgentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .agents;
    assert!(agents.is_empty(), "nothing registered: {agents:?}");
    coordinator.stop().await;
}

#[tokio::test]
async fn an_agent_downloads_only_artifacts_of_deploys_sent_to_it() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut admin = coordinator
        .admin(&pki, &pki.operator("root", Role::Admin))
        .await;
    let bytes = tarball(b"secret");
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let chunks = vec![
        PushReleaseChunk {
            body: Some(push_release_chunk::Body::Meta(ReleaseMeta {
                app: "secret".into(),
                version: "1.0".into(),
                sha256: sha256.clone(),
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
        .expect("an admin may push an unsigned release");
    // The fleet's state is the coordinator user's alone.
    use std::os::unix::fs::PermissionsExt as _;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&coordinator.data_dir), 0o700);
    assert_eq!(mode(&coordinator.data_dir.join("artifacts")), 0o700);
    assert_eq!(
        mode(&coordinator.data_dir.join("artifacts").join(&sha256)),
        0o600
    );
    let store = coordinator.data_dir.join("coordinator.sled");
    assert_eq!(mode(&store), 0o700);
    for entry in std::fs::read_dir(&store).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    let certs = pki.agent("web-1");
    let agent_channel = channel(&coordinator.url(), &pki.ca_cert(), Some(&certs))
        .await
        .unwrap();
    let status = AgentLinkClient::new(agent_channel)
        .fetch_artifact(FetchArtifactRequest { sha256, offset: 0 })
        .await
        .expect_err("no deploy was sent to web-1");
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "{}",
        status.message()
    );
    coordinator.stop().await;
}

/// A tar.gz with one small file.
fn tarball(content: &[u8]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "file", content).unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

/// Pushes `bytes` as web `version`, signed by the private key at `key` (if any), claiming
/// `signer`.
async fn push_signed(
    admin: &mut AdminClient<Channel>,
    version: &str,
    bytes: &[u8],
    key: Option<&std::path::Path>,
    signer: &str,
) -> Result<convoy_proto::v1::Release, tonic::Status> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let signature = key
        .map(|path| {
            let key = convoy_proto::signing::load_private(path).unwrap();
            convoy_proto::signing::sign(&key, "web", version, &sha256)
        })
        .unwrap_or_default();
    let chunks = vec![
        PushReleaseChunk {
            body: Some(push_release_chunk::Body::Meta(ReleaseMeta {
                app: "web".into(),
                version: version.into(),
                sha256,
                signature,
                signer: signer.into(),
                ..Default::default()
            })),
        },
        PushReleaseChunk {
            body: Some(push_release_chunk::Body::Data(bytes.to_vec())),
        },
    ];
    admin
        .push_release(tokio_stream::iter(chunks))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn the_coordinator_verifies_signatures_at_push_and_names_only_the_key_that_verified() {
    let pki = TestPki::new();
    let keys = pki.dir().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for (name, seed) in [("ci", [1u8; 32]), ("rogue", [2u8; 32])] {
        let (private, public) = convoy_proto::signing::generate(seed).unwrap();
        std::fs::write(keys.join(format!("{name}.key")), private).unwrap();
        std::fs::write(keys.join(format!("{name}.pub")), public).unwrap();
    }
    let trusted = keys.join("ci.pub");
    let coordinator = TestCoordinator::start_configured(&pki, |config| {
        config.release_public_keys = vec![trusted]
    })
    .await;
    let mut admin = coordinator
        .admin(&pki, &pki.operator("root", Role::Admin))
        .await;

    // Signed by the trusted key while claiming another name: the key's name is recorded.
    let release = push_signed(
        &mut admin,
        "1.0",
        &tarball(b"one"),
        Some(&keys.join("ci.key")),
        "alice",
    )
    .await
    .expect("a signature by a trusted key is accepted");
    assert!(release.signature_verified);
    assert_eq!(release.signer, "ci");

    // Signed by a key the coordinator does not trust: refused before a byte is stored.
    let bytes = tarball(b"two");
    let status = push_signed(
        &mut admin,
        "2.0",
        &bytes,
        Some(&keys.join("rogue.key")),
        "ci",
    )
    .await
    .expect_err("a signature that does not verify is refused");
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "{}",
        status.message()
    );
    let listed = admin
        .list_releases(convoy_proto::v1::ListReleasesRequest { app: "web".into() })
        .await
        .unwrap()
        .into_inner()
        .releases;
    assert_eq!(listed.len(), 1, "only 1.0 is recorded");
    let sha = hex::encode(Sha256::digest(&bytes));
    assert!(!coordinator.data_dir.join("artifacts").join(sha).exists());
    coordinator.stop().await;

    // A coordinator without keys stores a signature as a claim, never as verified.
    let coordinator = TestCoordinator::start(&pki).await;
    let mut admin = coordinator
        .admin(&pki, &pki.operator("root", Role::Admin))
        .await;
    let release = push_signed(
        &mut admin,
        "3.0",
        &tarball(b"three"),
        Some(&keys.join("rogue.key")),
        "ci",
    )
    .await
    .expect("stored as claimed");
    assert!(!release.signature_verified);
    coordinator.stop().await;
}

/// The Backups service bounds its requests like the others (it once did not: a schedule
/// could store a selector of up to the 1 MiB decoding limit). Refused as InvalidArgument,
/// naming the field, and nothing is stored.
#[tokio::test]
async fn oversized_backup_requests_are_refused_and_store_nothing() {
    use convoy_proto::v1::{AddScheduleRequest, ListSchedulesRequest, RunBackupRequest};
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut backups = crate::backup::backups_client(&coordinator, &pki, Role::Admin).await;
    let status = backups
        .add_schedule(AddScheduleRequest {
            set: "db".into(),
            selector: format!("role in ({})", "a,".repeat(200_000)),
            cron: "0 3 * * *".into(),
            ..Default::default()
        })
        .await
        .expect_err("a 400 KB selector is refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("selector"),
        "{}",
        status.message()
    );
    let status = backups
        .run_backup(RunBackupRequest {
            set: "x".repeat(100_000),
            ..Default::default()
        })
        .await
        .expect_err("a 100 KB set name is refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let schedules = backups
        .list_schedules(ListSchedulesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(schedules.schedules.is_empty());
    coordinator.stop().await;
}
