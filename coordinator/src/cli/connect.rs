//! Connecting the CLI to a coordinator, and turning connection and RPC failures into one
//! clear line for the operator.

use std::time::Duration;

use anyhow::{Context as _, anyhow};
use convoy_proto::MAX_ADMIN_MESSAGE_BYTES;
use convoy_proto::tls::{LinkFailure, classify};
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::rollouts_client::RolloutsClient;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::ConnectArgs;

fn read(
    path: Option<&std::path::PathBuf>,
    what: &str,
    flag: &str,
    env: &str,
) -> anyhow::Result<Vec<u8>> {
    let path = path.with_context(|| format!("no {what}: pass {flag} or set {env}"))?;
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// An admin client over mTLS.
pub async fn admin(args: &ConnectArgs) -> anyhow::Result<AdminClient<Channel>> {
    Ok(AdminClient::new(channel(args).await?)
        .max_decoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES))
}

/// A rollouts client over mTLS.
pub async fn rollouts(args: &ConnectArgs) -> anyhow::Result<RolloutsClient<Channel>> {
    Ok(RolloutsClient::new(channel(args).await?)
        .max_decoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES))
}

/// A client of the `Backups` service over mTLS.
pub async fn backups(
    args: &ConnectArgs,
) -> anyhow::Result<convoy_proto::v1::backups_client::BackupsClient<Channel>> {
    Ok(
        convoy_proto::v1::backups_client::BackupsClient::new(channel(args).await?)
            .max_decoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES),
    )
}

/// An mTLS channel to the coordinator with the operator's certificate.
pub async fn channel(args: &ConnectArgs) -> anyhow::Result<Channel> {
    convoy_proto::tls::install_crypto_provider();
    let ca = read(args.ca.as_ref(), "CA certificate", "--ca", "CONVOY_CA")?;
    let cert = read(
        args.cert.as_ref(),
        "operator certificate",
        "--cert",
        "CONVOY_CERT",
    )?;
    let key = read(args.key.as_ref(), "operator key", "--key", "CONVOY_KEY")?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .identity(Identity::from_pem(cert, key));
    let endpoint = Endpoint::from_shared(args.addr.clone())
        .with_context(|| format!("invalid coordinator address {:?}", args.addr))?
        .tls_config(tls)
        .with_context(|| format!("cannot set up TLS for {}", args.addr))?
        .connect_timeout(args.timeout)
        .timeout(Duration::from_secs(30));
    // The bound covers the TLS handshake too: a port that accepts TCP and then says
    // nothing must not hang the CLI.
    match tokio::time::timeout(args.timeout, endpoint.connect()).await {
        Ok(connected) => connected.map_err(|err| describe(&args.addr, &err)),
        Err(_) => Err(anyhow!(
            "coordinator at {} did not complete the connection and TLS handshake within {} \
             (is something else listening there?)",
            args.addr,
            humantime::format_duration(args.timeout)
        )),
    }
}

fn describe(addr: &str, err: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    match classify(err) {
        LinkFailure::Tls(why) => anyhow!(
            "coordinator at {addr} refused the TLS handshake ({why}): check --cert/--key and --ca"
        ),
        LinkFailure::Unreachable(why) => anyhow!("cannot reach coordinator at {addr}: {why}"),
    }
}

/// One line for a failed RPC.
pub fn rpc_error(addr: &str, status: tonic::Status) -> anyhow::Error {
    match status.code() {
        Code::Unavailable | Code::Unknown | Code::Internal
            if std::error::Error::source(&status).is_some() =>
        {
            describe(addr, &status)
        }
        Code::PermissionDenied => anyhow!("permission denied: {}", status.message()),
        Code::Unauthenticated => anyhow!("not authenticated: {}", status.message()),
        Code::NotFound | Code::InvalidArgument | Code::FailedPrecondition | Code::AlreadyExists => {
            anyhow!("{}", status.message())
        }
        Code::Unavailable => anyhow!("coordinator at {addr} unavailable: {}", status.message()),
        Code::DeadlineExceeded => anyhow!("coordinator at {addr} did not answer in time"),
        code => anyhow!("coordinator error ({code:?}): {}", status.message()),
    }
}
