//! The main stories, each as a script of (time, event, expected actions).

use super::*;
use crate::rate::Rate;
use crate::rollout::gate::Gate;
use crate::rollout::plan::{self, Host, Strategy};
use crate::selector::Selector;

fn hosts(n: usize, zones: &[&str]) -> Vec<Host> {
    (0..n)
        .map(|i| {
            let mut labels = BTreeMap::new();
            if !zones.is_empty() {
                labels.insert("zone".to_string(), zones[i % zones.len()].to_string());
            }
            Host {
                id: format!("h{i}"),
                labels,
                version: Some("1".to_string()),
                healthy: true,
                online: true,
            }
        })
        .collect()
}

fn rollout(fleet: &[Host], strategy: Strategy, settings: Settings) -> Rollout {
    let plan = plan::build("2", &Selector::default(), fleet, &strategy).unwrap();
    Rollout::new(&plan, settings)
}

fn batches(canary: &str, batch: &str) -> Strategy {
    Strategy::parse(Some(canary), Some(batch), None, None).unwrap()
}

fn render(actions: &[Action]) -> String {
    let words: Vec<String> = actions
        .iter()
        .map(|a| match a {
            Action::Deploy { host } => format!("deploy {host}"),
            Action::RollbackHost { host, to } => {
                format!("rollback {host} to {}", to.as_deref().unwrap_or("-"))
            }
            Action::WaitUntil { at } => format!("wait {at}"),
            Action::ConvergeLate { host } => format!("converge {host}"),
            Action::Finished { state } => format!("finished {}", state.as_str()),
        })
        .collect();
    words.join(", ")
}

/// Starts the rollout at 0, then feeds each event and compares the actions it returned.
fn check(mut rollout: Rollout, start: &str, steps: &[(i64, Event, &str)], end: &str) -> Rollout {
    assert_eq!(render(&rollout.start(0)), start, "start");
    for (step, (now, event, expected)) in steps.iter().enumerate() {
        let actions = rollout.on_event(*now, event.clone());
        assert_eq!(
            render(&actions),
            *expected,
            "step {step}: {event:?} at {now}"
        );
    }
    assert_eq!(rollout.state().as_str(), end);
    rollout
}

fn ok(host: &str) -> Event {
    Event::DeploySucceeded {
        host: host.to_string(),
    }
}
fn failed(host: &str) -> Event {
    Event::DeployFailed {
        host: host.to_string(),
        reason: "exit 1".to_string(),
    }
}
fn rolled(host: &str) -> Event {
    Event::RollbackSucceeded {
        host: host.to_string(),
    }
}
fn online(host: &str) -> Event {
    Event::HostOnline {
        host: host.to_string(),
    }
}
fn metrics(host: &str, cpu: f64) -> Event {
    Event::Metrics {
        host: host.to_string(),
        view: MetricsView {
            cpu_percent: cpu,
            healthy: true,
            ..MetricsView::default()
        },
        baseline: Baseline::default(),
    }
}

#[test]
fn good_release_wave_by_wave_with_auto_promote() {
    let settings = Settings {
        auto_promote: true,
        bake_ms: 100,
        ..Settings::default()
    };
    let r = check(
        rollout(&hosts(5, &[]), batches("1", "2"), settings),
        "deploy h0",
        &[
            (10, ok("h0"), "wait 110"),
            (50, metrics("h0", 10.0), ""),
            (109, Event::Tick, ""),
            (110, Event::Tick, "deploy h1, deploy h2"),
            (120, ok("h2"), ""),
            (130, ok("h1"), "wait 230"),
            (230, Event::Tick, "deploy h3, deploy h4"),
            (240, ok("h3"), ""),
            (250, ok("h4"), "wait 350"),
            (400, Event::Tick, "finished succeeded"),
            (500, ok("h4"), ""),
        ],
        "succeeded",
    );
    assert!(
        r.status()
            .waves
            .iter()
            .flat_map(|w| &w.hosts)
            .all(|h| h.state == HostState::Succeeded)
    );
}

#[test]
fn canary_waits_for_promotion() {
    let settings = Settings {
        bake_ms: 100,
        ..Settings::default()
    };
    let r = check(
        rollout(&hosts(3, &[]), batches("1", "2"), settings),
        "deploy h0",
        &[
            (0, ok("h0"), "wait 100"),
            (100, Event::Tick, ""),
            (5_000, Event::Tick, ""),
            (6_000, Event::Promote, "deploy h1, deploy h2"),
            (6_001, ok("h1"), ""),
            (6_002, ok("h2"), "wait 6102"),
        ],
        "baking",
    );
    assert_eq!(r.status().waiting_for, "baking wave 2 until 00:00:06");
}

