//! Release signing: what exactly is signed, and the key files `convoy release keygen`
//! writes (`NAME.key`: PKCS#8 PEM private key, `NAME.pub`: SPKI PEM public key, ed25519).
//!
//! The operator signs on their own machine; the coordinator only stores and forwards the
//! signature; an agent configured with public keys refuses anything not signed by one of
//! them. So a compromised coordinator cannot push new code to such a host.

use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not an ed25519 {what} key in PEM")]
    BadKey { path: String, what: &'static str },
    #[error("cannot encode the key: {0}")]
    Encode(String),
    #[error("the release is not signed, and this host requires a signature")]
    Unsigned,
    #[error("bad signature: not made by any trusted release key ({trusted})")]
    Untrusted { trusted: String },
}

/// The bytes a release signature covers: app, version and artifact digest together, so
/// a signature cannot be replayed onto another app, version or artifact.
pub fn signed_message(app: &str, version: &str, sha256_hex: &str) -> Vec<u8> {
    format!("convoy-release-v1\n{app}\n{version}\n{sha256_hex}").into_bytes()
}

/// A new key pair as (private PEM, public PEM), from 32 random bytes.
pub fn generate(seed: [u8; 32]) -> Result<(String, String), SigningError> {
    let key = SigningKey::from_bytes(&seed);
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|err| SigningError::Encode(err.to_string()))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|err| SigningError::Encode(err.to_string()))?;
    Ok((private.to_string(), public))
}

fn read(path: &Path) -> Result<String, SigningError> {
    std::fs::read_to_string(path).map_err(|source| SigningError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// A private key file, for signing.
pub fn load_private(path: &Path) -> Result<SigningKey, SigningError> {
    SigningKey::from_pkcs8_pem(&read(path)?).map_err(|_| SigningError::BadKey {
        path: path.display().to_string(),
        what: "private",
    })
}

/// A public key file, for verifying.
pub fn load_public(path: &Path) -> Result<VerifyingKey, SigningError> {
    VerifyingKey::from_public_key_pem(&read(path)?).map_err(|_| SigningError::BadKey {
        path: path.display().to_string(),
        what: "public",
    })
}

pub fn sign(key: &SigningKey, app: &str, version: &str, sha256_hex: &str) -> Vec<u8> {
    key.sign(&signed_message(app, version, sha256_hex))
        .to_bytes()
        .to_vec()
}

/// Checks a release signature against trusted keys (named for messages).
pub fn verify(
    trusted: &[(String, VerifyingKey)],
    app: &str,
    version: &str,
    sha256_hex: &str,
    signature: &[u8],
) -> Result<String, SigningError> {
    if signature.is_empty() {
        return Err(SigningError::Unsigned);
    }
    let untrusted = || SigningError::Untrusted {
        trusted: trusted
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let signature = Signature::from_slice(signature).map_err(|_| untrusted())?;
    let message = signed_message(app, version, sha256_hex);
    trusted
        .iter()
        .find(|(_, key)| key.verify(&message, &signature).is_ok())
        .map(|(name, _)| name.clone())
        .ok_or_else(untrusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip_through_pem_files() {
        let dir = std::env::temp_dir().join(format!("convoy-signing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (private, public) = generate([7; 32]).unwrap();
        assert!(private.contains("BEGIN PRIVATE KEY") && public.contains("BEGIN PUBLIC KEY"));
        std::fs::write(dir.join("k.key"), &private).unwrap();
        std::fs::write(dir.join("k.pub"), &public).unwrap();
        let key = load_private(&dir.join("k.key")).unwrap();
        let trusted = vec![("k".to_string(), load_public(&dir.join("k.pub")).unwrap())];
        let signature = sign(&key, "web", "1.0", "ab");
        assert_eq!(
            verify(&trusted, "web", "1.0", "ab", &signature).unwrap(),
            "k"
        );
        // Bound to app, version and digest.
        assert!(verify(&trusted, "web", "1.1", "ab", &signature).is_err());
        assert!(verify(&trusted, "api", "1.0", "ab", &signature).is_err());
        assert!(verify(&trusted, "web", "1.0", "cd", &signature).is_err());
        assert!(matches!(
            verify(&trusted, "web", "1.0", "ab", &[]),
            Err(SigningError::Unsigned)
        ));
        let (_, other_public) = generate([8; 32]).unwrap();
        std::fs::write(dir.join("o.pub"), other_public).unwrap();
        let other = vec![("o".to_string(), load_public(&dir.join("o.pub")).unwrap())];
        assert!(matches!(
            verify(&other, "web", "1.0", "ab", &signature),
            Err(SigningError::Untrusted { .. })
        ));
        assert!(load_public(&dir.join("k.key")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
