//! `convoy ca rotate start|status|advance|finish|abort`: CA rotation in phases on a running
//! coordinator, through `Certs.RotateCa` (see `crate::rotation` for what each phase does).

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
    /// Which phase, and which online agents still hold an old-CA certificate.
    Status,
    /// Next phase: update_clients (the new CA issues; agents renew onto it now), then
    /// update_servers (the coordinator presents a certificate of the new CA).
    Advance,
    /// Drop the old CA (refused while an online agent still holds its certificate).
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
    new_ca_dir: String,
    /// The CA bundle to trust now (PEM), for operators' `--ca`.
    bundle_pem: String,
}

pub async fn run(
    action: RotateAction,
    force: bool,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = CertsClient::new(channel(connect).await?);
    let status = client
        .rotate_ca(RotateCaRequest {
            action: action.wire().into(),
            force,
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let json = RotationJson {
        phase: status.phase,
        from_fingerprint: status.from_fingerprint,
        to_fingerprint: status.to_fingerprint,
        old_ca_agents: status.old_ca_agents,
        online_agents: status.online_agents,
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
    Ok(())
}
