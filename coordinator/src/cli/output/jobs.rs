//! Jobs in CLI output: the contract names of command and job states, the job and host JSON
//! shapes, and the lines that summarise a job.

use super::*;

/// The contract names of command states.
pub fn command_state_name(state: i32) -> &'static str {
    match CommandState::try_from(state) {
        Ok(CommandState::Pending) => "pending",
        Ok(CommandState::Delivered) => "delivered",
        Ok(CommandState::Running) => "running",
        Ok(CommandState::Succeeded) => "succeeded",
        Ok(CommandState::Failed) => "failed",
        Ok(CommandState::TimedOut) => "timed_out",
        Ok(CommandState::Cancelled) => "cancelled",
        Ok(CommandState::Interrupted) => "interrupted",
        Ok(CommandState::Undeliverable) => "undeliverable",
        Ok(CommandState::Rejected) => "rejected",
        _ => "unknown",
    }
}

pub fn job_state_name(state: i32) -> &'static str {
    match JobState::try_from(state) {
        Ok(JobState::Running) => "running",
        Ok(JobState::Succeeded) => "succeeded",
        Ok(JobState::Failed) => "failed",
        Ok(JobState::Cancelled) => "cancelled",
        Ok(JobState::Undeliverable) => "undeliverable",
        _ => "unknown",
    }
}

/// "1.2s", "3m 4s", or "" when it has not both started and finished.
pub fn duration(started_unix_ms: i64, finished_unix_ms: i64) -> String {
    if started_unix_ms <= 0 || finished_unix_ms < started_unix_ms {
        return String::new();
    }
    let ms = finished_unix_ms - started_unix_ms;
    if ms < 60_000 {
        #[allow(clippy::cast_precision_loss)]
        let secs = ms as f64 / 1000.0;
        format!("{secs:.1}s")
    } else {
        format!("{}m {}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[derive(Debug, Serialize)]
pub struct HostJson {
    pub host: String,
    pub state: &'static str,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub message: String,
    /// The stored output's tail.
    pub output: String,
    pub output_bytes: u64,
    pub output_stored_bytes: u64,
    pub output_truncated: bool,
}

#[derive(Debug, Serialize)]
pub struct CountsJson {
    pub total: u32,
    pub pending: u32,
    pub running: u32,
    pub succeeded: u32,
    pub errors: u32,
    pub cancelled: u32,
    pub undeliverable: u32,
}

#[derive(Debug, Serialize)]
pub struct JobJson {
    pub id: String,
    pub action: String,
    pub selector: String,
    pub state: &'static str,
    pub created_by: String,
    pub created_at: Option<String>,
    pub finished_at: Option<String>,
    pub concurrency: String,
    pub max_errors: String,
    pub counts: CountsJson,
    pub hosts: Vec<HostJson>,
    /// Hosts that matched the selector but lack the action or backup set (never sent to).
    pub left_out: Vec<String>,
    /// Hosts that matched but were cordoned (never sent to).
    pub cordoned: Vec<String>,
    /// The action's parameters (`--param`).
    pub params: std::collections::BTreeMap<String, String>,
}

impl From<&HostCommand> for HostJson {
    fn from(h: &HostCommand) -> Self {
        Self {
            host: h.host.clone(),
            state: command_state_name(h.state),
            exit_code: h.exit_code,
            signal: (h.signal != 0).then_some(h.signal),
            started_at: rfc3339(h.started_unix_ms),
            finished_at: rfc3339(h.finished_unix_ms),
            duration_ms: (h.started_unix_ms > 0 && h.finished_unix_ms >= h.started_unix_ms)
                .then(|| h.finished_unix_ms - h.started_unix_ms),
            message: h.message.clone(),
            output: String::from_utf8_lossy(&h.output_tail).into_owned(),
            output_bytes: h.output_bytes,
            output_stored_bytes: h.output_stored_bytes,
            output_truncated: h.output_truncated,
        }
    }
}

impl From<&Job> for JobJson {
    fn from(j: &Job) -> Self {
        let c = j.counts.unwrap_or_default();
        Self {
            id: j.id.clone(),
            action: j.action.clone(),
            selector: j.selector.clone(),
            state: job_state_name(j.state),
            created_by: j.created_by.clone(),
            created_at: rfc3339(j.created_unix_ms),
            finished_at: rfc3339(j.finished_unix_ms),
            concurrency: if j.concurrency.is_empty() {
                "all".into()
            } else {
                j.concurrency.clone()
            },
            max_errors: j.max_errors.clone(),
            counts: CountsJson {
                total: c.total,
                pending: c.pending,
                running: c.running,
                succeeded: c.succeeded,
                errors: c.errors,
                cancelled: c.cancelled,
                undeliverable: c.undeliverable,
            },
            hosts: j.hosts.iter().map(HostJson::from).collect(),
            left_out: j.left_out.clone(),
            cordoned: j.cordoned.clone(),
            params: j.params.clone(),
        }
    }
}

/// `1 host`, `2 hosts`: a count with its noun, singular for one.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The line that says which matching hosts a job left out, if any.
pub fn left_out_line(job: &Job) -> Option<String> {
    if job.left_out.is_empty() {
        return None;
    }
    let shown: Vec<&str> = job.left_out.iter().take(10).map(String::as_str).collect();
    let more = job.left_out.len() - shown.len();
    Some(format!(
        "{} matching the selector left out: {} lack{} {}{}",
        count(job.left_out.len(), "host"),
        if job.left_out.len() == 1 {
            "it"
        } else {
            "they"
        },
        if job.left_out.len() == 1 { "s" } else { "" },
        job.action,
        if more > 0 {
            format!(" ({}, and {more} more)", shown.join(", "))
        } else {
            format!(" ({})", shown.join(", "))
        }
    ))
}
