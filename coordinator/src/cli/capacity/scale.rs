//! `convoy scale status`: every `[[scaling]]` policy, its latest decision and last action.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::{ScalingAction, ScalingPolicyStatus, ScalingStatusRequest};
use serde::Serialize;

use super::ScaleCommand;
use crate::cli::connect::rpc_error;
use crate::cli::monitor::client;
use crate::cli::output::rfc3339;
use crate::cli::{ConnectArgs, OutputFormat, out};

#[derive(Debug, Serialize)]
struct ActionJson {
    at: Option<String>,
    current: u32,
    desired: u32,
    value: f64,
    dry_run: bool,
    result: String,
    ok: bool,
    finished: bool,
    output: String,
}

#[derive(Debug, Serialize)]
struct PolicyJson {
    name: String,
    selector: String,
    metric: String,
    target: f64,
    min: u32,
    max: u32,
    cooldown_ms: u64,
    interval_ms: u64,
    dry_run: bool,
    action: String,
    evaluated: Option<String>,
    value: Option<f64>,
    current: u32,
    desired: Option<u32>,
    decision: String,
    last_action: Option<ActionJson>,
    next_action: Option<String>,
}

fn action_json(a: &ScalingAction) -> ActionJson {
    ActionJson {
        at: rfc3339(a.at_unix_ms),
        current: a.current,
        desired: a.desired,
        value: a.value,
        dry_run: a.dry_run,
        result: a.result.clone(),
        ok: a.ok,
        finished: a.finished,
        output: a.output.clone(),
    }
}

fn policy_json(p: &ScalingPolicyStatus) -> PolicyJson {
    PolicyJson {
        name: p.name.clone(),
        selector: p.selector.clone(),
        metric: p.metric.clone(),
        target: p.target,
        min: p.min,
        max: p.max,
        cooldown_ms: p.cooldown_ms,
        interval_ms: p.interval_ms,
        dry_run: p.dry_run,
        action: p.action.clone(),
        evaluated: rfc3339(p.evaluated_unix_ms),
        value: p.value,
        current: p.current,
        desired: p.desired,
        decision: p.decision.clone(),
        last_action: p.last_action.as_ref().map(action_json),
        next_action: rfc3339(p.next_action_unix_ms),
    }
}

pub async fn scale(
    command: ScaleCommand,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let ScaleCommand::Status = command;
    let mut monitor = client(connect).await?;
    let policies = monitor
        .scaling_status(ScalingStatusRequest {})
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner()
        .policies;
    if output == OutputFormat::Json {
        let json: Vec<PolicyJson> = policies.iter().map(policy_json).collect();
        out!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    if policies.is_empty() {
        out!("no [[scaling]] policies in coordinator.toml");
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header([
        "POLICY",
        "SELECTOR",
        "METRIC",
        "VALUE",
        "CURRENT",
        "DESIRED",
        "DECISION",
        "LAST ACTION",
        "NEXT ALLOWED",
        "MODE",
    ]);
    for p in &policies {
        let last = p.last_action.as_ref().map_or("-".into(), |a| {
            format!(
                "{} {}->{}: {}",
                rfc3339(a.at_unix_ms).unwrap_or_default(),
                a.current,
                a.desired,
                a.result
            )
        });
        table.add_row([
            p.name.clone(),
            p.selector.clone(),
            format!("{} (target {})", p.metric, p.target),
            p.value.map_or("-".into(), |v| format!("{v:.1}")),
            p.current.to_string(),
            p.desired
                .map_or("-".into(), |d| format!("{d} [{}..{}]", p.min, p.max)),
            p.decision.clone(),
            last,
            rfc3339(p.next_action_unix_ms).unwrap_or_else(|| "now".into()),
            if p.dry_run {
                format!("dry-run ({})", p.action)
            } else {
                p.action.clone()
            },
        ]);
    }
    out!("{table}");
    Ok(())
}
