//! The one TLS port: TLS 1.3 only, client certificates required and verified against the
//! fleet CA. Each accepted connection carries the identity read off its verified
//! certificate into every request (as [`PeerInfo`] in the request extensions).
//!
//! Until its handshake is done a client is unauthenticated, so what it may hold is
//! bounded: the ClientHello must be in within `first_record_timeout` (3 s) and the
//! handshake done within `handshake_timeout` (10 s); pending handshakes are capped in
//! total and per source IP ([`pending`]), and the accept loop never waits for a free slot:
//! the oldest pending handshake makes room. What this drops is logged at most once per
//! second per kind ([`log_limit`]).
//!
//! Revocation ([`crate::revocation`]): the verifier ([`verifier`]) refuses a revoked
//! certificate at the handshake, and every verified connection is registered by its
//! certificate and fails its next read or write (closing every stream on it) as soon as
//! a revocation matches it.

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use convoy_proto::identity::Identity;
use rustls::server::Acceptor;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::server::Connected;
use tracing::warn;

use self::log_limit::ListenerLogs;
use self::pending::{Pending, Shed, ShedReason};
use super::auth::{Caller, PeerInfo};
use crate::config::HandshakeLimits;
use crate::revocation::{LiveGuard, Revocations, cert_facts};

mod conn;
pub mod dynamic;
mod log_limit;
mod pending;
#[cfg(test)]
mod tests;
pub mod verifier;

pub use conn::TlsConn;

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{0} holds no certificate")]
    NoCertificate(String),
    #[error("invalid CA certificate: {0}")]
    BadCa(String),
    #[error("invalid server certificate or key: {0}")]
    BadCert(rustls::Error),
}

/// Builds the server's TLS configuration from PEM files (no revocation checks).
pub fn server_config(
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    server_config_revoking(ca, cert, key, None, false)
}

/// Builds the server's TLS configuration from PEM files; with `revocations`, the client
/// verifier refuses revoked certificates; with `enrollment`, a client may connect without
/// a certificate (it may then call `Enroll` alone) and the CA is sent in the chain, so that
/// a new host can check it against the fingerprint it was given.
pub fn server_config_revoking(
    ca: &Path,
    cert: &Path,
    key: &Path,
    revocations: Option<Arc<Revocations>>,
    enrollment: bool,
) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    server_config_dynamic(ca, cert, key, revocations, enrollment).map(|(config, _)| config)
}

/// [`server_config_revoking`], with the handles that change the trusted CAs and the
/// server certificate while the listener runs (CA rotation, see `dynamic`).
pub fn server_config_dynamic(
    ca: &Path,
    cert: &Path,
    key: &Path,
    revocations: Option<Arc<Revocations>>,
    enrollment: bool,
) -> Result<(Arc<rustls::ServerConfig>, Arc<dynamic::TlsHandles>), TlsSetupError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|err| TlsSetupError::Read {
            path: path.display().to_string(),
            source: rustls::pki_types::pem::Error::Io(err),
        })
    };
    let handles = dynamic::TlsHandles::new(&read(ca)?, &read(cert)?, &read(key)?, enrollment)?;
    let mut verifier: Arc<dyn rustls::server::danger::ClientCertVerifier> =
        handles.verifier.clone();
    if let Some(revocations) = revocations {
        verifier = Arc::new(verifier::RevocationVerifier {
            inner: verifier,
            revocations,
        });
    }
    let mut config =
        rustls::ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(handles.cert.clone());
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok((Arc::new(config), handles))
}

/// Accepts TCP connections, runs TLS handshakes (bounded in number, per source IP and in
/// time, see [`HandshakeLimits`]) and yields the connections whose client certificate
/// verified and names a Convoy identity. Accepting never waits for a free slot: a new
/// connection sheds the oldest pending handshake of its IP (at the per-IP cap) or of all
/// (at the global cap). The accept loop ends when `shutdown` is cancelled.
pub fn incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    limits: HandshakeLimits,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) -> ReceiverStream<Result<TlsConn, io::Error>> {
    incoming_revoking(
        listener,
        tls,
        limits,
        None,
        Default::default(),
        shutdown,
        tracker,
    )
}

