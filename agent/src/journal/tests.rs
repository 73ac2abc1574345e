use super::*;
use convoy_proto::v1::{OutputChunk, OutputStream};
use prost::Message;

fn finished(state: CommandState) -> Finished {
    Finished {
        state: state.into(),
        exit_code: Some(0),
        ..Default::default()
    }
}

#[test]
fn an_id_is_admitted_once_even_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let journal = Journal::open(dir.path()).unwrap();
        let Admission::New(event) = journal.admit("j/1", "j", "noop", 100).unwrap() else {
            panic!("first sight must be new");
        };
        assert_eq!(event.seq, 1);
        assert_eq!(
            journal.admit("j/1", "j", "noop", 100).unwrap(),
            Admission::NotStarted
        );
        journal.mark_started("j/1").unwrap();
        assert_eq!(
            journal.admit("j/1", "j", "noop", 100).unwrap(),
            Admission::Known
        );
    }
    let journal = Journal::open(dir.path()).unwrap();
    assert_eq!(
        journal.admit("j/1", "j", "noop", 100).unwrap(),
        Admission::Known
    );
}

#[test]
fn started_commands_are_interrupted_at_recovery_and_never_admitted_again() {
    let dir = tempfile::tempdir().unwrap();
    {
        let journal = Journal::open(dir.path()).unwrap();
        journal.admit("j/run", "j", "a", 0).unwrap();
        journal.mark_started("j/run").unwrap();
        journal.admit("j/done", "j", "a", 0).unwrap();
        journal.mark_started("j/done").unwrap();
        journal
            .finish("j/done", finished(CommandState::Succeeded))
            .unwrap();
        journal.admit("j/waiting", "j", "a", 0).unwrap();
    }
    let journal = Journal::open(dir.path()).unwrap();
    assert_eq!(
        journal.recover_interrupted().unwrap(),
        vec!["j/run".to_string()]
    );
    assert!(
        journal.recover_interrupted().unwrap().is_empty(),
        "recovery is idempotent"
    );
    let events = journal.unacked().unwrap();
    let last_of_run = events.iter().rfind(|e| e.command_id == "j/run").unwrap();
    match &last_of_run.body {
        Some(command_event::Body::Finished(f)) => {
            assert_eq!(f.state, CommandState::Interrupted as i32)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(last_of_run.seq, 3);
    assert_eq!(
        journal.admit("j/run", "j", "a", 0).unwrap(),
        Admission::Known
    );
    assert_eq!(
        journal.admit("j/waiting", "j", "a", 0).unwrap(),
        Admission::NotStarted
    );
}

#[test]
fn events_leave_the_outbox_only_when_acked() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    journal.admit("j/a", "j", "x", 0).unwrap();
    journal.mark_started("j/a").unwrap();
    for i in 0..3u8 {
        journal
            .append(
                "j/a",
                command_event::Body::Output(OutputChunk {
                    stream: OutputStream::Stdout.into(),
                    data: vec![i],
                    offset: 0,
                }),
            )
            .unwrap();
    }
    journal
        .finish("j/a", finished(CommandState::Succeeded))
        .unwrap();
    journal.admit("j/b", "j", "x", 0).unwrap();
    let seqs = |j: &Journal| {
        j.unacked()
            .unwrap()
            .iter()
            .map(|e| (e.command_id.clone(), e.seq))
            .collect::<Vec<_>>()
    };
    assert_eq!(seqs(&journal).len(), 7);
    journal.ack("j/a", 4).unwrap();
    assert_eq!(
        seqs(&journal),
        [("j/a".into(), 5), ("j/a".into(), 6), ("j/b".into(), 1)]
    );
    let held = journal.held().unwrap();
    assert_eq!(held.len(), 2);
    assert_eq!(held[0].state, CommandState::Succeeded as i32);
    assert_eq!(held[0].last_seq, 6);
    journal.ack("j/a", 6).unwrap();
    journal.ack("j/b", 1).unwrap();
    assert!(journal.unacked().unwrap().is_empty());
}

#[test]
fn a_cancel_for_an_unseen_command_makes_sure_it_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let event = journal
        .finish_unstarted("j/c", "j", "x", finished(CommandState::Cancelled))
        .unwrap()
        .unwrap();
    assert_eq!(event.seq, 1);
    assert_eq!(journal.admit("j/c", "j", "x", 0).unwrap(), Admission::Known);
    // Once started, a late cancel does not rewrite history.
    journal.admit("j/d", "j", "x", 0).unwrap();
    journal.mark_started("j/d").unwrap();
    assert!(
        journal
            .finish_unstarted("j/d", "j", "x", finished(CommandState::Cancelled))
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_journal_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Journal::open(dir.path()).unwrap();
    assert!(matches!(
        Journal::open(dir.path()),
        Err(JournalError::Locked(_))
    ));
}

#[test]
fn only_old_fully_acked_finished_commands_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    journal.admit("j/acked", "j", "x", 0).unwrap();
    journal.mark_started("j/acked").unwrap();
    journal
        .finish("j/acked", finished(CommandState::Succeeded))
        .unwrap();
    journal.ack("j/acked", 3).unwrap();
    journal.admit("j/unacked", "j", "x", 0).unwrap();
    journal.mark_started("j/unacked").unwrap();
    journal
        .finish("j/unacked", finished(CommandState::Succeeded))
        .unwrap();
    journal.admit("j/waiting", "j", "x", 0).unwrap();
    journal.ack("j/waiting", 1).unwrap();
    assert_eq!(
        journal.prune_finished(0).unwrap(),
        0,
        "nothing is old enough"
    );
    assert_eq!(journal.prune_finished(i64::MAX).unwrap(), 1);
    assert!(journal.entry("j/acked").unwrap().is_none());
    assert!(journal.entry("j/unacked").unwrap().is_some());
    assert!(journal.entry("j/waiting").unwrap().is_some());
}

