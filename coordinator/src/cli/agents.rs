//! `convoy agents`, `convoy agents show ID` and `convoy whoami`.

use crate::cli::out;
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::{GetAgentRequest, ListAgentsRequest, WhoAmIRequest};

use super::connect::{admin, rpc_error};
use super::output::{self, AgentJson};
use super::{ConnectArgs, OutputFormat, UsageError};
use crate::clock::now_unix_ms;
use crate::selector::Selector;

mod history;
mod show;

#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// Label selector, e.g. 'role=web,zone in (a,b)' ('id=web-1' names a host).
    #[arg(long, short = 's', default_value = "")]
    pub selector: String,
    /// Only these hosts, by agent id: comma-separated or repeated.
    #[arg(long = "host", value_name = "ID", value_delimiter = ',')]
    pub hosts: Vec<String>,
    /// Only agents in this state.
    #[arg(long, value_parser = ["online", "offline", "cordoned"])]
    pub state: Option<String>,
    /// Only agents running this version of an app: APP=VERSION.
    #[arg(long = "version", id = "app_version", value_name = "APP=VERSION")]
    pub version: Option<String>,
    /// Order: by id (default), cpu or mem (highest first), last_seen (most recent first).
    #[arg(long, default_value = "id", value_parser = ["id", "cpu", "mem", "last_seen"])]
    pub sort: String,
    #[command(subcommand)]
    pub command: Option<AgentsCommand>,
}

/// `convoy agent cordon|uncordon|drain|remove|revoke ID`: one host's lifecycle and identity.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// `convoy agent revoke ID` (`cli::identity`).
    #[command(flatten)]
    Identity(super::identity::AgentCommand),
    /// No new jobs or rollouts go to the host (it keeps what it runs). Operator role.
    Cordon {
        /// The agent id.
        id: String,
    },
    /// Let new jobs and rollouts reach the host again. Operator role.
    Uncordon {
        /// The agent id.
        id: String,
    },
    /// Cordon the host, then wait until none of its commands is still in flight.
    Drain {
        /// The agent id.
        id: String,
        /// Give up (exit 1, still cordoned) after this long.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        max_wait: std::time::Duration,
    },
    /// Forget a host (its record and history). Refused while it is online unless --force,
    /// which ends its session first. Admin role; audited.
    Remove {
        /// The agent id.
        id: String,
        /// Remove it although it is online.
        #[arg(long)]
        force: bool,
    },
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
        Some(AgentsCommand::Show { id }) => show::show(&id, connect, output).await,
        None => {
            let selector =
                crate::selector::with_hosts(&args.selector, &args.hosts).map_err(UsageError)?;
            let version = match &args.version {
                Some(pair) => Some(
                    pair.split_once('=')
                        .map(|(a, v)| (a.to_string(), v.to_string()))
                        .ok_or_else(|| {
                            UsageError(format!("--version {pair:?}: expected APP=VERSION"))
                        })?,
                ),
                None => None,
            };
            let view = ListView {
                state: args.state.clone(),
                version,
                sort: args.sort.clone(),
            };
            list(&selector, &view, connect, output).await
        }
    }
}

/// How `convoy agents` narrows and orders what the coordinator listed.
#[derive(Debug, Clone, Default)]
pub struct ListView {
    pub state: Option<String>,
    pub version: Option<(String, String)>,
    pub sort: String,
}

impl ListView {
    /// Keeps the agents this view shows, in its order.
    pub fn apply(
        &self,
        mut agents: Vec<convoy_proto::v1::AgentSummary>,
    ) -> Vec<convoy_proto::v1::AgentSummary> {
        agents.retain(|a| match self.state.as_deref() {
            Some("cordoned") => a.cordoned,
            Some(state) => output::state_name(a.state) == state,
            None => true,
        });
        if let Some((app, version)) = &self.version {
            agents.retain(|a| {
                a.apps
                    .iter()
                    .any(|s| &s.app == app && &s.version == version)
            });
        }
        let cpu =
            |a: &convoy_proto::v1::AgentSummary| a.metrics.as_ref().map_or(-1.0, |m| m.cpu_percent);
        let mem = |a: &convoy_proto::v1::AgentSummary| {
            a.metrics.as_ref().map_or(-1.0, |m| {
                m.mem_used_bytes as f64 / (m.mem_total_bytes.max(1)) as f64
            })
        };
        match self.sort.as_str() {
            "cpu" => agents.sort_by(|a, b| cpu(b).total_cmp(&cpu(a))),
            "mem" => agents.sort_by(|a, b| mem(b).total_cmp(&mem(a))),
            "last_seen" => agents.sort_by_key(|a| std::cmp::Reverse(a.last_seen_unix_ms)),
            _ => {}
        }
        agents
    }
}

