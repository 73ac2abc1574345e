//! `convoy ca rotate start|status|advance|finish|abort`: CA rotation in phases on a running
//! coordinator, through `Certs.RotateCa` (see `crate::rotation` for what each phase does).
//! `start --root-key FILE` (the coordinator's `[ca]` is an intermediate): `prepare` returns
//! the bundle agents are to trust, which is signed here with the root key and sent with
//! `start`; the key never leaves this machine.

use std::path::PathBuf;

use clap::ValueEnum;
use convoy_proto::v1::RotateCaRequest;
use convoy_proto::v1::certs_client::CertsClient;
use serde::Serialize;

use super::connect::{channel, rpc_error};
use super::{ConnectArgs, OutputFormat};
use crate::cli::out;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RotateAction {
    /// Make a new CA on the coordinator; agents (and the listener) trust both from now.
    Start,
    /// Which phase, which online agents still hold an old-CA certificate, and which
    /// operators called with one within the last 24 hours (and not with a new one since).
    Status,
    /// Next phase: update_clients (the new CA issues; agents renew onto it now), then
    /// update_servers (the coordinator presents a certificate of the new CA).
    Advance,
    /// Drop the old CA (refused while an online agent still holds its certificate, or an
    /// operator called with one within 24 hours).
    Finish,
    /// Back to the old CA (agents renew back onto it if they had moved).
    Abort,
}

impl RotateAction {
    fn wire(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Status => "status",
            Self::Advance => "advance",
            Self::Finish => "finish",
            Self::Abort => "abort",
        }
    }
}

#[derive(Debug, Serialize)]
struct RotationJson {
    phase: String,
    from_fingerprint: String,
    to_fingerprint: String,
    old_ca_agents: Vec<String>,
    online_agents: u32,
    /// Operators seen on an old-CA certificate within `operator_window_ms`.
    old_ca_operators: Vec<OperatorJson>,
    operator_window_ms: u64,
    bundle_serial: u64,
    new_ca_dir: String,
    /// The CA bundle to trust now (PEM), for operators' `--ca`.
    bundle_pem: String,
}

#[derive(Debug, Serialize)]
struct OperatorJson {
    name: String,
    serial: String,
    last_seen_unix_ms: i64,
}

pub async fn run(
    (action, force, root_key): (RotateAction, bool, Option<PathBuf>),
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = CertsClient::new(channel(connect).await?);
    let mut request = RotateCaRequest {
        action: action.wire().into(),
        force,
        ..Default::default()
    };
    if let Some(key) = root_key {
        if action != RotateAction::Start {
            anyhow::bail!("--root-key applies to `start` only");
        }
        let prepared = client
            .rotate_ca(RotateCaRequest {
                action: "prepare".into(),
                ..Default::default()
            })
            .await
            .map_err(|status| rpc_error(&connect.addr, status))?
            .into_inner();
        request.bundle_signature = crate::rotation::signing::sign_with_key_file(
            &key,
            &prepared.bundle_pem,
            prepared.bundle_serial,
        )
        .map_err(|err| anyhow::anyhow!("cannot sign the CA bundle: {err}"))?;
        request.bundle_serial = prepared.bundle_serial;
    }
    let status = client
        .rotate_ca(request)
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let json = RotationJson {
        phase: status.phase,
        from_fingerprint: status.from_fingerprint,
        to_fingerprint: status.to_fingerprint,
        old_ca_agents: status.old_ca_agents,
        online_agents: status.online_agents,
        old_ca_operators: status
            .old_ca_operators
            .into_iter()
            .map(|o| OperatorJson {
                name: o.name,
                serial: o.serial,
                last_seen_unix_ms: o.last_seen_unix_ms,
            })
            .collect(),
        operator_window_ms: status.operator_window_ms,
        bundle_serial: status.bundle_serial,
        new_ca_dir: status.new_ca_dir,
        bundle_pem: status.bundle_pem,
    };
    if output == OutputFormat::Json {
        out!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    out!("phase: {}", json.phase);
    if !json.from_fingerprint.is_empty() {
        out!("from CA: {}", json.from_fingerprint);
        out!("to CA:   {}", json.to_fingerprint);
        out!("new CA files (on the coordinator): {}", json.new_ca_dir);
    }
    out!(
        "online agents: {}, still on an old-CA certificate: {}",
        json.online_agents,
        json.old_ca_agents.len()
    );
    for agent in &json.old_ca_agents {
        out!("  {agent}");
    }
    let window = std::time::Duration::from_millis(json.operator_window_ms);
    out!(
        "operators seen on an old-CA certificate within {}: {}",
        humantime::format_duration(window),
        json.old_ca_operators.len()
    );
    for operator in &json.old_ca_operators {
        let seen = std::time::UNIX_EPOCH
            + std::time::Duration::from_millis(
                u64::try_from(operator.last_seen_unix_ms).unwrap_or(0),
            );
        out!(
            "  {}  serial {}  last seen {}",
            operator.name,
            operator.serial,
            humantime::format_rfc3339_seconds(seen)
        );
    }
    Ok(())
}
