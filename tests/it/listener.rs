//! Unauthenticated clients cannot starve the listener (issue 12, finding 7): a client
//! that sends nothing is dropped after the first-record deadline, one that sends its
//! ClientHello and stalls after the handshake deadline, one source address cannot hold
//! more than its share of pending handshakes, and a full table of pending handshakes
//! sheds its oldest so operators and agents still get in. The limits are made small
//! through the config (`[limits]`), so no test needs thousands of sockets.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use convoy_coordinator::config::HandshakeLimits;
use convoy_proto::identity::Role;
use convoy_proto::v1::{ListAgentsRequest, coordinator_message};
use convoy_tests::{TestCoordinator, TestPki, channel, wait_for};
use tokio::net::TcpSocket;
use tokio::time::Instant;

use crate::support::{WAIT, hello, raw_session};

/// How long a real client's call may take while the listener is flooded.
const PROMPT: Duration = Duration::from_secs(2);

/// A TCP connection from `source` (127.0.0.x) that never finishes TLS, as a plain
/// non-blocking std socket so it can be checked without a runtime's readiness cache.
async fn idle_from(coordinator: SocketAddr, source: u8) -> std::net::TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, source)),
            0,
        ))
        .expect("bind a 127.0.0.x source address");
    let stream = socket.connect(coordinator).await.expect("tcp connect");
    // Stays non-blocking: reads below never wait.
    stream.into_std().expect("into std")
}