#[test]
fn canary_fails_with_rollback() {
    let settings = Settings {
        on_failure: OnFailure::Rollback,
        ..Settings::default()
    };
    let r = check(
        rollout(&hosts(3, &[]), batches("1", "2"), settings),
        "deploy h0",
        &[
            (10, failed("h0"), "rollback h0 to 1"),
            (20, rolled("h0"), "finished rolled_back"),
            (30, Event::Resume, ""),
        ],
        "rolled_back",
    );
    assert_eq!(r.hosts[0].state, HostState::RolledBack);
    assert_eq!(r.hosts[1].state, HostState::Pending);
}

#[test]
fn gate_fails_during_bake_and_halts() {
    let settings = Settings {
        bake_ms: 1_000,
        auto_promote: true,
        gates: vec![Gate::parse("cpu<90").unwrap()],
        ..Settings::default()
    };
    let r = check(
        rollout(&hosts(3, &[]), batches("1", "2"), settings),
        "deploy h0",
        &[
            (0, ok("h0"), "wait 1000"),
            (500, metrics("h0", 95.0), ""),
            (1_000, Event::Tick, ""),
        ],
        "paused",
    );
    assert_eq!(r.hosts[0].state, HostState::Failed);
    assert!(
        r.hosts[0]
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("cpu<90")
    );
    let status = r.status();
    assert_eq!((status.failures, status.failure_budget), (1, 0));
    assert!(
        status.waiting_for.contains("paused after 1 failures"),
        "{}",
        status.waiting_for
    );
}

#[test]
fn budget_lets_in_flight_finish_then_rolls_back_in_batches() {
    let settings = Settings {
        auto_promote: true,
        max_failures: Rate::Count(1),
        on_failure: OnFailure::Rollback,
        ..Settings::default()
    };
    check(
        rollout(&hosts(7, &[]), batches("1", "3"), settings),
        "deploy h0",
        &[
            (1, ok("h0"), "deploy h1, deploy h2, deploy h3"),
            (2, failed("h1"), ""),
            (3, failed("h2"), ""),
            (
                4,
                ok("h3"),
                "rollback h3 to 1, rollback h2 to 1, rollback h1 to 1",
            ),
            (5, rolled("h3"), "rollback h0 to 1"),
            (6, rolled("h2"), ""),
            (7, rolled("h1"), ""),
            (8, rolled("h0"), "finished rolled_back"),
        ],
        "rolled_back",
    );
}

#[test]
fn group_by_zone_goes_zone_by_zone() {
    let strategy = Strategy::parse(None, Some("5"), None, Some("zone")).unwrap();
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    check(
        rollout(&hosts(6, &["b", "a"]), strategy, settings),
        "deploy h1",
        &[
            (1, ok("h1"), "deploy h3, deploy h5"),
            (2, ok("h3"), ""),
            (3, ok("h5"), "deploy h0, deploy h2, deploy h4"),
            (4, ok("h0"), ""),
            (4, ok("h2"), ""),
            (4, ok("h4"), "finished succeeded"),
        ],
        "succeeded",
    );
}

#[test]
fn pause_resume_promote_abort() {
    let settings = Settings {
        pause_timeout_ms: Some(1_000),
        ..Settings::default()
    };
    check(
        rollout(&hosts(4, &[]), batches("1", "1"), settings.clone()),
        "deploy h0",
        &[
            (0, Event::Promote, ""),
            (1, Event::Pause, "wait 1001"),
            (2, ok("h0"), ""),
            (3, Event::Resume, "deploy h1"),
            (4, Event::Pause, "wait 1004"),
            (5, ok("h1"), ""),
            (6, Event::Abort, "finished aborted"),
            (7, Event::Resume, ""),
            // Issue 19: an aborted rollout can still be rolled back by the operator.
            (8, Event::Rollback, "rollback h1 to 1"),
        ],
        "rolling_back",
    );
    // A pause that lasts too long aborts; so does a promotion never given.
    check(
        rollout(&hosts(2, &[]), batches("1", "1"), settings.clone()),
        "deploy h0",
        &[
            (0, ok("h0"), "wait 1000"),
            (999, Event::Tick, ""),
            (1_000, Event::Tick, "finished aborted"),
        ],
        "aborted",
    );
    // Abort wins even after a promote, with a deploy in flight.
    check(
        rollout(&hosts(3, &[]), batches("1", "2"), settings),
        "deploy h0",
        &[
            (0, ok("h0"), "wait 1000"),
            (1, Event::Promote, "deploy h1, deploy h2"),
            (2, Event::Abort, "finished aborted"),
            (3, ok("h1"), ""),
        ],
        "aborted",
    );
}

