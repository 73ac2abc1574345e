//! Whom an agent trusts, and how that may change (issue 14): signed CA bundles and the
//! checks on a renewed certificate, shared by the coordinator (which signs) and the agent
//! (which verifies).
//!
//! A coordinator may hand an agent a new CA bundle (CA rotation). The agent takes it only if
//! it is signed by the key of an anchor it trusts now (a certificate in its current CA file;
//! never the coordinator's server certificate or an intermediate it merely saw), over
//! [`signed_message`]: a domain tag, the bundle's sha256 and a serial that only grows, so an
//! older bundle cannot be replayed to undo a rotation. A renewed certificate is taken only if
//! it chains to an anchor, names exactly the agent's own identity, is no CA and certifies the
//! key the agent made. A compromised coordinator therefore cannot re-root an agent unless it
//! holds an anchor's key.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime};
use sha2::{Digest as _, Sha256};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use crate::identity::Identity;
use crate::v1::TrustBundle;

/// The domain tag that starts every signed bundle message.
pub const DOMAIN: &[u8] = b"convoy-trust-bundle-v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustError {
    #[error("the CA bundle is not signed (agents refuse unsigned bundles)")]
    Unsigned,
    #[error("the CA bundle holds no usable certificate: {0}")]
    BadBundle(String),
    #[error("the CA bundle is signed by {0}, which is not a CA this agent trusts now")]
    UnknownSigner(String),
    #[error("the CA bundle's signature does not verify with the key of {0}")]
    BadSignature(String),
    #[error("the CA bundle's serial {got} is older than the last accepted ({last}): a replay")]
    Replayed { got: u64, last: u64 },
    #[error("the renewed certificate is unusable: {0}")]
    BadCert(String),
    #[error("the renewed certificate does not chain to a CA this agent trusts: {0}")]
    Untrusted(String),
    #[error("the renewed certificate names {0}, not exactly this agent")]
    WrongName(String),
    #[error("the renewed certificate is a CA certificate")]
    IsCa,
    #[error("the renewed certificate does not certify the key made for it")]
    WrongKey,
}

/// What a bundle's signature covers: [`DOMAIN`], NUL, sha256 of the PEM text, the serial
/// (u64 big-endian).
pub fn signed_message(ca_pem: &str, serial: u64) -> Vec<u8> {
    let mut message = DOMAIN.to_vec();
    message.push(0);
    message.extend_from_slice(&Sha256::digest(ca_pem.as_bytes()));
    message.extend_from_slice(&serial.to_be_bytes());
    message
}

/// `sha256:HEX` of a certificate's DER.
pub fn fingerprint(der: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(der)))
}

/// The DER of every certificate in a PEM text; refused when it holds none, or anything but
/// certificates.
pub fn certs(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|err| err.to_string())?;
        if block.label != "CERTIFICATE" {
            return Err(format!(
                "a {:?} block where certificates belong",
                block.label
            ));
        }
        X509Certificate::from_der(&block.contents).map_err(|err| err.to_string())?;
        out.push(block.contents);
    }
    if out.is_empty() {
        return Err("no certificate".into());
    }
    Ok(out)
}

/// Whether `signature` over `message` verifies with the public key of `cert_der` (ECDSA
/// P-256/P-384 with SHA-256/384, ASN.1 DER, or Ed25519).
pub fn verify_signature(cert_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use ring::signature as sig;
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return false;
    };
    let key = &cert.public_key().subject_public_key.data;
    let algorithms: [&dyn sig::VerificationAlgorithm; 3] = [
        &sig::ECDSA_P256_SHA256_ASN1,
        &sig::ECDSA_P384_SHA384_ASN1,
        &sig::ED25519,
    ];
    algorithms.iter().any(|alg| {
        sig::UnparsedPublicKey::new(*alg, key.as_ref())
            .verify(message, signature)
            .is_ok()
    })
}

/// The fingerprint of the certificate in `anchors_pem` whose key made `signature` over
/// `message`, if any.
pub fn signer_of(anchors_pem: &str, message: &[u8], signature: &[u8]) -> Option<String> {
    certs(anchors_pem)
        .ok()?
        .into_iter()
        .find(|der| verify_signature(der, message, signature))
        .map(|der| fingerprint(&der))
}

