//! `convoy exec`, `convoy jobs`, `convoy job show|output|cancel` and `convoy audit`.

mod job_output;
mod listing;

use job_output::output;

use crate::cli::out;
pub use listing::{audit, job, jobs, print_job};
use std::collections::BTreeMap;
use std::time::Duration;

use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::{
    CancelJobRequest, GetCommandOutputRequest, GetJobRequest, Job, JobState, ListAuditRequest,
    ListJobsRequest, StartJobRequest, WatchJobRequest, job_event,
};

use super::connect::{admin, rpc_error};
use super::output::{self, JobJson};
use super::{ConnectArgs, OutputFormat, UsageError};
use crate::clock::now_unix_ms;
use crate::dispatch::valid_action_name;
use crate::rate::Rate;
use crate::selector::Selector;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A named action from the agents' configs.
    pub action: String,
    /// A value for one of the action's parameters, e.g. --param unit=nginx (repeatable);
    /// each host checks it against its own allow-list or pattern.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    #[command(flatten)]
    pub job: JobFlags,
}

/// How a job runs across the fleet: shared by `exec`, `deploy`, `rollback` and `backup`.
/// The rollout vocabulary works too: `--batch`, `--max-failures`, `--offline-timeout`.
#[derive(Debug, Args)]
pub struct JobFlags {
    /// Label selector for the target hosts, e.g. 'role=web' ('id=web-1' names a host).
    #[arg(long, short = 's', default_value = "")]
    pub selector: String,
    /// Only these hosts, by agent id: comma-separated or repeated; combines with
    /// --selector (both must match).
    #[arg(long = "host", value_name = "ID", value_delimiter = ',')]
    pub hosts: Vec<String>,
    /// Hosts running at once: N or P% (default: all).
    #[arg(long, visible_alias = "batch")]
    pub concurrency: Option<String>,
    /// Failures after which no new host starts: N or P%.
    #[arg(long, default_value = "0", visible_alias = "max-failures")]
    pub max_errors: String,
    /// A host offline this long after its turn came is undeliverable.
    #[arg(
        long,
        default_value = "10m",
        value_parser = humantime::parse_duration,
        visible_alias = "offline-timeout"
    )]
    pub delivery_timeout: Duration,
    /// Print every host's output, prefixed by host, as it arrives; exit like --wait.
    #[arg(long)]
    pub follow: bool,
    /// Block until the job ends; exit 0 only if every host succeeded.
    #[arg(long)]
    pub wait: bool,
    /// Idempotency key: repeating a request with the same key returns the first job.
    #[arg(long, default_value = "")]
    pub request_id: String,
}

impl JobFlags {
    /// `--selector` narrowed by `--host`, checked: a usage error says what is wrong.
    pub fn target_selector(&self) -> anyhow::Result<String> {
        let selector =
            crate::selector::with_hosts(&self.selector, &self.hosts).map_err(UsageError)?;
        Selector::parse(&selector).map_err(|err| UsageError(err.render()))?;
        Ok(selector)
    }
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// One job: per host state, exit code, duration and output tail.
    Show {
        /// The job id.
        id: String,
    },
    /// One host's whole output for a job.
    Output {
        /// The job id.
        id: String,
        /// The host whose output to print.
        #[arg(long)]
        host: String,
        /// Keep printing as the command writes more, until it ends (re-attaches to a
        /// running job).
        #[arg(long)]
        follow: bool,
    },
    /// Cancel a job: pending hosts never start, running ones are stopped.
    Cancel {
        /// The job id.
        id: String,
    },
}

/// `convoy jobs`: which jobs, newest first by creation time.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// At most this many (fetched in pages).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Only jobs created this recently, e.g. 1h, 30m, 7d.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub since: Option<Duration>,
    /// Only jobs in this state.
    #[arg(long, value_parser = ["running", "succeeded", "failed", "cancelled", "undeliverable"])]
    pub state: Option<String>,
    /// Only jobs of this action: exact ("uptime", "deploy web 1.2") or its first words
    /// ("deploy", "backup pgdata").
    #[arg(long, default_value = "")]
    pub action: String,
    /// Only jobs that ran (or were to run) on this host.
    #[arg(long, default_value = "")]
    pub host: String,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries this recent, e.g. 1h, 30m, 7d.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub since: Option<Duration>,
    /// Only this operator's entries.
    #[arg(long, default_value = "")]
    pub operator: String,
    /// At most this many (the newest).
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
}

/// A job that did not succeed makes the command fail (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("job {id} {state}")]
pub struct JobNotSucceeded {
    pub id: String,
    pub state: &'static str,
}

pub async fn exec(
    args: ExecArgs,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    if !valid_action_name(&args.action) {
        return Err(UsageError(format!(
            "invalid action name {:?}: expected [a-z0-9][a-z0-9._-]*",
            args.action
        ))
        .into());
    }
    let request = StartJobRequest {
        action: args.action.clone(),
        params: parse_params(&args.params)?,
        ..Default::default()
    };
    run_job(request, args.job, connect, format).await
}

