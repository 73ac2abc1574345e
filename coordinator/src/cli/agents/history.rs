//! A host's recent work for `convoy agents show ID`: its last jobs (newest first, by
//! creation time) with this host's own outcome, deployments and rollbacks among them with
//! the version and whether a rollout (`r-…`) or a plain job did it.

use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{GetJobRequest, ListJobsRequest};
use serde::Serialize;
use tonic::transport::Channel;

use crate::cli::ConnectArgs;
use crate::cli::connect::rpc_error;
use crate::cli::output;

/// Jobs shown per host.
const RECENT: u32 = 10;

/// One job as one host lived it.
#[derive(Debug, Clone, Serialize)]
pub struct HostJobJson {
    pub job: String,
    /// `deploy`, `rollback` or `action` (exec, backups).
    pub kind: &'static str,
    pub action: String,
    /// For deploys and rollbacks: the version (empty: "the previous one").
    pub version: String,
    /// A rollout's job (`r-…`), or a plain one.
    pub by_rollout: bool,
    pub created_by: String,
    pub created_at: Option<String>,
    pub finished_at: Option<String>,
    /// This host's outcome: succeeded, failed, rejected, …
    pub state: &'static str,
}

/// The host's last jobs, newest first.
pub async fn recent(
    client: &mut AdminClient<Channel>,
    connect: &ConnectArgs,
    id: &str,
) -> anyhow::Result<Vec<HostJobJson>> {
    let jobs = client
        .list_jobs(ListJobsRequest {
            limit: RECENT,
            host: id.to_string(),
            ..Default::default()
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner()
        .jobs;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let detail = client
            .get_job(GetJobRequest {
                id: job.id.clone(),
                tail_bytes: 1,
            })
            .await
            .map_err(|status| rpc_error(&connect.addr, status))?
            .into_inner();
        let Some(host) = detail.hosts.iter().find(|h| h.host == id) else {
            continue;
        };
        let words: Vec<&str> = job.action.split_whitespace().collect();
        let (kind, version) = match words.as_slice() {
            ["deploy", _app, version] => ("deploy", (*version).to_string()),
            ["rollback", _app] => ("rollback", String::new()),
            ["rollback", _app, version] => ("rollback", (*version).to_string()),
            _ => ("action", String::new()),
        };
        out.push(HostJobJson {
            job: job.id.clone(),
            kind,
            action: job.action.clone(),
            version,
            by_rollout: job.id.starts_with("r-"),
            created_by: job.created_by.clone(),
            created_at: output::rfc3339(job.created_unix_ms),
            finished_at: output::rfc3339(host.finished_unix_ms),
            state: output::command_state_name(host.state),
        });
    }
    Ok(out)
}
