//! `convoy-agent enroll`: trade a one-time token for a certificate. The key is made here
//! and never leaves the host; nothing is copied to the host but the CA fingerprint and the
//! token.
//!
//! 1. Pin: a TLS handshake (no client certificate, no data sent) reads the coordinator's
//!    chain; the certificate whose sha256 is `--ca-fingerprint` becomes the trust anchor.
//!    No such certificate: stop (a man in the middle, or the wrong coordinator).
//! 2. Enroll: over a normal TLS connection verified against that CA, send the token, the
//!    id and a CSR for a fresh ECDSA P-256 key.
//! 3. Write the key (0600, before it holds anything), the certificate and the CA bundle
//!    where the agent config's `[tls]` says. Existing files are never overwritten.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use convoy_proto::identity::{AgentId, Identity};
use convoy_proto::v1::EnrollRequest;
use convoy_proto::v1::enrollment_client::EnrollmentClient;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest as _, Sha256};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("invalid --ca-fingerprint {0:?}: expected sha256:<64 hex digits>")]
    BadFingerprint(String),
    #[error("invalid coordinator address {0:?}")]
    BadAddress(String),
    #[error("cannot reach the coordinator at {addr}: {message}")]
    Unreachable { addr: String, message: String },
    #[error(
        "the coordinator at {0} presented no certificate with the expected CA fingerprint: \
         wrong coordinator, wrong fingerprint, or someone in the middle; nothing was sent"
    )]
    FingerprintMismatch(String),
    #[error("the coordinator refused the enrollment: {0}")]
    Refused(String),
    #[error("{0} already exists: this host looks enrolled (move it away to enroll again)")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make a key or CSR: {0}")]
    Key(String),
    #[error(transparent)]
    Identity(#[from] convoy_proto::identity::IdentityError),
}

/// What to enroll as and where to.
#[derive(Debug, Clone)]
pub struct EnrollOptions {
    pub coordinator: String,
    /// `sha256:HEX` of the CA certificate's DER.
    pub ca_fingerprint: String,
    pub token: String,
    pub id: AgentId,
    /// Where to write, from the agent config's `[tls]`.
    pub tls: crate::config::TlsFiles,
}

/// What was written.
#[derive(Debug)]
pub struct Enrolled {
    pub labels: std::collections::BTreeMap<String, String>,
    pub not_after_unix_ms: i64,
}

fn parse_fingerprint(text: &str) -> Result<[u8; 32], EnrollError> {
    let bad = || EnrollError::BadFingerprint(text.to_string());
    let hex_part = text.strip_prefix("sha256:").ok_or_else(bad)?;
    let clean: String = hex_part.chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(clean.to_ascii_lowercase()).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// Accepts any chain during the pinning handshake and keeps it; the caller then picks
/// the anchor by fingerprint and verifies properly on the next connection.
#[derive(Debug, Default)]
struct Capture {
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = self
            .chain
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        chain.push(end_entity.clone().into_owned());
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Step 1: the CA certificate (PEM) among what the coordinator presents, by fingerprint.
async fn pin_ca(uri: &tonic::transport::Uri, fingerprint: [u8; 32]) -> Result<String, EnrollError> {
    let addr = uri.to_string();
    let host = uri
        .host()
        .ok_or_else(|| EnrollError::BadAddress(addr.clone()))?;
    let port = uri.port_u16().unwrap_or(443);
    let unreachable = |message: String| EnrollError::Unreachable {
        addr: addr.clone(),
        message,
    };
    let capture = Arc::new(Capture::default());
    let mut config =
        rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
            .dangerous()
            .with_custom_certificate_verifier(capture.clone())
            .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let server_name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
        .map_err(|_| EnrollError::BadAddress(addr.clone()))?;
    let tcp = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)),
    )
    .await
    .map_err(|_| unreachable("timed out".into()))?
    .map_err(|err| unreachable(err.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        connector.connect(server_name, tcp),
    )
    .await
    .map_err(|_| unreachable("tls handshake timed out".into()))?
    .map_err(|err| unreachable(err.to_string()))?;
    drop(stream);
    let chain = capture
        .chain
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let anchor = chain
        .iter()
        .find(|cert| Sha256::digest(cert.as_ref()).as_slice() == fingerprint)
        .ok_or_else(|| EnrollError::FingerprintMismatch(addr.clone()))?;
    Ok(pem::encode(&pem::Pem::new("CERTIFICATE", anchor.to_vec())))
}

