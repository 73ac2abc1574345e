//! Canary analysis in real rollouts (`--analysis`, `--inconclusive`): the verdict comes
//! from the coordinator's metrics history of the canary and the baseline over the bake.
//! The agents here share one machine, so their host metrics are alike: "clearly worse"
//! is an absolute bound no real host meets (`mem<0.001`), "equal" a relative bound
//! (`mem<=1.5*baseline`). The history writes a minute when it closes, so each verdict
//! comes up to a minute after its bake: the waits are long.

use std::time::Duration;

use convoy_proto::identity::Role;
use convoy_proto::v1::rollouts_client::RolloutsClient;
use convoy_proto::v1::{ListRolloutsRequest, RolloutSpec, RolloutView, StartRolloutRequest};
use convoy_tests::TestCoordinator;
use tonic::Code;
use tonic::transport::Channel;

use crate::deploy::current;
use crate::rollout::{fleet, reaches_within, spec, start};

/// A bake, up to a minute for the history to hold it, and the extension's the same again.
const ANALYSIS_WAIT: Duration = Duration::from_secs(180);

async fn reaches(rollouts: &RolloutsClient<Channel>, id: &str, state: &str) -> RolloutView {
    reaches_within(rollouts, id, state, ANALYSIS_WAIT).await
}

fn analysed(analysis: &str, bake_ms: u64) -> RolloutSpec {
    RolloutSpec {
        canary: "1".into(),
        batch: "1".into(),
        bake_ms,
        analysis: vec![analysis.into()],
        auto_promote: true,
        ..spec("2.0")
    }
}

#[tokio::test]
async fn a_canary_past_its_bound_fails_analysis_and_rolls_back() {
    let mut f = fleet(2).await;
    let id = start(
        &mut f.rollouts,
        RolloutSpec {
            on_failure: "rollback".into(),
            ..analysed("mem<0.001", 10_000)
        },
    )
    .await;
    let done = reaches(&f.rollouts, &id, "rolled_back").await;
    let verdicts = &done.waves[0].analysis;
    assert_eq!(verdicts.len(), 1, "{done:?}");
    assert_eq!(verdicts[0].verdict, "fail", "{verdicts:?}");
    assert_eq!(verdicts[0].analysis, "mem<0.001");
    assert!(verdicts[0].canary_samples >= 8, "{verdicts:?}");
    assert!(verdicts[0].canary_median.is_some_and(|m| m > 0.001));
    let canary = &done.waves[0].hosts[0];
    assert!(
        canary.reason.contains("canary analysis failed"),
        "{canary:?}"
    );
    // The second wave never started; the canary is back on 1.0.
    assert_eq!(done.waves[1].hosts[0].state().name(), "pending");
    assert_eq!(current(&f.agents[0].1), "releases/1.0");
    assert_eq!(current(&f.agents[1].1), "releases/1.0");
    f.coordinator.stop().await;
}

#[tokio::test]
async fn a_canary_like_its_baseline_passes_analysis() {
    let mut f = fleet(2).await;
    let id = start(&mut f.rollouts, analysed("mem<=1.5*baseline", 10_000)).await;
    let done = reaches(&f.rollouts, &id, "succeeded").await;
    let verdicts = &done.waves[0].analysis;
    assert_eq!(verdicts.len(), 1, "{done:?}");
    assert_eq!(verdicts[0].verdict, "pass", "{verdicts:?}");
    assert!(verdicts[0].canary_samples >= 8 && verdicts[0].baseline_samples >= 8);
    assert!(verdicts[0].p_value.is_some());
    // The last wave has no baseline left: its relative bound is not judged.
    assert!(done.waves[1].analysis.is_empty(), "{done:?}");
    assert_eq!(current(&f.agents[1].1), "releases/2.0");
    f.coordinator.stop().await;
}

#[tokio::test]
async fn too_few_samples_extend_the_bake_then_inconclusive_fail_decides() {
    let mut f = fleet(2).await;
    // 200 ms heartbeats: a 400 ms bake and its extension hold far fewer than 8 samples.
    let id = start(
        &mut f.rollouts,
        RolloutSpec {
            inconclusive: "fail".into(),
            ..analysed("mem<=1000", 400)
        },
    )
    .await;
    let halted = reaches(&f.rollouts, &id, "paused").await;
    let verdicts = &halted.waves[0].analysis;
    assert_eq!(verdicts.len(), 1, "{halted:?}");
    assert_eq!(verdicts[0].verdict, "inconclusive", "{verdicts:?}");
    assert_eq!(verdicts[0].round, 2, "judged again after the extension");
    let canary = &halted.waves[0].hosts[0];
    assert!(canary.reason.contains("--inconclusive fail"), "{canary:?}");
    assert_eq!(current(&f.agents[1].1), "releases/1.0");
    f.coordinator.stop().await;
}

#[tokio::test]
async fn a_bad_analysis_is_refused_with_its_column_and_nothing_is_created() {
    let mut f = fleet(1).await;
    for (analysis, bake_ms, expected) in [
        ("mem<=1.5*basline", 1_000, "column 6"),
        ("latency<=baseline", 1_000, "unknown series"),
        ("mem<=baseline", 0, "needs --bake"),
    ] {
        let err = f
            .rollouts
            .start_rollout(StartRolloutRequest {
                spec: Some(analysed(analysis, bake_ms)),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains(expected), "{analysis}: {err:?}");
    }
    let listed = f
        .rollouts
        .list_rollouts(ListRolloutsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.rollouts.is_empty(), "{listed:?}");
    f.coordinator.stop().await;
}

#[tokio::test]
async fn a_restart_replays_the_verdict_from_the_log_without_the_history() {
    let mut f = fleet(2).await;
    let id = start(&mut f.rollouts, analysed("mem<0.001", 10_000)).await;
    let before = reaches(&f.rollouts, &id, "paused").await;
    assert_eq!(before.waves[0].analysis[0].verdict, "fail", "{before:?}");
    let (data_dir, addr) = (f.coordinator.data_dir.clone(), f.coordinator.addr);
    f.coordinator.stop().await;
    // With the history off, the restarted coordinator could not judge anything again:
    // what it shows comes from the rollout's log.
    let coordinator = TestCoordinator::start_in_configured(&f.pki, &data_dir, addr, |c| {
        c.monitor.history.enabled = false;
    })
    .await;
    let operator = f.pki.operator("alice", Role::Operator);
    let rollouts = coordinator.rollouts(&f.pki, &operator).await;
    let after = reaches(&rollouts, &id, "paused").await;
    assert_eq!(after.waves[0].analysis, before.waves[0].analysis);
    assert_eq!(after.waves[0].hosts, before.waves[0].hosts);
    assert_eq!(current(&f.agents[1].1), "releases/1.0");
    coordinator.stop().await;
}
