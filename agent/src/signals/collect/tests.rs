use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::Collector;
use crate::config::Config;

/// The exposition of an app that has served `n` rounds of traffic: 100 requests a round,
/// 5 of them errors, each round's latencies 80 under 0.1 s, 15 under 0.5 s, 5 under 1 s.
fn page(n: u64) -> String {
    format!(
        "# TYPE http_requests_total counter\nhttp_requests_total{{code=\"200\"}} {}\n\
         http_requests_total{{code=\"500\"}} {}\n\
         # TYPE http_errors_total counter\nhttp_errors_total {}\n\
         # TYPE http_request_duration_seconds histogram\n\
         http_request_duration_seconds_bucket{{le=\"0.1\"}} {}\n\
         http_request_duration_seconds_bucket{{le=\"0.5\"}} {}\n\
         http_request_duration_seconds_bucket{{le=\"1\"}} {}\n\
         http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n\
         http_request_duration_seconds_sum 1\nhttp_request_duration_seconds_count {}\n",
        95 * n,
        5 * n,
        5 * n + 7,
        80 * n,
        95 * n,
        100 * n,
        100 * n,
        100 * n,
    )
}

/// A metrics server on 127.0.0.1 whose page moves on one round per request; `status`
/// other than 200 answers with that status instead.
async fn serve(status: u16) -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let rounds = Arc::new(AtomicU64::new(0));
    let served = rounds.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let n = served.fetch_add(1, Ordering::SeqCst) + 1;
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => request.extend_from_slice(&buf[..read]),
                }
            }
            let body = page(n);
            let reply = format!("HTTP/1.0 {status} X\r\nContent-Type: text/plain\r\n\r\n{body}");
            let _ = stream.write_all(reply.as_bytes()).await;
        }
    });
    (port, rounds)
}

fn collector(port: u16) -> Arc<Collector> {
    let text = format!(
        "coordinator = \"https://127.0.0.1:7443\"\ndata_dir = \"/x\"\n[tls]\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n\
         [apps.web.signals]\nurl = \"http://127.0.0.1:{port}/metrics\"\n\
         error_rate = \"rate(http_errors_total) / rate(http_requests_total)\"\n\
         latency_p99 = \"histogram_quantile(0.99, http_request_duration_seconds)\"\n\
         requests = \"http_requests_total\"\n"
    );
    let config = Config::parse(&text, Path::new("/")).unwrap();
    let collector = Arc::new(Collector::default());
    collector.configure(config.app_signals);
    collector
}

/// Waits until the wall clock has moved on a millisecond, so two scrapes are apart.
async fn next_millisecond() {
    let start = crate::journal::now_unix_ms();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while crate::journal::now_unix_ms() == start && tokio::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_changing_exposition_gives_rates_and_quantiles_keyed_app_dot_name() {
    let (port, rounds) = serve(200).await;
    let collector = collector(port);
    collector.round().await;
    let first = collector.take();
    // No rate before a second scrape; a gauge and a cumulative histogram have values.
    assert_eq!(first.get("web.requests"), Some(&100.0), "{first:?}");
    assert!(!first.contains_key("web.error_rate"), "{first:?}");
    assert!(first.contains_key("web.latency_p99"), "{first:?}");
    assert!(
        collector.take().is_empty(),
        "a heartbeat takes the values once"
    );
    next_millisecond().await;
    collector.round().await;
    let second = collector.take();
    assert_eq!(rounds.load(Ordering::SeqCst), 2);
    // 5 errors in 100 requests since the previous scrape, whatever the time between.
    let error_rate = second["web.error_rate"];
    assert!((error_rate - 0.05).abs() < 1e-9, "{second:?}");
    // The 99th of this round's 100 latencies lies in the 0.5..1 bucket: 0.5 + 0.5 * 4/5.
    let p99 = second["web.latency_p99"];
    assert!((p99 - 0.9).abs() < 1e-9, "{second:?}");
    assert_eq!(second["web.requests"], 200.0);
}

#[tokio::test]
async fn a_failing_scrape_reports_nothing_that_beat() {
    let (port, rounds) = serve(503).await;
    let collector = collector(port);
    collector.round().await;
    next_millisecond().await;
    collector.round().await;
    assert_eq!(rounds.load(Ordering::SeqCst), 2);
    assert!(collector.take().is_empty());
    // Nobody listening at all: the same.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let collector = super::tests::collector(port);
    collector.round().await;
    assert!(collector.take().is_empty());
}

#[tokio::test]
async fn a_reload_with_another_url_forgets_the_previous_scrape() {
    let (port, _) = serve(200).await;
    let collector = collector(port);
    collector.round().await;
    let (other, _) = serve(200).await;
    let moved = super::tests::collector(other);
    collector.configure(moved.state.lock().unwrap().apps.clone());
    next_millisecond().await;
    collector.round().await;
    // A rate across two different servers would be nonsense: none this round.
    assert!(!collector.take().contains_key("web.error_rate"));
}
