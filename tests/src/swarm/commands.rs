//! One simulated agent's side of the durable command pipeline, as a pure state machine:
//! no I/O, no clock of its own (the caller passes `now`).
//!
//! On a new command id it emits `Received` and `Started`, then (at once, or when the
//! configured delay has passed) one small `OutputChunk` and `Finished`. A `Deploy` or
//! `Rollback` is a fake one ([`Apps`]): when it finishes well, the app's version changes
//! and the agent reports it in its next heartbeat; a deploy of an app the agent does not
//! allow is rejected at once. A command id is run at most once: a second delivery of an
//! id it has seen is counted and ignored. A `Cancel` for a command that has not finished
//! emits `Finished{CANCELLED}` (for an id never seen, as the first and only event, so the
//! id can never start later). Every event stays in the command's outbox until an `Ack`
//! with a sequence number at or past it (acks are cumulative); a command whose `Finished`
//! is acked is retired to a list of bare ids. After a reconnect, [`Commands::held`] is
//! what the Hello reports and [`Commands::unacked`] what is sent again.
//!
//! Memory: one small slot per command with unacked events, one boxed id per retired
//! command. Nothing else grows.

use std::collections::VecDeque;
use std::time::Duration;

use convoy_coordinator::clock::now_unix_ms;
use convoy_proto::v1::{
    AppStatus, Command, CommandEvent, CommandState, Finished, HeldCommand, OutputChunk,
    OutputStream, Received, Started, command, command_event,
};
use tokio::time::Instant;

use super::apps::Apps;

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

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Work {
    /// A named action: every name is a no-op here.
    Run,
    Deploy {
        app: String,
        version: String,
    },
    Rollback {
        app: String,
        version: String,
    },
}

impl Work {
    fn of(command: &Command) -> Self {
        match &command.action {
            Some(command::Action::Deploy(d)) => Self::Deploy {
                app: d.app.clone(),
                version: d.version.clone(),
            },
            Some(command::Action::Rollback(r)) => Self::Rollback {
                app: r.app.clone(),
                version: r.version.clone(),
            },
            // Backups are not simulated: a backup, restore or drill is answered like an
            // action, with no data moved.
            Some(
                command::Action::Run(_)
                | command::Action::Backup(_)
                | command::Action::Restore(_)
                | command::Action::Drill(_),
            )
            | None => Self::Run,
        }
    }

    fn app(&self) -> Option<&str> {
        match self {
            Self::Run => None,
            Self::Deploy { app, .. } | Self::Rollback { app, .. } => Some(app),
        }
    }
}

#[derive(Debug)]
struct Slot {
    id: Box<str>,
    work: Work,
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

    /// Output, then `Finished`, for an outcome.
    fn complete(&mut self, outcome: Result<Vec<u8>, (Vec<u8>, String)>) -> [CommandEvent; 2] {
        let (stream, data, finished) = match outcome {
            Ok(stdout) => (
                OutputStream::Stdout,
                stdout,
                Finished {
                    state: CommandState::Succeeded.into(),
                    exit_code: Some(0),
                    ..Default::default()
                },
            ),
            Err((stderr, message)) => (
                OutputStream::Stderr,
                stderr,
                Finished {
                    state: CommandState::Failed.into(),
                    exit_code: Some(1),
                    message,
                    ..Default::default()
                },
            ),
        };
        let finished = Finished {
            output_bytes: data.len() as u64,
            ..finished
        };
        let output = self.event(command_event::Body::Output(OutputChunk {
            stream: stream.into(),
            data,
            offset: 0,
        }));
        [output, self.finish(finished)]
    }
}

/// The commands of one simulated agent.
#[derive(Debug)]
pub struct Commands {
    behaviour: Behaviour,
    apps: Apps,
    /// Commands not yet finished, or whose events are not all acked.
    open: Vec<Slot>,
    /// Finished and fully acked: only the id is kept, so it never runs again.
    retired: Vec<Box<str>>,
    /// Deliveries of an id already seen.
    pub duplicates: u64,
}

impl Commands {
    /// A simulated agent that allows the apps in `apps` (none deployed yet).
    pub fn new(behaviour: Behaviour, apps: &[String]) -> Self {
        Self {
            behaviour,
            apps: Apps::new(apps),
            open: Vec::new(),
            retired: Vec::new(),
            duplicates: 0,
        }
    }

    fn seen(&self, id: &str) -> bool {
        self.open.iter().any(|s| &*s.id == id) || self.retired.iter().any(|r| &**r == id)
    }

    fn open_slot(&mut self, id: &str, work: Work) -> &mut Slot {
        self.open.push(Slot {
            id: id.into(),
            work,
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
        let work = Work::of(command);
        let refused = work
            .app()
            .filter(|app| !self.apps.allows(app))
            .map(|app| format!("app {app:?} is not configured on this host"));
        let slot = self.open_slot(&command.command_id, work);
        let received = slot.event(command_event::Body::Received(Received {}));
        if let Some(message) = refused {
            let rejected = slot.finish(Finished {
                state: CommandState::Rejected.into(),
                message,
                ..Default::default()
            });
            return vec![received, rejected];
        }
        slot.due = Some(now + behaviour.delay);
        let mut events = vec![
            received,
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
        let slot = self.open_slot(command_id, Work::Run);
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
        let Self {
            behaviour,
            apps,
            open,
            ..
        } = self;
        let mut events = Vec::new();
        for slot in open.iter_mut().filter(|s| s.due.is_some_and(|d| d <= now)) {
            let outcome = if behaviour.fail {
                Err((
                    FAIL_OUTPUT.to_vec(),
                    "simulated failure (exit code 1)".to_string(),
                ))
            } else {
                let applied = match &slot.work {
                    Work::Run => Ok(String::new()),
                    Work::Deploy { app, version } => apps.deploy(app, version),
                    Work::Rollback { app, version } => apps.rollback(app, version),
                };
                applied
                    .map(|_| OK_OUTPUT.to_vec())
                    .map_err(|why| (format!("{why}\n").into_bytes(), why))
            };
            events.extend(slot.complete(outcome));
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

    /// Events not yet acked, in order per command: what a new session sends again.
    pub fn unacked(&self) -> impl Iterator<Item = &CommandEvent> {
        self.open.iter().flat_map(|s| s.unacked.iter())
    }

    /// What a new session's Hello reports: every command not fully acked, its state and
    /// the last sequence number written.
    pub fn held(&self) -> Vec<HeldCommand> {
        self.open
            .iter()
            .map(|s| HeldCommand {
                command_id: s.id.to_string(),
                state: s
                    .finished
                    .map_or(CommandState::Running, |(state, _)| state)
                    .into(),
                last_seq: s.next_seq - 1,
            })
            .collect()
    }

    /// What runs of each app.
    pub fn apps(&self) -> Vec<AppStatus> {
        self.apps.status()
    }

    /// Whether an app changed since the last call.
    pub fn apps_changed(&mut self) -> bool {
        self.apps.take_changed()
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
mod tests;
