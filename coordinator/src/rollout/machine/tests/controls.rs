//! Operator controls and the failure budget in corners: resuming after a failure pause,
//! rolling back a finished rollout, pausing a rollback, percentage budgets.

use super::*;

#[test]
fn resume_after_a_failure_pause_accepts_the_failures_so_far() {
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    let r = check(
        rollout(&hosts(4, &[]), batches("1", "3"), settings),
        "deploy h0",
        &[
            (1, failed("h0"), ""),
            (2, Event::Tick, ""),
            (3, Event::Resume, "deploy h1, deploy h2, deploy h3"),
            (4, failed("h1"), ""),
            (5, ok("h2"), ""),
            // The last wave is complete, but over budget: paused, not succeeded.
            (6, ok("h3"), ""),
        ],
        "paused",
    );
    assert_eq!((r.failures, r.acknowledged), (2, 1));
    let mut r = r;
    assert_eq!(render(&r.on_event(7, Event::Resume)), "finished succeeded");
}

#[test]
fn operator_rolls_back_a_finished_rollout_in_batches() {
    let settings = Settings {
        auto_promote: true,
        late_window_ms: 1_000,
        ..Settings::default()
    };
    let mut fleet = hosts(3, &[]);
    fleet[2].version = None;
    let r = check(
        rollout(&fleet, batches("1", "2"), settings),
        "deploy h0",
        &[
            (1, ok("h0"), "deploy h1, deploy h2"),
            (2, ok("h1"), ""),
            (3, ok("h2"), "finished succeeded"),
            (4, Event::Rollback, "rollback h2 to -, rollback h1 to 1"),
            (5, Event::Pause, ""),
            (6, rolled("h2"), ""),
            (7, Event::Resume, "rollback h0 to 1"),
            (
                8,
                Event::RollbackFailed {
                    host: "h1".to_string(),
                    reason: "disk full".to_string(),
                },
                "",
            ),
            (9, rolled("h0"), "finished failed"),
        ],
        "failed",
    );
    assert_eq!(r.hosts[1].state, HostState::RollbackFailed);
    assert_eq!(r.established_at, None);
    // A failed rollback can be retried: only the host whose rollback failed goes again.
    let mut r = r;
    assert_eq!(r.check_rollback(&[], false), Ok(Event::Rollback));
    assert_eq!(render(&r.on_event(10, Event::Rollback)), "rollback h1 to 1");
    assert_eq!(
        render(&r.on_event(11, rolled("h1"))),
        "finished rolled_back"
    );
    assert_eq!(r.state(), State::RolledBack);
    assert!(
        r.check_rollback(&[], true).is_err(),
        "nothing left to roll back"
    );
}

#[test]
fn an_aborted_rollout_can_be_rolled_back() {
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    let mut r = check(
        rollout(&hosts(4, &[]), batches("1", "2"), settings),
        "deploy h0",
        &[
            (1, ok("h0"), "deploy h1, deploy h2"),
            (2, ok("h1"), ""),
            (3, Event::Abort, "finished aborted"),
        ],
        "aborted",
    );
    // h2 was still deploying when the rollout was aborted; h3 never started.
    assert_eq!(
        r.check_rollback(&["r-newer".to_string()], false),
        Ok(Event::Rollback)
    );
    assert_eq!(
        render(&r.on_event(4, Event::Rollback)),
        "rollback h1 to 1, rollback h0 to 1"
    );
    assert_eq!(r.state(), State::RollingBack);
    // The in-flight deploy finishes, then joins the rollback.
    assert_eq!(render(&r.on_event(5, rolled("h1"))), "");
    assert_eq!(render(&r.on_event(6, ok("h2"))), "rollback h2 to 1");
    assert_eq!(render(&r.on_event(7, rolled("h0"))), "");
    assert_eq!(render(&r.on_event(8, rolled("h2"))), "finished rolled_back");
    assert_eq!(r.hosts[3].state, HostState::Pending);
}

