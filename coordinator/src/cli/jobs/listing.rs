//! `convoy jobs`, `convoy job show|cancel` and `convoy audit`: one job or a list of them, and the audit
//! log, as a table or JSON.

use super::*;

pub fn print_job(job: &Job, format: OutputFormat) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        out!("{}", serde_json::to_string_pretty(&JobJson::from(job))?);
        return Ok(());
    }
    let counts = job.counts.unwrap_or_default();
    out!(
        "job {}: {} on {}, {} (by {}, concurrency {}, max errors {})",
        job.id,
        crate::dispatch::admit::describe_with_params(&job.action, &job.params),
        output::count(counts.total as usize, "host"),
        output::job_state_name(job.state),
        job.created_by,
        if job.concurrency.is_empty() {
            "all"
        } else {
            &job.concurrency
        },
        job.max_errors
    );
    out!(
        "succeeded {}, errors {}, undeliverable {}, cancelled {}, running {}, pending {}",
        counts.succeeded,
        counts.errors,
        counts.undeliverable,
        counts.cancelled,
        counts.running,
        counts.pending
    );
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header([
        "HOST",
        "STATE",
        "EXIT",
        "DURATION",
        "OUTPUT (TAIL)",
    ]);
    for host in &job.hosts {
        let tail = String::from_utf8_lossy(&host.output_tail);
        let last_line = tail
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string();
        let mut shown = if host.message.is_empty() {
            last_line
        } else {
            format!("{last_line} [{}]", host.message)
        };
        if host.output_truncated {
            shown.push_str(" [output truncated]");
        }
        table.add_row([
            host.host.clone(),
            output::command_state_name(host.state).to_string(),
            host.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            output::duration(host.started_unix_ms, host.finished_unix_ms),
            shown.trim().to_string(),
        ]);
    }
    out!("{table}");
    Ok(())
}

pub async fn jobs(
    args: JobsArgs,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = admin(connect).await?;
    let since_unix_ms = args.since.map_or(0, |since| {
        now_unix_ms().saturating_sub(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    });
    let wanted = args.limit as usize;
    let mut jobs = Vec::new();
    let mut page_token = String::new();
    while jobs.len() < wanted {
        let page = client
            .list_jobs(ListJobsRequest {
                limit: u32::try_from(wanted - jobs.len())
                    .unwrap_or(u32::MAX)
                    .min(1000),
                since_unix_ms,
                state: args.state.clone().unwrap_or_default(),
                action: args.action.clone(),
                host: args.host.clone(),
                page_token: std::mem::take(&mut page_token),
            })
            .await
            .map_err(|status| rpc_error(&connect.addr, status))?
            .into_inner();
        jobs.extend(page.jobs);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    jobs.truncate(wanted);
    if format == OutputFormat::Json {
        let json: Vec<JobJson> = jobs.iter().map(JobJson::from).collect();
        out!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let now = now_unix_ms();
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header([
        "ID",
        "ACTION",
        "TARGETS",
        "STATE",
        "OK",
        "ERR",
        "UNDELIV",
        "CANCELLED",
        "ACTIVE",
        "STARTED",
        "BY",
    ]);
    for job in &jobs {
        let c = job.counts.unwrap_or_default();
        table.add_row([
            job.id.clone(),
            job.action.clone(),
            c.total.to_string(),
            output::job_state_name(job.state).to_string(),
            c.succeeded.to_string(),
            c.errors.to_string(),
            c.undeliverable.to_string(),
            c.cancelled.to_string(),
            (c.running + c.pending).to_string(),
            output::ago(job.created_unix_ms, now),
            job.created_by.clone(),
        ]);
    }
    out!("{table}");
    Ok(())
}

pub async fn job(
    command: JobCommand,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = admin(connect).await?;
    match command {
        JobCommand::Show { id } => {
            let job = client
                .get_job(GetJobRequest { id, tail_bytes: 0 })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner();
            print_job(&job, format)
        }
        JobCommand::Output { id, host, follow } => {
            output(&mut client, connect, format, id, host, follow).await
        }
        JobCommand::Cancel { id } => {
            let job = client
                .cancel_job(CancelJobRequest { id })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner();
            print_job(&job, format)
        }
    }
}

pub async fn audit(
    args: AuditArgs,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let since = args
        .since
        .map(|d| now_unix_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let mut client = admin(connect).await?;
    // Pages come newest first, each bounded in bytes; follow them until `--limit`.
    let wanted = if args.limit == 0 {
        1000
    } else {
        args.limit as usize
    };
    let mut entries = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_audit(ListAuditRequest {
                since_unix_ms: since.max(0),
                operator: args.operator.clone(),
                limit: u32::try_from(wanted - entries.len()).unwrap_or(u32::MAX),
                page_token,
            })
            .await
            .map_err(|status| rpc_error(&connect.addr, status))?
            .into_inner();
        let mut older = page.entries;
        older.append(&mut entries);
        entries = older;
        if page.next_page_token.is_empty() || entries.len() >= wanted {
            break;
        }
        page_token = page.next_page_token;
    }
    if format == OutputFormat::Json {
        let json: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "time": output::rfc3339(e.at_unix_ms),
                    "operator": e.operator,
                    "role": e.role,
                    "call": e.call,
                    "request": e.request,
                    "ok": e.ok,
                    "outcome": e.outcome,
                })
            })
            .collect();
        out!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header([
        "TIME", "OPERATOR", "ROLE", "CALL", "REQUEST", "OK", "OUTCOME",
    ]);
    for e in &entries {
        table.add_row([
            output::rfc3339(e.at_unix_ms).unwrap_or_default(),
            e.operator.clone(),
            e.role.clone(),
            e.call.clone(),
            e.request.clone(),
            if e.ok { "yes".into() } else { "no".into() },
            e.outcome.clone(),
        ]);
    }
    out!("{table}");
    Ok(())
}
