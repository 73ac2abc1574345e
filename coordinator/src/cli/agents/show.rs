//! `convoy agents show ID`: one host's record, facts, metrics, connections and recent
//! jobs, as a table or as JSON.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::{AgentDetail, GetAgentRequest};

use super::history::{self, HostJobJson};
use crate::cli::connect::{admin, rpc_error};
use crate::cli::out;
use crate::cli::output::{self, AgentDetailJson};
use crate::cli::{ConnectArgs, OutputFormat};
use crate::clock::now_unix_ms;

/// Rows of the key/value table.
type Rows = Vec<[String; 2]>;

fn row(rows: &mut Rows, key: &str, value: String) {
    rows.push([key.to_string(), value]);
}

pub(super) async fn show(
    id: &str,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = admin(connect).await?;
    let detail = client
        .get_agent(GetAgentRequest { id: id.to_string() })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let json = AgentDetailJson::from(&detail);
    let recent = history::recent(&mut client, connect, id).await?;
    if output == OutputFormat::Json {
        let mut value = serde_json::to_value(&json)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("recent_jobs".into(), serde_json::to_value(&recent)?);
        }
        out!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let now = now_unix_ms();
    let mut rows = Rows::new();
    agent_rows(&mut rows, &json, &detail, now);
    fact_rows(&mut rows, &json);
    metric_rows(&mut rows, &json);
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    for r in rows {
        table.add_row(r);
    }
    out!("{table}");
    if !detail.history.is_empty() {
        let cpu: Vec<String> = detail
            .history
            .iter()
            .map(|p| format!("{:.0}", p.cpu_percent))
            .collect();
        out!("cpu % history (oldest first): {}", cpu.join(" "));
    }
    out!("connections (newest first):\n{}", connections(&json));
    out!(
        "recent jobs and deployments (newest first):\n{}",
        jobs(&recent)
    );
    Ok(())
}

fn agent_rows(rows: &mut Rows, json: &AgentDetailJson, detail: &AgentDetail, now: i64) {
    let mut row = |key: &str, value: String| row(rows, key, value);
    if let (Some(agent), Some(summary)) = (&json.agent, &detail.agent) {
        row("id", agent.id.clone());
        row(
            "state",
            if agent.cordoned {
                format!("{}, cordoned", agent.state)
            } else {
                agent.state.to_string()
            },
        );
        row(
            "in flight",
            output::count(detail.inflight_commands as usize, "command"),
        );
        row("version", agent.version.clone());
        row("labels", output::labels(&agent.labels));
        row("actions", agent.actions.join(", "));
        if let Some(summary) = &detail.agent {
            row("apps", output::apps(&summary.apps));
        }
        row(
            "releases",
            if agent.allow_unsigned_releases {
                "UNSIGNED ALLOWED (allow_unsigned_releases = true)".to_string()
            } else {
                "signed only".to_string()
            },
        );
        if detail.takeover_alarm_unix_ms != 0 {
            row(
                "TAKEOVER ALARM",
                format!(
                    "{} session replacements within a minute, last {} ({}): a stolen key \
                     racing the real agent? `convoy agent revoke {}`",
                    detail.takeover_replacements,
                    output::rfc3339(detail.takeover_alarm_unix_ms).unwrap_or_default(),
                    output::ago(detail.takeover_alarm_unix_ms, now),
                    agent.id
                ),
            );
        }
        row("first seen", agent.first_seen.clone().unwrap_or_default());
        row(
            "last seen",
            format!(
                "{} ({})",
                agent.last_seen.clone().unwrap_or_default(),
                output::ago(summary.last_seen_unix_ms, now)
            ),
        );
    }
}

fn fact_rows(rows: &mut Rows, json: &AgentDetailJson) {
    let mut row = |key: &str, value: String| row(rows, key, value);
    if let Some(facts) = &json.facts {
        row("hostname", facts.hostname.clone());
        row("os", format!("{} {}", facts.os, facts.os_version));
        row("kernel", facts.kernel.clone());
        row("arch", facts.arch.clone());
        row("cpus", facts.cpus.to_string());
        row("memory", output::bytes(facts.mem_total_bytes));
        row("boot time", facts.boot_time.clone().unwrap_or_default());
    }
}

fn metric_rows(rows: &mut Rows, json: &AgentDetailJson) {
    let mut row = |key: &str, value: String| row(rows, key, value);
    if let Some(m) = json.agent.as_ref().and_then(|a| a.metrics.as_ref()) {
        row("cpu", format!("{:.1}%", m.cpu_percent));
        row(
            "load",
            format!("{:.2} {:.2} {:.2}", m.load1, m.load5, m.load15),
        );
        row(
            "mem",
            format!(
                "{} / {}",
                output::bytes(m.mem_used_bytes),
                output::bytes(m.mem_total_bytes)
            ),
        );
        row(
            "swap",
            format!(
                "{} / {}",
                output::bytes(m.swap_used_bytes),
                output::bytes(m.swap_total_bytes)
            ),
        );
        for disk in &m.disks {
            row(
                &format!("disk {}", disk.mount),
                format!(
                    "{} / {}",
                    output::bytes(disk.used_bytes),
                    output::bytes(disk.total_bytes)
                ),
            );
        }
        row(
            "net",
            format!(
                "rx {}/s tx {}/s",
                output::bytes(m.net_rx_bytes_per_sec as u64),
                output::bytes(m.net_tx_bytes_per_sec as u64)
            ),
        );
        row(
            "uptime",
            humantime::format_duration(std::time::Duration::from_secs(m.uptime_secs)).to_string(),
        );
        row("processes", m.process_count.to_string());
        for (key, value) in &m.signals {
            row(&format!("signal {key}"), format!("{value}"));
        }
        row("sampled at", m.sampled_at.clone().unwrap_or_default());
    }
}

fn connections(json: &AgentDetailJson) -> Table {
    let mut connections = Table::new();
    connections.load_preset(UTF8_BORDERS_ONLY).set_header([
        "CONNECTED",
        "DISCONNECTED",
        "REMOTE",
        "REASON",
    ]);
    for c in json.connections.iter().rev() {
        connections.add_row([
            c.connected_at.clone().unwrap_or_default(),
            c.disconnected_at.clone().unwrap_or_else(|| "(open)".into()),
            c.remote_addr.clone(),
            c.reason.clone(),
        ]);
    }
    connections
}

fn jobs(recent: &[HostJobJson]) -> Table {
    let mut jobs = Table::new();
    jobs.load_preset(UTF8_BORDERS_ONLY)
        .set_header(["WHEN", "JOB", "WHAT", "VERSION", "BY", "OUTCOME"]);
    for job in recent {
        jobs.add_row([
            job.created_at.clone().unwrap_or_default(),
            job.job.clone(),
            job.action.clone(),
            job.version.clone(),
            if job.by_rollout {
                format!("rollout ({})", job.created_by)
            } else {
                job.created_by.clone()
            },
            job.state.to_string(),
        ]);
    }
    jobs
}
