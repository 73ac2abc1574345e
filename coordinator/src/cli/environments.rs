//! `convoy env list`: the environments of coordinator.toml in order, with their selector,
//! promotion rule, approvals, window (open now, or its next opening) and what runs where;
//! and how `convoy release list` shows the environments a version reached.

use clap::Subcommand;
use comfy_table::Table;
use comfy_table::presets::UTF8_BORDERS_ONLY;
use convoy_proto::v1::{EnvironmentView, ListEnvironmentsRequest, ReleaseEnvironment};

use super::connect::{rollouts, rpc_error};
use super::{ConnectArgs, OutputFormat};
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
