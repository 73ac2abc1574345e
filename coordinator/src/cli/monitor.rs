//! `convoy alerts`, `convoy events [--follow]` and `convoy notify test|log`, over the
//! `Monitor` service. JSON shapes here are a contract with scripts (add fields, never
//! rename or remove).

use std::time::Duration;

use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::MAX_ADMIN_MESSAGE_BYTES;
use convoy_proto::v1::monitor_client::MonitorClient;
use convoy_proto::v1::{
    Alert, Delivery, Event, ListAlertsRequest, ListEventsRequest, NotifyLogRequest,
    TestNotifyRequest,
};
use serde::Serialize;
use tonic::transport::Channel;

use super::connect::{channel, rpc_error};
use super::output::{ago, rfc3339};
use super::{ConnectArgs, OutputFormat, out};
use crate::clock::now_unix_ms;

/// A client of the `Monitor` service over mTLS.
pub async fn client(args: &ConnectArgs) -> anyhow::Result<MonitorClient<Channel>> {
    Ok(MonitorClient::new(channel(args).await?)
        .max_decoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES))
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Also alerts still waiting out their `for`.
    #[arg(long)]
    pub pending: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Keep printing events as they happen.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only kinds matching this: `rollout.*`, `agent.offline`.
    #[arg(long, default_value = "")]
    pub kind: String,
    /// Only events this recent.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub since: Option<Duration>,
    /// At most this many (the newest).
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a test notification through a [[notify]] sink; exit 1 if it failed.
    Test {
        /// The sink's `name` in coordinator.toml's [[notify]].
        name: String,
    },
    /// Deliveries, newest first: event, sink, attempts, status.
    Log {
        /// Only deliveries given up.
        #[arg(long)]
        failed: bool,
        /// Show at most this many deliveries.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Debug, Serialize)]
struct AlertJson<'a> {
    rule: &'a str,
    host: &'a str,
    severity: &'a str,
    state: &'a str,
    since: Option<String>,
    firing_since: Option<String>,
    value: f64,
    expr: &'a str,
    summary: &'a str,
}

#[derive(Debug, Serialize)]
struct EventJson<'a> {
    id: &'a str,
    seq: u64,
    at: Option<String>,
    kind: &'a str,
    severity: &'a str,
    host: &'a str,
    subject: &'a str,
    message: &'a str,
    fields: &'a std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct DeliveryJson<'a> {
    event_id: &'a str,
    kind: &'a str,
    sink: &'a str,
    attempts: u32,
    status: &'a str,
    last_error: &'a str,
    created: Option<String>,
    updated: Option<String>,
    next_attempt: Option<String>,
}

fn event_json(e: &Event) -> EventJson<'_> {
    EventJson {
        id: &e.id,
        seq: e.seq,
        at: rfc3339(e.at_unix_ms),
        kind: &e.kind,
        severity: &e.severity,
        host: &e.host,
        subject: &e.subject,
        message: &e.message,
        fields: &e.fields,
    }
}

fn event_line(e: &Event) -> String {
    let host = if e.host.is_empty() {
        "-"
    } else {
        e.host.as_str()
    };
    format!(
        "{}  {:<18} {:<8} {:<12} {}",
        rfc3339(e.at_unix_ms).unwrap_or_default(),
        e.kind,
        e.severity,
        host,
        e.message
    )
}

