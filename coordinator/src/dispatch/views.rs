//! Read-side views of jobs for the admin API: per-host commands with output tails, state
//! counts, and whole outputs.

use convoy_proto::v1::{
    CommandOutput, CommandRecord, CommandState, HostCommand, Job, JobCounts, JobRecord,
};

use super::{DispatchError, Dispatcher, plan};

/// Output tail per host in `GetJob` unless asked otherwise.
pub const DEFAULT_TAIL_BYTES: usize = 4096;

pub fn host_command(record: &CommandRecord, output_tail: Vec<u8>) -> HostCommand {
    HostCommand {
        host: record.agent_id.clone(),
        command_id: record.id.clone(),
        state: record.state,
        exit_code: record.exit_code,
        signal: record.signal,
        started_unix_ms: record.started_unix_ms,
        finished_unix_ms: record.finished_unix_ms,
        message: record.message.clone(),
        output_tail,
        output_bytes: record.output_bytes,
        output_stored_bytes: record.output_stored_bytes,
        output_truncated: record.output_truncated,
    }
}

pub fn counts(commands: &[CommandRecord]) -> JobCounts {
    let mut counts = JobCounts {
        total: u32::try_from(commands.len()).unwrap_or(u32::MAX),
        ..Default::default()
    };
    for command in commands {
        let state = CommandState::try_from(command.state).unwrap_or(CommandState::Pending);
        match state {
            CommandState::Succeeded => counts.succeeded += 1,
            CommandState::Cancelled => counts.cancelled += 1,
            CommandState::Undeliverable => counts.undeliverable += 1,
            CommandState::Running => counts.running += 1,
            s if plan::is_error(s) => counts.errors += 1,
            _ => counts.pending += 1,
        }
    }
    counts
}

pub fn job(record: &JobRecord, commands: &[CommandRecord], hosts: Vec<HostCommand>) -> Job {
    Job {
        id: record.id.clone(),
        action: record.action.clone(),
        selector: record.selector.clone(),
        state: record.state,
        created_by: record.created_by.clone(),
        created_unix_ms: record.created_unix_ms,
        finished_unix_ms: record.finished_unix_ms,
        concurrency: record.concurrency.clone(),
        max_errors: record.max_errors.clone(),
        delivery_timeout_ms: record.delivery_timeout_ms,
        counts: Some(counts(commands)),
        hosts,
        left_out: record.left_out.clone(),
    }
}

impl Dispatcher {
    /// A job's record and commands, from memory when it is active, else from the store.
    fn snapshot(&self, job_id: &str) -> Result<(JobRecord, Vec<CommandRecord>), DispatchError> {
        if let Some(active) = self.lock().jobs.get(job_id) {
            return Ok((active.record.clone(), active.commands.clone()));
        }
        let record = self
            .store
            .job(job_id)?
            .ok_or_else(|| DispatchError::NoJob(job_id.to_string()))?;
        let mut commands = Vec::with_capacity(record.command_ids.len());
        for id in &record.command_ids {
            if let Some(command) = self.store.command(id)? {
                commands.push(command);
            }
        }
        Ok((record, commands))
    }

    /// One job with every host and the last `tail_bytes` of each host's output.
    pub fn job_view(&self, job_id: &str, tail_bytes: usize) -> Result<Job, DispatchError> {
        let (record, commands) = self.snapshot(job_id)?;
        let mut hosts = Vec::with_capacity(commands.len());
        for command in &commands {
            let tail = if tail_bytes == 0 {
                Vec::new()
            } else {
                self.store.output_tail(&command.id, tail_bytes)?
            };
            hosts.push(host_command(command, tail));
        }
        Ok(job(&record, &commands, hosts))
    }

    /// Recent jobs with counts, newest first.
    pub fn recent_jobs(&self, limit: usize) -> Result<Vec<Job>, DispatchError> {
        let mut jobs = Vec::new();
        for record in self.store.recent_jobs(limit)? {
            let (record, commands) = self.snapshot(&record.id)?;
            jobs.push(job(&record, &commands, Vec::new()));
        }
        Ok(jobs)
    }

    /// One host's whole stored output for a job.
    pub fn command_output(&self, job_id: &str, host: &str) -> Result<CommandOutput, DispatchError> {
        let (_, commands) = self.snapshot(job_id)?;
        let command = commands
            .iter()
            .find(|c| c.agent_id == host)
            .ok_or_else(|| DispatchError::NoHost {
                job: job_id.to_string(),
                host: host.to_string(),
            })?;
        Ok(CommandOutput {
            host: host.to_string(),
            data: self.store.output(&command.id)?,
            output_bytes: command.output_bytes,
            output_truncated: command.output_truncated,
        })
    }
}