fn create_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), EnrollError> {
    let write_err = |source| EnrollError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::AlreadyExists => EnrollError::Exists(path.to_path_buf()),
            _ => write_err(err),
        })?;
    file.write_all(contents).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

/// Enrolls this host; see the module documentation.
pub async fn enroll(options: EnrollOptions) -> Result<Enrolled, EnrollError> {
    convoy_proto::tls::install_crypto_provider();
    let fingerprint = parse_fingerprint(&options.ca_fingerprint)?;
    for path in [&options.tls.key, &options.tls.cert] {
        if path.exists() {
            return Err(EnrollError::Exists(path.clone()));
        }
    }
    let uri: tonic::transport::Uri = options
        .coordinator
        .parse()
        .map_err(|_| EnrollError::BadAddress(options.coordinator.clone()))?;
    let ca_pem = pin_ca(&uri, fingerprint).await?;

    // The key exists only here; the CSR carries its public half and the identity.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|err| EnrollError::Key(err.to_string()))?;
    let mut params = rcgen::CertificateParams::default();
    let uri_san = Identity::Agent(options.id.clone()).uri();
    params.subject_alt_names =
        vec![rcgen::SanType::URI(uri_san.clone().try_into().map_err(
            |_| EnrollError::Key(format!("invalid SAN {uri_san}")),
        )?)];
    let csr = params
        .serialize_request(&key)
        .map_err(|err| EnrollError::Key(err.to_string()))?;

    let unreachable = |err: &dyn std::fmt::Display| EnrollError::Unreachable {
        addr: options.coordinator.clone(),
        message: err.to_string(),
    };
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&ca_pem));
    let channel = Endpoint::from(uri)
        .connect_timeout(std::time::Duration::from_secs(10))
        .tls_config(tls)
        .map_err(|err| unreachable(&err))?
        .connect()
        .await
        .map_err(|err| unreachable(&err))?;
    let response = EnrollmentClient::new(channel)
        .enroll(EnrollRequest {
            token: options.token.clone(),
            agent_id: options.id.to_string(),
            csr_der: csr.der().to_vec(),
        })
        .await
        .map_err(|status| EnrollError::Refused(status.message().to_string()))?
        .into_inner();
    // The bundle came over a connection verified against the pinned anchor, and must hold
    // that anchor: a coordinator cannot root the new host in a CA the operator did not pin.
    let bundle = if response.ca_pem.is_empty() {
        ca_pem
    } else {
        response.ca_pem.clone()
    };
    let pinned = convoy_proto::trust::certs(&bundle)
        .unwrap_or_default()
        .iter()
        .any(|der| Sha256::digest(der).as_slice() == fingerprint);
    if !pinned {
        return Err(EnrollError::Refused(
            "the CA bundle the coordinator sent does not hold the pinned CA (--ca-fingerprint); nothing was written".into(),
        ));
    }
    create_new(&options.tls.key, key.serialize_pem().as_bytes(), 0o600)?;
    create_new(&options.tls.cert, response.cert_pem.as_bytes(), 0o644)?;
    if !options.tls.ca.exists() {
        create_new(&options.tls.ca, bundle.as_bytes(), 0o644)?;
        // Signed bundles older than the one in force now are replays from here on.
        let serial = crate::session::trust_serial_path(&options.tls.ca);
        if response.trust_serial > 0 && !serial.exists() {
            create_new(&serial, response.trust_serial.to_string().as_bytes(), 0o644)?;
        }
    }
    Ok(Enrolled {
        labels: response.labels,
        not_after_unix_ms: response.not_after_unix_ms,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprints_parse_strictly() {
        let hex = "ab".repeat(32);
        assert!(super::parse_fingerprint(&format!("sha256:{hex}")).is_ok());
        assert!(super::parse_fingerprint(&format!("sha256:{}", hex.to_uppercase())).is_ok());
        for bad in [
            "",
            "sha256:",
            "md5:ab",
            &format!("sha256:{}", "ab".repeat(31)),
            &hex,
        ] {
            assert!(super::parse_fingerprint(bad).is_err(), "{bad:?}");
        }
    }
}
