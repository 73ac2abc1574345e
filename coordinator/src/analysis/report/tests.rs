use convoy_proto::v1::{PlannedHost, RolloutWaveState};

use super::*;

fn frame(
    at: i64,
    kind: RolloutEventKind,
    host: &str,
    by: &str,
    state: RolloutState,
    wave: usize,
) -> Frame {
    Frame {
        at,
        kind,
        host: host.into(),
        by: by.into(),
        state,
        wave,
        waiting_for: None,
    }
}

fn host(id: &str, wave: u32, state: RolloutHostState, reason: &str) -> ReportHost {
    let mut h = ReportHost {
        host: id.into(),
        wave,
        reason: reason.into(),
        ..Default::default()
    };
    h.set_state(state);
    h
}

fn planned(hosts: &[&str]) -> PlannedWave {
    PlannedWave {
        group: None,
        hosts: hosts
            .iter()
            .map(|h| PlannedHost {
                id: h.to_string(),
                ..Default::default()
            })
            .collect(),
        parallel: 1,
    }
}

fn range(from: i32, to: i32) -> Vec<f64> {
    (from..to).map(f64::from).collect()
}

/// Expected p-values are scipy's `mannwhitneyu(after, before, alternative="two-sided",
/// method="asymptotic")` for the same samples.
#[test]
fn deltas_give_medians_change_and_significance() {
    struct Case {
        name: &'static str,
        before: Vec<f64>,
        after: Vec<f64>,
        change: Option<f64>,
        percent: Option<f64>,
        p: Option<f64>,
        significant: bool,
    }
    let cases = [
        Case {
            name: "separated: significant",
            before: range(1, 11),
            after: range(11, 21),
            change: Some(10.0),
            percent: Some(10.0 * 100.0 / 5.5),
            p: Some(0.000_182_671_791),
            significant: true,
        },
        Case {
            name: "overlapping, 6 each",
            before: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            after: vec![5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
            change: Some(4.0),
            percent: Some(4.0 * 100.0 / 3.5),
            p: Some(0.012_748_797),
            significant: true,
        },
        Case {
            name: "alike: p clamps to 1",
            before: vec![10.0, 11.0, 12.0, 10.0, 11.0],
            after: vec![10.0, 11.0, 10.0, 12.0, 11.0],
            change: Some(0.0),
            percent: Some(0.0),
            p: Some(1.0),
            significant: false,
        },
        Case {
            name: "too few samples: not tested",
            before: vec![1.0, 2.0, 3.0, 4.0],
            after: vec![50.0, 60.0, 70.0, 80.0],
            change: Some(62.5),
            percent: Some(62.5 * 100.0 / 2.5),
            p: None,
            significant: false,
        },
        Case {
            name: "nothing after: no change",
            before: range(1, 11),
            after: vec![],
            change: None,
            percent: None,
            p: None,
            significant: false,
        },
        Case {
            name: "zero before: no percentage; NaN dropped",
            before: vec![0.0, 0.0, 0.0, f64::NAN],
            after: vec![1.0, 1.0, 1.0],
            change: Some(1.0),
            percent: None,
            p: None,
            significant: false,
        },
    ];
    for case in cases {
        let d = delta("cpu", "", &case.before, &case.after, ALPHA);
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-6 * b.abs().max(1.0),
            (None, None) => true,
            _ => false,
        };
        assert!(close(d.change, case.change), "{}: {d:?}", case.name);
        assert!(
            close(d.change_percent, case.percent),
            "{}: {d:?}",
            case.name
        );
        assert!(close(d.p_value, case.p), "{}: {d:?}", case.name);
        assert_eq!(d.significant, case.significant, "{}: {d:?}", case.name);
        assert_eq!(
            d.before_samples as usize,
            case.before.iter().filter(|v| v.is_finite()).count()
        );
    }
}

