use convoy_proto::v1::{RolloutEventKind, RolloutLogEntry, RolloutRecord};
use prost::Message;

use super::*;

/// A rollout record as the version before enum states wrote it: the state's name in
/// field 8 (a string), nothing in field 14.
fn legacy_record_bytes(id: &str, state: &str, active: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    prost::encoding::string::encode(1, &id.to_string(), &mut buf);
    prost::encoding::string::encode(8, &state.to_string(), &mut buf);
    prost::encoding::bool::encode(13, &active, &mut buf);
    buf
}

#[test]
fn a_record_written_with_a_string_state_still_reads() {
    for (name, expected) in [
        ("running", State::Running),
        ("awaiting_promotion", State::AwaitingPromotion),
        ("paused", State::Paused),
        ("succeeded", State::Succeeded),
        ("aborted", State::Aborted),
        ("rolling_back", State::RollingBack),
        ("rolled_back", State::RolledBack),
    ] {
        let raw = legacy_record_bytes("r-1", name, true);
        let record = RolloutRecord::decode(raw.as_slice()).unwrap();
        assert_eq!(record.id, "r-1");
        assert!(record.active);
        assert_eq!(record_state(&record), Some(expected), "{name}");
    }
    let raw = legacy_record_bytes("r-2", "exploded", false);
    let record = RolloutRecord::decode(raw.as_slice()).unwrap();
    assert_eq!(record_state(&record), None);
}

#[test]
fn the_enum_state_wins_over_a_legacy_name() {
    let mut record = RolloutRecord {
        legacy_state: "running".to_string(),
        ..Default::default()
    };
    record.set_state(RolloutState::Succeeded);
    assert_eq!(record_state(&record), Some(State::Succeeded));
}

#[test]
fn every_machine_state_names_the_same_on_the_wire() {
    let all = [
        State::Running,
        State::Baking,
        State::AwaitingPromotion,
        State::Paused,
        State::Succeeded,
        State::Failed,
        State::Aborted,
        State::RollingBack,
        State::RolledBack,
    ];
    for s in all {
        assert_eq!(state(s).name(), s.as_str());
        assert_eq!(state_from(state(s)), Some(s));
    }
    for h in [
        HostState::Pending,
        HostState::Waiting,
        HostState::Deploying,
        HostState::Succeeded,
        HostState::Failed,
        HostState::Unreachable,
        HostState::Skipped,
        HostState::RollingBack,
        HostState::RolledBack,
        HostState::RollbackFailed,
    ] {
        assert_eq!(host_state(h).name(), h.as_str());
    }
}

#[test]
fn late_results_are_machine_events_in_the_log() {
    let failed = Event::LateFailed {
        host: "web-3".to_string(),
        reason: "failed: exit 1".to_string(),
    };
    let logged = entry(5, &failed);
    assert_eq!(logged.kind, RolloutEventKind::LateFailed as i32);
    assert_eq!(replayed(&logged), Replayed::Machine(failed));
    // An entry written by the previous version replays the same way.
    let old = RolloutLogEntry {
        at_unix_ms: 5,
        kind: RolloutEventKind::LateSucceeded.into(),
        host: "web-3".to_string(),
        ..Default::default()
    };
    assert_eq!(
        replayed(&old),
        Replayed::Machine(Event::LateSucceeded {
            host: "web-3".to_string()
        })
    );
}

#[test]
fn holds_and_approvals_replay_from_their_log_entries() {
    for event in [
        Event::Hold {
            hold: Some(Hold::Window {
                next_open: Some(2_000),
            }),
        },
        Event::Hold {
            hold: Some(Hold::Window { next_open: None }),
        },
        Event::Hold {
            hold: Some(Hold::Freeze {
                until: 5_000,
                reason: "year-end".to_string(),
            }),
        },
        Event::Hold { hold: None },
        Event::Approve {
            by: "bob".to_string(),
            comment: "lgtm".to_string(),
        },
        Event::Withdraw {
            by: "bob".to_string(),
        },
    ] {
        assert_eq!(replayed(&entry(7, &event)), Replayed::Machine(event));
    }
}
