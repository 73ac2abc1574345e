use super::*;
use convoy_proto::v1::command_event::Body;

fn command(id: &str) -> Command {
    Command {
        command_id: id.into(),
        job_id: "j".into(),
        ..Default::default()
    }
}

fn behaviour(delay_ms: u64, fail: bool) -> Behaviour {
    Behaviour {
        delay: Duration::from_millis(delay_ms),
        fail,
        pid: 42,
    }
}

fn kinds(events: &[CommandEvent]) -> Vec<(u64, &'static str)> {
    events
        .iter()
        .map(|e| {
            let kind = match &e.body {
                Some(Body::Received(_)) => "received",
                Some(Body::Started(_)) => "started",
                Some(Body::Output(_)) => "output",
                Some(Body::Finished(f)) => match CommandState::try_from(f.state) {
                    Ok(CommandState::Succeeded) => "succeeded",
                    Ok(CommandState::Failed) => "failed",
                    Ok(CommandState::Cancelled) => "cancelled",
                    _ => "other",
                },
                None => "none",
            };
            (e.seq, kind)
        })
        .collect()
}

#[test]
fn an_instant_command_sends_everything_once_and_retires_on_the_last_ack() {
    let mut commands = Commands::new(behaviour(0, false), &[]);
    let now = Instant::now();
    let events = commands.on_command(&command("c1"), now);
    assert_eq!(
        kinds(&events),
        [
            (1, "received"),
            (2, "started"),
            (3, "output"),
            (4, "succeeded")
        ]
    );
    let Some(Body::Finished(done)) = &events[3].body else {
        panic!("not finished")
    };
    assert_eq!((done.exit_code, done.output_bytes), (Some(0), 3));
    // A second delivery runs nothing.
    assert!(commands.on_command(&command("c1"), now).is_empty());
    assert_eq!(commands.duplicates, 1);
    // Cumulative acks: 2 drops two events; a stale ack changes nothing.
    assert!(commands.on_ack("c1", 2).is_none());
    assert_eq!(commands.unacked().count(), 2);
    assert!(commands.on_ack("c1", 1).is_none());
    assert_eq!(commands.unacked().count(), 2);
    let trace = commands.on_ack("c1", 4).expect("retired");
    assert_eq!(trace.state, CommandState::Succeeded);
    assert_eq!(commands.open_count(), 0);
    // Retired ids still never run again.
    assert!(commands.on_command(&command("c1"), now).is_empty());
    assert!(commands.on_cancel("c1").is_empty());
    assert_eq!(commands.duplicates, 2);
}

#[test]
fn a_delayed_command_finishes_when_due_or_is_cancelled() {
    let mut commands = Commands::new(behaviour(200, true), &[]);
    let now = Instant::now();
    assert_eq!(
        kinds(&commands.on_command(&command("a"), now)),
        [(1, "received"), (2, "started")]
    );
    commands.on_command(&command("b"), now + Duration::from_millis(50));
    assert_eq!(commands.next_due(), Some(now + Duration::from_millis(200)));
    assert!(
        commands
            .fire_due(now + Duration::from_millis(199))
            .is_empty()
    );
    let events = commands.fire_due(now + Duration::from_millis(200));
    assert_eq!(kinds(&events), [(3, "output"), (4, "failed")]);
    assert_eq!(events[0].command_id, "a");
    // b is cancelled before it is due: it finishes cancelled, and never again.
    assert_eq!(kinds(&commands.on_cancel("b")), [(3, "cancelled")]);
    assert!(commands.on_cancel("b").is_empty());
    assert_eq!(commands.next_due(), None);
    assert!(commands.fire_due(now + Duration::from_secs(1)).is_empty());
    // Unacked events are all kept for a resend, in order.
    let pending: Vec<_> = commands
        .unacked()
        .map(|e| (e.command_id.as_str(), e.seq))
        .collect();
    assert_eq!(
        pending,
        [
            ("a", 1),
            ("a", 2),
            ("a", 3),
            ("a", 4),
            ("b", 1),
            ("b", 2),
            ("b", 3)
        ]
    );
}

#[test]
fn a_cancel_before_the_command_means_it_never_starts() {
    let mut commands = Commands::new(behaviour(0, false), &[]);
    let now = Instant::now();
    assert_eq!(kinds(&commands.on_cancel("x")), [(1, "cancelled")]);
    assert!(commands.on_command(&command("x"), now).is_empty());
    assert_eq!(
        commands.on_ack("x", 1).unwrap().state,
        CommandState::Cancelled
    );
    assert!(commands.on_command(&command("x"), now).is_empty());
    assert!(commands.on_ack("unknown", 1).is_none());
}