#[test]
fn windows_end_at_the_rollback_or_now() {
    let hour = WINDOW_MS;
    let t = 10 * hour;
    let times = |rolled_back| HostTimes {
        deployed: t,
        rolled_back,
        ran: true,
    };
    for (name, rolled_back, now, after_end) in [
        ("an hour after", 0, 20 * hour, t + hour),
        ("until the rollback", t + 600_000, 20 * hour, t + 600_000),
        ("until now", 0, t + 300_000, t + 300_000),
        (
            "an earlier rollback is not this one's",
            t - 5,
            20 * hour,
            t + hour,
        ),
        ("now before the update: empty", 0, t - 1, t),
    ] {
        let [before, after] = windows(times(rolled_back), now, hour);
        assert_eq!(before, (t - hour, t), "{name}");
        assert_eq!(after, (t, after_end), "{name}");
    }
}

#[test]
fn the_timeline_has_planned_and_actual_times_waits_and_who_did_what() {
    use RolloutEventKind as K;
    use RolloutState as S;
    let mut frames = vec![
        frame(1_000, K::Start, "", "", S::Running, 0),
        frame(2_000, K::DeploySucceeded, "a", "", S::Baking, 0),
        frame(12_000, K::Tick, "", "", S::AwaitingPromotion, 0),
        frame(20_000, K::Promote, "", "alice", S::Running, 1),
        frame(21_000, K::DeploySucceeded, "b", "", S::Running, 1),
        frame(22_000, K::DeploySucceeded, "c", "", S::Baking, 1),
        frame(25_000, K::Pause, "", "bob", S::Paused, 1),
        frame(26_000, K::Resume, "", "bob", S::Baking, 1),
        frame(36_000, K::Tick, "", "", S::Succeeded, 1),
    ];
    frames[2].waiting_for = Some("awaiting promotion".into());
    let waves = waves(&[planned(&["a"]), planned(&["b", "c"])], 10_000, &frames);
    let times: Vec<(u32, i64, i64, i64, i64)> = waves
        .iter()
        .map(|w| {
            (
                w.planned_hosts,
                w.planned_bake_ms,
                w.started_unix_ms,
                w.bake_started_unix_ms,
                w.ended_unix_ms,
            )
        })
        .collect();
    assert_eq!(
        times,
        vec![
            (1, 10_000, 1_000, 2_000, 20_000),
            (2, 10_000, 20_000, 22_000, 36_000)
        ]
    );
    let waits: Vec<(i64, i64, String)> = pauses(&frames)
        .into_iter()
        .map(|p| (p.from_unix_ms, p.to_unix_ms, p.cause))
        .collect();
    assert_eq!(
        waits,
        vec![
            (
                12_000,
                20_000,
                "awaiting promotion; promote by alice".to_string()
            ),
            (25_000, 26_000, "paused by bob; resume by bob".to_string()),
        ]
    );
    let header = RolloutReport {
        app: "web".into(),
        version: "2.0".into(),
        created_by: "carol".into(),
        created_unix_ms: 900,
        targets: 3,
        ..Default::default()
    };
    let refused = vec![ReportAction {
        at_unix_ms: 23_000,
        by: "dave".into(),
        action: "promote".into(),
        ok: false,
        detail: "only the canary wave awaits promotion".into(),
    }];
    let who: Vec<(i64, String, String, bool)> = actions(&header, &frames, refused)
        .into_iter()
        .map(|a| (a.at_unix_ms, a.by, a.action, a.ok))
        .collect();
    let row = |at, by: &str, action: &str, ok| (at, by.to_string(), action.to_string(), ok);
    assert_eq!(
        who,
        vec![
            row(900, "carol", "start", true),
            row(20_000, "alice", "promote", true),
            row(23_000, "dave", "promote", false),
            row(25_000, "bob", "pause", true),
            row(26_000, "bob", "resume", true),
            row(36_000, "convoy", "succeeded", true),
        ]
    );
}

