//! Releases and deploys end to end: real archives pushed to a real coordinator, deployed by
//! real agents that run the hooks and health checks, switch back on failure, roll back,
//! and refuse what they must refuse.

use std::collections::BTreeMap;
use std::path::Path;

use convoy_agent::deploy::manifest::Manifest;
use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{
    CommandState, DeploySpec, GetCommandOutputRequest, Job, JobState, PushReleaseChunk, Release,
    ReleaseMeta, ReleaseStatusRequest, RollbackSpec, StartJobRequest, push_release_chunk,
};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, wait_for};
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::Channel;

use crate::support::{WAIT, finished, fleet_online};

const MANIFEST: &str = r#"
[hooks]
start = ["/bin/sh", "-c", "echo started $CONVOY_VERSION >> ../../started.log"]
[health]
command = ["/bin/sh", "-c", "test -f healthy"]
interval = "50ms"
retries = 3
deadline = "5s"
"#;

/// A tar.gz with `convoy.toml`, a version file, and (if `healthy`) the file the health
/// check looks for.
pub(crate) fn artifact(version: &str, healthy: bool) -> Vec<u8> {
    artifact_with(version, healthy, MANIFEST)
}

/// Like [`artifact`], with another `convoy.toml`.
pub(crate) fn artifact_with(version: &str, healthy: bool, manifest: &str) -> Vec<u8> {
    let mut files = vec![
        ("convoy.toml", manifest.to_string()),
        ("VERSION", format!("{version}\n")),
    ];
    if healthy {
        files.push(("healthy", String::new()));
    }
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (path, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, contents.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// A tar.gz whose one entry climbs out of the release directory.
fn hostile_artifact() -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let mut header = tar::Header::new_gnu();
    let name = b"../../escaped";
    header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &b"evil"[..]).unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) async fn push(
    admin: &mut AdminClient<Channel>,
    version: &str,
    bytes: &[u8],
    key: Option<(&Path, &str)>,
) -> Result<Release, tonic::Status> {
    let sha = sha256(bytes);
    let signature = match key {
        Some((path, _)) => {
            let key = convoy_proto::signing::load_private(path).unwrap();
            convoy_proto::signing::sign(&key, "web", version, &sha)
        }
        None => Vec::new(),
    };
    let mut chunks = vec![PushReleaseChunk {
        body: Some(push_release_chunk::Body::Meta(ReleaseMeta {
            app: "web".into(),
            version: version.into(),
            signature,
            signer: key.map(|(_, name)| name.to_string()).unwrap_or_default(),
            sha256: sha,
            ..Default::default()
        })),
    }];
    for chunk in bytes.chunks(1000) {
        chunks.push(PushReleaseChunk {
            body: Some(push_release_chunk::Body::Data(chunk.to_vec())),
        });
    }
    admin
        .push_release(tokio_stream::iter(chunks))
        .await
        .map(tonic::Response::into_inner)
}

pub(crate) async fn run(admin: &mut AdminClient<Channel>, request: StartJobRequest) -> Job {
    let job = admin
        .start_job(request)
        .await
        .expect("start job")
        .into_inner();
    finished(admin, &job.id).await
}

pub(crate) fn deploy(version: &str) -> StartJobRequest {
    StartJobRequest {
        deploy: Some(DeploySpec {
            app: "web".into(),
            version: version.into(),
        }),
        ..Default::default()
    }
}

pub(crate) fn web_agent(
    pki: &TestPki,
    url: &str,
    id: &str,
    keys: Vec<std::path::PathBuf>,
) -> (TestAgent, std::path::PathBuf) {
    let mut config = TestAgent::config(pki, url, id, &[("role", "web")]);
    config.apps = BTreeMap::from([("web".to_string(), Manifest::default())]);
    if !keys.is_empty() {
        config.release_public_keys = keys;
    }
    let app_dir = config.data_dir.join("apps/web");
    (TestAgent::start_with(config), app_dir)
}

