use super::*;

/// A clean history: two acknowledged jobs on two hosts, everything ran once.
fn clean() -> History {
    let mut history = History::default();
    for (n, host) in [(1, "a0"), (2, "a1")] {
        let job = format!("j{n}");
        let id = format!("c{n}");
        history.acked.push(Acked {
            request_id: format!("r{n}"),
            job_id: job.clone(),
        });
        history.requests.insert(format!("r{n}"), job.clone());
        history.jobs.insert(job, vec![id.clone()]);
        history.commands.insert(
            id.clone(),
            StoredCommand {
                host: host.into(),
                state: CommandState::Succeeded,
                output: format!("ok {id}\n").into_bytes(),
            },
        );
        history.journals.insert(
            host.into(),
            BTreeMap::from([(id.clone(), Some(CommandState::Succeeded))]),
        );
        history.side.insert(host.into(), vec![id]);
    }
    history
}

#[test]
fn a_clean_history_has_no_violations() {
    assert_eq!(check(&clean()), Vec::<String>::new());
}

#[test]
fn a_command_run_twice_is_a_violation() {
    let mut history = clean();
    history.side.get_mut("a0").unwrap().push("c1".into());
    let found = check(&history);
    assert!(found.iter().any(|v| v.contains("ran 2 times")), "{found:?}");
}

#[test]
fn a_lost_acknowledged_job_is_a_violation() {
    let mut history = clean();
    history.jobs.remove("j2");
    history.requests.remove("r2");
    let found = check(&history);
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn a_lost_output_chunk_is_a_violation() {
    let mut history = clean();
    history.commands.get_mut("c1").unwrap().output.clear();
    let found = check(&history);
    assert!(
        found.iter().any(|v| v.contains("stored output")),
        "{found:?}"
    );
}

#[test]
fn a_command_left_running_is_a_violation() {
    let mut history = clean();
    history.commands.get_mut("c2").unwrap().state = CommandState::Running;
    history
        .journals
        .get_mut("a1")
        .unwrap()
        .insert("c2".into(), None);
    let found = check(&history);
    assert!(
        found
            .iter()
            .any(|v| v.contains("never reached a terminal state")),
        "{found:?}"
    );
}

#[test]
fn a_run_the_coordinator_calls_never_started_is_a_violation() {
    let mut history = clean();
    history.commands.get_mut("c2").unwrap().state = CommandState::Undeliverable;
    history.journals.get_mut("a1").unwrap().clear();
    let found = check(&history);
    assert!(
        found.iter().any(|v| v.contains("never started")),
        "{found:?}"
    );
}

#[test]
fn journal_and_coordinator_disagreeing_is_a_violation() {
    let mut history = clean();
    history
        .journals
        .get_mut("a0")
        .unwrap()
        .insert("c1".into(), Some(CommandState::Interrupted));
    let found = check(&history);
    assert!(
        found.iter().any(|v| v.contains("journal says")),
        "{found:?}"
    );
}

#[test]
fn an_interrupted_command_may_have_run_once_or_not_at_all() {
    let mut history = clean();
    let command = history.commands.get_mut("c2").unwrap();
    command.state = CommandState::Interrupted;
    command.output.clear();
    history
        .journals
        .get_mut("a1")
        .unwrap()
        .insert("c2".into(), Some(CommandState::Interrupted));
    assert_eq!(check(&history), Vec::<String>::new());
    history.side.get_mut("a1").unwrap().clear();
    assert_eq!(check(&history), Vec::<String>::new());
}