/// Checks a bundle against the anchors trusted now (`anchors_pem`, the agent's CA file) and
/// the serial of the last bundle accepted. Ok: the agent may write `bundle.ca_pem`.
pub fn check_bundle(
    bundle: &TrustBundle,
    anchors_pem: &str,
    last_serial: u64,
) -> Result<(), TrustError> {
    if bundle.signature.is_empty() || bundle.signer_fingerprint.is_empty() {
        return Err(TrustError::Unsigned);
    }
    let new = certs(&bundle.ca_pem).map_err(TrustError::BadBundle)?;
    for der in &new {
        if !is_ca(der) {
            return Err(TrustError::BadBundle("a certificate that is no CA".into()));
        }
    }
    let anchors = certs(anchors_pem).unwrap_or_default();
    let signer = anchors
        .iter()
        .find(|der| fingerprint(der) == bundle.signer_fingerprint)
        .ok_or_else(|| TrustError::UnknownSigner(bundle.signer_fingerprint.clone()))?;
    if !is_ca(signer)
        || !verify_signature(
            signer,
            &signed_message(&bundle.ca_pem, bundle.serial),
            &bundle.signature,
        )
    {
        return Err(TrustError::BadSignature(bundle.signer_fingerprint.clone()));
    }
    if bundle.serial < last_serial {
        return Err(TrustError::Replayed {
            got: bundle.serial,
            last: last_serial,
        });
    }
    Ok(())
}

fn is_ca(der: &[u8]) -> bool {
    X509Certificate::from_der(der).is_ok_and(|(_, cert)| cert.is_ca())
}

/// Checks a renewed certificate (PEM: the leaf, then any intermediates) before an agent
/// swaps its identity to it: it chains to a CA in `anchors_pem`, names `identity` and
/// nothing else, is no CA, and certifies `public_key` (the raw key the agent made).
pub fn check_renewed(
    cert_pem: &str,
    anchors_pem: &str,
    identity: &Identity,
    public_key: &[u8],
) -> Result<(), TrustError> {
    let chain = certs(cert_pem).map_err(TrustError::BadCert)?;
    let (_, leaf) =
        X509Certificate::from_der(&chain[0]).map_err(|err| TrustError::BadCert(err.to_string()))?;
    if leaf.is_ca() {
        return Err(TrustError::IsCa);
    }
    let mut names = Vec::new();
    for extension in leaf.extensions() {
        if let ParsedExtension::SubjectAlternativeName(san) = extension.parsed_extension() {
            for name in &san.general_names {
                names.push(match name {
                    GeneralName::URI(uri) => (*uri).to_string(),
                    other => format!("{other:?}"),
                });
            }
        }
    }
    if names != [identity.uri()] {
        return Err(TrustError::WrongName(names.join(", ")));
    }
    if leaf.public_key().subject_public_key.data.as_ref() != public_key {
        return Err(TrustError::WrongKey);
    }
    let mut roots = rustls::RootCertStore::empty();
    for der in certs(anchors_pem).unwrap_or_default() {
        let _ = roots.add(CertificateDer::from(der));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|err| TrustError::Untrusted(err.to_string()))?;
    // Judged at a time inside the certificate's own validity: what matters here is the
    // chain, and this host's clock may be minutes off the coordinator's either way (a
    // fresh certificate is not yet valid by a slow clock, and a short-lived one already
    // expired by a fast one). Whether it is valid now is the coordinator's call, by its
    // clock, at the next handshake.
    let now = UnixTime::now().as_secs();
    let not_before = u64::try_from(leaf.validity().not_before.timestamp()).unwrap_or(0);
    let not_after = u64::try_from(leaf.validity().not_after.timestamp()).unwrap_or(0);
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        now.clamp(not_before, not_after.max(not_before)),
    ));
    let intermediates: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    verifier
        .verify_client_cert(
            &CertificateDer::from(chain[0].as_slice()),
            &intermediates,
            at,
        )
        .map_err(|err| TrustError::Untrusted(err.to_string()))?;
    Ok(())
}