#[test]
fn failing_agents_are_spread_by_index() {
    let failing: Vec<usize> = (0..20).filter(|&i| fails(i, 0.25)).collect();
    assert_eq!(failing, [3, 7, 11, 15, 19]);
    assert_eq!((0..1000).filter(|&i| fails(i, 0.1)).count(), 100);
    assert!(!(0..1000).any(|i| fails(i, 0.0)));
    assert!((0..1000).all(|i| fails(i, 1.0)));
}

fn deploy(id: &str, app: &str, version: &str) -> Command {
    Command {
        action: Some(command::Action::Deploy(convoy_proto::v1::Deploy {
            app: app.into(),
            version: version.into(),
            ..Default::default()
        })),
        ..command(id)
    }
}

fn rollback(id: &str, app: &str) -> Command {
    Command {
        action: Some(command::Action::Rollback(convoy_proto::v1::Rollback {
            app: app.into(),
            version: String::new(),
        })),
        ..command(id)
    }
}

#[test]
fn fake_deploys_change_the_reported_version_and_rollbacks_undo_them() {
    let mut commands = Commands::new(behaviour(0, false), &["web".to_string()]);
    let now = Instant::now();
    assert_eq!(commands.apps()[0].version, "");
    let events = commands.on_command(&deploy("d1", "web", "1.0"), now);
    assert_eq!(kinds(&events).last(), Some(&(4, "succeeded")));
    assert!(commands.apps_changed());
    commands.on_command(&deploy("d2", "web", "2.0"), now);
    let status = &commands.apps()[0];
    assert_eq!(
        (status.version.as_str(), status.previous.as_str()),
        ("2.0", "1.0")
    );
    assert!(status.healthy);
    let events = commands.on_command(&rollback("r1", "web"), now);
    assert_eq!(kinds(&events).last(), Some(&(4, "succeeded")));
    assert_eq!(commands.apps()[0].version, "1.0");
    // An app this host does not allow is rejected at once, and nothing changes.
    assert!(commands.apps_changed());
    let events = commands.on_command(&deploy("d3", "db", "1.0"), now);
    assert_eq!(kinds(&events), [(1, "received"), (2, "other")]);
    assert!(!commands.apps_changed());
}

#[test]
fn failing_deploys_and_impossible_rollbacks_leave_the_app_alone() {
    let mut failing = Commands::new(behaviour(0, true), &["web".to_string()]);
    let now = Instant::now();
    let events = failing.on_command(&deploy("d1", "web", "1.0"), now);
    assert_eq!(kinds(&events).last(), Some(&(4, "failed")));
    assert_eq!(failing.apps()[0].version, "");
    assert!(!failing.apps_changed());

    let mut fresh = Commands::new(behaviour(0, false), &["web".to_string()]);
    let events = fresh.on_command(&rollback("r1", "web"), now);
    assert_eq!(kinds(&events).last(), Some(&(4, "failed")));
    let Some(Body::Finished(done)) = &events[3].body else {
        panic!("not finished")
    };
    assert!(done.message.contains("no previous release"), "{done:?}");
}

#[test]
fn a_delayed_deploy_changes_the_version_when_it_finishes() {
    let mut commands = Commands::new(behaviour(100, false), &["web".to_string()]);
    let now = Instant::now();
    commands.on_command(&deploy("d1", "web", "1.0"), now);
    assert_eq!(commands.apps()[0].version, "");
    commands.fire_due(now + Duration::from_millis(100));
    assert_eq!(commands.apps()[0].version, "1.0");
}

#[test]
fn held_commands_report_state_and_last_seq() {
    let mut commands = Commands::new(behaviour(1000, false), &[]);
    let now = Instant::now();
    commands.on_command(&command("slow"), now);
    commands.on_cancel("gone");
    let held = commands.held();
    assert_eq!(held.len(), 2);
    assert_eq!((held[0].command_id.as_str(), held[0].last_seq), ("slow", 2));
    assert_eq!(held[0].state, CommandState::Running as i32);
    assert_eq!(held[1].state, CommandState::Cancelled as i32);
    assert_eq!(held[1].last_seq, 1);
}