pub(crate) fn current(app_dir: &Path) -> String {
    std::fs::read_link(app_dir.join("current"))
        .map(|t| t.display().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn deploy_switches_rolls_back_and_redeploying_is_a_no_op() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let (a1, dir1) = web_agent(&pki, &coordinator.url(), "web-1", Vec::new());
    let (a2, dir2) = web_agent(&pki, &coordinator.url(), "web-2", Vec::new());
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 2).await;

    let v1 = artifact("1.0", true);
    let release = push(&mut admin, "1.0", &v1, Some(pki.signer()))
        .await
        .unwrap();
    assert_eq!(
        (release.sha256.clone(), release.format.as_str()),
        (sha256(&v1), "tar.gz")
    );
    // The same bytes again are fine; other bytes under the same version are not.
    assert_eq!(
        push(&mut admin, "1.0", &v1, Some(pki.signer()))
            .await
            .unwrap()
            .sha256,
        release.sha256
    );
    let conflict = push(
        &mut admin,
        "1.0",
        &artifact("1.0b", true),
        Some(pki.signer()),
    )
    .await
    .unwrap_err();
    assert_eq!(conflict.code(), Code::AlreadyExists);

    let job = run(&mut admin, deploy("1.0")).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    for dir in [&dir1, &dir2] {
        assert_eq!(current(dir), "releases/1.0");
        assert_eq!(
            std::fs::read_to_string(dir.join("current/VERSION")).unwrap(),
            "1.0\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("started.log")).unwrap(),
            "started 1.0\n"
        );
    }
    let output = admin
        .get_command_output(GetCommandOutputRequest {
            job_id: job.id.clone(),
            host: "web-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let progress = String::from_utf8_lossy(&output.data);
    for phase in [
        "fetching web 1.0",
        "verified",
        "unpacked",
        "current -> releases/1.0",
        "start hook of 1.0 succeeded",
        "is healthy",
    ] {
        assert!(
            progress.contains(phase),
            "missing {phase:?} in:\n{progress}"
        );
    }

    push(
        &mut admin,
        "2.0",
        &artifact("2.0", true),
        Some(pki.signer()),
    )
    .await
    .unwrap();
    assert_eq!(
        run(&mut admin, deploy("2.0")).await.state,
        JobState::Succeeded as i32
    );
    assert_eq!(current(&dir1), "releases/2.0");
    let status = wait_for("status reports 2.0", WAIT, || {
        let mut admin = admin.clone();
        async move {
            let hosts = admin
                .release_status(ReleaseStatusRequest {
                    app: "web".into(),
                    selector: String::new(),
                })
                .await
                .ok()?
                .into_inner()
                .hosts;
            hosts
                .iter()
                .all(|h| h.version == "2.0" && h.healthy && h.previous == "1.0")
                .then_some(hosts)
        }
    })
    .await;
    assert_eq!(status.len(), 2);

    let rollback = StartJobRequest {
        rollback: Some(RollbackSpec {
            app: "web".into(),
            version: String::new(),
        }),
        ..Default::default()
    };
    let job = run(&mut admin, rollback).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    assert_eq!(current(&dir1), "releases/1.0");

    // Deploying what is current and healthy does nothing and succeeds.
    let job = run(&mut admin, deploy("1.0")).await;
    assert_eq!(job.state, JobState::Succeeded as i32);
    assert!(
        job.hosts[0].message.contains("nothing to do"),
        "{}",
        job.hosts[0].message
    );
    assert_eq!(
        std::fs::read_to_string(dir1.join("started.log")).unwrap(),
        "started 1.0\nstarted 2.0\nstarted 1.0\n"
    );

    // Unknown releases and apps are refused before anything is created.
    assert_eq!(
        admin.start_job(deploy("9.9")).await.unwrap_err().code(),
        Code::NotFound
    );
    let other_app = StartJobRequest {
        deploy: Some(DeploySpec {
            app: "db".into(),
            version: "1.0".into(),
        }),
        ..Default::default()
    };
    assert_eq!(
        admin.start_job(other_app).await.unwrap_err().code(),
        Code::NotFound
    );
    for agent in [a1, a2] {
        agent.stop().await;
    }
    coordinator.stop().await;
}

#[tokio::test]
async fn a_release_that_fails_its_health_check_is_reverted() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let (agent, dir) = web_agent(&pki, &coordinator.url(), "web-1", Vec::new());
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
    push(
        &mut admin,
        "2.0",
        &artifact("2.0", false),
        Some(pki.signer()),
    )
    .await
    .unwrap();
    assert_eq!(
        run(&mut admin, deploy("1.0")).await.state,
        JobState::Succeeded as i32
    );
    let job = run(&mut admin, deploy("2.0")).await;
    assert_eq!(job.state, JobState::Failed as i32);
    let message = &job.hosts[0].message;
    assert!(
        message.contains("health check failed")
            && message.contains("reverted to 1.0, which is healthy"),
        "{message}"
    );
    assert_eq!(current(&dir), "releases/1.0");
    assert_eq!(
        std::fs::read_to_string(dir.join("started.log")).unwrap(),
        "started 1.0\nstarted 2.0\nstarted 1.0\n"
    );
    agent.stop().await;
    coordinator.stop().await;
}

/// An operator's cancel while the new release waits for its health check: the command ends
/// `cancelled`, the old release is back, and what is stored about it is a real probe's
/// result (a cancelled token reused for the revert used to fail it at once).
#[tokio::test]
async fn a_deploy_cancelled_mid_health_wait_is_reverted_and_ends_cancelled() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let (agent, dir) = web_agent(&pki, &coordinator.url(), "web-1", Vec::new());
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 1).await;
    let waits = MANIFEST
        .replace("retries = 3", "retries = 100000")
        .replace("deadline = \"5s\"", "deadline = \"10m\"");
    for (version, healthy) in [("1.0", true), ("2.0", false)] {
        let bytes = artifact_with(version, healthy, &waits);
        push(&mut admin, version, &bytes, Some(pki.signer()))
            .await
            .unwrap();
    }
    assert_eq!(
        run(&mut admin, deploy("1.0")).await.state,
        JobState::Succeeded as i32
    );
    let job = admin.start_job(deploy("2.0")).await.unwrap().into_inner();
    wait_for("2.0 is started and probed", WAIT, || {
        let log = std::fs::read_to_string(dir.join("started.log")).unwrap_or_default();
        async move { log.contains("started 2.0").then_some(()) }
    })
    .await;
    admin
        .cancel_job(convoy_proto::v1::CancelJobRequest { id: job.id.clone() })
        .await
        .unwrap();
    let job = finished(&admin, &job.id).await;
    assert_eq!(job.state, JobState::Cancelled as i32, "{job:?}");
    let host = &job.hosts[0];
    assert_eq!(host.state, CommandState::Cancelled as i32, "{host:?}");
    assert!(
        host.message.contains("cancelled")
            && host.message.contains("reverted to 1.0, which is healthy"),
        "{}",
        host.message
    );
    assert_eq!(current(&dir), "releases/1.0");
    assert_eq!(
        std::fs::read_to_string(dir.join("started.log")).unwrap(),
        "started 1.0\nstarted 2.0\nstarted 1.0\n"
    );
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn signatures_checksums_and_hostile_archives_are_refused() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let keys = pki.dir().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for (name, seed) in [("release", [1u8; 32]), ("mallory", [2u8; 32])] {
        let (private, public) = convoy_proto::signing::generate(seed).unwrap();
        std::fs::write(keys.join(format!("{name}.key")), private).unwrap();
        std::fs::write(keys.join(format!("{name}.pub")), public).unwrap();
    }
    let (agent, dir) = web_agent(
        &pki,
        &coordinator.url(),
        "web-1",
        vec![keys.join("release.pub")],
    );
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 1).await;
    let failed = |job: &Job| {
        (job.hosts[0].state == CommandState::Failed as i32).then(|| job.hosts[0].message.clone())
    };

    // Unsigned code needs an admin to push it, and nothing is stored for an operator.
    let refused = push(&mut admin, "1.0", &artifact("1.0", true), None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("needs admin"), "{refused:?}");
    assert!(
        std::fs::read_dir(coordinator.data_dir.join("artifacts"))
            .map(|entries| entries.count() == 0)
            .unwrap_or(true),
        "no bytes stored for a refused unsigned push"
    );
    let mut root = coordinator
        .admin(&pki, &pki.operator("root", Role::Admin))
        .await;
    push(&mut root, "1.0", &artifact("1.0", true), None)
        .await
        .unwrap();
    let message = failed(&run(&mut admin, deploy("1.0")).await).expect("unsigned refused");
    assert!(message.contains("not signed"), "{message}");
    push(
        &mut admin,
        "1.1",
        &artifact("1.1", true),
        Some((&keys.join("mallory.key"), "mallory")),
    )
    .await
    .unwrap();
    let message = failed(&run(&mut admin, deploy("1.1")).await).expect("wrong key refused");
    assert!(message.contains("bad signature"), "{message}");
    assert!(!dir.join("releases/1.0").exists() && !dir.join("releases/1.1").exists());

    let signed = artifact("2.0", true);
    let release = push(
        &mut admin,
        "2.0",
        &signed,
        Some((&keys.join("release.key"), "release")),
    )
    .await
    .unwrap();
    // Tamper with the coordinator's stored bytes: the agent's sha256 check catches it.
    let stored = coordinator.data_dir.join("artifacts").join(&release.sha256);
    let mut bytes = std::fs::read(&stored).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&stored, &bytes).unwrap();
    let message = failed(&run(&mut admin, deploy("2.0")).await).expect("tampered refused");
    assert!(message.contains("checksum mismatch"), "{message}");
    std::fs::write(&stored, &signed).unwrap();
    assert_eq!(
        run(&mut admin, deploy("2.0")).await.state,
        JobState::Succeeded as i32
    );

    let hostile = hostile_artifact();
    push(
        &mut admin,
        "3.0",
        &hostile,
        Some((&keys.join("release.key"), "release")),
    )
    .await
    .unwrap();
    let message = failed(&run(&mut admin, deploy("3.0")).await).expect("hostile refused");
    assert!(message.contains("refused the archive"), "{message}");
    assert!(!dir.join("releases/3.0").exists());
    assert!(!dir.join("escaped").exists() && !dir.join("releases/escaped").exists());
    assert_eq!(
        current(&dir),
        "releases/2.0",
        "a refused release changes nothing"
    );
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn a_broken_off_download_resumes_where_it_stopped() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let (agent, dir) = web_agent(&pki, &coordinator.url(), "web-1", Vec::new());
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 1).await;
    let bytes = artifact("1.0", true);
    let release = push(&mut admin, "1.0", &bytes, Some(pki.signer()))
        .await
        .unwrap();
    // What an interrupted download leaves: the first half, in the agent's downloads.
    let downloads = dir.parent().unwrap().parent().unwrap().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let half = bytes.len() / 2;
    std::fs::write(
        downloads.join(format!("{}.part", release.sha256)),
        &bytes[..half],
    )
    .unwrap();
    let job = run(&mut admin, deploy("1.0")).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    let output = admin
        .get_command_output(GetCommandOutputRequest {
            job_id: job.id.clone(),
            host: "web-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let progress = String::from_utf8_lossy(&output.data);
    assert!(
        progress.contains(&format!(
            "resuming the download at {half} of {}",
            bytes.len()
        )),
        "{progress}"
    );
    assert!(
        !downloads.join(format!("{}.part", release.sha256)).exists(),
        "download cleaned up"
    );
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn a_host_that_opted_out_of_signatures_is_shown_and_runs_only_what_an_admin_pushed() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let (signed, signed_dir) = web_agent(&pki, &coordinator.url(), "web-1", Vec::new());
    let mut config = TestAgent::config(&pki, &coordinator.url(), "web-2", &[("role", "web")]);
    config.apps = BTreeMap::from([("web".to_string(), Manifest::default())]);
    config.release_public_keys.clear();
    config.allow_unsigned_releases = true;
    let unsigned_dir = config.data_dir.join("apps/web");
    let opted_out = TestAgent::start_with(config);
    let mut operator = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&operator, 2).await;
    // The coordinator keeps and shows what each host said in its Hello.
    let agents = crate::support::list(&mut operator, "").await;
    let allows: BTreeMap<_, _> = agents
        .iter()
        .map(|a| (a.id.as_str(), a.allow_unsigned_releases))
        .collect();
    assert_eq!(allows, BTreeMap::from([("web-1", false), ("web-2", true)]));
    let detail = crate::support::get(&mut operator, "web-2").await.unwrap();
    assert!(detail.agent.unwrap().allow_unsigned_releases);

    // An operator may not push unsigned code; an admin may.
    let bytes = artifact("1.0", true);
    let denied = push(&mut operator, "1.0", &bytes, None).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let mut root = coordinator
        .admin(&pki, &pki.operator("root", Role::Admin))
        .await;
    let release = push(&mut root, "1.0", &bytes, None).await.unwrap();
    assert!(release.signature.is_empty());
    let job = run(&mut operator, deploy("1.0")).await;
    let by_host: BTreeMap<_, _> = job
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), (h.state, h.message.clone())))
        .collect();
    assert_eq!(
        by_host["web-2"].0,
        CommandState::Succeeded as i32,
        "{job:?}"
    );
    assert_eq!(by_host["web-1"].0, CommandState::Failed as i32, "{job:?}");
    assert!(by_host["web-1"].1.contains("not signed"), "{job:?}");
    assert_eq!(current(&unsigned_dir), "releases/1.0");
    assert_eq!(current(&signed_dir), "");
    for agent in [signed, opted_out] {
        agent.stop().await;
    }
    coordinator.stop().await;
}
