//! One simulated agent's side of the durable command pipeline, as a pure state machine:
//! no I/O, no clock of its own (the caller passes `now`).
//!
//! On a new command id it emits `Received` and `Started`, then (at once, or when the
//! configured delay has passed) one small `OutputChunk` and `Finished`. A command id is
//! run at most once: a second delivery of an id it has seen is counted and ignored. A
//! `Cancel` for a command that has not finished emits `Finished{CANCELLED}` (for an id
//! never seen, as the first and only event, so the id can never start later). Every
//! event stays in the command's outbox until an `Ack` with a sequence number at or past
//! it (acks are cumulative); a command whose `Finished` is acked is retired to a list of
//! bare ids.
//!
//! Memory: one small slot per command with unacked events, one boxed id per retired
//! command. Nothing else grows.

use std::collections::VecDeque;
use std::time::Duration;

use convoy_coordinator::registry::now_unix_ms;
use convoy_proto::v1::{
    Command, CommandEvent, CommandState, Finished, OutputChunk, OutputStream, Received, Started,
    command_event,
};
use tokio::time::Instant;

/// What a simulated command does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    /// Time from `Started` to `Finished`; zero sends every event at once.
    pub delay: Duration,
    /// Finish `FAILED` with exit code 1 instead of `SUCCEEDED` with 0.
    pub fail: bool,
    /// Reported as the process id in `Started`.
    pub pid: u32,
}

/// The stdout of a successful simulated command.
pub const OK_OUTPUT: &[u8] = b"ok\n";
/// The stderr of a failing one.
pub const FAIL_OUTPUT: &[u8] = b"simulated failure\n";

/// One command's timeline, by this machine's clock (Unix ms), reported once its
/// `Finished` is acked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub command_id: String,
    pub state: CommandState,
    /// The `Command` (or the first `Cancel`) arrived.
    pub arrived_unix_ms: i64,
    /// `Finished` was emitted.
    pub finished_unix_ms: i64,
    /// The ack covering `Finished` arrived: the result is on the coordinator's disk.
    pub acked_unix_ms: i64,
}

#[derive(Debug)]
struct Slot {
    id: Box<str>,
    next_seq: u64,
    /// When to emit the output and `Finished`; None once finished.
    due: Option<Instant>,
    finished: Option<(CommandState, i64)>,
    arrived_unix_ms: i64,
    unacked: VecDeque<CommandEvent>,
}

impl Slot {
    fn event(&mut self, body: command_event::Body) -> CommandEvent {
        let event = CommandEvent {
            command_id: self.id.to_string(),
            seq: self.next_seq,
            at_unix_ms: now_unix_ms(),
            body: Some(body),
        };
        self.next_seq += 1;
        self.unacked.push_back(event.clone());
        event
    }

    fn finish(&mut self, finished: Finished) -> CommandEvent {
        self.due = None;
        let state = CommandState::try_from(finished.state).unwrap_or(CommandState::Failed);
        let event = self.event(command_event::Body::Finished(finished));
        self.finished = Some((state, event.at_unix_ms));
        event
    }
}

/// The commands of one simulated agent.
#[derive(Debug)]
pub struct Commands {
    behaviour: Behaviour,
    /// Commands not yet finished, or whose events are not all acked.
    open: Vec<Slot>,
    /// Finished and fully acked: only the id is kept, so it never runs again.
    retired: Vec<Box<str>>,
    /// Deliveries of an id already seen.
    pub duplicates: u64,
}

impl Commands {
    pub fn new(behaviour: Behaviour) -> Self {
        Self {
            behaviour,
            open: Vec::new(),
            retired: Vec::new(),
            duplicates: 0,
        }
    }

    fn seen(&self, id: &str) -> bool {
        self.open.iter().any(|s| &*s.id == id) || self.retired.iter().any(|r| &**r == id)
    }

    fn open_slot(&mut self, id: &str) -> &mut Slot {
        self.open.push(Slot {
            id: id.into(),
            next_seq: 1,
            due: None,
            finished: None,
            arrived_unix_ms: now_unix_ms(),
            unacked: VecDeque::new(),
        });
        self.open.last_mut().expect("just pushed")
    }