/// Whether the coordinator has closed `stream` (end of file or reset); an open, silent
/// connection has nothing to read.
fn closed(mut stream: &std::net::TcpStream) -> bool {
    let mut buf = [0_u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // An alert or other bytes before the close: keep reading.
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::WouldBlock => return false,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

/// Waits until `stream` is closed and returns the time since `opened`.
async fn closed_after(stream: &std::net::TcpStream, opened: Instant, within: Duration) -> Duration {
    wait_for("the coordinator to close the connection", within, || {
        let done = closed(stream);
        async move { done.then(|| opened.elapsed()) }
    })
    .await
}

/// A real operator call (ListAgents over mTLS) from 127.0.0.1, which must finish promptly.
async fn operator_call(coordinator: &TestCoordinator, pki: &TestPki) {
    let certs = pki.operator("alice", Role::Admin);
    tokio::time::timeout(PROMPT, async {
        let mut admin = coordinator.admin(pki, &certs).await;
        admin
            .list_agents(ListAgentsRequest::default())
            .await
            .expect("list agents");
    })
    .await
    .expect("the operator call finishes promptly");
}

/// A real agent session (mTLS, Hello) from 127.0.0.1, which must be welcomed promptly.
async fn agent_connects(coordinator: &TestCoordinator, pki: &TestPki, id: &str) {
    let certs = pki.agent(id);
    tokio::time::timeout(PROMPT, async {
        let link = channel(&coordinator.url(), &pki.ca_cert(), Some(&certs))
            .await
            .expect("agent channel");
        let (_tx, response) = raw_session(link, hello(id)).await;
        let first = response
            .expect("session opens")
            .message()
            .await
            .expect("first message")
            .expect("a first message");
        assert!(
            matches!(first.body, Some(coordinator_message::Body::Welcome(_))),
            "{first:?}"
        );
    })
    .await
    .expect("the agent is welcomed promptly");
}

/// The first record of a real TLS 1.3 client: a ClientHello.
fn client_hello(pki: &TestPki) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    convoy_proto::tls::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(pki.ca_cert()).expect("ca") {
        roots.add(cert.expect("ca cert")).expect("add ca");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = "localhost".try_into().expect("server name");
    let mut client = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let mut hello = Vec::new();
    client.write_tls(&mut hello).expect("client hello");
    hello
}

#[tokio::test]
async fn a_client_that_sends_nothing_is_dropped_after_three_seconds() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let opened = Instant::now();
    let silent = idle_from(coordinator.addr, 1).await;
    // Half a TLS record header, then silence: the first record never completes.
    let mut partial = idle_from(coordinator.addr, 1).await;
    partial.write_all(&[0x16, 0x03]).expect("send two bytes");
    let silent_after = closed_after(&silent, opened, Duration::from_secs(6)).await;
    let partial_after = closed_after(&partial, opened, Duration::from_secs(6)).await;
    for after in [silent_after, partial_after] {
        // The default first-record deadline is 3 s (the whole handshake's is 10 s).
        assert!(
            after >= Duration::from_millis(2_900) && after < Duration::from_secs(5),
            "dropped after {after:?}"
        );
    }
    operator_call(&coordinator, &pki).await;
    coordinator.stop().await;
}

#[tokio::test]
async fn a_client_hello_then_silence_is_dropped_at_the_handshake_deadline() {
    let pki = TestPki::new();
    let limits = HandshakeLimits {
        first_record_timeout: Duration::from_millis(500),
        handshake_timeout: Duration::from_millis(2_000),
        ..HandshakeLimits::default()
    };
    let coordinator = TestCoordinator::start_configured(&pki, |c| c.handshakes = limits).await;
    let opened = Instant::now();
    let mut stalled = idle_from(coordinator.addr, 1).await;
    stalled
        .write_all(&client_hello(&pki))
        .expect("send a client hello");
    let after = closed_after(&stalled, opened, Duration::from_secs(6)).await;
    // Past the first record's deadline (the hello came in time), at the whole
    // handshake's.
    assert!(
        after >= Duration::from_millis(1_900) && after < Duration::from_secs(4),
        "dropped after {after:?}"
    );
    coordinator.stop().await;
}

#[tokio::test]
async fn one_address_cannot_crowd_out_the_others() {
    let pki = TestPki::new();
    // Long deadlines: every close below is the per-address cap at work. Room in the
    // table for the slow clients, the flood's share and the operator and agent.
    let limits = HandshakeLimits {
        pending_handshakes: 16,
        pending_handshakes_per_ip: 4,
        first_record_timeout: Duration::from_secs(60),
        handshake_timeout: Duration::from_secs(60),
    };
    let coordinator = TestCoordinator::start_configured(&pki, |c| c.handshakes = limits).await;
    // Slow clients from 127.0.0.3 come first, so a table that only shed its oldest would
    // drop them.
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.push(idle_from(coordinator.addr, 3).await);
    }
    let mut flood = Vec::new();
    for _ in 0..40 {
        flood.push(idle_from(coordinator.addr, 2).await);
    }
    wait_for("the flood beyond its cap to be dropped", WAIT, || {
        let dropped = flood.iter().filter(|stream| closed(stream)).count();
        async move { (dropped >= 36).then_some(()) }
    })
    .await;
    operator_call(&coordinator, &pki).await;
    agent_connects(&coordinator, &pki, "web-1").await;
    assert!(
        slow.iter().all(|stream| !closed(stream)),
        "another address's pending handshakes were dropped"
    );
    let left = flood.iter().filter(|stream| !closed(stream)).count();
    assert!(left <= 4, "{left} of the flood still pending");
    coordinator.stop().await;
}

#[tokio::test]
async fn a_full_table_sheds_its_oldest_handshake_instead_of_blocking_accept() {
    let pki = TestPki::new();
    let limits = HandshakeLimits {
        pending_handshakes: 8,
        pending_handshakes_per_ip: 4,
        first_record_timeout: Duration::from_secs(60),
        handshake_timeout: Duration::from_secs(60),
    };
    let coordinator = TestCoordinator::start_configured(&pki, |c| c.handshakes = limits).await;
    // Fill the table from four addresses, two each (under the per-address cap).
    let mut idle = Vec::new();
    for source in 2..=5 {
        for _ in 0..2 {
            idle.push(idle_from(coordinator.addr, source).await);
        }
    }
    operator_call(&coordinator, &pki).await;
    agent_connects(&coordinator, &pki, "web-1").await;
    let oldest = &idle[0];
    wait_for("the oldest pending handshake to be dropped", WAIT, || {
        let done = closed(oldest);
        async move { done.then_some(()) }
    })
    .await;
    assert!(
        idle.iter().skip(4).all(|stream| !closed(stream)),
        "only the oldest make room"
    );
    coordinator.stop().await;
}