#[test]
fn a_wave_the_rollout_stopped_in_has_no_end_and_the_rollback_says_why() {
    use RolloutEventKind as K;
    use RolloutState as S;
    let automatic = vec![
        frame(1_000, K::Start, "", "", S::Running, 0),
        frame(2_000, K::DeployFailed, "a", "", S::RollingBack, 0),
        frame(3_000, K::RollbackSucceeded, "a", "", S::RolledBack, 0),
    ];
    let hosts = vec![
        host(
            "a",
            0,
            RolloutHostState::RolledBack,
            "deploy failed: health",
        ),
        host("b", 1, RolloutHostState::Pending, ""),
    ];
    let w = waves(&[planned(&["a"]), planned(&["b"])], 0, &automatic);
    assert_eq!((w[0].started_unix_ms, w[0].ended_unix_ms), (1_000, 0));
    assert_eq!((w[1].started_unix_ms, w[1].ended_unix_ms), (0, 0));
    let r = rollback(&automatic, &hosts).expect("a rollback");
    assert_eq!((r.started_unix_ms, r.finished_unix_ms), (2_000, 3_000));
    assert_eq!(
        r.trigger,
        "failures past the budget (--on-failure rollback)"
    );
    assert_eq!((r.rolled_back, r.failed), (1, 0));
    let by_operator = vec![
        frame(1_000, K::Start, "", "", S::Running, 0),
        frame(5_000, K::Rollback, "", "bob", S::RollingBack, 0),
    ];
    let r = rollback(&by_operator, &hosts).expect("a rollback");
    assert_eq!(
        (r.trigger.as_str(), r.finished_unix_ms),
        ("operator bob", 0)
    );
    let analysis = vec![frame(5_000, K::Analysis, "", "", S::RollingBack, 0)];
    assert!(
        rollback(&analysis, &hosts)
            .unwrap()
            .trigger
            .contains("canary analysis")
    );
    assert!(rollback(&automatic[..1], &hosts).is_none());
}

#[test]
fn failed_hosts_are_compared_first_and_undelivered_ones_not_at_all() {
    use RolloutEventKind as K;
    use RolloutState as S;
    let frames = vec![
        frame(1, K::DeploySucceeded, "a", "", S::Running, 0),
        frame(2, K::DeployUndelivered, "b", "", S::Running, 0),
        frame(3, K::DeployFailed, "c", "", S::Running, 0),
        frame(4, K::DeploySucceeded, "d", "", S::Running, 0),
    ];
    let hosts = vec![
        host("a", 0, RolloutHostState::Succeeded, ""),
        host("b", 0, RolloutHostState::Unreachable, "undeliverable"),
        host("c", 0, RolloutHostState::Failed, "deploy failed"),
        host("d", 0, RolloutHostState::Succeeded, ""),
        host("e", 0, RolloutHostState::Pending, ""),
    ];
    let times = host_times(&frames);
    assert_eq!(compared(&hosts, &times, 64), vec!["c", "a", "d"]);
    assert_eq!(compared(&hosts, &times, 2), vec!["c", "a"]);
    assert_eq!(times["b"].deployed, 2);
    assert!(!times["b"].ran);
}

fn samples(host: &str, series: &[(&str, Vec<f64>, Vec<f64>)]) -> HostSamples {
    HostSamples {
        host: host.into(),
        series: series
            .iter()
            .map(|(n, b, a)| (n.to_string(), (b.clone(), a.clone())))
            .collect(),
    }
}

#[test]
fn deltas_are_pooled_in_series_order_then_per_host() {
    let all = vec![
        samples(
            "a",
            &[
                ("web.error_rate", range(0, 6), range(0, 6)),
                ("disk:/", range(0, 6), range(0, 6)),
                ("mem", range(0, 6), range(0, 6)),
                ("cpu", range(10, 16), range(30, 36)),
            ],
        ),
        samples("b", &[("cpu", range(10, 16), range(30, 36))]),
    ];
    let d = deltas(&all, ALPHA);
    let order: Vec<(&str, &str, u32)> = d
        .iter()
        .map(|d| (d.series.as_str(), d.host.as_str(), d.before_samples))
        .collect();
    assert_eq!(
        order,
        vec![
            ("cpu", "", 12),
            ("mem", "", 6),
            ("disk:/", "", 6),
            ("web.error_rate", "", 6),
            ("cpu", "a", 6),
            ("mem", "a", 6),
            ("disk:/", "a", 6),
            ("web.error_rate", "a", 6),
            ("cpu", "b", 6),
        ]
    );
    let worst = worst(&d).expect("cpu changed");
    assert_eq!((worst.series.as_str(), worst.host.as_str()), ("cpu", ""));
}

