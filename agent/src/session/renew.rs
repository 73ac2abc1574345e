//! Certificate renewal over the live session (issue 14). When the Welcome says so (at 2/3
//! of the certificate's lifetime, timed by the coordinator's clock and measured here on the
//! monotonic clock, so a skewed host clock does not matter), the agent makes a fresh key
//! here, sends a CSR for its own identity, and on the answer writes the key (0600) and the
//! certificate, each by temp file + rename. The next connection uses them; the key never
//! leaves the host.
//!
//! The coordinator may also hand over a new CA bundle (CA rotation); it is written the same
//! way, to the agent config's `[tls] ca`.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use convoy_proto::identity::{AgentId, Identity};
use convoy_proto::v1::{AgentMessage, RenewRequest, Renewed, agent_message};

use crate::config::TlsFiles;

/// The renewal state of one agent: the key waiting for its certificate.
pub struct Renewal {
    tls: TlsFiles,
    agent_id: AgentId,
    pending: Mutex<Option<rcgen::KeyPair>>,
}

impl Renewal {
    pub fn new(tls: TlsFiles, agent_id: AgentId) -> Self {
        Self {
            tls,
            agent_id,
            pending: Mutex::new(None),
        }
    }

    /// A fresh key (kept here) and the request carrying its CSR.
    pub fn request(&self) -> Result<AgentMessage, String> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|err| err.to_string())?;
        let mut params = rcgen::CertificateParams::default();
        let uri = Identity::Agent(self.agent_id.clone()).uri();
        params.subject_alt_names = vec![rcgen::SanType::URI(
            uri.clone()
                .try_into()
                .map_err(|_| format!("invalid SAN {uri}"))?,
        )];
        let csr = params
            .serialize_request(&key)
            .map_err(|err| err.to_string())?;
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(key);
        Ok(AgentMessage {
            body: Some(agent_message::Body::Renew(RenewRequest {
                csr_der: csr.der().to_vec(),
            })),
        })
    }

    /// Checks the answer (our identity, our pending key) and writes key and certificate.
    /// Nothing is written unless both checks pass.
    pub fn accept(&self, renewed: Renewed) -> Result<(), String> {
        if !renewed.error.is_empty() {
            return Err(format!("the coordinator refused: {}", renewed.error));
        }
        let key = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or("a certificate arrived without a pending request")?;
        let identity = Identity::from_cert_pem(renewed.cert_pem.as_bytes())
            .map_err(|err| format!("unusable certificate: {err}"))?;
        if identity != Identity::Agent(self.agent_id.clone()) {
            return Err(format!("the certificate is for {identity}, not this agent"));
        }
        let leaf = pem::parse(renewed.cert_pem.as_bytes())
            .map_err(|err| format!("unusable certificate: {err}"))?;
        let public = key.public_key_raw();
        if !leaf
            .contents()
            .windows(public.len())
            .any(|window| window == public)
        {
            return Err("the certificate does not certify the key made for it".into());
        }
        // Key first: a crash between the two renames leaves a pair that does not match,
        // which the next start reports, never a certificate for a lost key in use.
        replace(&self.tls.key, key.serialize_pem().as_bytes(), 0o600)?;
        replace(&self.tls.cert, renewed.cert_pem.as_bytes(), 0o644)?;
        if !renewed.ca_pem.is_empty() {
            self.trust(&renewed.ca_pem)?;
        }
        Ok(())
    }

    /// Writes a CA bundle to trust from the next connection on; false if unchanged.
    pub fn trust(&self, ca_pem: &str) -> Result<bool, String> {
        if std::fs::read(&self.tls.ca).is_ok_and(|current| current == ca_pem.as_bytes()) {
            return Ok(false);
        }
        let parsed = pem::parse_many(ca_pem.as_bytes()).map_err(|err| err.to_string())?;
        if parsed.is_empty() || parsed.iter().any(|p| p.tag() != "CERTIFICATE") {
            return Err("the CA bundle holds no certificate".into());
        }
        replace(&self.tls.ca, ca_pem.as_bytes(), 0o644)?;
        Ok(true)
    }
}

/// Replaces `path` by a temp file in the same directory, synced, then renamed.
fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), String> {
    let fail = |err: std::io::Error| format!("cannot write {}: {err}", path.display());
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
