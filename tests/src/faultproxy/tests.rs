use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// An upstream that echoes every byte back.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

async fn roundtrip(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    stream.write_all(bytes).await?;
    let mut back = vec![0u8; bytes.len()];
    stream.read_exact(&mut back).await?;
    Ok(back)
}

#[tokio::test]
async fn forwards_bytes_untouched() {
    let proxy = FaultProxy::start(echo_server().await).await.expect("proxy");
    let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        roundtrip(&mut stream, &payload).await.expect("echo"),
        payload
    );
    assert_eq!(proxy.accepted(), 1);
}

#[tokio::test]
async fn a_blackhole_holds_bytes_on_an_open_connection_until_healed() {
    let proxy = FaultProxy::start(echo_server().await).await.expect("proxy");
    let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
    assert_eq!(roundtrip(&mut stream, b"a").await.expect("echo"), b"a");
    proxy.set(Faults {
        blackhole: true,
        ..Faults::default()
    });
    stream.write_all(b"b").await.expect("write");
    let mut one = [0u8; 1];
    let held = tokio::time::timeout(Duration::from_millis(300), stream.read_exact(&mut one)).await;
    assert!(held.is_err(), "nothing passes a blackhole");
    proxy.heal();
    stream
        .read_exact(&mut one)
        .await
        .expect("delivered after heal");
    assert_eq!(&one, b"b");
}

#[tokio::test]
async fn a_one_way_partition_holds_only_its_direction() {
    let proxy = FaultProxy::start(echo_server().await).await.expect("proxy");
    let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
    assert_eq!(roundtrip(&mut stream, b"a").await.expect("echo"), b"a");
    proxy.set(Faults {
        stall_down: true,
        ..Faults::default()
    });
    // Up passes (the echo server receives and answers), down is held.
    stream.write_all(b"b").await.expect("write");
    let mut one = [0u8; 1];
    let held = tokio::time::timeout(Duration::from_millis(300), stream.read_exact(&mut one)).await;
    assert!(held.is_err());
    proxy.heal();
    stream
        .read_exact(&mut one)
        .await
        .expect("delivered after heal");
    assert_eq!(&one, b"b");
}

#[tokio::test]
async fn reset_all_breaks_live_connections_and_new_ones_work() {
    let proxy = FaultProxy::start(echo_server().await).await.expect("proxy");
    let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
    assert_eq!(roundtrip(&mut stream, b"a").await.expect("echo"), b"a");
    proxy.reset_all();
    let broken = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if roundtrip(&mut stream, b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(broken.is_ok(), "the connection was reset");
    let mut fresh = TcpStream::connect(proxy.addr()).await.expect("connect");
    assert_eq!(roundtrip(&mut fresh, b"c").await.expect("echo"), b"c");
}

#[tokio::test]
async fn latency_and_bandwidth_slow_the_stream_down() {
    let proxy = FaultProxy::start(echo_server().await).await.expect("proxy");
    let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
    proxy.set(Faults {
        latency: Duration::from_millis(100),
        ..Faults::default()
    });
    let started = Instant::now();
    roundtrip(&mut stream, b"a").await.expect("echo");
    // Delayed once each way.
    assert!(started.elapsed() >= Duration::from_millis(200));
    proxy.set(Faults {
        bandwidth: Some(20_000),
        ..Faults::default()
    });
    let started = Instant::now();
    roundtrip(&mut stream, &[7u8; 4_000]).await.expect("echo");
    // 4 kB at 20 kB/s, each way: at least 0.2 s each.
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn refuse_closes_new_connections() {
    let proxy = FaultProxy::start(echo_server().await).await.expect("proxy");
    proxy.set(Faults {
        refuse: true,
        ..Faults::default()
    });
    let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
    let result = tokio::time::timeout(Duration::from_secs(5), roundtrip(&mut stream, b"a"))
        .await
        .expect("answered at once");
    assert!(result.is_err());
}