#[test]
fn rolling_back_under_newer_rollouts_needs_force_and_says_what_it_does() {
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    let mut fleet = hosts(2, &[]);
    fleet[1].version = None;
    let mut r = check(
        rollout(&fleet, batches("1", "1"), settings),
        "deploy h0",
        &[
            (1, ok("h0"), "deploy h1"),
            (2, ok("h1"), "finished succeeded"),
        ],
        "succeeded",
    );
    let newer = vec!["r-2".to_string(), "r-3".to_string()];
    let refused = r.check_rollback(&newer, false).unwrap_err().to_string();
    assert!(refused.contains("r-2, r-3"), "{refused}");
    assert!(refused.contains("2 hosts"), "{refused}");
    assert!(refused.contains("h1 -> (none)"), "{refused}");
    assert!(refused.contains("h0 -> 1"), "{refused}");
    assert!(refused.contains("--force"), "{refused}");
    // Refusing changed nothing; with force (or with no newer rollout) it goes ahead.
    assert_eq!(r.state(), State::Succeeded);
    assert_eq!(r.check_rollback(&newer, true), Ok(Event::Rollback));
    assert_eq!(r.check_rollback(&[], false), Ok(Event::Rollback));
    // Batches of one: one host at a time.
    assert_eq!(render(&r.on_event(3, Event::Rollback)), "rollback h1 to -");
    let again = r.check_rollback(&[], true).unwrap_err().to_string();
    assert_eq!(again, "it is already rolling back");
}

#[test]
fn rollback_refusals_name_one_host_in_the_singular() {
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    let r = check(
        rollout(&hosts(1, &[]), batches("1", "1"), settings),
        "deploy h0",
        &[(1, ok("h0"), "finished succeeded")],
        "succeeded",
    );
    let refused = r
        .check_rollback(&["r-9".to_string()], false)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("return 1 host to"), "{refused}");
}

#[test]
fn percentage_budget_tolerates_failures() {
    let settings = Settings {
        auto_promote: true,
        max_failures: Rate::Percent(50),
        ..Settings::default()
    };
    let r = check(
        rollout(&hosts(4, &[]), batches("1", "3"), settings),
        "deploy h0",
        &[
            (1, failed("h0"), "deploy h1, deploy h2, deploy h3"),
            (2, failed("h1"), ""),
            (3, ok("h2"), ""),
            (4, ok("h3"), "finished succeeded"),
        ],
        "succeeded",
    );
    assert_eq!(r.status().failure_budget, 2);
}

#[test]
fn rollback_during_a_wave_waits_for_in_flight_hosts() {
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    check(
        rollout(&hosts(3, &[]), batches("1", "2"), settings),
        "deploy h0",
        &[
            (1, ok("h0"), "deploy h1, deploy h2"),
            (2, Event::Rollback, "rollback h0 to 1"),
            (3, ok("h1"), "rollback h1 to 1"),
            (4, rolled("h0"), ""),
            (5, failed("h2"), "rollback h2 to 1"),
            (6, rolled("h1"), ""),
            (7, rolled("h2"), "finished rolled_back"),
        ],
        "rolled_back",
    );
}

#[test]
fn events_before_start_and_for_unknown_hosts_are_ignored() {
    let mut r = rollout(&hosts(2, &[]), batches("1", "1"), Settings::default());
    assert!(r.on_event(0, Event::Abort).is_empty());
    assert_eq!(render(&r.start(0)), "deploy h0");
    assert!(r.start(0).is_empty());
    assert!(r.on_event(1, ok("nope")).is_empty());
    assert!(r.on_event(1, rolled("h0")).is_empty());
    assert!(r.on_event(1, ok("h1")).is_empty());
    assert_eq!(r.state(), State::Running);
}

fn removed(host: &str) -> Event {
    Event::HostRemoved {
        host: host.to_string(),
    }
}

#[test]
fn a_removed_host_is_not_waited_for() {
    let mut fleet = hosts(4, &[]);
    fleet[1].online = false;
    fleet[3].online = false;
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    // h1 is offline when wave 2 starts: the rollout would wait 10 minutes for it.
    let r = check(
        rollout(&fleet, batches("1", "3"), settings),
        "deploy h0",
        &[
            (100, ok("h0"), "deploy h2, wait 600100"),
            (200, ok("h2"), ""),
            // Removed while waited for: unreachable now, and the wave moves on.
            (300, removed("h1"), ""),
            (400, removed("h3"), "finished succeeded"),
        ],
        "succeeded",
    );
    for i in [1, 3] {
        assert_eq!(r.hosts[i].state, HostState::Unreachable, "h{i}");
        assert_eq!(r.hosts[i].reason.as_deref(), Some("removed from the fleet"));
    }
    assert_eq!(r.failures, 0);
}