#[test]
fn steps_ramp() {
    let strategy = Strategy::parse(None, None, Some("1,50%,100%"), None).unwrap();
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    check(
        rollout(&hosts(4, &[]), strategy, settings),
        "deploy h0",
        &[
            (1, ok("h0"), "deploy h1"),
            (2, ok("h1"), "deploy h2, deploy h3"),
            (3, ok("h2"), ""),
            (3, ok("h3"), "finished succeeded"),
        ],
        "succeeded",
    );
}

#[test]
fn offline_wait_then_unreachable_and_late_convergence() {
    let mut fleet = hosts(3, &[]);
    fleet[1].online = false;
    let settings = Settings {
        auto_promote: true,
        offline_timeout_ms: 600,
        late_window_ms: 1_000,
        ..Settings::default()
    };
    let r = check(
        rollout(&fleet, batches("1", "2"), settings),
        "deploy h0",
        &[
            (100, ok("h0"), "deploy h2, wait 700"),
            (200, ok("h2"), ""),
            (699, Event::Tick, ""),
            (700, Event::Tick, "finished succeeded"),
            (
                800,
                Event::HostOffline {
                    host: "h1".to_string(),
                },
                "",
            ),
            (900, online("h1"), "converge h1"),
            (950, online("h1"), ""),
        ],
        "succeeded",
    );
    assert_eq!(r.hosts[1].state, HostState::Unreachable);
    assert_eq!(r.failures, 0);
}

#[test]
fn offline_wait_then_online_deploys() {
    let mut fleet = hosts(2, &[]);
    fleet[0].online = false;
    let r = check(
        rollout(&fleet, batches("1", "1"), Settings::default()),
        "wait 600000",
        &[(10, online("h0"), "deploy h0")],
        "running",
    );
    assert_eq!(r.status().waiting_for, "deploying wave 1: 1 in flight");
}

#[test]
fn offline_skip_and_late_window() {
    let mut fleet = hosts(3, &[]);
    fleet[2].online = false;
    let settings = Settings {
        auto_promote: true,
        offline: Offline::Skip,
        late_window_ms: 1_000,
        ..Settings::default()
    };
    let r = check(
        rollout(&fleet, batches("1", "2"), settings),
        "deploy h0",
        &[
            (1, ok("h0"), "deploy h1"),
            (2, ok("h1"), "finished succeeded"),
            (1_003, online("h2"), ""),
        ],
        "succeeded",
    );
    assert_eq!(r.hosts[2].state, HostState::Skipped);
}

#[test]
fn a_deploy_never_delivered_is_unreachable_not_failed_and_converges_late() {
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    let undelivered = Event::DeployUndelivered {
        host: "h0".to_string(),
    };
    let r = check(
        rollout(&hosts(2, &[]), batches("1", "1"), settings),
        "deploy h0",
        &[
            (1, undelivered.clone(), "deploy h1"),
            // A late duplicate changes nothing.
            (2, undelivered, ""),
            (3, ok("h1"), "finished succeeded"),
            (4, online("h0"), "converge h0"),
        ],
        "succeeded",
    );
    assert_eq!(r.hosts[0].state, HostState::Unreachable);
    assert_eq!(r.failures, 0);
}

#[test]
fn waiting_for_a_host_in_words() {
    let mut fleet = hosts(2, &[]);
    fleet[0].online = false;
    let mut r = rollout(&fleet, batches("1", "1"), Settings::default());
    r.start(0);
    assert_eq!(r.status().waiting_for, "waiting for h0 to come online");
    assert_eq!(status::clock(8 * 3_600_000 + 12 * 60_000), "08:12:00");
}

#[test]
fn state_names_are_a_contract() {
    let names: Vec<&str> = [
        State::Running,
        State::Baking,
        State::AwaitingPromotion,
        State::Paused,
        State::Succeeded,
        State::Failed,
        State::Aborted,
        State::RollingBack,
        State::RolledBack,
    ]
    .iter()
    .map(|s| s.as_str())
    .collect();
    assert_eq!(
        names,
        [
            "running",
            "baking",
            "awaiting_promotion",
            "paused",
            "succeeded",
            "failed",
            "aborted",
            "rolling_back",
            "rolled_back"
        ]
    );
}

#[test]
fn empty_plan_succeeds_at_once() {
    check(
        rollout(&[], Strategy::default(), Settings::default()),
        "finished succeeded",
        &[],
        "succeeded",
    );
}

mod analysis;
mod controls;
mod release;
mod walk;
