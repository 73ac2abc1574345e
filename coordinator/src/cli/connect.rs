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

/// Which side refused a TLS handshake and the likely cause, from the rustls error text.
pub fn explain_tls(why: &str) -> String {
    let lower = why.to_ascii_lowercase().replace([' ', '_'], "");
    if lower.contains("receivedfatalalert") || lower.contains("alertreceived") {
        if lower.contains("unknownca")
            || lower.contains("badcertificate")
            || lower.contains("decrypterror")
        {
            "the coordinator does not trust this certificate: issued by another CA? check --cert/--key"
        } else if lower.contains("certificaterequired") {
            "the coordinator wants a client certificate: pass --cert and --key (or CONVOY_CERT/CONVOY_KEY)"
        } else if lower.contains("certificateexpired") {
            "the coordinator refused this certificate: it has expired; issue a new one"
        } else if lower.contains("certificaterevoked") {
            "the coordinator refused this certificate: it was revoked"
        } else {
            "the coordinator refused the handshake: check --cert/--key"
        }
    } else if lower.contains("unknownissuer") || lower.contains("badsignature") {
        "this CLI does not trust the coordinator's certificate: is --ca the fleet CA?"
    } else if lower.contains("notvalidforname") {
        "the coordinator's certificate does not name this address: connect by a name or IP in its SANs (convoy cert issue server --san)"
    } else if lower.contains("expired") {
        "the coordinator's certificate has expired"
    } else {
        "check --cert/--key and --ca"
    }
    .to_string()
}

fn describe(addr: &str, err: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    match classify(err) {
        LinkFailure::Tls(why) => anyhow!(
            "TLS with the coordinator at {addr} failed: {} ({why})",
            explain_tls(&why)
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

#[cfg(test)]
mod tls_tests {
    use super::explain_tls;

    #[test]
    fn tls_failures_name_the_side_that_refused_and_the_likely_cause() {
        let cases = [
            (
                "received fatal alert: UnknownCA",
                "the coordinator does not trust this certificate: issued by another CA?",
            ),
            (
                "received fatal alert: CertificateRequired",
                "the coordinator wants a client certificate",
            ),
            (
                "invalid peer certificate: UnknownIssuer",
                "this CLI does not trust the coordinator's certificate",
            ),
            (
                "invalid peer certificate: NotValidForName",
                "does not name this address",
            ),
            (
                "invalid peer certificate: BadSignature",
                "this CLI does not trust",
            ),
            (
                "received fatal alert: DecryptError",
                "issued by another CA?",
            ),
        ];
        for (why, want) in cases {
            let said = explain_tls(why);
            assert!(said.contains(want), "{why}: {said}");
        }
    }
}
