//! Canary analysis in the machine: the bake's end asks for a verdict, a pass moves on, a
//! fail pauses or rolls back, an inconclusive one extends the bake once and is then
//! decided by `--inconclusive`; replaying the logged events rebuilds the same rollout.

use super::*;
use crate::analysis::verdict::{Analysis, Judgement, Verdict};

fn analysed(inconclusive: Inconclusive, on_failure: OnFailure) -> Rollout {
    let settings = Settings {
        bake_ms: 1_000,
        auto_promote: true,
        on_failure,
        analyses: vec![Analysis::parse("cpu<=1.2*baseline").unwrap()],
        inconclusive,
        ..Settings::default()
    };
    rollout(&hosts(3, &[]), batches("1", "2"), settings)
}

fn verdict(wave: usize, verdict: Verdict, round: u32) -> Event {
    Event::Analysis {
        wave,
        results: vec![AnalysisResult {
            analysis: "cpu<=1.2*baseline".to_string(),
            judgement: Judgement {
                verdict,
                p_value: Some(0.001),
                canary_median: Some(80.0),
                baseline_median: Some(10.0),
                canary_samples: 20,
                baseline_samples: 40,
                reason: format!("cpu<=1.2*baseline: {verdict:?}"),
            },
            round,
        }],
    }
}

#[test]
fn the_bake_end_asks_for_a_verdict_and_a_pass_moves_on() {
    let mut r = check(
        analysed(Inconclusive::Fail, OnFailure::Pause),
        "deploy h0",
        &[(0, ok("h0"), "wait 1000"), (1_000, Event::Tick, "")],
        "baking",
    );
    let due = r.analysis_due().expect("the bake's end asks for a verdict");
    assert_eq!((due.wave, due.from, due.to, due.round), (0, 0, 1_000, 1));
    assert_eq!(due.canary, vec!["h0".to_string()]);
    assert_eq!(due.baseline, vec!["h1".to_string(), "h2".to_string()]);
    assert!(r.status().waiting_for.contains("canary analysis of wave 1"));
    // Without a verdict nothing moves, however long.
    assert_eq!(render(&r.on_event(5_000, Event::Tick)), "");
    // A verdict for another wave changes nothing.
    assert_eq!(render(&r.on_event(5_000, verdict(1, Verdict::Pass, 1))), "");
    assert!(r.analysis_due().is_some());
    let actions = r.on_event(5_100, verdict(0, Verdict::Pass, 1));
    assert_eq!(render(&actions), "deploy h1, deploy h2");
    assert!(r.analysis_due().is_none());
    assert_eq!(r.wave_analysis(0)[0].judgement.verdict, Verdict::Pass);
}

#[test]
fn a_failed_analysis_pauses_and_fails_the_canary_with_the_reason() {
    let r = check(
        analysed(Inconclusive::Fail, OnFailure::Pause),
        "deploy h0",
        &[
            (0, ok("h0"), "wait 1000"),
            (1_000, Event::Tick, ""),
            (1_200, verdict(0, Verdict::Fail, 1), ""),
        ],
        "paused",
    );
    assert_eq!(r.hosts[0].state, HostState::Failed);
    let reason = r.hosts[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("canary analysis failed"), "{reason}");
    assert_eq!(r.status().failures, 1);
    // A resume accepts the failure and goes on with the next wave.
    let mut r = r;
    assert_eq!(
        render(&r.on_event(2_000, Event::Resume)),
        "deploy h1, deploy h2"
    );
}

#[test]
fn a_failed_analysis_rolls_back_with_on_failure_rollback() {
    check(
        analysed(Inconclusive::Fail, OnFailure::Rollback),
        "deploy h0",
        &[
            (0, ok("h0"), "wait 1000"),
            (1_000, Event::Tick, ""),
            (1_200, verdict(0, Verdict::Fail, 1), "rollback h0 to 1"),
            (1_300, rolled("h0"), "finished rolled_back"),
        ],
        "rolled_back",
    );
}

#[test]
fn inconclusive_extends_the_bake_once_then_fail_decides() {
    let mut r = check(
        analysed(Inconclusive::Fail, OnFailure::Pause),
        "deploy h0",
        &[
            (0, ok("h0"), "wait 1000"),
            (1_000, Event::Tick, ""),
            (1_500, verdict(0, Verdict::Inconclusive, 1), "wait 2500"),
        ],
        "baking",
    );
    assert!(r.analysis_due().is_none(), "the extension bakes first");
    assert_eq!(render(&r.on_event(2_500, Event::Tick)), "");
    let due = r.analysis_due().expect("judged again after the extension");
    assert_eq!(
        (due.from, due.to, due.round),
        (0, 2_000, 2),
        "two bake lengths"
    );
    r.on_event(2_600, verdict(0, Verdict::Inconclusive, 2));
    assert_eq!(r.state(), State::Paused);
    let reason = r.hosts[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("--inconclusive fail"), "{reason}");
}

#[test]
fn inconclusive_twice_passes_with_inconclusive_pass() {
    check(
        analysed(Inconclusive::Pass, OnFailure::Pause),
        "deploy h0",
        &[
            (0, ok("h0"), "wait 1000"),
            (1_000, Event::Tick, ""),
            (1_000, verdict(0, Verdict::Inconclusive, 1), "wait 2000"),
            (2_000, Event::Tick, ""),
            (
                2_000,
                verdict(0, Verdict::Inconclusive, 2),
                "deploy h1, deploy h2",
            ),
        ],
        "running",
    );
}

#[test]
fn replaying_the_events_reaches_the_same_verdict() {
    let events = [
        (0, ok("h0")),
        (1_000, Event::Tick),
        (1_000, verdict(0, Verdict::Inconclusive, 1)),
        (2_000, Event::Tick),
        (2_100, verdict(0, Verdict::Fail, 2)),
    ];
    let run = || {
        let mut r = analysed(Inconclusive::Pass, OnFailure::Pause);
        r.start(0);
        for (now, event) in &events {
            r.on_event(*now, event.clone());
        }
        r
    };
    let (first, second) = (run(), run());
    assert_eq!(first, second);
    assert_eq!(first.state(), State::Paused);
    assert_eq!(first.wave_analysis(0)[0].round, 2);
    // Through the log's encoding too.
    let mut replayed = analysed(Inconclusive::Pass, OnFailure::Pause);
    replayed.start(0);
    for (now, event) in &events {
        let entry = crate::rollout::record::entry(*now, event);
        let crate::rollout::record::Replayed::Machine(back) =
            crate::rollout::record::replayed(&entry)
        else {
            panic!("{event:?} did not come back as a machine event");
        };
        assert_eq!(&back, event);
        replayed.on_event(*now, back);
    }
    assert_eq!(replayed, first);
}

#[test]
fn a_failed_analysis_stops_the_rollout_whatever_the_budget() {
    let settings = Settings {
        max_failures: Rate::Count(5),
        bake_ms: 1_000,
        auto_promote: true,
        analyses: vec![Analysis::parse("cpu<=1.2*baseline").unwrap()],
        ..Settings::default()
    };
    let r = check(
        rollout(&hosts(3, &[]), batches("1", "2"), settings),
        "deploy h0",
        &[
            (0, ok("h0"), "wait 1000"),
            (1_000, Event::Tick, ""),
            (1_200, verdict(0, Verdict::Fail, 1), ""),
        ],
        "paused",
    );
    assert_eq!(r.status().failures, 1, "within the budget of 5, yet paused");
}
