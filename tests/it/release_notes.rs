//! Release notes and metadata (issue 18 point 4): stored with the release at push, shown
//! by `GetRelease` with the rollouts that used it, carried in `rollout.*` events, and
//! refused (changing nothing) over their caps or with bad keys.

use std::collections::BTreeMap;
use std::time::Duration;

use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::monitor_client::MonitorClient;
use convoy_proto::v1::{
    GetReleaseRequest, ListEventsRequest, ListReleasesRequest, PushReleaseChunk, Release,
    ReleaseMeta, RolloutSpec, push_release_chunk,
};
use convoy_tests::{TestPki, channel, wait_for};
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::Channel;

use crate::deploy::artifact;
use crate::rollout::{fleet, reaches_within, spec, start};

async fn push_with(
    admin: &mut AdminClient<Channel>,
    pki: &TestPki,
    version: &str,
    notes: &str,
    metadata: BTreeMap<String, String>,
) -> Result<Release, tonic::Status> {
    let bytes = artifact(version, true);
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let chunks = vec![
        PushReleaseChunk {
            body: Some(push_release_chunk::Body::Meta(ReleaseMeta {
                app: "web".into(),
                version: version.into(),
                signature: pki.sign_release("web", version, &sha256),
                signer: pki.signer().1.into(),
                sha256,
                notes: notes.into(),
                metadata,
            })),
        },
        PushReleaseChunk {
            body: Some(push_release_chunk::Body::Data(bytes)),
        },
    ];
    admin
        .push_release(tokio_stream::iter(chunks))
        .await
        .map(tonic::Response::into_inner)
}

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn notes_and_metadata_round_trip_into_show_and_rollout_events() {
    let mut f = fleet(1).await;
    let notes = "# Fix the login page\n\n- sessions survive a restart\n";
    let pushed = push_with(
        &mut f.admin,
        &f.pki,
        "4.0",
        notes,
        meta(&[("commit", "abc123"), ("build_url", "https://ci/1")]),
    )
    .await
    .unwrap();
    assert_eq!(pushed.notes, notes);
    assert_eq!(pushed.metadata["commit"], "abc123");

    let id = start(
        &mut f.rollouts,
        RolloutSpec {
            auto_promote: true,
            ..spec("4.0")
        },
    )
    .await;
    reaches_within(&f.rollouts, &id, "succeeded", Duration::from_secs(60)).await;

    let detail = f
        .admin
        .get_release(GetReleaseRequest {
            app: "web".into(),
            version: "4.0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let release = detail.release.unwrap();
    assert_eq!(release.notes, notes);
    assert_eq!(
        release.metadata,
        meta(&[("commit", "abc123"), ("build_url", "https://ci/1")])
    );
    let used: Vec<(&str, &str)> = detail
        .rollouts
        .iter()
        .map(|r| (r.id.as_str(), r.state.as_str()))
        .collect();
    assert_eq!(used, vec![(id.as_str(), "succeeded")]);

    // A release pushed without notes (as every release before this feature) reads fine.
    let plain = f
        .admin
        .get_release(GetReleaseRequest {
            app: "web".into(),
            version: "2.0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(plain.release.unwrap().notes.is_empty() && plain.rollouts.is_empty());

    // The rollout's events carry the commit and the first line of the notes.
    let viewer = f.pki.operator("vera", Role::Viewer);
    let monitor = MonitorClient::new(
        channel(&f.coordinator.url(), &f.pki.ca_cert(), Some(&viewer))
            .await
            .unwrap(),
    );
    let succeeded = wait_for("rollout events", Duration::from_secs(20), || {
        let mut monitor = monitor.clone();
        async move {
            let events = monitor
                .list_events(ListEventsRequest {
                    kind: "rollout.succeeded".into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .events;
            events.into_iter().next()
        }
    })
    .await;
    assert_eq!(succeeded.fields["commit"], "abc123");
    assert_eq!(succeeded.fields["notes"], "Fix the login page");
    assert_eq!(succeeded.fields["meta.build_url"], "https://ci/1");
    assert!(
        succeeded
            .message
            .contains("commit abc123: Fix the login page"),
        "{}",
        succeeded.message
    );
}

#[tokio::test]
async fn oversized_or_malformed_notes_and_metadata_are_refused_and_store_nothing() {
    let mut f = fleet(1).await;
    let too_many: Vec<(String, String)> = (0..33).map(|i| (format!("k{i}"), "v".into())).collect();
    let cases: Vec<(&str, String, BTreeMap<String, String>, &str)> = vec![
        ("5.0", "x".repeat(64 * 1024 + 1), BTreeMap::new(), "64 KiB"),
        (
            "5.1",
            String::new(),
            too_many.into_iter().collect(),
            "at most 32",
        ),
        (
            "5.2",
            String::new(),
            meta(&[("Commit", "x")]),
            "invalid metadata key",
        ),
        (
            "5.3",
            String::new(),
            meta(&[("commit", &"v".repeat(1025))]),
            "metadata value",
        ),
        (
            "5.4",
            String::new(),
            meta(&[("commit", "a\u{1b}[2J")]),
            "control character",
        ),
    ];
    for (version, notes, metadata, says) in cases {
        let err = push_with(&mut f.admin, &f.pki, version, &notes, metadata)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{version}: {err:?}");
        assert!(err.message().contains(says), "{version}: {}", err.message());
        let missing = f
            .admin
            .get_release(GetReleaseRequest {
                app: "web".into(),
                version: version.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound, "{version}");
    }
    let listed = f
        .admin
        .list_releases(ListReleasesRequest { app: "web".into() })
        .await
        .unwrap()
        .into_inner()
        .releases;
    assert!(
        listed.iter().all(|r| !r.version.starts_with("5.")),
        "{listed:?}"
    );
    // Exactly at the caps is fine.
    let at_cap: BTreeMap<String, String> = (0..32)
        .map(|i| (format!("k{i}"), "v".repeat(1024)))
        .collect();
    push_with(&mut f.admin, &f.pki, "5.9", &"n".repeat(64 * 1024), at_cap)
        .await
        .unwrap();
}