/// `online`, `offline`, and `, cordoned` after either.
fn state_cell(agent: &convoy_proto::v1::AgentSummary) -> String {
    let state = output::state_name(agent.state);
    if agent.cordoned {
        format!("{state}, cordoned")
    } else {
        state.to_string()
    }
}

async fn list(
    selector: &str,
    view: &ListView,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
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
    let agents = view.apply(agents);
    match output {
        OutputFormat::Json => {
            let json: Vec<AgentJson> = agents.iter().map(AgentJson::from).collect();
            out!("{}", serde_json::to_string_pretty(&json)?);
        }
        OutputFormat::Table => {
            let now = now_unix_ms();
            let mut table = Table::new();
            table.load_preset(UTF8_BORDERS_ONLY);
            // Never wider than the terminal: long cells wrap instead.
            fit_to_terminal(&mut table);
            table.set_header([
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
                    state_cell(agent),
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
            let cordoned = agents.iter().filter(|a| a.cordoned).count();
            if cordoned > 0 {
                out!("cordoned: {cordoned}");
            }
            let overdue = agents.iter().filter(|a| a.cert_renewal_overdue).count();
            if overdue > 0 {
                out!("certificates past 90% of their lifetime, not renewed: {overdue}");
            }
        }
    }
    Ok(())
}

/// Makes a table no wider than the terminal (long cells wrap): `COLUMNS` when set,
/// else the width comfy-table reads from the tty; nothing changes when stdout is a pipe.
pub fn fit_to_terminal(table: &mut Table) {
    use std::io::IsTerminal as _;
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<u16>().ok());
    if columns.is_none() && !std::io::stdout().is_terminal() {
        return;
    }
    table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    if let Some(width) = columns {
        table.set_width(width);
    }
}

/// `convoy agent cordon|uncordon|drain|remove ID`.
pub async fn lifecycle(
    command: AgentCommand,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    use convoy_proto::v1::{CordonAgentRequest, RemoveAgentRequest};
    let mut client = admin(connect).await?;
    let cordon = |id: String, cordoned: bool| {
        let mut client = client.clone();
        async move {
            client
                .cordon_agent(CordonAgentRequest { id, cordoned })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))
                .map(tonic::Response::into_inner)
        }
    };
    match command {
        AgentCommand::Cordon { id } => {
            let agent = cordon(id, true).await?;
            print_agent_line(&agent, "cordoned: no new jobs or rollouts", output)
        }
        AgentCommand::Uncordon { id } => {
            let agent = cordon(id, false).await?;
            print_agent_line(&agent, "uncordoned", output)
        }
        AgentCommand::Drain { id, max_wait } => {
            cordon(id.clone(), true).await?;
            let deadline = tokio::time::Instant::now() + max_wait;
            let mut said = None;
            loop {
                let detail = client
                    .get_agent(GetAgentRequest { id: id.clone() })
                    .await
                    .map_err(|status| rpc_error(&connect.addr, status))?
                    .into_inner();
                let left = detail.inflight_commands;
                if left == 0 {
                    let agent = detail.agent.unwrap_or_default();
                    return print_agent_line(
                        &agent,
                        "drained: cordoned, nothing in flight",
                        output,
                    );
                }
                if said != Some(left) && output == OutputFormat::Table {
                    eprintln!(
                        "{id}: {} in flight",
                        output::count(left as usize, "command")
                    );
                    said = Some(left);
                }
                if tokio::time::Instant::now() >= deadline {
                    anyhow::bail!(
                        "{id} is cordoned but still has {} in flight after {}",
                        output::count(left as usize, "command"),
                        humantime::format_duration(max_wait)
                    );
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
        AgentCommand::Identity(command) => super::identity::agent(command, connect, output).await,
        AgentCommand::Remove { id, force } => {
            let removed = client
                .remove_agent(RemoveAgentRequest { id, force })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner();
            match output {
                OutputFormat::Json => out!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "id": removed.id,
                        "removed": true,
                        "was_online": removed.was_online,
                    }))?
                ),
                OutputFormat::Table => out!(
                    "{} removed{}",
                    removed.id,
                    if removed.was_online {
                        " (its session was ended; it comes back if it reconnects)"
                    } else {
                        ""
                    }
                ),
            }
            Ok(())
        }
    }
}

fn print_agent_line(
    agent: &convoy_proto::v1::AgentSummary,
    what: &str,
    output: OutputFormat,
) -> anyhow::Result<()> {
    match output {
        OutputFormat::Json => out!("{}", serde_json::to_string_pretty(&AgentJson::from(agent))?),
        OutputFormat::Table => out!("{} {what}", agent.id),
    }
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
