//! Read-side views of jobs for the admin API: per-host commands with output tails, state
//! counts, and whole outputs.

use convoy_proto::v1::{
    CommandOutput, CommandRecord, CommandState, HostCommand, Job, JobCounts, JobRecord,
};

use super::{DispatchError, Dispatcher, plan};
use crate::store::jobs::JobCursor;

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
        let state = plan::command_state(command.state);
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
        params: record.params.clone(),
        cordoned: record.cordoned.clone(),
    }
}

/// Jobs looked at per page of a filtered list, at most (the next page goes on from there).
const LIST_SCAN: usize = 10_000;

/// What `convoy jobs` filters on; empty fields keep everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub since_unix_ms: i64,
    /// running, succeeded, failed, cancelled, undeliverable.
    pub state: String,
    pub action: String,
    pub host: String,
}

impl JobFilter {
    pub fn keeps(&self, record: &JobRecord) -> bool {
        let state_ok = self.state.is_empty() || state_name(record.state) == self.state;
        let action_ok = self.action.is_empty()
            || record.action == self.action
            || record
                .action
                .strip_prefix(self.action.as_str())
                .is_some_and(|rest| rest.starts_with(' '));
        let host_ok = self.host.is_empty()
            || record.command_ids.iter().any(|id| {
                id.rsplit_once('/')
                    .is_some_and(|(_, host)| host == self.host)
            });
        record.created_unix_ms >= self.since_unix_ms && state_ok && action_ok && host_ok
    }
}

/// The one spelling of a job state that clients and filters use.
pub fn state_name(state: i32) -> &'static str {
    match convoy_proto::v1::JobState::try_from(state) {
        Ok(convoy_proto::v1::JobState::Running) => "running",
        Ok(convoy_proto::v1::JobState::Succeeded) => "succeeded",
        Ok(convoy_proto::v1::JobState::Failed) => "failed",
        Ok(convoy_proto::v1::JobState::Cancelled) => "cancelled",
        Ok(convoy_proto::v1::JobState::Undeliverable) => "undeliverable",
        _ => "unknown",
    }
}

impl Dispatcher {
    /// Unfinished commands of unsettled jobs that `keep` picks (what a delete must not pull
    /// out from under): every unsettled job is in memory.
    pub fn unfinished_commands(&self, keep: impl Fn(&CommandRecord) -> bool) -> Vec<CommandRecord> {
        let state = self.lock();
        state
            .jobs
            .values()
            .flat_map(|job| job.commands.iter())
            .filter(|c| !plan::is_terminal(plan::command_state(c.state)))
            .filter(|c| keep(c))
            .cloned()
            .collect()
    }

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

    /// Recent jobs with counts, newest first by creation time.
    pub fn recent_jobs(&self, limit: usize) -> Result<Vec<Job>, DispatchError> {
        Ok(self.list_jobs(&JobFilter::default(), limit, None)?.0)
    }

    /// One page of jobs matching `filter`, newest first by creation time, and the token of
    /// the next page when more may match.
    pub fn list_jobs(
        &self,
        filter: &JobFilter,
        limit: usize,
        page_token: Option<&str>,
    ) -> Result<(Vec<Job>, Option<String>), DispatchError> {
        let after = match page_token.filter(|t| !t.is_empty()) {
            Some(token) => Some(
                JobCursor::parse(token).ok_or_else(|| DispatchError::BadPageToken(token.into()))?,
            ),
            None => None,
        };
        let (records, next) = self
            .store
            .jobs_page(after.as_ref(), limit, LIST_SCAN, |r| filter.keeps(r))?;
        let mut jobs = Vec::with_capacity(records.len());
        for record in records {
            let (record, commands) = self.snapshot(&record.id)?;
            jobs.push(job(&record, &commands, Vec::new()));
        }
        Ok((jobs, next.map(|c| c.token())))
    }

    /// One host's whole stored output for a job (tests and small outputs; the API pages).
    pub fn command_output(&self, job_id: &str, host: &str) -> Result<CommandOutput, DispatchError> {
        let mut all = self.output_page(job_id, host, 0, usize::MAX)?;
        all.more = false;
        Ok(all)
    }

    /// One page of one host's stored output for a job.
    pub fn output_page(
        &self,
        job_id: &str,
        host: &str,
        offset: u64,
        max: usize,
    ) -> Result<CommandOutput, DispatchError> {
        let (_, commands) = self.snapshot(job_id)?;
        let command = commands
            .iter()
            .find(|c| c.agent_id == host)
            .ok_or_else(|| DispatchError::NoHost {
                job: job_id.to_string(),
                host: host.to_string(),
            })?;
        let page = self.store.output_page(&command.id, offset, max)?;
        let next_offset = offset.min(page.stored) + page.data.len() as u64;
        let state = plan::command_state(command.state);
        Ok(CommandOutput {
            host: host.to_string(),
            data: page.data,
            output_bytes: command.output_bytes,
            output_truncated: command.output_truncated,
            offset,
            next_offset,
            more: next_offset < page.stored,
            stored_bytes: page.stored,
            dropped_at: page.gap.map_or(0, |(at, _)| at),
            dropped_bytes: page.gap.map_or(0, |(_, n)| n),
            running: !plan::is_terminal(state),
        })
    }
}