/// `--param NAME=VALUE` flags as a map; a malformed or repeated one is a usage error.
pub fn parse_params(
    flags: &[String],
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let mut params = std::collections::BTreeMap::new();
    for flag in flags {
        let Some((name, value)) = flag.split_once('=') else {
            return Err(UsageError(format!("--param {flag:?}: expected NAME=VALUE")).into());
        };
        if !crate::dispatch::admit::valid_param_name(name) {
            return Err(UsageError(format!(
                "--param {flag:?}: invalid name {name:?}: expected [a-z][a-z0-9_]*, at most 32 characters"
            ))
            .into());
        }
        if params.insert(name.to_string(), value.to_string()).is_some() {
            return Err(UsageError(format!("--param {name}: given twice")).into());
        }
    }
    Ok(params)
}

/// Starts a job from `request` plus the shared flags, then prints it, follows it or
/// waits for it.
pub async fn run_job(
    mut request: StartJobRequest,
    args: JobFlags,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let selector = args.target_selector()?;
    if let Some(concurrency) = &args.concurrency {
        Rate::parse(concurrency, "concurrency", false)
            .map_err(|err| UsageError(err.to_string()))?;
    }
    Rate::parse(&args.max_errors, "max-errors", true).map_err(|err| UsageError(err.to_string()))?;
    let mut client = admin(connect).await?;
    let job = client
        .start_job({
            request.selector = selector;
            request.concurrency = args.concurrency.clone().unwrap_or_default();
            request.max_errors = args.max_errors.clone();
            request.delivery_timeout_ms =
                u64::try_from(args.delivery_timeout.as_millis()).unwrap_or(u64::MAX);
            request.request_id = args.request_id.clone();
            request
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    follow_started(client, job, &args, connect, format).await
}

/// Prints a started job, or follows it or waits for it as the flags say (exit 1 unless it
/// succeeded when waiting).
pub async fn follow_started(
    mut client: convoy_proto::v1::admin_client::AdminClient<tonic::transport::Channel>,
    job: Job,
    args: &JobFlags,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    if format == OutputFormat::Table {
        if let Some(line) = output::left_out_line(&job) {
            eprintln!("{}", crate::cli::printable(&line));
        }
    }
    let hosts = output::count(job.counts.as_ref().map_or(0, |c| c.total) as usize, "host");
    if !args.follow && !args.wait {
        match format {
            OutputFormat::Json => {
                out!("{}", serde_json::to_string_pretty(&JobJson::from(&job))?)
            }
            OutputFormat::Table => out!(
                "job {} started: {} on {hosts}; see `convoy job show {}`",
                job.id,
                job.action,
                job.id
            ),
        }
        return Ok(());
    }
    if args.follow && format == OutputFormat::Table {
        eprintln!("job {} started: {} on {hosts}", job.id, job.action);
    }
    let mut events = client
        .watch_job(WatchJobRequest { id: job.id.clone() })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let mut partial: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    while let Some(event) = events
        .message()
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
    {
        match event.body {
            Some(job_event::Body::Output(chunk)) if args.follow => {
                let buffer = partial.entry(chunk.host.clone()).or_default();
                buffer.extend_from_slice(&chunk.data);
                while let Some(newline) = buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=newline).collect();
                    // Interleaved lines of many hosts: printable, unlike `job output`'s raw bytes.
                    let prefixed = crate::cli::printable(&format!(
                        "{} | {}",
                        chunk.host,
                        String::from_utf8_lossy(&line)
                    ));
                    crate::cli::write_raw(prefixed.as_bytes());
                }
            }
            Some(job_event::Body::Host(host)) if args.follow && format == OutputFormat::Table => {
                let state = output::command_state_name(host.state);
                if !matches!(state, "pending" | "delivered") {
                    eprintln!(
                        "{}: {state}{}",
                        host.host,
                        if host.message.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", crate::cli::printable(&host.message))
                        }
                    );
                }
            }
            Some(job_event::Body::Finished(_)) => break,
            _ => {}
        }
    }
    for (host, rest) in partial {
        if !rest.is_empty() {
            out!("{host} | {}", String::from_utf8_lossy(&rest));
        }
    }
    let job = fetch(&mut client, connect, &job.id).await?;
    print_job(&job, format)?;
    finish(&job)
}

async fn fetch(
    client: &mut convoy_proto::v1::admin_client::AdminClient<tonic::transport::Channel>,
    connect: &ConnectArgs,
    id: &str,
) -> anyhow::Result<Job> {
    Ok(client
        .get_job(GetJobRequest {
            id: id.to_string(),
            tail_bytes: 0,
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner())
}

fn finish(job: &Job) -> anyhow::Result<()> {
    if job.state == JobState::Succeeded as i32 {
        Ok(())
    } else {
        Err(JobNotSucceeded {
            id: job.id.clone(),
            state: output::job_state_name(job.state),
        }
        .into())
    }
}

#[cfg(test)]
mod tests;