#[test]
fn a_sled_journal_is_converted_once_and_nothing_it_held_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    // What an older agent left: a started command, a finished one with an unacked event.
    {
        let old = sled::open(dir.path().join(migrate::SLED_DIR)).unwrap();
        let commands = old.open_tree("commands").unwrap();
        let outbox = old.open_tree("outbox").unwrap();
        for (id, stage, next_seq) in [
            ("j/running", JournalStage::Started, 3),
            ("j/done", JournalStage::Finished, 4),
        ] {
            let entry = JournalEntry {
                command_id: id.into(),
                job_id: "j".into(),
                action: "x".into(),
                stage: stage.into(),
                next_seq,
                received_unix_ms: 1,
                final_state: CommandState::Succeeded.into(),
                output_cap_bytes: 0,
                finished: None,
            };
            commands.insert(id, entry.encode_to_vec()).unwrap();
        }
        let event = CommandEvent {
            command_id: "j/done".into(),
            seq: 3,
            at_unix_ms: 1,
            body: Some(command_event::Body::Finished(finished(
                CommandState::Succeeded,
            ))),
        };
        outbox
            .insert(outbox_key("j/done", 3), event.encode_to_vec())
            .unwrap();
        old.flush().unwrap();
    }
    let journal = Journal::open(dir.path()).unwrap();
    assert!(!dir.path().join(migrate::SLED_DIR).exists());
    assert!(dir.path().join(migrate::CONVERTED_DIR).exists());
    assert_eq!(
        journal.admit("j/done", "j", "x", 0).unwrap(),
        Admission::Known
    );
    assert_eq!(
        journal
            .unacked()
            .unwrap()
            .iter()
            .map(|e| (e.command_id.as_str(), e.seq))
            .collect::<Vec<_>>(),
        [("j/done", 3)]
    );
    assert_eq!(journal.recover_interrupted().unwrap(), ["j/running"]);
    drop(journal);
    // Opened again: no second conversion, the redb journal is the one in use.
    let journal = Journal::open(dir.path()).unwrap();
    assert_eq!(
        journal.admit("j/running", "j", "x", 0).unwrap(),
        Admission::Known
    );
    assert_eq!(journal.unacked().unwrap().len(), 2);
}

#[test]
fn output_is_durable_once_flushed_and_acks_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let journal = Journal::open(dir.path()).unwrap();
        journal.admit("j/a", "j", "x", 0).unwrap();
        journal.mark_started("j/a").unwrap();
        journal
            .append(
                "j/a",
                command_event::Body::Output(OutputChunk {
                    stream: OutputStream::Stdout.into(),
                    data: b"hi".to_vec(),
                    offset: 0,
                }),
            )
            .unwrap();
        journal.flush().unwrap();
        journal.ack("j/a", 2).unwrap();
        journal.flush().unwrap();
    }
    let journal = Journal::open(dir.path()).unwrap();
    let events = journal.unacked().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].seq, 3);
    assert_eq!(journal.recover_interrupted().unwrap(), ["j/a"]);
    assert_eq!(journal.unacked().unwrap().last().unwrap().seq, 4);
}

