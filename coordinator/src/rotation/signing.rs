//! The rotation's signed trust bundles (see [`convoy_proto::trust`]): every bundle the
//! coordinator gives agents is signed by the key of a CA the agents trust at that moment,
//! with a serial that only grows. The coordinator signs with an anchor's key only when it
//! holds it (its issuing CA is that anchor itself, as for every CA a rotation made); when it
//! holds none (an intermediate issues, the root is offline), `start` takes a signature made
//! off the coordinator over the bundle `prepare` returned.

use std::path::Path;

use convoy_proto::trust;
use convoy_proto::v1::TrustBundle;
use rcgen::SigningKey as _;
use serde::{Deserialize, Serialize};

use super::{RotationError, Side, failed, read};

/// A bundle as signed for agents (persisted in `rotation.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Signed {
    pub ca_pem: String,
    pub serial: u64,
    /// Hex.
    pub signature: String,
    pub signer: String,
}

impl Signed {
    /// The bundle message for agents.
    pub fn message(&self, renew_now: bool) -> TrustBundle {
        TrustBundle {
            ca_pem: self.ca_pem.clone(),
            renew_now,
            signature: hex::decode(&self.signature).unwrap_or_default(),
            signer_fingerprint: self.signer.clone(),
            serial: self.serial,
        }
    }
}

/// The serial for a new bundle: the time in milliseconds, or one more than the last.
pub fn next_serial(last: Option<&Signed>) -> u64 {
    let now = u64::try_from(crate::clock::now_unix_ms()).unwrap_or(0);
    last.map_or(now, |last| now.max(last.serial.saturating_add(1)))
}

/// The anchor certificate (DER) of `side` and its key, when the coordinator holds that key:
/// its issuing CA is the anchor itself.
fn held_anchor(side: &Side) -> Option<(Vec<u8>, rcgen::KeyPair)> {
    let anchors = trust::certs(&read(&side.trust).ok()?).ok()?;
    let issuer = trust::certs(&read(&side.issuer_cert).ok()?).ok()?;
    let issuer = issuer.into_iter().next()?;
    if !anchors.contains(&issuer) {
        return None;
    }
    let key = rcgen::KeyPair::from_pem(&read(&side.issuer_key).ok()?).ok()?;
    Some((issuer, key))
}

/// Whether the coordinator holds the key of `side`'s anchor.
pub fn holds_anchor(side: &Side) -> bool {
    held_anchor(side).is_some()
}

/// Signs `ca_pem` with the key of one of `sides`' anchors that is in `trusted_pem` (what
/// agents trust now).
pub fn sign(
    ca_pem: &str,
    serial: u64,
    trusted_pem: &str,
    sides: &[&Side],
) -> Result<Signed, RotationError> {
    let trusted = trust::certs(trusted_pem).unwrap_or_default();
    for side in sides {
        let Some((der, key)) = held_anchor(side) else {
            continue;
        };
        if !trusted.contains(&der) {
            continue;
        }
        let signature = key
            .sign(&trust::signed_message(ca_pem, serial))
            .map_err(failed)?;
        return Ok(Signed {
            ca_pem: ca_pem.into(),
            serial,
            signature: hex::encode(signature),
            signer: trust::fingerprint(&der),
        });
    }
    Err(RotationError::Refused(
        "the coordinator holds the key of no CA the agents trust now (its [ca] is an intermediate): sign the bundle with the root key, `convoy ca rotate start --root-key FILE`".into(),
    ))
}

/// A signature made elsewhere (`--root-key`): accepted if a CA in `trusted_pem` made it.
pub fn external(
    ca_pem: &str,
    serial: u64,
    signature: &[u8],
    trusted_pem: &str,
) -> Result<Signed, RotationError> {
    let signer = trust::signer_of(trusted_pem, &trust::signed_message(ca_pem, serial), signature)
        .ok_or_else(|| {
            RotationError::Refused(
                "the bundle signature does not verify with the key of a CA the agents trust now (wrong --root-key, or a bundle other than the one prepared)".into(),
            )
        })?;
    Ok(Signed {
        ca_pem: ca_pem.into(),
        serial,
        signature: hex::encode(signature),
        signer,
    })
}

/// Signs a bundle with a root key file (PEM) off the coordinator: what `convoy ca rotate
/// start --root-key` sends.
pub fn sign_with_key_file(key: &Path, ca_pem: &str, serial: u64) -> Result<Vec<u8>, String> {
    let pem = std::fs::read_to_string(key).map_err(|err| format!("{}: {err}", key.display()))?;
    let key = rcgen::KeyPair::from_pem(&pem).map_err(|err| format!("{}: {err}", key.display()))?;
    key.sign(&trust::signed_message(ca_pem, serial))
        .map_err(|err| err.to_string())
}
