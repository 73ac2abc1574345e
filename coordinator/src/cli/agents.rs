//! `convoy agents`, `convoy agents show ID` and `convoy whoami`.

use crate::cli::out;
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::{GetAgentRequest, ListAgentsRequest, WhoAmIRequest};

use super::connect::{admin, rpc_error};
use super::output::{self, AgentDetailJson, AgentJson};
use super::{ConnectArgs, OutputFormat, UsageError};
use crate::registry::now_unix_ms;
use crate::selector::Selector;

#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// Label selector, e.g. 'role=web,zone in (a,b)'.
    #[arg(long, short = 's', default_value = "")]
    pub selector: String,
    #[command(subcommand)]
    pub command: Option<AgentsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// One agent: facts, labels, latest metrics, metrics history, connection history.
    Show {
        /// The agent id.
        id: String,
    },
}

pub async fn run(
    args: AgentsArgs,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    match args.command {
        Some(AgentsCommand::Show { id }) => show(&id, connect, output).await,
        None => list(&args.selector, connect, output).await,
    }
}

async fn list(selector: &str, connect: &ConnectArgs, output: OutputFormat) -> anyhow::Result<()> {
    // Check locally first so the operator sees where the selector is wrong.
    Selector::parse(selector).map_err(|err| UsageError(err.render()))?;
    let mut client = admin(connect).await?;
    let agents = client
        .list_agents(ListAgentsRequest {
            selector: selector.to_string(),
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner()
        .agents;
    match output {
        OutputFormat::Json => {
            let json: Vec<AgentJson> = agents.iter().map(AgentJson::from).collect();
            out!("{}", serde_json::to_string_pretty(&json)?);
        }
        OutputFormat::Table => {
            let now = now_unix_ms();
            let mut table = Table::new();
            table.load_preset(UTF8_BORDERS_ONLY).set_header([
                "ID",
                "STATE",
                "LABELS",
                "VERSION",
                "APPS",
                "CPU",
                "MEM",
                "DISK",
                "LOAD",
                "LAST SEEN",
                "CERT EXPIRES",
            ]);
            for agent in &agents {
                let m = agent.metrics.as_ref();
                table.add_row([
                    agent.id.clone(),
                    output::state_name(agent.state).to_string(),
                    output::labels(&agent.labels),
                    agent.version.clone(),
                    output::apps(&agent.apps),
                    m.map(|m| format!("{:.0}%", m.cpu_percent))
                        .unwrap_or_default(),
                    m.map(|m| {
                        format!(
                            "{}/{}",
                            output::bytes(m.mem_used_bytes),
                            output::bytes(m.mem_total_bytes)
                        )
                    })
                    .unwrap_or_default(),
                    m.and_then(output::disk_percent)
                        .map(|p| format!("{p:.0}%"))
                        .unwrap_or_default(),
                    m.map(|m| format!("{:.2}", m.load1)).unwrap_or_default(),
                    output::ago(agent.last_seen_unix_ms, now),
                    output::cert_expiry(agent, now),
                ]);
            }
            out!("{table}");
            let online = agents
                .iter()
                .filter(|a| output::state_name(a.state) == "online")
                .count();
            out!("agents: {}, online: {online}", agents.len());
            let unsigned = agents.iter().filter(|a| a.allow_unsigned_releases).count();
            out!("allow unsigned releases: {unsigned}");
            let overdue = agents.iter().filter(|a| a.cert_renewal_overdue).count();
            if overdue > 0 {
                out!("certificates past 90% of their lifetime, not renewed: {overdue}");
            }
        }
    }
    Ok(())
}

async fn show(id: &str, connect: &ConnectArgs, output: OutputFormat) -> anyhow::Result<()> {
    let mut client = admin(connect).await?;
    let detail = client
        .get_agent(GetAgentRequest { id: id.to_string() })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let json = AgentDetailJson::from(&detail);
    if output == OutputFormat::Json {
        out!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let now = now_unix_ms();
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    let mut row = |key: &str, value: String| {
        table.add_row([key.to_string(), value]);
    };
    if let (Some(agent), Some(summary)) = (&json.agent, &detail.agent) {
        row("id", agent.id.clone());
        row("state", agent.state.to_string());
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
    if let Some(facts) = &json.facts {
        row("hostname", facts.hostname.clone());
        row("os", format!("{} {}", facts.os, facts.os_version));
        row("kernel", facts.kernel.clone());
        row("arch", facts.arch.clone());
        row("cpus", facts.cpus.to_string());
        row("memory", output::bytes(facts.mem_total_bytes));
        row("boot time", facts.boot_time.clone().unwrap_or_default());
    }
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
        row("sampled at", m.sampled_at.clone().unwrap_or_default());
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
    out!("connections (newest first):\n{connections}");
    Ok(())
}

pub async fn whoami(connect: &ConnectArgs, output: OutputFormat) -> anyhow::Result<()> {
    let mut client = admin(connect).await?;
    let me = client
        .who_am_i(WhoAmIRequest {})
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    match output {
        OutputFormat::Json => out!(
            "{}",
            serde_json::json!({
                "name": me.name,
                "role": me.role,
                "permissions": if me.scope.is_empty() { format!("all a {} may do", me.role) } else { me.scope.clone() },
            })
        ),
        OutputFormat::Table => {
            out!("{} ({})", me.name, me.role);
            if me.scope.is_empty() {
                out!("permissions: all a {} may do", me.role);
            } else {
                out!("permissions (policy): {}", me.scope);
            }
        }
    }
    Ok(())
}
