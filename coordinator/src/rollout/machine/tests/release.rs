//! Release coordination in the machine: approvals (the starter refused, another operator
//! counted, expired ones not, withdrawals), start times, maintenance windows (a close
//! mid-wave lets in-flight hosts finish and starts none until it opens again) and freezes
//! (no new wave, but a rollback runs).

use super::*;

fn window(next_open: i64) -> Event {
    Event::Hold {
        hold: Some(Hold::Window {
            next_open: Some(next_open),
        }),
    }
}

fn open() -> Event {
    Event::Hold { hold: None }
}

fn freeze(until: i64) -> Event {
    Event::Hold {
        hold: Some(Hold::Freeze {
            until,
            reason: "year-end".to_string(),
        }),
    }
}

fn approving(n: u32, ttl: Option<i64>) -> Settings {
    Settings {
        auto_promote: true,
        approvals: n,
        approval_ttl_ms: ttl,
        starter: "alice".to_string(),
        ..Settings::default()
    }
}

#[test]
fn approvals_come_from_other_operators_and_expire() {
    let mut r = rollout(&hosts(2, &[]), batches("1", "1"), approving(2, Some(100)));
    assert_eq!(render(&r.start(0)), "");
    assert_eq!(r.state(), State::AwaitingApproval);
    // The starter cannot approve, nor can an operator without the role.
    assert_eq!(
        r.check_approval("alice", true, ""),
        Err(Refusal::OwnRollout)
    );
    assert!(matches!(
        r.check_approval("carol", false, ""),
        Err(Refusal::ApproverRole(_))
    ));
    assert_eq!(r.check_withdraw("bob"), Err(Refusal::NotApproved));
    let bob = r.check_approval("bob", true, "lgtm").unwrap();
    assert_eq!(render(&r.on_event(10, bob)), "");
    assert_eq!(r.approvals_needed(10), 1);
    // Bob's approval expires at 110: carol's alone at 150 is not enough.
    let carol = r.check_approval("carol", true, "").unwrap();
    assert_eq!(render(&r.on_event(150, carol)), "");
    assert_eq!(r.state(), State::AwaitingApproval);
    assert_eq!(r.approvals_needed(150), 1);
    let shown: Vec<(String, bool)> = r
        .approvals(150)
        .into_iter()
        .map(|(a, counts)| (a.by, counts))
        .collect();
    assert_eq!(
        shown,
        [("bob".to_string(), false), ("carol".to_string(), true)]
    );
    // Carol withdraws, then approves again with bob renewing: it starts.
    let withdraw = r.check_withdraw("carol").unwrap();
    assert_eq!(render(&r.on_event(160, withdraw)), "");
    assert_eq!(r.approvals_needed(160), 2);
    let carol = r.check_approval("carol", true, "").unwrap();
    assert_eq!(render(&r.on_event(170, carol)), "");
    let bob = r.check_approval("bob", true, "again").unwrap();
    assert_eq!(render(&r.on_event(180, bob)), "deploy h0");
    assert_eq!(r.state(), State::Running);
    assert_eq!(
        r.check_approval("dave", true, ""),
        Err(Refusal::NotAwaitingApproval)
    );
}

#[test]
fn a_rollout_awaiting_approval_can_be_aborted() {
    let mut r = rollout(&hosts(2, &[]), batches("1", "1"), approving(1, None));
    r.start(0);
    assert_eq!(r.check(Control::Abort), Ok(Event::Abort));
    assert_eq!(render(&r.on_event(5, Event::Abort)), "finished aborted");
    assert_eq!(r.check_approval("bob", true, ""), Err(Refusal::Over));
}

#[test]
fn a_scheduled_rollout_starts_at_its_time_and_only_inside_a_window() {
    let settings = Settings {
        auto_promote: true,
        start_at: Some(1_000),
        ..Settings::default()
    };
    let mut r = rollout(&hosts(2, &[]), batches("1", "1"), settings);
    // The driver logs the window's state before Start: closed until 2000.
    assert_eq!(render(&r.on_event(0, window(2_000))), "");
    assert_eq!(render(&r.start(0)), "wait 1000");
    assert_eq!(r.state(), State::Scheduled);
    assert_eq!(render(&r.on_event(500, Event::Tick)), "");
    // Its time came, but the window is closed: nothing starts.
    assert_eq!(render(&r.on_event(1_000, Event::Tick)), "");
    assert_eq!(r.state(), State::WaitingForWindow);
    assert_eq!(render(&r.on_event(2_000, open())), "deploy h0");
    assert_eq!(r.state(), State::Running);
}

#[test]
fn a_window_closing_mid_wave_lets_in_flight_hosts_finish_and_resumes_when_it_opens() {
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    let r = check(
        rollout(&hosts(5, &[]), batches("1", "2"), settings),
        "deploy h0",
        &[
            (1, ok("h0"), "deploy h1, deploy h2"),
            // The window closes with h1 and h2 in flight: they finish, nothing new starts.
            (2, window(100), ""),
            (3, ok("h1"), ""),
            (4, ok("h2"), ""),
            (50, Event::Tick, ""),
        ],
        "waiting_for_window",
    );
    let mut r = r;
    assert!(
        r.status().waiting_for.contains("maintenance window"),
        "{}",
        r.status().waiting_for
    );
    assert_eq!(render(&r.on_event(100, open())), "deploy h3, deploy h4");
    assert_eq!(render(&r.on_event(101, ok("h3"))), "");
    assert_eq!(render(&r.on_event(102, ok("h4"))), "finished succeeded");
}

#[test]
fn a_freeze_blocks_new_waves_but_never_a_rollback() {
    let settings = Settings {
        auto_promote: true,
        ..Settings::default()
    };
    let r = check(
        rollout(&hosts(3, &[]), batches("1", "2"), settings),
        "deploy h0",
        &[
            (1, freeze(1_000), ""),
            // The canary finishes, the next wave does not start.
            (2, ok("h0"), ""),
            (3, Event::Tick, ""),
        ],
        "frozen",
    );
    let mut r = r;
    assert_eq!(r.check(Control::Rollback), Ok(Event::Rollback));
    assert_eq!(render(&r.on_event(4, Event::Rollback)), "rollback h0 to 1");
    assert_eq!(render(&r.on_event(5, rolled("h0"))), "finished rolled_back");
}
