//! A verified TLS connection as tonic serves it: the stream, the caller it proved to be, and
//! the revocation that cuts it.

use super::*;

/// A verified TLS connection and who is on the other end.
pub struct TlsConn {
    pub(super) stream: TlsStream<TcpStream>,
    pub(super) peer: Caller,
    /// Resolves when a revocation matches this connection's certificate.
    pub(super) cut: Option<Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>>,
    pub(super) _live: Option<LiveGuard>,
}

impl TlsConn {
    /// An error once the connection's certificate has been revoked. Polled before every
    /// read: hyper always has a read pending on a connection, so the revocation wakes it
    /// and the failed read closes the connection and every stream on it.
    fn check_cut(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if let Some(cut) = &mut self.cut {
            if cut.as_mut().poll(cx).is_ready() {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "client certificate revoked",
                ));
            }
        }
        Ok(())
    }
}

impl Connected for TlsConn {
    type ConnectInfo = Caller;

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
        let this = self.get_mut();
        if let Err(err) = this.check_cut(cx) {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(err) = this.check_cut(cx) {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
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
