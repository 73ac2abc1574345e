//! The post-deployment report (`convoy rollout report`) of real rollouts: a rolled-back
//! one names the failed host's reason and has metric deltas from the history; the report
//! is stored when the rollout ends (once the history holds the minute it ended in, so up
//! to about a minute later: the waits are long), `rollout.finished` carries its summary,
//! and the stored report is the same after a restart; an unknown id is `NotFound`.

use std::time::Duration;

use convoy_coordinator::cli::rollouts::report::markdown;
use convoy_proto::identity::Role;
use convoy_proto::v1::monitor_client::MonitorClient;
use convoy_proto::v1::rollouts_client::RolloutsClient;
use convoy_proto::v1::{
    ListEventsRequest, RolloutHostState, RolloutReport, RolloutReportRequest, RolloutSpec,
    RolloutState,
};
use convoy_tests::{TestCoordinator, channel, wait_for};
use tonic::Code;
use tonic::transport::Channel;

use crate::rollout::{fleet, reaches_within, spec, start};

/// The rollout, then up to a minute and a little for the history to close its last minute.
const STORED_WAIT: Duration = Duration::from_secs(150);

async fn report(
    rollouts: &RolloutsClient<Channel>,
    id: &str,
) -> Result<RolloutReport, tonic::Status> {
    rollouts
        .clone()
        .get_rollout_report(RolloutReportRequest { id: id.into() })
        .await
        .map(tonic::Response::into_inner)
}

/// Waits until the report of `id` is the stored one.
async fn stored(rollouts: &RolloutsClient<Channel>, id: &str) -> RolloutReport {
    wait_for("the stored report", STORED_WAIT, || async move {
        report(rollouts, id).await.ok().filter(|r| r.stored)
    })
    .await
}

#[tokio::test]
async fn a_rolled_back_rollouts_report_names_the_failed_host_and_its_metric_deltas() {
    let mut f = fleet(2).await;
    let id = start(
        &mut f.rollouts,
        RolloutSpec {
            canary: "1".into(),
            on_failure: "rollback".into(),
            ..spec("3.0")
        },
    )
    .await;
    reaches_within(&f.rollouts, &id, "rolled_back", Duration::from_secs(60)).await;
    // Before it is stored, the report is computed on demand.
    let early = report(&f.rollouts, &id).await.expect("report");
    assert_eq!(early.state(), RolloutState::RolledBack);
    let report = stored(&f.rollouts, &id).await;
    assert_eq!(report.app, "web");
    assert_eq!(report.version, "3.0");
    assert_eq!((report.failures, report.failure_budget), (1, 0));
    let failed: Vec<_> = report
        .hosts
        .iter()
        .filter(|h| !h.reason.is_empty())
        .collect();
    assert_eq!(failed.len(), 1, "{report:?}");
    let failed = failed[0];
    assert!(failed.reason.contains("failed"), "{failed:?}");
    assert!(failed.deployed_unix_ms > 0, "{failed:?}");
    assert!(
        matches!(
            failed.state(),
            RolloutHostState::Failed | RolloutHostState::RolledBack
        ),
        "{failed:?}"
    );
    let rollback = report.rollback.as_ref().expect("rollback details");
    assert!(rollback.trigger.contains("budget"), "{rollback:?}");
    assert!(rollback.started_unix_ms > 0 && rollback.finished_unix_ms >= rollback.started_unix_ms);
    // Deltas of the failed host, read from the history: before its update and after it.
    let own: Vec<_> = report
        .deltas
        .iter()
        .filter(|d| d.host == failed.host)
        .collect();
    let names: Vec<&str> = own.iter().map(|d| d.series.as_str()).collect();
    for series in ["cpu", "mem", "load1"] {
        assert!(names.contains(&series), "{series} missing: {own:?}");
    }
    let cpu = own.iter().find(|d| d.series == "cpu").expect("cpu delta");
    assert!(
        cpu.before_samples >= 1 && cpu.before_median.is_some(),
        "{cpu:?}"
    );
    // The failed host's "after" ends at its rollback, seconds later: whether a whole minute
    // of the history falls in between depends on where the minute boundary lies. With one,
    // the change is reported; without, the delta says so and is never significant.
    if cpu.after_samples >= 1 {
        assert!(cpu.change.is_some(), "{cpu:?}");
    } else {
        assert!(
            cpu.after_median.is_none() && cpu.change.is_none() && !cpu.significant,
            "{cpu:?}"
        );
    }
    assert!(
        report
            .deltas
            .iter()
            .any(|d| d.host.is_empty() && d.series == "cpu")
    );
    assert_eq!(report.compared_hosts, 1, "{report:?}");
    assert_eq!(report.alpha, 0.05);
    // Markdown for a pull request: headings, the failed host with its reason.
    let md = markdown(&report);
    assert!(
        md.starts_with(&format!("## Rollout {id}: web 3.0 — rolled back")),
        "{md}"
    );
    for heading in [
        "### Timeline",
        "### Hosts",
        "### Rollback",
        "### Metric deltas",
    ] {
        assert!(md.contains(heading), "{heading}:\n{md}");
    }
    assert!(
        md.lines()
            .any(|l| l.starts_with(&format!("| {} |", failed.host)) && l.contains("failed")),
        "{md}"
    );
    // rollout.finished carries the summary, once.
    let viewer = f.pki.operator("vera", Role::Viewer);
    let mut monitor = MonitorClient::new(
        channel(&f.coordinator.url(), &f.pki.ca_cert(), Some(&viewer))
            .await
            .unwrap(),
    );
    let finished = wait_for("rollout.finished", Duration::from_secs(10), || {
        let mut monitor = monitor.clone();
        async move {
            let events = monitor
                .list_events(ListEventsRequest {
                    kind: "rollout.finished".into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .events;
            (!events.is_empty()).then_some(events)
        }
    })
    .await;
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0].subject, id);
    assert_eq!(finished[0].message, report.summary);
    assert_eq!(finished[0].fields["result"], "rolled_back");
    assert!(
        report
            .summary
            .starts_with("web 3.0: rolled back — 0/2 hosts updated, 1 failed (budget 0)"),
        "{}",
        report.summary
    );
    assert!(report.summary.lines().count() <= 2 && !report.summary.contains("://"));
    let _ = monitor.list_events(ListEventsRequest::default()).await;
    f.coordinator.stop().await;
}