#[test]
fn a_host_removed_before_its_turn_is_skipped_when_it_comes() {
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    let mut fleet = hosts(3, &[]);
    fleet[2].online = false;
    let r = check(
        rollout(&fleet, batches("1", "1"), settings),
        "deploy h0",
        &[
            (1, removed("h2"), ""),
            (2, ok("h0"), "deploy h1"),
            (3, ok("h1"), "finished succeeded"),
        ],
        "succeeded",
    );
    assert_eq!(r.hosts[2].state, HostState::Skipped);
    assert_eq!(r.hosts[2].reason.as_deref(), Some("removed from the fleet"));
}

#[test]
fn refusals_say_what_operators_read() {
    let words = [
        (Refusal::Over, "it is over"),
        (
            Refusal::NothingTo(Control::Resume),
            "it is over; there is nothing to resume",
        ),
        (Refusal::NotPaused, "it is not paused"),
        (Refusal::NotAtGate, "only the canary wave awaits promotion"),
        (Refusal::AlreadyRollingBack, "it is already rolling back"),
        (Refusal::AlreadyRolledBack, "it is already rolled back"),
    ];
    for (refusal, said) in words {
        assert_eq!(refusal.to_string(), said);
    }
    let err = crate::rollout::driver::RolloutError::Refused {
        id: "r-1".to_string(),
        state: State::Running.to_string(),
        why: Refusal::NotPaused,
    };
    assert_eq!(err.to_string(), "rollout r-1 is running: it is not paused");
}

#[test]
fn controls_are_checked_by_the_machine() {
    let settings = Settings::default();
    let mut r = check(
        rollout(&hosts(3, &[]), batches("1", "2"), settings),
        "deploy h0",
        &[(1, ok("h0"), "")],
        "awaiting_promotion",
    );
    assert_eq!(r.check(Control::Resume), Err(Refusal::NotPaused));
    assert_eq!(r.check(Control::Promote), Ok(Event::Promote));
    assert_eq!(
        render(&r.on_event(2, Event::Promote)),
        "deploy h1, deploy h2"
    );
    // Past the canary, promotion is refused; pausing twice is allowed and changes nothing.
    assert_eq!(r.check(Control::Promote), Err(Refusal::NotAtGate));
    assert_eq!(r.check(Control::Pause), Ok(Event::Pause));
    r.on_event(3, Event::Pause);
    let paused = r.clone();
    assert_eq!(r.check(Control::Pause), Ok(Event::Pause));
    assert!(r.on_event(4, Event::Pause).is_empty());
    assert_eq!(r, paused);
    assert_eq!(r.check(Control::Abort), Ok(Event::Abort));
    r.on_event(5, Event::Abort);
    assert_eq!(r.check(Control::Resume), Err(Refusal::Over));
    assert_eq!(r.check(Control::Rollback), Ok(Event::Rollback));
}

#[test]
fn late_results_are_events_and_decide_when_the_rollout_can_be_unloaded() {
    let mut fleet = hosts(3, &[]);
    fleet[2].online = false;
    let settings = Settings {
        auto_promote: true,
        offline: Offline::Skip,
        late_window_ms: 1_000,
        ..Settings::default()
    };
    let mut r = check(
        rollout(&fleet, batches("1", "2"), settings),
        "deploy h0",
        &[
            (1, ok("h0"), "deploy h1"),
            (2, ok("h1"), "finished succeeded"),
        ],
        "succeeded",
    );
    // h2 may still come back within the window: the rollout stays loaded.
    assert!(!r.can_unload(500));
    assert!(r.can_unload(1_003), "the late window is over");
    assert_eq!(render(&r.on_event(10, online("h2"))), "converge h2");
    assert!(r.awaits_late("h2"));
    assert_eq!(r.status().late[0].state, HostState::Deploying);
    assert!(!r.can_unload(20));
    let failed = Event::LateFailed {
        host: "h2".to_string(),
        reason: "failed: exit 1".to_string(),
    };
    assert!(r.on_event(20, failed).is_empty());
    assert!(!r.awaits_late("h2"));
    let late = &r.status().late[0];
    assert_eq!(
        (late.state, late.reason.as_deref()),
        (HostState::Failed, Some("failed: exit 1"))
    );
    assert!(r.can_unload(20), "every late host has its result");
    // A second result for the same deploy changes nothing.
    r.on_event(
        30,
        Event::LateSucceeded {
            host: "h2".to_string(),
        },
    );
    assert_eq!(r.status().late[0].state, HostState::Failed);
}