pub async fn alerts(
    args: AlertsArgs,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let mut monitor = client(connect).await?;
    let alerts: Vec<Alert> = monitor
        .list_alerts(ListAlertsRequest {
            pending: args.pending,
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner()
        .alerts;
    match output {
        OutputFormat::Json => {
            let json: Vec<AlertJson<'_>> = alerts
                .iter()
                .map(|a| AlertJson {
                    rule: &a.rule,
                    host: &a.host,
                    severity: &a.severity,
                    state: &a.state,
                    since: rfc3339(a.active_since_unix_ms),
                    firing_since: rfc3339(a.firing_since_unix_ms),
                    value: a.value,
                    expr: &a.expr,
                    summary: &a.summary,
                })
                .collect();
            out!("{}", serde_json::to_string_pretty(&json)?);
        }
        OutputFormat::Table => {
            if alerts.is_empty() {
                out!("no alerts firing");
                return Ok(());
            }
            let now = now_unix_ms();
            let mut table = Table::new();
            table.load_preset(UTF8_BORDERS_ONLY);
            table.set_header([
                "RULE", "HOST", "SEVERITY", "STATE", "SINCE", "VALUE", "SUMMARY",
            ]);
            for a in &alerts {
                let since = if a.firing_since_unix_ms > 0 {
                    a.firing_since_unix_ms
                } else {
                    a.active_since_unix_ms
                };
                table.add_row([
                    a.rule.clone(),
                    a.host.clone(),
                    a.severity.clone(),
                    a.state.clone(),
                    ago(since, now),
                    format!("{:.1}", a.value),
                    a.summary.clone(),
                ]);
            }
            out!("{table}");
        }
    }
    Ok(())
}

pub async fn events(
    args: EventsArgs,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let mut monitor = client(connect).await?;
    let request = ListEventsRequest {
        since_unix_ms: args
            .since
            .map(|d| now_unix_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0),
        kind: args.kind.clone(),
        limit: args.limit,
    };
    if !args.follow {
        let events = monitor
            .list_events(request)
            .await
            .map_err(|status| rpc_error(&connect.addr, status))?
            .into_inner()
            .events;
        match output {
            OutputFormat::Json => {
                let json: Vec<EventJson<'_>> = events.iter().map(event_json).collect();
                out!("{}", serde_json::to_string_pretty(&json)?);
            }
            OutputFormat::Table => {
                for e in &events {
                    out!("{}", event_line(e));
                }
            }
        }
        return Ok(());
    }
    let mut stream = monitor
        .follow_events(request)
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    while let Some(event) = stream
        .message()
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
    {
        match output {
            // One JSON object per line while following.
            OutputFormat::Json => out!("{}", serde_json::to_string(&event_json(&event))?),
            OutputFormat::Table => out!("{}", event_line(&event)),
        }
    }
    Ok(())
}

pub async fn notify(
    command: NotifyCommand,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let mut monitor = client(connect).await?;
    match command {
        NotifyCommand::Test { name } => {
            let reply = monitor
                .test_notify(TestNotifyRequest { name: name.clone() })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner();
            match output {
                OutputFormat::Json => out!(
                    "{}",
                    serde_json::json!({"sink": name, "ok": reply.ok, "status": reply.status, "error": reply.error})
                ),
                OutputFormat::Table if reply.ok => {
                    out!("{name}: delivered (HTTP {})", reply.status)
                }
                OutputFormat::Table => {}
            }
            if !reply.ok {
                anyhow::bail!("{name}: {}", reply.error);
            }
        }
        NotifyCommand::Log { failed, limit } => {
            let deliveries: Vec<Delivery> = monitor
                .notify_log(NotifyLogRequest {
                    failed_only: failed,
                    limit,
                })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner()
                .deliveries;
            match output {
                OutputFormat::Json => {
                    let json: Vec<DeliveryJson<'_>> = deliveries
                        .iter()
                        .map(|d| DeliveryJson {
                            event_id: &d.event_id,
                            kind: &d.kind,
                            sink: &d.sink,
                            attempts: d.attempts,
                            status: &d.status,
                            last_error: &d.last_error,
                            created: rfc3339(d.created_unix_ms),
                            updated: rfc3339(d.updated_unix_ms),
                            next_attempt: (d.status == "pending")
                                .then(|| rfc3339(d.next_attempt_unix_ms))
                                .flatten(),
                        })
                        .collect();
                    out!("{}", serde_json::to_string_pretty(&json)?);
                }
                OutputFormat::Table => {
                    let now = now_unix_ms();
                    let mut table = Table::new();
                    table.load_preset(UTF8_BORDERS_ONLY);
                    table.set_header([
                        "EVENT", "KIND", "SINK", "ATTEMPTS", "STATUS", "UPDATED", "ERROR",
                    ]);
                    for d in &deliveries {
                        table.add_row([
                            d.event_id.clone(),
                            d.kind.clone(),
                            d.sink.clone(),
                            d.attempts.to_string(),
                            d.status.clone(),
                            ago(d.updated_unix_ms, now),
                            d.last_error.clone(),
                        ]);
                    }
                    out!("{table}");
                }
            }
        }
    }
    Ok(())
}
