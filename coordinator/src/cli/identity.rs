//! `convoy agent revoke`, `convoy cert revoke` and `convoy certs list`: revocation and the
//! certificates a running coordinator knows, through the `Certs` service.

use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::certs_client::CertsClient;
use convoy_proto::v1::revoke_request::Target;
use convoy_proto::v1::{CertInfo, ListCertsRequest, RevokeRequest};
use serde::Serialize;
use tonic::transport::Channel;

use super::connect::{channel, rpc_error};
use super::{ConnectArgs, OutputFormat, UsageError};
use crate::cli::out;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Revoke every certificate of an agent id: its live session is cut within a second
    /// and its reconnects are refused.
    Revoke {
        /// The agent id.
        id: String,
        /// Why (kept with the revocation and in the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// `convoy cert revoke --serial S | --operator NAME`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "what")]
pub struct CertRevokeArgs {
    /// One certificate, by serial (hex; colons allowed), as `convoy certs list` shows it.
    #[arg(long, group = "what")]
    pub serial: Option<String>,
    /// Every certificate of an operator name.
    #[arg(long, group = "what")]
    pub operator: Option<String>,
    /// Why (kept with the revocation and in the audit log).
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Certificates the coordinator has seen, with serial, kind, name, expiry and state
    /// (active, expired, revoked), and the revocations by name.
    List,
}

async fn client(connect: &ConnectArgs) -> anyhow::Result<CertsClient<Channel>> {
    Ok(CertsClient::new(channel(connect).await?))
}

pub async fn agent(
    command: AgentCommand,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let AgentCommand::Revoke { id, reason } = command;
    convoy_proto::identity::AgentId::new(&id).map_err(|err| UsageError(err.to_string()))?;
    revoke(Target::AgentId(id), reason, connect, output).await
}

pub async fn cert_revoke(
    args: CertRevokeArgs,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let target = match (args.serial, args.operator) {
        (Some(serial), None) => Target::Serial(serial),
        (None, Some(name)) => Target::Operator(name),
        _ => return Err(UsageError("pass exactly one of --serial or --operator".into()).into()),
    };
    revoke(target, args.reason, connect, output).await
}

async fn revoke(
    target: Target,
    reason: String,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let response = client(connect)
        .await?
        .revoke(RevokeRequest {
            target: Some(target),
            reason,
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let revocation = response.revocation.unwrap_or_default();
    match output {
        OutputFormat::Json => out!(
            "{}",
            serde_json::json!({
                "kind": revocation.kind,
                "target": revocation.target,
                "reason": revocation.reason,
                "revoked_by": revocation.revoked_by,
                "sessions_closed": response.sessions_closed,
            })
        ),
        OutputFormat::Table => out!(
            "revoked {} {} ({} live connection(s) closed)",
            revocation.kind,
            revocation.target,
            response.sessions_closed
        ),
    }
    Ok(())
}

/// One line of `convoy certs list -o json`.
#[derive(Debug, Serialize)]
pub struct CertJson {
    pub serial: String,
    pub kind: String,
    pub name: String,
    /// RFC 3339, or null for a revocation by name.
    pub not_after: Option<String>,
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl From<&CertInfo> for CertJson {
    fn from(cert: &CertInfo) -> Self {
        let not_after = (cert.not_after_unix_ms != 0).then(|| {
            time::OffsetDateTime::from_unix_timestamp(cert.not_after_unix_ms / 1000)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default()
        });
        Self {
            serial: cert.serial.clone(),
            kind: cert.kind.clone(),
            name: cert.name.clone(),
            not_after,
            state: cert.state.clone(),
            reason: cert.reason.clone(),
        }
    }
}

pub async fn certs(
    command: CertsCommand,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let CertsCommand::List = command;
    let certs = client(connect)
        .await?
        .list_certs(ListCertsRequest {})
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner()
        .certs;
    let rows: Vec<CertJson> = certs.iter().map(CertJson::from).collect();
    match output {
        OutputFormat::Json => out!("{}", serde_json::to_string_pretty(&rows)?),
        OutputFormat::Table => {
            let mut table = Table::new();
            table.load_preset(UTF8_BORDERS_ONLY);
            table.set_header(["SERIAL", "KIND", "NAME", "NOT AFTER", "STATE", "REASON"]);
            for row in rows {
                table.add_row([
                    row.serial,
                    row.kind,
                    row.name,
                    row.not_after.unwrap_or_else(|| "-".into()),
                    row.state,
                    row.reason,
                ]);
            }
            out!("{table}");
        }
    }
    Ok(())
}
