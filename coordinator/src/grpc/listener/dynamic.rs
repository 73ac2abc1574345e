//! TLS material that may change while the listener runs (CA rotation): the CAs client
//! certificates must chain to, and the server's own certificate. The `ServerConfig` stays
//! the same; its verifier and certificate resolver read the current values on each
//! handshake, so live connections are untouched and the next handshake sees the change.

use std::sync::{Arc, PoisonError, RwLock};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use super::TlsSetupError;

/// The client verifier over the current trusted CAs.
#[derive(Debug)]
pub struct DynamicVerifier {
    inner: RwLock<Arc<dyn ClientCertVerifier>>,
    allow_unauthenticated: bool,
}

/// The server certificate presented now.
#[derive(Debug)]
pub struct DynamicCert {
    current: RwLock<Arc<CertifiedKey>>,
}

/// Both, and whether CA certificates go in the served chain (enrollment pins by them).
#[derive(Debug)]
pub struct TlsHandles {
    pub verifier: Arc<DynamicVerifier>,
    pub cert: Arc<DynamicCert>,
    enrollment: RwLock<Vec<CertificateDer<'static>>>,
    with_cas: bool,
}

pub(super) fn pem_certs(
    pem: &str,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsSetupError::Read {
            path: what.to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificate(what.to_string()));
    }
    Ok(certs)
}

fn verifier(
    cas: &[CertificateDer<'static>],
    allow_unauthenticated: bool,
) -> Result<Arc<dyn ClientCertVerifier>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    for ca in cas {
        roots
            .add(ca.clone())
            .map_err(|err| TlsSetupError::BadCa(err.to_string()))?;
    }
    let builder = WebPkiClientVerifier::builder(Arc::new(roots));
    let builder = if allow_unauthenticated {
        builder.allow_unauthenticated()
    } else {
        builder
    };
    builder
        .build()
        .map_err(|err| TlsSetupError::BadCa(err.to_string()))
}

fn certified(
    mut chain: Vec<CertificateDer<'static>>,
    cas: &[CertificateDer<'static>],
    key_pem: &str,
) -> Result<Arc<CertifiedKey>, TlsSetupError> {
    for ca in cas {
        if !chain.contains(ca) {
            chain.push(ca.clone());
        }
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|source| {
        TlsSetupError::Read {
            path: "server key".into(),
            source,
        }
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let certified =
        CertifiedKey::from_der(chain, key, &provider).map_err(TlsSetupError::BadCert)?;
    Ok(Arc::new(certified))
}

impl TlsHandles {
    /// From PEM: the trusted CAs, the server chain and its key.
    pub fn new(
        ca_pem: &str,
        cert_pem: &str,
        key_pem: &str,
        enrollment: bool,
    ) -> Result<Arc<Self>, TlsSetupError> {
        let cas = pem_certs(ca_pem, "CA bundle")?;
        let chain = pem_certs(cert_pem, "server certificate")?;
        let shown: &[CertificateDer<'static>] = if enrollment { &cas } else { &[] };
        Ok(Arc::new(Self {
            verifier: Arc::new(DynamicVerifier {
                inner: RwLock::new(verifier(&cas, enrollment)?),
                allow_unauthenticated: enrollment,
            }),
            cert: Arc::new(DynamicCert {
                current: RwLock::new(certified(chain, shown, key_pem)?),
            }),
            enrollment: RwLock::new(cas),
            with_cas: enrollment,
        }))
    }

    /// Trust these CAs (PEM bundle) from the next handshake on.
    pub fn set_trusted(&self, ca_pem: &str) -> Result<(), TlsSetupError> {
        let cas = pem_certs(ca_pem, "CA bundle")?;
        let new = verifier(&cas, self.verifier.allow_unauthenticated)?;
        *self
            .verifier
            .inner
            .write()
            .unwrap_or_else(PoisonError::into_inner) = new;
        *self
            .enrollment
            .write()
            .unwrap_or_else(PoisonError::into_inner) = cas;
        Ok(())
    }

    /// Present this certificate (with the trusted CAs, when enrollment is on) from the
    /// next handshake on.
    pub fn set_server(&self, cert_pem: &str, key_pem: &str) -> Result<(), TlsSetupError> {
        let chain = pem_certs(cert_pem, "server certificate")?;
        let cas = self
            .enrollment
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let shown: &[CertificateDer<'static>] = if self.with_cas { &cas } else { &[] };
        let certified = certified(chain, shown, key_pem)?;
        *self
            .cert
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = certified;
        Ok(())
    }
}

impl ResolvesServerCert for DynamicCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

impl DynamicVerifier {
    fn inner(&self) -> Arc<dyn ClientCertVerifier> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ClientCertVerifier for DynamicVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        !self.allow_unauthenticated
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // The trusted set may change; clients here hold one certificate each.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.inner()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner().supported_verify_schemes()
    }
}
