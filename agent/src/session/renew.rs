//! Certificate renewal over the live session (issue 14). When the Welcome says so (at 2/3
//! of the certificate's lifetime, timed by the coordinator's clock and measured here on the
//! monotonic clock, so a skewed host clock does not matter), the agent makes a fresh key
//! here, sends a CSR for its own identity, and on the answer writes the key (0600) and the
//! certificate, each by temp file + rename. The next connection uses them; the key never
//! leaves the host.
//!
//! The coordinator may also hand over a new CA bundle (CA rotation); it is written the same
//! way, to the agent config's `[tls] ca`, but only if it is signed by the key of a CA in
//! that file as it is now, with a serial not below the last one accepted (kept beside it in
//! `<ca>.serial`): see [`convoy_proto::trust`]. A renewed certificate is written only if it
//! chains to a CA in that file (after any bundle that came with it), names exactly this
//! agent, is no CA, and certifies the key made here. A coordinator that is compromised
//! cannot make the agent trust another CA, nor swap its identity for a foreign one.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use convoy_proto::identity::{AgentId, Identity};
use convoy_proto::v1::{AgentMessage, RenewRequest, Renewed, TrustBundle, agent_message};

use crate::config::TlsFiles;

/// Why a renewal step or a CA bundle was refused (nothing was written); the text is what the
/// agent logs.
#[derive(Debug, thiserror::Error)]
pub(super) enum RenewError {
    /// Making the key or the CSR failed.
    #[error("{0}")]
    Csr(String),
    #[error("invalid SAN {0}")]
    San(String),
    #[error("the coordinator refused: {0}")]
    Refused(String),
    #[error("a certificate arrived without a pending request")]
    NotPending,
    #[error("cannot read {}: {source}", path.display())]
    ReadCa {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The certificate or the bundle does not pass [`convoy_proto::trust`]'s checks.
    #[error("{0}")]
    Untrusted(String),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// The renewal state of one agent: the key waiting for its certificate.
pub(super) struct Renewal {
    tls: TlsFiles,
    agent_id: AgentId,
    pending: Mutex<Option<rcgen::KeyPair>>,
}

impl Renewal {
    pub(super) fn new(tls: TlsFiles, agent_id: AgentId) -> Self {
        Self {
            tls,
            agent_id,
            pending: Mutex::new(None),
        }
    }

    /// A fresh key (kept here) and the request carrying its CSR.
    pub(super) fn request(&self) -> Result<AgentMessage, RenewError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|err| RenewError::Csr(err.to_string()))?;
        let mut params = rcgen::CertificateParams::default();
        let uri = Identity::Agent(self.agent_id.clone()).uri();
        params.subject_alt_names = vec![rcgen::SanType::URI(
            uri.clone()
                .try_into()
                .map_err(|_| RenewError::San(uri.clone()))?,
        )];
        let csr = params
            .serialize_request(&key)
            .map_err(|err| RenewError::Csr(err.to_string()))?;
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(key);
        Ok(AgentMessage {
            body: Some(agent_message::Body::Renew(RenewRequest {
                csr_der: csr.der().to_vec(),
            })),
        })
    }

    /// Checks the answer (a signed bundle first, if any; then our identity alone, our
    /// pending key, a chain to a CA trusted now) and writes key and certificate. Nothing is
    /// written unless every check passes.
    pub(super) fn accept(&self, renewed: Renewed) -> Result<(), RenewError> {
        if !renewed.error.is_empty() {
            return Err(RenewError::Refused(renewed.error));
        }
        let key = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or(RenewError::NotPending)?;
        if let Some(bundle) = renewed.trust.as_ref().filter(|b| !b.ca_pem.is_empty()) {
            // A bundle refused here leaves the current anchors, which the certificate must
            // then chain to.
            if let Err(err) = self.trust(bundle) {
                tracing::warn!(error = %err, "CA bundle sent with the renewed certificate refused");
            }
        }
        let anchors =
            std::fs::read_to_string(&self.tls.ca).map_err(|source| RenewError::ReadCa {
                path: self.tls.ca.clone(),
                source,
            })?;
        convoy_proto::trust::check_renewed(
            &renewed.cert_pem,
            &anchors,
            &Identity::Agent(self.agent_id.clone()),
            key.public_key_raw(),
        )
        .map_err(|err| RenewError::Untrusted(err.to_string()))?;
        // Key first: a crash between the two renames leaves a pair that does not match,
        // which the next start reports, never a certificate for a lost key in use.
        replace(&self.tls.key, key.serialize_pem().as_bytes(), 0o600)?;
        replace(&self.tls.cert, renewed.cert_pem.as_bytes(), 0o644)?;
        Ok(())
    }

    /// Where the serial of the last bundle accepted is kept.
    fn serial_path(&self) -> std::path::PathBuf {
        serial_path(&self.tls.ca)
    }

    /// Writes a CA bundle to trust from the next connection on, if it is signed by a CA
    /// trusted now and not older than the last one; false if unchanged (or empty).
    pub(super) fn trust(&self, bundle: &TrustBundle) -> Result<bool, RenewError> {
        if bundle.ca_pem.is_empty() {
            return Ok(false);
        }
        let current =
            std::fs::read_to_string(&self.tls.ca).map_err(|source| RenewError::ReadCa {
                path: self.tls.ca.clone(),
                source,
            })?;
        let last = read_serial(&self.tls.ca);
        let checked = convoy_proto::trust::check_bundle(bundle, &current, last);
        if current.as_bytes() == bundle.ca_pem.as_bytes() {
            // Nothing would change (the Welcome repeats the bundle in force, signed by a CA
            // this agent may no longer trust): no refusal to report; a valid signature
            // still records its serial.
            if checked.is_ok() && bundle.serial > last {
                replace(
                    &self.serial_path(),
                    bundle.serial.to_string().as_bytes(),
                    0o644,
                )?;
            }
            return Ok(false);
        }
        checked.map_err(|err| RenewError::Untrusted(err.to_string()))?;
        if bundle.serial > last {
            // Serial first: a crash before the bundle's rename leaves the old bundle with a
            // newer serial, and the coordinator sends this bundle again.
            replace(
                &self.serial_path(),
                bundle.serial.to_string().as_bytes(),
                0o644,
            )?;
        }
        replace(&self.tls.ca, bundle.ca_pem.as_bytes(), 0o644)?;
        Ok(true)
    }
}

/// `<ca>.serial`: the serial of the last signed bundle accepted for the CA file `ca`.
pub fn serial_path(ca: &Path) -> std::path::PathBuf {
    let mut name = ca.as_os_str().to_owned();
    name.push(".serial");
    std::path::PathBuf::from(name)
}

/// The serial of the last bundle accepted for `ca` (0: none, or unreadable).
fn read_serial(ca: &Path) -> u64 {
    std::fs::read_to_string(serial_path(ca))
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

/// Replaces `path` by a temp file in the same directory, synced, then renamed.
fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), RenewError> {
    let fail = |source: std::io::Error| RenewError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.renew"));
    let _ = std::fs::remove_file(&temp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .map_err(fail)?;
    file.write_all(contents).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&temp, path).map_err(fail)?;
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests;
