//! TLS rules shared by every Convoy program: one crypto provider, and telling a rejected
//! certificate apart from an unreachable peer when a call fails.

use std::error::Error as StdError;

/// Installs rustls' ring provider as the process default. Call once at start-up, before
/// any TLS is set up: with two providers linked in, rustls refuses to pick one on its own.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Why a call to the other side failed, as far as an operator needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkFailure {
    /// The TLS handshake failed: a certificate was refused (by either side), expired, or
    /// from another CA. Retrying fast will not help; an operator must fix certificates.
    Tls(String),
    /// The peer could not be reached or the connection dropped.
    Unreachable(String),
}

/// Walks an error's source chain and classifies it.
pub fn classify(err: &(dyn StdError + 'static)) -> LinkFailure {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    let mut deepest = err.to_string();
    while let Some(error) = current {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return LinkFailure::Tls(tls.to_string());
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return LinkFailure::Tls(tls.to_string());
            }
        }
        deepest = error.to_string();
        current = error.source();
    }
    // Some layers flatten the rustls error into text.
    let lower = deepest.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("alert") || lower.contains("handshake") {
        LinkFailure::Tls(deepest)
    } else {
        LinkFailure::Unreachable(deepest)
    }
}
