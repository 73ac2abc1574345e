//! `convoy release delete` and `convoy backup delete` (issue 19 point 13): admin only,
//! audited, refused while in use or kept by retention, and a refusal changes nothing.

use std::time::Duration;

use convoy_coordinator::config::BackupsConfig;
use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{
    BackupState, DeleteBackupRequest, DeleteReleaseRequest, JobState, ListAuditRequest,
    ListReleasesRequest, ReleaseStatusRequest,
};
use convoy_tests::{TestCoordinator, TestPki, wait_for};
use tonic::Code;
use tonic::transport::Channel;

use crate::backup::{backups_client, db_agent, list, run_backup};
use crate::deploy::{artifact, deploy, push, run, web_agent};
use crate::support::{WAIT, fleet_online};

async fn versions(admin: &mut AdminClient<Channel>) -> Vec<String> {
    let mut versions: Vec<String> = admin
        .list_releases(ListReleasesRequest { app: "web".into() })
        .await
        .unwrap()
        .into_inner()
        .releases
        .into_iter()
        .map(|r| r.version)
        .collect();
    versions.sort();
    versions
}

/// (call, ok) of the audit log's DeleteRelease/DeleteBackup entries, refusals first.
async fn deletes_audited(admin: &mut AdminClient<Channel>) -> Vec<(String, bool)> {
    let mut entries: Vec<(String, bool)> = admin
        .list_audit(ListAuditRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .filter(|e| e.call.starts_with("Delete"))
        .map(|e| (e.call, e.ok))
        .collect();
    entries.sort();
    entries
}

#[tokio::test]
async fn release_delete_is_refused_while_a_host_runs_it_and_removes_an_unused_one() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let (agent, _dir) = web_agent(&pki, &coordinator.url(), "web-1", Vec::new());
    let mut operator = coordinator
        .admin(&pki, &pki.operator("olga", Role::Operator))
        .await;
    let mut admin = coordinator
        .admin(&pki, &pki.operator("ada", Role::Admin))
        .await;
    fleet_online(&admin, 1).await;
    let v1 = push(
        &mut admin,
        "1.0",
        &artifact("1.0", true),
        Some(pki.signer()),
    )
    .await
    .unwrap();
    let v2 = push(
        &mut admin,
        "2.0",
        &artifact("2.0", true),
        Some(pki.signer()),
    )
    .await
    .unwrap();
    let job = run(&mut admin, deploy("1.0")).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    wait_for("web-1 reports 1.0", WAIT, || {
        let mut admin = admin.clone();
        async move {
            let hosts = admin
                .release_status(ReleaseStatusRequest {
                    app: "web".into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .hosts;
            hosts.iter().any(|h| h.version == "1.0").then_some(())
        }
    })
    .await;
    let artifacts = coordinator.data_dir.join("artifacts");
    let request = |version: &str| DeleteReleaseRequest {
        app: "web".into(),
        version: version.into(),
    };

    // An operator is not enough.
    let refused = operator.delete_release(request("2.0")).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    // In use: refused, naming the host; nothing changed.
    let refused = admin.delete_release(request("1.0")).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("running on 1 host: web-1"),
        "{}",
        refused.message()
    );
    // Unknown: a clear error.
    let refused = admin.delete_release(request("9.9")).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    assert!(
        refused.message().contains("no release web 9.9"),
        "{}",
        refused.message()
    );
    assert_eq!(versions(&mut admin).await, ["1.0", "2.0"]);
    assert!(artifacts.join(&v1.sha256).exists() && artifacts.join(&v2.sha256).exists());

    // Unused: deleted, record and artifact.
    let deleted = admin
        .delete_release(request("2.0"))
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.artifact_removed);
    assert_eq!(deleted.release.unwrap().sha256, v2.sha256);
    assert_eq!(versions(&mut admin).await, ["1.0"]);
    assert!(!artifacts.join(&v2.sha256).exists());
    assert!(artifacts.join(&v1.sha256).exists());
    // Gone means gone: deploying it now is refused.
    let gone = admin.start_job(deploy("2.0")).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");

    assert_eq!(
        deletes_audited(&mut admin).await,
        [
            ("DeleteRelease".to_string(), false),
            ("DeleteRelease".to_string(), false),
            ("DeleteRelease".to_string(), false),
            ("DeleteRelease".to_string(), true),
        ]
    );
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn backup_delete_keeps_the_last_complete_one_and_needs_an_admin() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start_with_backups(
        &pki,
        BackupsConfig {
            min_retention: Duration::ZERO,
            keep: 0,
            ..Default::default()
        },
    )
    .await;
    let (agent, _live) = db_agent(&pki, &coordinator.url(), "db-1", &[], 0);
    let mut admin = coordinator
        .admin(&pki, &pki.operator("ada", Role::Admin))
        .await;
    fleet_online(&admin, 1).await;
    let mut as_admin = backups_client(&coordinator, &pki, Role::Admin).await;
    let mut as_operator = backups_client(&coordinator, &pki, Role::Operator).await;
    for _ in 0..2 {
        let job = run_backup(&mut as_admin, &admin, "").await;
        assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    }
    let stored = list(&mut as_admin, "db-1", false).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(
        stored
            .iter()
            .all(|b| b.state == BackupState::Complete as i32)
    );
    let (newer, older) = (stored[0].clone(), stored[1].clone());
    let file = |relative: &str| coordinator.data_dir.join(relative);
    let request = |id: &str| DeleteBackupRequest { id: id.into() };

    let refused = as_operator
        .delete_backup(request(&older.id))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let refused = as_admin.delete_backup(request("b-nope")).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    assert!(
        refused.message().contains("b-nope"),
        "{}",
        refused.message()
    );
    assert_eq!(list(&mut as_admin, "db-1", false).await.len(), 2);

    // Another complete one stays: the older goes, record and files.
    let deleted = as_admin
        .delete_backup(request(&older.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.id, older.id);
    let left = list(&mut as_admin, "db-1", true).await;
    assert_eq!(
        left.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
        [newer.id.as_str()]
    );
    assert!(!file(&older.archive_path).exists());
    assert!(!file(&older.manifest_path).exists());

    // The last complete backup of the set stays; nothing changes.
    let refused = as_admin
        .delete_backup(request(&newer.id))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused
            .message()
            .contains("last complete backup of set pgdata on host db-1"),
        "{}",
        refused.message()
    );
    assert_eq!(list(&mut as_admin, "db-1", false).await.len(), 1);
    assert!(file(&newer.archive_path).exists());

    assert_eq!(
        deletes_audited(&mut admin).await,
        [
            ("DeleteBackup".to_string(), false),
            ("DeleteBackup".to_string(), false),
            ("DeleteBackup".to_string(), false),
            ("DeleteBackup".to_string(), true),
        ]
    );
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn backup_delete_respects_min_retention() {
    let pki = TestPki::new();
    // The default min_retention (7 days): nothing just made may go, even with another
    // complete one beside it.
    let coordinator = TestCoordinator::start_with_backups(&pki, BackupsConfig::default()).await;
    let (agent, _live) = db_agent(&pki, &coordinator.url(), "db-1", &[], 0);
    let admin = coordinator
        .admin(&pki, &pki.operator("ada", Role::Admin))
        .await;
    fleet_online(&admin, 1).await;
    let mut as_admin = backups_client(&coordinator, &pki, Role::Admin).await;
    for _ in 0..2 {
        run_backup(&mut as_admin, &admin, "").await;
    }
    let stored = list(&mut as_admin, "db-1", false).await;
    assert_eq!(stored.len(), 2);
    let refused = as_admin
        .delete_backup(DeleteBackupRequest {
            id: stored[1].id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused
            .message()
            .contains("min_retention keeps every backup for 7days"),
        "{}",
        refused.message()
    );
    assert_eq!(list(&mut as_admin, "db-1", false).await.len(), 2);
    agent.stop().await;
    coordinator.stop().await;
}
