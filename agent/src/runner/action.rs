//! Running an allow-listed action: the executor runs its argv (process group, timeout,
//! kill grace); output goes out live up to the command's cap, past it only the last
//! half-cap is kept (`Forwarded`, bounded) and sent at the end, with stream offsets.

use convoy_proto::v1::{CommandState, Finished, OutputChunk, OutputStream, command_event};
use tokio::sync::mpsc;
use tracing::info;

use super::Runner;
use super::stop::{Stop, StopReason};
use crate::command::AgentCommand;
use crate::config::ActionConfig;
use crate::executor::{self, ActionSpec, Outcome};
use crate::journal::JournalError;

impl Runner {
    /// Runs an admitted action; the caller holds its slot.
    pub(super) async fn run_action(
        &self,
        command: &AgentCommand,
        config: ActionConfig,
        stop: &Stop,
    ) -> Result<(), JournalError> {
        let id = &command.id;
        // On disk before the process exists: a crash from here on is "interrupted".
        self.start(id)?;
        info!(command_id = %id, action = %command.label(), "command started");
        // The action learns its own command id (`CONVOY_COMMAND_ID`), e.g. to make its work
        // idempotent; the torture harness's side log records it.
        let mut env = config.env.clone();
        env.insert("CONVOY_COMMAND_ID".to_owned(), id.clone());
        let spec = ActionSpec {
            argv: config.run.clone(),
            env,
            working_dir: config.working_dir.clone(),
            timeout: config.timeout,
        };
        let (tx, mut rx) = mpsc::channel(32);
        let run = executor::run(&spec, tx, stop.token().clone(), config.kill_grace);
        tokio::pin!(run);
        let mut output = Forwarded::new(command.output_cap_bytes);
        let report = loop {
            tokio::select! {
                report = &mut run => break report,
                Some(chunk) = rx.recv() => self.forward(id, chunk, &mut output)?,
            }
        };
        while let Ok(chunk) = rx.try_recv() {
            self.forward(id, chunk, &mut output)?;
        }
        // Past the cap only the last half-cap was kept: it goes out now, at its offsets.
        for (stream, offset, data) in std::mem::take(&mut output.tail) {
            output.sent += data.len() as u64;
            self.send_output(id, stream, offset, data)?;
        }
        let (sent, total) = (output.sent, output.total);
        let agent_stopping = stop.reason() == Some(StopReason::Shutdown);
        let mut finished = finished_from(
            &report.outcome,
            &config,
            report.escalated_to_sigkill,
            agent_stopping,
        );
        finished.output_bytes = total;
        finished.output_truncated = total > sent;
        info!(command_id = %id, state = ?CommandState::try_from(finished.state), duration_ms = report.duration.as_millis(), "command finished");
        self.journal.finish(id, finished)?;
        Ok(())
    }

    /// Output up to the cap goes out as it comes; past it, the last half-cap is kept in
    /// memory (bounded) and sent when the command ends, so the coordinator keeps the head
    /// and the tail (where errors usually are).
    fn forward(
        &self,
        id: &str,
        chunk: executor::OutputChunk,
        output: &mut Forwarded,
    ) -> Result<(), JournalError> {
        let stream = match chunk.stream {
            executor::OutputStream::Stdout => OutputStream::Stdout,
            executor::OutputStream::Stderr => OutputStream::Stderr,
        };
        let position = output.total;
        let len = chunk.data.len() as u64;
        output.total += len;
        let live = usize::try_from(output.cap.saturating_sub(position).min(len)).unwrap_or(0);
        let mut data = chunk.data;
        let rest = data.split_off(live);
        if !data.is_empty() {
            output.sent += data.len() as u64;
            self.send_output(id, stream, position, data)?;
        }
        if !rest.is_empty() {
            output.keep_tail(stream, position + live as u64, rest);
        }
        Ok(())
    }

    fn send_output(
        &self,
        id: &str,
        stream: OutputStream,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<(), JournalError> {
        self.journal.append(
            id,
            command_event::Body::Output(OutputChunk {
                stream: stream.into(),
                data,
                offset,
            }),
        )?;
        self.changed();
        Ok(())
    }
}

fn finished_from(
    outcome: &Outcome,
    config: &ActionConfig,
    escalated: bool,
    agent_stopping: bool,
) -> Finished {
    let how = if escalated {
        format!(
            "SIGTERM, then SIGKILL after {}",
            humantime::format_duration(config.kill_grace)
        )
    } else {
        "SIGTERM".to_string()
    };
    let (state, exit_code, signal, message) = match outcome {
        Outcome::Exited { code: 0 } => (CommandState::Succeeded, Some(0), 0, String::new()),
        Outcome::Exited { code } => (
            CommandState::Failed,
            Some(*code),
            0,
            format!("exited with status {code}"),
        ),
        Outcome::Signaled { signal } => (
            CommandState::Failed,
            None,
            *signal,
            format!("killed by signal {signal}"),
        ),
        Outcome::TimedOut => (
            CommandState::TimedOut,
            None,
            0,
            format!(
                "timed out after {}; process group ended with {how}",
                humantime::format_duration(config.timeout)
            ),
        ),
        Outcome::Cancelled if agent_stopping => (
            CommandState::Interrupted,
            None,
            0,
            format!("the agent was stopped while the command ran; process group ended with {how}"),
        ),
        Outcome::Cancelled => (
            CommandState::Cancelled,
            None,
            0,
            format!("cancelled; process group ended with {how}"),
        ),
        Outcome::SpawnFailed(why) => (CommandState::Failed, None, 0, why.clone()),
    };
    Finished {
        state: state.into(),
        exit_code,
        signal,
        message,
        ..Default::default()
    }
}

/// What a running command printed so far, as the runner forwards it.
struct Forwarded {
    cap: u64,
    sent: u64,
    total: u64,
    /// Past the cap: the latest bytes, at most half the cap, oldest first.
    tail: std::collections::VecDeque<(OutputStream, u64, Vec<u8>)>,
    tail_bytes: u64,
}

impl Forwarded {
    fn new(cap: u64) -> Self {
        Self {
            cap,
            sent: 0,
            total: 0,
            tail: std::collections::VecDeque::new(),
            tail_bytes: 0,
        }
    }

    fn keep_tail(&mut self, stream: OutputStream, offset: u64, data: Vec<u8>) {
        let limit = self.cap - self.cap / 2;
        self.tail_bytes += data.len() as u64;
        self.tail.push_back((stream, offset, data));
        while self.tail_bytes > limit {
            let Some((_, offset, front)) = self.tail.front_mut() else {
                break;
            };
            let excess = usize::try_from(self.tail_bytes - limit).unwrap_or(usize::MAX);
            if excess >= front.len() {
                self.tail_bytes -= front.len() as u64;
                self.tail.pop_front();
            } else {
                front.drain(..excess);
                *offset += excess as u64;
                self.tail_bytes -= excess as u64;
            }
        }
    }
}
