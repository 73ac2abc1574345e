//! A fault-injecting TCP proxy for tests: it listens on a loopback port and forwards every
//! connection's bytes, untouched, to one upstream address (so TLS passes through it and the
//! client still verifies the upstream's real certificate). Faults are set at any time with
//! [`FaultProxy::set`] and apply to live connections at once:
//!
//! - `latency`: every chunk is delayed this long before it is written;
//! - `bandwidth`: bytes per second, per direction, per connection;
//! - `blackhole`: bytes are held in both directions, the connections stay open (half-open);
//! - `stall_up` / `stall_down`: a one-way partition (client → upstream or upstream → client
//!   bytes held, like packets dropped and retransmitted once the partition heals);
//! - `refuse`: new connections are closed at once.
//!
//! [`FaultProxy::reset_all`] sends a TCP RST on every live connection (SO_LINGER 0).
//! Everything is bounded: at most [`MAX_CONNECTIONS`] live connections, 16 KiB chunks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

/// Live connections one proxy keeps at most; more are closed on accept.
pub const MAX_CONNECTIONS: usize = 256;
const CHUNK: usize = 16 * 1024;

/// The faults in force; `Faults::default()` forwards faithfully.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    pub latency: Duration,
    /// Bytes per second per direction; `None` = unlimited.
    pub bandwidth: Option<u64>,
    pub blackhole: bool,
    /// Client → upstream bytes held.
    pub stall_up: bool,
    /// Upstream → client bytes held.
    pub stall_down: bool,
    pub refuse: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

impl Faults {
    fn holds(&self, direction: Direction) -> bool {
        self.blackhole
            || match direction {
                Direction::Up => self.stall_up,
                Direction::Down => self.stall_down,
            }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Control {
    faults: Faults,
    /// Bumped by `reset_all`: connections older than this generation are reset.
    resets: u64,
}

/// A running proxy; stopped (and every connection closed) on drop.
pub struct FaultProxy {
    addr: SocketAddr,
    control: watch::Sender<Control>,
    cancel: CancellationToken,
    connections: Arc<AtomicU64>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        Self::start_on(
            "127.0.0.1:0".parse().expect("a literal socket address"),
            upstream,
        )
        .await
    }

    /// Listens on `listen` (loopback) and forwards to `upstream`.
    pub async fn start_on(listen: SocketAddr, upstream: SocketAddr) -> std::io::Result<Self> {
        assert!(
            listen.ip().is_loopback(),
            "the fault proxy listens on loopback only"
        );
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (control, watcher) = watch::channel(Control::default());
        let cancel = CancellationToken::new();
        let connections = Arc::new(AtomicU64::new(0));
        tokio::spawn(accept_loop(
            listener,
            upstream,
            watcher,
            cancel.clone(),
            connections.clone(),
        ));
        Ok(Self {
            addr,
            control,
            cancel,
            connections,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the faults in force (live connections included).
    pub fn set(&self, faults: Faults) {
        self.control.send_modify(|control| control.faults = faults);
    }

    /// Forward faithfully again.
    pub fn heal(&self) {
        self.set(Faults::default());
    }

    pub fn faults(&self) -> Faults {
        self.control.borrow().faults
    }

    /// Resets (RST) every connection open now.
    pub fn reset_all(&self) {
        self.control.send_modify(|control| control.resets += 1);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    control: watch::Receiver<Control>,
    cancel: CancellationToken,
    connections: Arc<AtomicU64>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((client, _)) = accepted else {
            // Out of descriptors or similar: back off briefly instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        connections.fetch_add(1, Ordering::Relaxed);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        if control.borrow().faults.refuse {
            let _ = client.set_zero_linger();
            continue;
        }
        let control = control.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let _slot = slot;
            connection(client, upstream, control, cancel).await;
        });
    }
}

async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    control: watch::Receiver<Control>,
    cancel: CancellationToken,
) {
    let born = control.borrow().resets;
    let Ok(server) = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(upstream))
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
    else {
        let _ = client.set_zero_linger();
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let mut watcher = control.clone();
    let reset = tokio::select! {
        () = cancel.cancelled() => true,
        // Also returns when the proxy's control is dropped.
        _ = watcher.wait_for(|c| c.resets != born) => true,
        // One direction ending (EOF or error) ends the connection once the other has
        // ended too: good enough for a test proxy.
        _ = async {
            tokio::join!(
                pump(&mut client_read, &mut server_write, Direction::Up, control.clone()),
                pump(&mut server_read, &mut client_write, Direction::Down, control.clone()),
            )
        } => false,
    };
    if reset {
        // SO_LINGER 0: closing sends RST instead of FIN.
        let _ = client_read.as_ref().set_zero_linger();
        let _ = server_read.as_ref().set_zero_linger();
    }
}

/// Copies `from` → `to` under the faults in force, until EOF or an error.
async fn pump(
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    direction: Direction,
    mut control: watch::Receiver<Control>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        // Held while a blackhole or a one-way partition is in force (not reading further
        // either, so TCP's own flow control pushes back on the sender).
        let faults = control
            .wait_for(|c| !c.faults.holds(direction))
            .await
            .map_err(|_| std::io::Error::other("proxy stopped"))?
            .faults;
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        if let Some(rate) = faults.bandwidth.filter(|rate| *rate > 0) {
            let micros = (n as u64).saturating_mul(1_000_000) / rate;
            tokio::time::sleep(Duration::from_micros(micros)).await;
        }
        to.write_all(&buf[..n]).await?;
    }
}

#[cfg(test)]
mod tests;