/// [`incoming`], with each verified connection registered in `revocations` and closed
/// when a revocation matches its certificate, and each operator's `[[policies]]` scope
/// attached to its identity.
pub fn incoming_revoking(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    limits: HandshakeLimits,
    revocations: Option<Arc<Revocations>>,
    policies: crate::policy::SharedPolicies,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) -> ReceiverStream<Result<TlsConn, io::Error>> {
    let (tx, rx) = mpsc::channel(256);
    let pending = Arc::new(Mutex::new(Pending::new(
        limits.pending_handshakes,
        limits.pending_handshakes_per_ip,
    )));
    let logs = Arc::new(ListenerLogs::default());
    let loop_tracker = tracker.clone();
    tracker.spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (tcp, remote) = match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    if let Some(suppressed) = logs.accept_failed.admit() {
                        warn!(error = %err, suppressed, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let admitted = lock(&pending).admit(remote.ip());
            if let Some(shed) = admitted.shed {
                log_shed(&logs, shed, &limits);
            }
            let slot = Slot {
                pending: pending.clone(),
                id: admitted.id,
            };
            let _ = tcp.set_nodelay(true);
            let handshake = Handshake {
                tls: tls.clone(),
                limits,
                logs: logs.clone(),
                remote,
                revocations: revocations.clone(),
                policies: policies.clone(),
            };
            let tx = tx.clone();
            loop_tracker.spawn(async move {
                let stream = tokio::select! {
                    () = admitted.cancel.cancelled() => return,
                    stream = handshake.run(tcp, &slot) => stream,
                };
                drop(slot);
                if let Some(conn) = stream.and_then(|stream| handshake.verified(stream)) {
                    let _ = tx.send(Ok(conn)).await;
                }
            });
            // Let the new handshake read its ClientHello (a real client's is usually in
            // already) before the next accept, which could shed it if it were still
            // waiting for one: a spawned task runs next on this worker.
            tokio::task::yield_now().await;
        }
    });
    ReceiverStream::new(rx)
}

/// A pending handshake's place in the table, freed when the handshake ends (or its task
/// is dropped).
struct Slot {
    pending: Arc<Mutex<Pending>>,
    id: u64,
}

impl Slot {
    fn hello_received(&self) {
        lock(&self.pending).hello_received(self.id);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.pending).release(self.id);
    }
}

fn lock(pending: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    // Every operation on the table leaves it consistent before it can panic (none do):
    // a poisoned lock is still usable.
    pending.lock().unwrap_or_else(PoisonError::into_inner)
}

fn log_shed(logs: &ListenerLogs, shed: Shed, limits: &HandshakeLimits) {
    match shed.reason {
        ShedReason::SameIp => {
            if let Some(suppressed) = logs.shed_same_ip.admit() {
                warn!(
                    ip = %shed.ip,
                    suppressed,
                    limit = limits.pending_handshakes_per_ip,
                    "too many pending tls handshakes from one address: dropped its oldest"
                );
            }
        }
        ShedReason::Full => {
            if let Some(suppressed) = logs.shed_full.admit() {
                warn!(
                    ip = %shed.ip,
                    suppressed,
                    limit = limits.pending_handshakes,
                    "too many pending tls handshakes: dropped the oldest"
                );
            }
        }
    }
}

/// One connection's TLS handshake.
struct Handshake {
    tls: Arc<rustls::ServerConfig>,
    limits: HandshakeLimits,
    logs: Arc<ListenerLogs>,
    remote: SocketAddr,
    revocations: Option<Arc<Revocations>>,
    policies: crate::policy::SharedPolicies,
}