fn report_inputs() -> Inputs {
    use RolloutEventKind as K;
    use RolloutState as S;
    let mut header = RolloutReport {
        id: "r-1".into(),
        app: "web".into(),
        version: "2.0".into(),
        created_by: "alice".into(),
        created_unix_ms: 1_000,
        finished_unix_ms: 185_000,
        targets: 2,
        failures: 1,
        failure_budget: 0,
        ..Default::default()
    };
    header.set_state(S::RolledBack);
    let mut final_wave = ReportWave::default();
    final_wave.set_state(RolloutWaveState::Running);
    Inputs {
        header,
        planned: vec![planned(&["web-1"]), planned(&["web-2"])],
        bake_ms: 0,
        frames: vec![
            frame(1_000, K::Start, "", "", S::Running, 0),
            frame(60_000, K::DeployFailed, "web-1", "", S::RollingBack, 0),
            frame(185_000, K::RollbackSucceeded, "web-1", "", S::RolledBack, 0),
        ],
        final_waves: vec![final_wave.clone(), final_wave],
        hosts: vec![
            host(
                "web-1",
                0,
                RolloutHostState::RolledBack,
                "deploy failed: health check",
            ),
            host("web-2", 1, RolloutHostState::Pending, ""),
        ],
        refused: Vec::new(),
        samples: vec![samples("web-1", &[("cpu", range(10, 20), range(40, 50))])],
        deployed_hosts: 1,
        now: 250_000,
    }
}

#[test]
fn the_assembled_report_has_every_part_and_a_short_summary() {
    let report = assemble(report_inputs());
    assert_eq!(report.hosts[0].deployed_unix_ms, 60_000);
    assert_eq!(report.hosts[0].rolled_back_unix_ms, 185_000);
    assert_eq!((report.waves[0].failed, report.waves[1].failed), (1, 0));
    assert_eq!(report.updated, 0);
    assert_eq!(report.rollback.as_ref().map(|r| r.rolled_back), Some(1));
    assert_eq!((report.compared_hosts, report.deployed_hosts), (1, 1));
    assert_eq!(report.deltas.len(), 2, "pooled and web-1's own");
    assert!(report.deltas.iter().all(|d| d.significant));
    assert_eq!(report.generated_unix_ms, 250_000);
    let lines: Vec<&str> = report.summary.lines().collect();
    assert_eq!(
        lines,
        vec![
            "web 2.0: rolled back — 0/2 hosts updated, 1 failed (budget 0), 3m04s",
            "worst significant change: cpu 14.5 → 44.5 (+206.9%, p=0.0002)",
        ]
    );
    assert!(!report.summary.contains("://"), "no links");
}

#[test]
fn the_summary_says_when_nothing_changed_or_nothing_could_be_tested() {
    let mut inputs = report_inputs();
    inputs.samples = vec![samples("web-1", &[("cpu", range(10, 20), range(10, 20))])];
    let report = assemble(inputs);
    assert!(
        report
            .summary
            .ends_with("no significant metric change (alpha 0.05)"),
        "{}",
        report.summary
    );
    let mut inputs = report_inputs();
    inputs.samples = vec![samples("web-1", &[("cpu", vec![1.0], vec![2.0])])];
    inputs.header.finished_unix_ms = 0;
    inputs.header.set_state(RolloutState::Running);
    let report = assemble(inputs);
    assert!(report.summary.contains("running"), "{}", report.summary);
    assert!(
        report.summary.contains("4m09s so far"),
        "{}",
        report.summary
    );
    assert!(
        report.summary.ends_with("too few samples"),
        "{}",
        report.summary
    );
}

#[test]
fn durations_and_numbers_read_short() {
    assert_eq!(duration(800), "800ms");
    assert_eq!(duration(45_000), "45s");
    assert_eq!(duration(192_000), "3m12s");
    assert_eq!(duration(3_720_000), "1h02m");
    assert_eq!(number(14.5), "14.5");
    assert_eq!(number(2.0), "2");
    assert_eq!(number(-0.0001), "0");
    assert_eq!(number(0.12345), "0.123");
}