/// Rewrites `command_id`'s stage on disk as a newer (or broken) agent might have left it.
fn force_stage(journal: &Journal, command_id: &str, stage: i32) {
    journal
        .write(true, |tx| {
            let mut entry = tables::get_entry(tx, command_id)?.unwrap();
            entry.stage = stage;
            tx.open_table(COMMANDS)?
                .insert(command_id, entry.encode_to_vec().as_slice())?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn an_unknown_stage_on_disk_counts_as_started_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    {
        let journal = Journal::open(dir.path()).unwrap();
        for (id, stage) in [("j/new", 99), ("j/zero", 0)] {
            journal.admit(id, "j", "noop", 100).unwrap();
            force_stage(&journal, id, stage);
            // Never admitted again, and a cancel cannot finish it as never started.
            assert_eq!(
                journal.admit(id, "j", "noop", 100).unwrap(),
                Admission::Known
            );
            let cancelled = finished(CommandState::Cancelled);
            assert!(
                journal
                    .finish_unstarted(id, "j", "noop", cancelled)
                    .unwrap()
                    .is_none()
            );
        }
        // The Hello says it may be running, not merely delivered.
        let held = journal.held().unwrap();
        assert_eq!(held.len(), 2);
        assert!(
            held.iter().all(|h| h.state == CommandState::Running as i32),
            "{held:?}"
        );
    }
    // At start-up it is finished as interrupted, like any command that had started.
    let journal = Journal::open(dir.path()).unwrap();
    let mut interrupted = journal.recover_interrupted().unwrap();
    interrupted.sort();
    assert_eq!(interrupted, ["j/new", "j/zero"]);
    let entry = journal.entry("j/new").unwrap().unwrap();
    assert_eq!(entry.final_state, CommandState::Interrupted as i32);
}

#[test]
fn a_finished_command_delivered_again_after_its_events_were_acked_is_restated_once() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    journal.admit("j/1", "j", "x", 0).unwrap();
    journal.mark_started("j/1").unwrap();
    let mut result = finished(CommandState::Failed);
    result.exit_code = Some(3);
    result.message = "exit status 3".into();
    let last = journal.finish("j/1", result).unwrap();
    // While the events wait for an ack there is nothing to restate: they are sent again.
    assert!(journal.restate("j/1").unwrap().is_none());
    journal.ack("j/1", last.seq).unwrap();
    assert!(journal.unacked().unwrap().is_empty());

    // The coordinator acknowledged everything, then lost it, and sends the command again.
    let again = journal.restate("j/1").unwrap().expect("a restated result");
    assert_eq!(again.seq, last.seq + 1, "a new sequence number");
    let Some(command_event::Body::Finished(done)) = &again.body else {
        panic!("not a result: {again:?}")
    };
    assert_eq!(done.state, i32::from(CommandState::Failed));
    assert_eq!(done.exit_code, Some(3));
    assert!(
        done.message.starts_with("exit status 3"),
        "{}",
        done.message
    );
    assert_eq!(journal.unacked().unwrap(), vec![again.clone()]);
    // Delivered a third time before the ack: nothing more is queued, and it never runs.
    assert!(journal.restate("j/1").unwrap().is_none());
    assert_eq!(journal.admit("j/1", "j", "x", 0).unwrap(), Admission::Known);
    // Durable: a reopened journal still holds it for the next session.
    drop(journal);
    let journal = Journal::open(dir.path()).unwrap();
    assert_eq!(journal.unacked().unwrap(), vec![again]);
    // Never-finished commands and unknown ids have no result to restate.
    journal.admit("j/2", "j", "x", 0).unwrap();
    assert!(journal.restate("j/2").unwrap().is_none());
    assert!(journal.restate("j/unknown").unwrap().is_none());
}

#[test]
fn an_entry_written_before_results_were_kept_is_restated_from_its_final_state() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    journal.admit("j/old", "j", "x", 0).unwrap();
    let last = journal
        .finish("j/old", finished(CommandState::Succeeded))
        .unwrap();
    journal.ack("j/old", last.seq).unwrap();
    // As an older agent wrote it: the final state only.
    journal
        .write(true, |tx| {
            let mut entry = get_entry(tx, "j/old")?.unwrap();
            entry.finished = None;
            tx.open_table(COMMANDS)?
                .insert("j/old", entry.encode_to_vec().as_slice())?;
            Ok(())
        })
        .unwrap();
    let again = journal
        .restate("j/old")
        .unwrap()
        .expect("a restated result");
    let Some(command_event::Body::Finished(done)) = &again.body else {
        panic!("not a result: {again:?}")
    };
    assert_eq!(done.state, i32::from(CommandState::Succeeded));
}