impl Handshake {
    /// The handshake under its two deadlines: the first record (the ClientHello) within
    /// `first_record_timeout`, all of it within `handshake_timeout`, both from accept.
    /// A refused client gets its alert (see [`linger`]).
    async fn run(&self, tcp: TcpStream, slot: &Slot) -> Option<TlsStream<TcpStream>> {
        let remote = self.remote;
        let logs = &self.logs;
        let accepted = Instant::now();
        let deadline = accepted + self.limits.handshake_timeout;
        let first_record = (accepted + self.limits.first_record_timeout).min(deadline);
        let mut hello = LazyConfigAcceptor::new(Acceptor::default(), tcp);
        let start = match tokio::time::timeout_at(first_record, &mut hello).await {
            Ok(Ok(start)) => {
                slot.hello_received();
                start
            }
            Ok(Err(err)) => {
                if let Some(suppressed) = logs.refused.admit() {
                    warn!(%remote, error = %err, suppressed, "tls handshake refused");
                }
                if let Some(tcp) = hello.take_io() {
                    linger(tcp).await;
                }
                return None;
            }
            Err(_) => {
                if let Some(suppressed) = logs.first_record_timeout.admit() {
                    warn!(
                        %remote,
                        suppressed,
                        timeout = ?self.limits.first_record_timeout,
                        "no tls client hello in time: connection dropped"
                    );
                }
                return None;
            }
        };
        let handshake = start.into_stream(self.tls.clone()).into_fallible();
        match tokio::time::timeout_at(deadline, handshake).await {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err((err, tcp))) => {
                if let Some(suppressed) = logs.refused.admit() {
                    warn!(%remote, error = %err, suppressed, "tls handshake refused");
                }
                linger(tcp).await;
                None
            }
            Err(_) => {
                if let Some(suppressed) = logs.handshake_timeout.admit() {
                    warn!(
                        %remote,
                        suppressed,
                        timeout = ?self.limits.handshake_timeout,
                        "tls handshake not finished in time: connection dropped"
                    );
                }
                None
            }
        }
    }

    /// The connection with the identity its verified certificate names, or None (logged)
    /// when it names none.
    fn verified(&self, stream: TlsStream<TcpStream>) -> Option<TlsConn> {
        let remote = self.remote;
        let leaf = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first());
        let identity = leaf.map(|leaf| Identity::from_cert_der(leaf.as_ref()));
        let identity = match identity {
            Some(Ok(identity)) => identity,
            Some(Err(err)) => {
                if let Some(suppressed) = self.logs.no_identity.admit() {
                    warn!(%remote, error = %err, suppressed, "client certificate names no usable identity");
                }
                return None;
            }
            // Only possible when enrollment is on: the verifier refuses it otherwise.
            None => {
                return Some(TlsConn {
                    stream,
                    peer: Caller::Anonymous(remote),
                    cut: None,
                    _live: None,
                });
            }
        };
        let facts = leaf.and_then(|leaf| cert_facts(leaf.as_ref()).ok());
        let cert = facts.clone().map(Arc::new);
        let live = match (&self.revocations, facts) {
            (Some(revocations), Some(facts)) => {
                let Some(live) = revocations.connected(facts) else {
                    if let Some(suppressed) = self.logs.refused.admit() {
                        warn!(%remote, suppressed, "client certificate revoked during the handshake: connection closed");
                    }
                    return None;
                };
                Some(live)
            }
            _ => None,
        };
        let scope = match &identity {
            Identity::Operator { name, .. } => {
                let policies = self
                    .policies
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                crate::policy::Scope::for_operator(&policies, name).map(Arc::new)
            }
            _ => None,
        };
        let peer = PeerInfo {
            remote_addr: Some(remote),
            identity,
            scope,
            cert,
        };
        let cut = live
            .as_ref()
            .map(|live| Box::pin(live.cut.clone().cancelled_owned()));
        Some(TlsConn {
            stream,
            peer: Caller::Verified(peer),
            cut,
            _live: live,
        })
    }
}

/// After a refused handshake the alert has been written; close our side and drain what
/// the client still sends for a moment. Dropping a socket with unread data makes the
/// kernel send a reset, which can destroy the alert before the client reads it, and the
/// client would see "connection reset" instead of "certificate refused".
async fn linger(mut tcp: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}
