//! `convoy env list` and `convoy freeze add|list|remove`: the environments of coordinator.toml in order, with their selector,
//! promotion rule, approvals, window (open now, or its next opening) and what runs where;
//! and how `convoy release list` shows the environments a version reached.

use clap::Subcommand;
use comfy_table::Table;
use comfy_table::presets::UTF8_BORDERS_ONLY;
use convoy_proto::v1::{
    AddFreezeRequest, EnvironmentView, Freeze, ListEnvironmentsRequest, ListFreezesRequest,
    ReleaseEnvironment, RemoveFreezeRequest,
};

use super::connect::{rollouts, rpc_error};
use super::{ConnectArgs, OutputFormat, UsageError};
use crate::cli::out;
use crate::cli::output::rfc3339;

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Environments in order, with their rules, window and the versions running there.
    List,
}

pub async fn run(
    command: EnvCommand,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    match command {
        EnvCommand::List => list(connect, format).await,
    }
}

async fn list(connect: &ConnectArgs, format: OutputFormat) -> anyhow::Result<()> {
    let mut client = rollouts(connect).await?;
    let envs = client
        .list_environments(ListEnvironmentsRequest {})
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner()
        .environments;
    if format == OutputFormat::Json {
        let json: Vec<serde_json::Value> = envs.iter().map(json).collect();
        out!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    if envs.is_empty() {
        out!("no environments configured ([[environments]] in coordinator.toml)");
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header([
        "NAME",
        "SELECTOR",
        "REQUIRES",
        "APPROVALS",
        "WINDOW",
        "FROZEN",
        "HOSTS",
        "RUNNING",
    ]);
    for env in &envs {
        table.add_row([
            env.name.clone(),
            env.selector.clone(),
            env.requires.clone(),
            approvals(env),
            window(env),
            frozen(env),
            env.hosts.to_string(),
            running(env),
        ]);
    }
    out!("{table}");
    Ok(())
}

fn approvals(env: &EnvironmentView) -> String {
    match (env.approvals, env.approval_role.as_str()) {
        (0, _) => "-".to_string(),
        (n, "") => n.to_string(),
        (n, role) => format!("{n} ({role})"),
    }
}

fn window(env: &EnvironmentView) -> String {
    if env.window.is_empty() {
        return "always".to_string();
    }
    let at = rfc3339(env.window_change_unix_ms).unwrap_or_default();
    match (env.window_open, env.window_change_unix_ms) {
        (true, _) => format!("{} {}: open until {at}", env.window, env.timezone),
        (false, 0) => format!("{} {}: never opens again", env.window, env.timezone),
        (false, _) => format!("{} {}: opens {at}", env.window, env.timezone),
    }
}

fn frozen(env: &EnvironmentView) -> String {
    let now = crate::clock::now_unix_ms();
    let shown: Vec<String> = env
        .freezes
        .iter()
        .map(|f| {
            let until = rfc3339(f.until_unix_ms).unwrap_or_default();
            if f.from_unix_ms <= now {
                format!("until {until} ({})", crate::cli::printable(&f.reason))
            } else {
                let from = rfc3339(f.from_unix_ms).unwrap_or_default();
                format!("{from} to {until} ({})", crate::cli::printable(&f.reason))
            }
        })
        .collect();
    if shown.is_empty() {
        "-".to_string()
    } else {
        shown.join("; ")
    }
}

fn running(env: &EnvironmentView) -> String {
    env.apps
        .iter()
        .map(|app| {
            let versions: Vec<String> = app
                .versions
                .iter()
                .map(|(version, hosts)| format!("{version}×{hosts}"))
                .collect();
            format!("{} {}", app.app, versions.join(","))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The stable JSON shape of one environment.
fn json(env: &EnvironmentView) -> serde_json::Value {
    let apps: serde_json::Map<String, serde_json::Value> = env
        .apps
        .iter()
        .map(|app| (app.app.clone(), serde_json::json!(app.versions)))
        .collect();
    serde_json::json!({
        "name": env.name,
        "selector": env.selector,
        "requires": (!env.requires.is_empty()).then_some(&env.requires),
        "approvals": env.approvals,
        "approval_role": (!env.approval_role.is_empty()).then_some(&env.approval_role),
        "approval_ttl_ms": (env.approval_ttl_ms > 0).then_some(env.approval_ttl_ms),
        "window": (!env.window.is_empty()).then_some(&env.window),
        "timezone": env.timezone,
        "window_open": env.window_open,
        "window_closes": (env.window_open && !env.window.is_empty())
            .then(|| rfc3339(env.window_change_unix_ms))
            .flatten(),
        "next_window": (!env.window_open && env.window_change_unix_ms > 0)
            .then(|| rfc3339(env.window_change_unix_ms))
            .flatten(),
        "hosts": env.hosts,
        "freezes": env.freezes.iter().map(freeze_json).collect::<Vec<_>>(),
        "apps": apps,
    })
}

/// `release list`'s ENVIRONMENTS cell: where a version reached, in order (`staging, prod`).
pub fn reached_cell(reached: &[ReleaseEnvironment]) -> String {
    if reached.is_empty() {
        return "-".to_string();
    }
    reached
        .iter()
        .map(|e| e.env.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `release list -o json`'s `environments`: `[{"env", "reached_at", "rollout"}]`.
pub fn reached_json(reached: &[ReleaseEnvironment]) -> serde_json::Value {
    reached
        .iter()
        .map(|e| {
            serde_json::json!({
                "env": e.env,
                "reached_at": rfc3339(e.reached_unix_ms),
                "rollout": e.rollout,
            })
        })
        .collect()
}

#[derive(Debug, Subcommand)]
pub enum FreezeCommand {
    /// Freeze ENV from --from (default now) until --until: rollouts there neither start nor
    /// start new hosts (rollbacks still run). Operator role; audited.
    Add {
        /// The environment.
        env: String,
        /// 'YYYY-MM-DD HH:MM' in the environment's timezone, or with an offset; default now.
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// When it ends: 'YYYY-MM-DD HH:MM' in the environment's timezone, or with an offset.
        #[arg(long, value_name = "TIME")]
        until: String,
        /// Why (shown in env list, freeze list, status and refusals; audited).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Every freeze, past ones included, by start.
    List,
    /// Remove a freeze (`f-...`).
    Remove {
        /// The freeze id (`convoy freeze list`).
        id: String,
    },
}

pub async fn freeze(
    command: FreezeCommand,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = rollouts(connect).await?;
    match command {
        FreezeCommand::Add {
            env,
            from,
            until,
            reason,
        } => {
            // Times are read in the environment's zone: ask the coordinator for it.
            let envs = client
                .list_environments(ListEnvironmentsRequest {})
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner()
                .environments;
            let zone = envs
                .iter()
                .find(|e| e.name == env)
                .and_then(|e| e.timezone.parse::<chrono_tz::Tz>().ok())
                .unwrap_or(chrono_tz::UTC);
            let time = |text: &str| {
                crate::grpc::environments::parse_at(text, zone)
                    .map_err(|err| UsageError(err.replace("--at", "time")))
            };
            let from = from.as_deref().map(time).transpose()?.unwrap_or(0);
            let until = time(&until)?;
            let freeze = client
                .add_freeze(AddFreezeRequest {
                    env,
                    from_unix_ms: from,
                    until_unix_ms: until,
                    reason,
                })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner();
            match format {
                OutputFormat::Json => {
                    out!("{}", serde_json::to_string_pretty(&freeze_json(&freeze))?)
                }
                OutputFormat::Table => out!("{}", freeze.id),
            }
        }
        FreezeCommand::List => {
            let freezes = client
                .list_freezes(ListFreezesRequest {})
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner()
                .freezes;
            if format == OutputFormat::Json {
                let json: Vec<serde_json::Value> = freezes.iter().map(freeze_json).collect();
                out!("{}", serde_json::to_string_pretty(&json)?);
                return Ok(());
            }
            let mut table = Table::new();
            table
                .load_preset(UTF8_BORDERS_ONLY)
                .set_header(["ID", "ENV", "FROM", "UNTIL", "REASON", "BY"]);
            for f in &freezes {
                table.add_row([
                    f.id.clone(),
                    f.env.clone(),
                    rfc3339(f.from_unix_ms).unwrap_or_default(),
                    rfc3339(f.until_unix_ms).unwrap_or_default(),
                    crate::cli::printable(&f.reason),
                    f.created_by.clone(),
                ]);
            }
            out!("{table}");
        }
        FreezeCommand::Remove { id } => {
            client
                .remove_freeze(RemoveFreezeRequest { id: id.clone() })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?;
            if format == OutputFormat::Table {
                out!("removed {id}");
            }
        }
    }
    Ok(())
}

/// The stable JSON shape of a freeze.
fn freeze_json(f: &Freeze) -> serde_json::Value {
    serde_json::json!({
        "id": f.id,
        "env": f.env,
        "from": rfc3339(f.from_unix_ms),
        "until": rfc3339(f.until_unix_ms),
        "reason": f.reason,
        "created_by": f.created_by,
        "created_at": rfc3339(f.created_unix_ms),
    })
}