#[tokio::test]
async fn a_stored_report_is_the_same_after_a_restart() {
    let mut f = fleet(2).await;
    let id = start(
        &mut f.rollouts,
        RolloutSpec {
            canary: "1".into(),
            batch: "1".into(),
            auto_promote: true,
            ..spec("2.0")
        },
    )
    .await;
    reaches_within(&f.rollouts, &id, "succeeded", Duration::from_secs(60)).await;
    let before = stored(&f.rollouts, &id).await;
    assert_eq!((before.updated, before.targets), (2, 2), "{before:?}");
    assert!(
        before
            .waves
            .iter()
            .all(|w| w.started_unix_ms > 0 && w.ended_unix_ms > 0)
    );
    assert_eq!(before.actions[0].action, "start");
    assert_eq!(before.actions[0].by, "alice");
    let (data_dir, addr) = (f.coordinator.data_dir.clone(), f.coordinator.addr);
    f.coordinator.stop().await;
    // The restarted coordinator keeps no history: the report can only come from the store.
    let coordinator = TestCoordinator::start_in_configured(&f.pki, &data_dir, addr, |c| {
        c.monitor.history.enabled = false;
    })
    .await;
    let viewer = f.pki.operator("vera", Role::Viewer);
    let rollouts = coordinator.rollouts(&f.pki, &viewer).await;
    let after = report(&rollouts, &id).await.expect("report after restart");
    assert_eq!(after, before);
    coordinator.stop().await;
}

#[tokio::test]
async fn an_unknown_rollout_has_no_report() {
    let f = fleet(1).await;
    let viewer = f.pki.operator("vera", Role::Viewer);
    let rollouts = f.coordinator.rollouts(&f.pki, &viewer).await;
    let err = report(&rollouts, "r-nope").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert_eq!(err.message(), "no rollout \"r-nope\"");
    let err = report(&rollouts, &"x".repeat(100_000)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    f.coordinator.stop().await;
}
