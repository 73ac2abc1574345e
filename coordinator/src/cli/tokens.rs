//! `convoy token create|list|revoke`: one-time enrollment tokens, through the `Certs`
//! service (admin only). The token is printed once; the coordinator keeps its hash.

use std::collections::BTreeMap;

use clap::Subcommand;
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::certs_client::CertsClient;
use convoy_proto::v1::{CreateTokenRequest, ListTokensRequest, RevokeTokenRequest, TokenInfo};

use super::connect::{channel, rpc_error};
use super::output::rfc3339;
use super::{ConnectArgs, OutputFormat, UsageError};
use crate::cli::out;
use crate::clock::now_unix_ms;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once, with the CA fingerprint hosts pin.
    Create {
        /// Labels granted to every agent enrolled with it (authoritative): k=v,k=v.
        #[arg(long, default_value = "")]
        labels: String,
        /// How long it may be used (e.g. 30m, 24h).
        #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
        /// How many hosts may enroll with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Glob every enrolled agent id must match, e.g. 'web-*'.
        #[arg(long, default_value = "")]
        id_pattern: String,
    },
    /// Tokens: id, labels, pattern, uses, expiry, state (the secrets are never shown again).
    List,
    /// Revoke a token by id: no enrollment succeeds with it from now on.
    Revoke {
        /// The token id (the middle part of the token, as `token list` shows it).
        id: String,
    },
}

fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, UsageError> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| UsageError(format!("label {pair:?} is not key=value")))?;
        convoy_proto::labels::validate_label(key, value).map_err(UsageError)?;
        labels.insert(key.to_string(), value.to_string());
    }
    Ok(labels)
}

fn state(token: &TokenInfo, now: i64) -> &'static str {
    if token.revoked {
        "revoked"
    } else if token.used >= token.uses {
        "used"
    } else if token.expires_at_unix_ms <= now {
        "expired"
    } else {
        "active"
    }
}

fn json(token: &TokenInfo, now: i64) -> serde_json::Value {
    serde_json::json!({
        "id": token.id,
        "labels": token.labels,
        "id_pattern": token.id_pattern,
        "uses": token.uses,
        "used": token.used,
        "expires_at": rfc3339(token.expires_at_unix_ms),
        "created_by": token.created_by,
        "state": state(token, now),
        "enrolled": token.enrolled,
    })
}

pub async fn run(
    command: TokenCommand,
    connect: &ConnectArgs,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let now = now_unix_ms();
    match command {
        TokenCommand::Create {
            labels,
            ttl,
            uses,
            id_pattern,
        } => {
            let labels = parse_labels(&labels)?;
            let mut client = CertsClient::new(channel(connect).await?);
            let created = client
                .create_token(CreateTokenRequest {
                    labels,
                    ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
                    uses,
                    id_pattern,
                })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner();
            let info = created.info.unwrap_or_default();
            match output {
                OutputFormat::Json => out!(
                    "{}",
                    serde_json::json!({
                        "token": created.token,
                        "ca_fingerprint": created.ca_fingerprint,
                        "info": json(&info, now),
                    })
                ),
                OutputFormat::Table => {
                    out!("{}", created.token);
                    eprintln!(
                        "token {} ({} use(s), expires {}); shown once. On the host:\n  convoy-agent enroll --coordinator {} --ca-fingerprint {} --token TOKEN",
                        info.id,
                        info.uses,
                        rfc3339(info.expires_at_unix_ms).unwrap_or_default(),
                        connect.addr,
                        created.ca_fingerprint
                    );
                }
            }
        }
        TokenCommand::List => {
            let mut client = CertsClient::new(channel(connect).await?);
            let tokens = client
                .list_tokens(ListTokensRequest {})
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner()
                .tokens;
            match output {
                OutputFormat::Json => {
                    let rows: Vec<_> = tokens.iter().map(|t| json(t, now)).collect();
                    out!("{}", serde_json::to_string_pretty(&rows)?);
                }
                OutputFormat::Table => {
                    let mut table = Table::new();
                    table.load_preset(UTF8_BORDERS_ONLY);
                    table.set_header(["ID", "LABELS", "ID PATTERN", "USED", "EXPIRES", "STATE"]);
                    for token in &tokens {
                        table.add_row([
                            token.id.clone(),
                            super::output::labels(&token.labels),
                            token.id_pattern.clone(),
                            format!("{}/{}", token.used, token.uses),
                            rfc3339(token.expires_at_unix_ms).unwrap_or_default(),
                            state(token, now).to_string(),
                        ]);
                    }
                    out!("{table}");
                }
            }
        }
        TokenCommand::Revoke { id } => {
            let mut client = CertsClient::new(channel(connect).await?);
            let info = client
                .revoke_token(RevokeTokenRequest { id })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner();
            match output {
                OutputFormat::Json => out!("{}", json(&info, now)),
                OutputFormat::Table => out!("token {} revoked", info.id),
            }
        }
    }
    Ok(())
}
