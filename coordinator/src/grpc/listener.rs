//! The one TLS port: TLS 1.3 only, client certificates required and verified against the
//! fleet CA. Each accepted connection carries the identity read off its verified
//! certificate into every request (as [`PeerInfo`] in the request extensions).

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use convoy_proto::identity::Identity;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::server::Connected;
use tracing::{debug, warn};

use super::auth::PeerInfo;

/// A TLS handshake that has not finished by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; the accept loop waits beyond that (a connect storm of
/// thousands of agents is paced, not allowed to exhaust memory).
pub const MAX_CONCURRENT_HANDSHAKES: usize = 512;

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

/// Builds the server's TLS configuration from PEM files.
pub fn server_config(
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    let read_certs = |path: &Path| -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(|source| TlsSetupError::Read {
                path: path.display().to_string(),
                source,
            })?;
        if certs.is_empty() {
            return Err(TlsSetupError::NoCertificate(path.display().to_string()));
        }
        Ok(certs)
    };
    let mut roots = RootCertStore::empty();
    for ca_cert in read_certs(ca)? {
        roots
            .add(ca_cert)
            .map_err(|err| TlsSetupError::BadCa(err.to_string()))?;
    }
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|err| TlsSetupError::BadCa(err.to_string()))?;
    let chain = read_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsSetupError::Read {
        path: key.display().to_string(),
        source,
    })?;
    let mut config =
        rustls::ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(TlsSetupError::BadCert)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// A verified TLS connection and who is on the other end.
pub struct TlsConn {
    stream: TlsStream<TcpStream>,
    peer: PeerInfo,
}

impl Connected for TlsConn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.peer.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Accepts TCP connections, runs TLS handshakes (bounded in number and time) and yields
/// the connections whose client certificate verified and names a Convoy identity.
/// The accept loop ends when `shutdown` is cancelled.
pub fn incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) -> ReceiverStream<Result<TlsConn, io::Error>> {
    let (tx, rx) = mpsc::channel(256);
    let acceptor = TlsAcceptor::from(tls);
    let handshakes = Arc::new(Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
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
                    warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = handshakes.clone().acquire_owned().await else {
                break;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            loop_tracker.spawn(async move {
                let _permit = permit;
                let handshake = acceptor.accept(tcp).into_fallible();
                let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err((err, tcp))) => {
                        warn!(%remote, error = %err, "tls handshake refused");
                        linger(tcp).await;
                        return;
                    }
                    Err(_) => {
                        debug!(%remote, "tls handshake timed out");
                        return;
                    }
                };
                let identity = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|leaf| Identity::from_cert_der(leaf.as_ref()));
                let identity = match identity {
                    Some(Ok(identity)) => identity,
                    Some(Err(err)) => {
                        warn!(%remote, error = %err, "client certificate names no usable identity");
                        return;
                    }
                    None => {
                        warn!(%remote, "client sent no certificate");
                        return;
                    }
                };
                let peer = PeerInfo {
                    remote_addr: Some(remote),
                    identity,
                };
                let _ = tx.send(Ok(TlsConn { stream, peer })).await;
            });
        }
    });
    ReceiverStream::new(rx)
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