    /// A `Command` arrived. Returns the events to send now (none for a duplicate).
    pub fn on_command(&mut self, command: &Command, now: Instant) -> Vec<CommandEvent> {
        if self.seen(&command.command_id) {
            self.duplicates += 1;
            return Vec::new();
        }
        let behaviour = self.behaviour;
        let slot = self.open_slot(&command.command_id);
        slot.due = Some(now + behaviour.delay);
        let mut events = vec![
            slot.event(command_event::Body::Received(Received {})),
            slot.event(command_event::Body::Started(Started { pid: behaviour.pid })),
        ];
        if behaviour.delay.is_zero() {
            events.extend(self.fire_due(now));
        }
        events
    }

    /// A `Cancel` arrived. Returns the events to send now.
    pub fn on_cancel(&mut self, command_id: &str) -> Vec<CommandEvent> {
        let cancelled = Finished {
            state: CommandState::Cancelled.into(),
            message: "cancelled".into(),
            ..Default::default()
        };
        if let Some(slot) = self.open.iter_mut().find(|s| &*s.id == command_id) {
            return if slot.finished.is_none() {
                vec![slot.finish(cancelled)]
            } else {
                Vec::new()
            };
        }
        if self.retired.iter().any(|r| &**r == command_id) {
            return Vec::new();
        }
        // Never seen: remember it as cancelled so a late delivery never starts it.
        let slot = self.open_slot(command_id);
        vec![slot.finish(Finished {
            message: "cancelled before it started".into(),
            ..cancelled
        })]
    }

    /// When the next delayed command finishes, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.open.iter().filter_map(|s| s.due).min()
    }

    /// Finishes every command whose delay has passed. Returns the events to send.
    pub fn fire_due(&mut self, now: Instant) -> Vec<CommandEvent> {
        let behaviour = self.behaviour;
        let mut events = Vec::new();
        for slot in self
            .open
            .iter_mut()
            .filter(|s| s.due.is_some_and(|d| d <= now))
        {
            let (stream, data, finished) = if behaviour.fail {
                let finished = Finished {
                    state: CommandState::Failed.into(),
                    exit_code: Some(1),
                    message: "simulated failure (exit code 1)".into(),
                    output_bytes: FAIL_OUTPUT.len() as u64,
                    ..Default::default()
                };
                (OutputStream::Stderr, FAIL_OUTPUT, finished)
            } else {
                let finished = Finished {
                    state: CommandState::Succeeded.into(),
                    exit_code: Some(0),
                    output_bytes: OK_OUTPUT.len() as u64,
                    ..Default::default()
                };
                (OutputStream::Stdout, OK_OUTPUT, finished)
            };
            events.push(slot.event(command_event::Body::Output(OutputChunk {
                stream: stream.into(),
                data: data.to_vec(),
            })));
            events.push(slot.finish(finished));
        }
        events
    }

    /// An `Ack`: the coordinator stored the command's events up to `seq`. Returns the
    /// command's trace when this retires it.
    pub fn on_ack(&mut self, command_id: &str, seq: u64) -> Option<Trace> {
        let at = self.open.iter().position(|s| &*s.id == command_id)?;
        let slot = &mut self.open[at];
        while slot.unacked.front().is_some_and(|e| e.seq <= seq) {
            slot.unacked.pop_front();
        }
        let (state, finished_unix_ms) = slot.finished?;
        if !slot.unacked.is_empty() {
            return None;
        }
        let slot = self.open.swap_remove(at);
        let trace = Trace {
            command_id: slot.id.to_string(),
            state,
            arrived_unix_ms: slot.arrived_unix_ms,
            finished_unix_ms,
            acked_unix_ms: now_unix_ms(),
        };
        self.retired.push(slot.id);
        Some(trace)
    }

    /// Events not yet acked, in order per command: what a new session would send again.
    pub fn unacked(&self) -> impl Iterator<Item = &CommandEvent> {
        self.open.iter().flat_map(|s| s.unacked.iter())
    }

    /// Commands not yet finished, or finished with events not yet acked.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }
}

/// Whether agent `index` of `agents` fails its commands, for a `share` in 0.0..=1.0:
/// exactly ⌊agents × share⌋ agents fail, spread evenly over the indices.
pub fn fails(index: usize, share: f64) -> bool {
    #[allow(clippy::cast_precision_loss)]
    let at = |i: usize| (i as f64 * share).floor();
    at(index + 1) > at(index)
}

#[cfg(test)]
mod tests {
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
        let mut commands = Commands::new(behaviour(0, false));
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
        let mut commands = Commands::new(behaviour(200, true));
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
        let mut commands = Commands::new(behaviour(0, false));
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
}
