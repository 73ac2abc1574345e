//! Tests for health checks, all on loopback: TCP listeners, tiny HTTP servers, `sh` commands,
//! per-probe kills, the deadline and cancellation.

use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

use super::*;

fn spec(probe: Probe, interval_ms: u64, retries: u32, deadline_ms: u64) -> HealthSpec {
    HealthSpec {
        probe,
        interval: Duration::from_millis(interval_ms),
        retries,
        deadline: Duration::from_millis(deadline_ms),
        monitor_interval: Duration::from_secs(10),
    }
}

fn sh(script: &str) -> Probe {
    Probe::Command(vec!["sh".into(), "-c".into(), script.into()])
}

async fn check(spec: &HealthSpec) -> HealthOutcome {
    let dir = std::env::temp_dir();
    wait_healthy(spec, &dir, &BTreeMap::new(), CancellationToken::new()).await
}

fn unhealthy(outcome: HealthOutcome) -> (u32, String) {
    match outcome {
        HealthOutcome::Unhealthy {
            attempts,
            last_error,
        } => (attempts, last_error),
        healthy => panic!("expected unhealthy, got {healthy:?}"),
    }
}

/// A port on 127.0.0.1 that nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// An HTTP server on 127.0.0.1: the n-th connection gets `replies[n]` (the last one repeats),
/// written after the request's head was read. Returns the port and the requests' heads.
async fn http_server(replies: Vec<String>) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let reply = replies[n.min(replies.len() - 1)].clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 512];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                if reply.is_empty() {
                    sleep(Duration::from_secs(30)).await; // never answers
                }
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (port, requests)
}

fn status(code: u16) -> String {
    format!("HTTP/1.1 {code} Whatever\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
}

/// Waits until the process is gone (or a zombie).
async fn assert_dies(pid: u32) {
    for _ in 0..100 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .unwrap()
                    .trim_start()
                    .starts_with('Z') =>
            {
                return;
            }
            Ok(_) => sleep(Duration::from_millis(20)).await,
        }
    }
    panic!("process {pid} is still running");
}

fn pids(file: &Path) -> Vec<u32> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .map(|line| line.trim().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn tcp_listener_is_healthy() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let outcome = check(&spec(Probe::Tcp(port), 20, 3, 5_000)).await;
    assert_eq!(outcome, HealthOutcome::Healthy { attempts: 1 });
    assert!(outcome.is_healthy() && outcome.attempts() == 1);
}

#[tokio::test]
async fn closed_port_gives_up_after_retries() {
    let port = closed_port().await;
    let started = Instant::now();
    let outcome = check(&spec(Probe::Tcp(port), 20, 3, 5_000)).await;
    assert!(started.elapsed() >= Duration::from_millis(40));
    assert_eq!(
        outcome,
        HealthOutcome::Unhealthy {
            attempts: 3,
            last_error: format!("connection refused on 127.0.0.1:{port}"),
        }
    );
    assert!(
        outcome
            .to_string()
            .starts_with("unhealthy after 3 probe(s): connection refused")
    );
}

#[tokio::test]
async fn http_200_is_healthy_and_the_request_is_plain_http11() {
    let (port, requests) = http_server(vec![status(200)]).await;
    let url = format!("http://127.0.0.1:{port}/healthz?deep=1");
    let outcome = check(&spec(Probe::Http(url), 20, 3, 5_000)).await;
    assert_eq!(outcome, HealthOutcome::Healthy { attempts: 1 });
    let request = requests.lock().unwrap()[0].clone();
    assert!(
        request.starts_with("GET /healthz?deep=1 HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")),
        "{request}"
    );
    assert!(request.contains("\r\nConnection: close\r\n"), "{request}");
}

#[tokio::test]
async fn http_503_is_unhealthy() {
    let (port, requests) = http_server(vec![status(503)]).await;
    let url = format!("http://127.0.0.1:{port}/healthz");
    let outcome = check(&spec(Probe::Http(url.clone()), 20, 2, 5_000)).await;
    assert_eq!(
        outcome,
        HealthOutcome::Unhealthy {
            attempts: 2,
            last_error: format!("http status 503 from {url}"),
        }
    );
    assert_eq!(requests.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn becomes_healthy_after_two_failed_attempts() {
    let (port, _) = http_server(vec![status(503), status(500), status(204)]).await;
    let url = format!("http://localhost:{port}/");
    let outcome = check(&spec(Probe::Http(url), 20, 5, 5_000)).await;
    assert_eq!(outcome, HealthOutcome::Healthy { attempts: 3 });
}

#[tokio::test]
async fn bad_http_answers_are_explained() {
    for (reply, wanted) in [
        (
            "SSH-2.0-OpenSSH_9.2\r\n".to_string(),
            "malformed http status line",
        ),
        (
            "HTTP/1.1 2000 OK\r\n\r\n".to_string(),
            "malformed http status line",
        ),
        (String::new(), "no http response from"),
        (
            "HTTP/1.1 200".to_string(),
            "connection closed before an http status line",
        ),
        ("A".repeat(9_000), "no http status line in the first 8 KiB"),
    ] {
        let (port, _) = http_server(vec![reply]).await;
        let url = format!("http://127.0.0.1:{port}/");
        let (attempts, err) = unhealthy(check(&spec(Probe::Http(url), 20, 1, 5_000)).await);
        assert_eq!(attempts, 1);
        assert!(err.contains(wanted), "{wanted}: {err}");
    }
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/healthz");
    let (_, err) = unhealthy(check(&spec(Probe::Http(url), 20, 1, 5_000)).await);
    assert_eq!(err, format!("connection refused on 127.0.0.1:{port}"));
}

#[tokio::test]
async fn command_runs_in_working_dir_with_env() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("marker"), "").unwrap();
    let env = BTreeMap::from([("PROBE_MODE".to_string(), "ready".to_string())]);
    let script = "test -f marker && test \"$PROBE_MODE\" = ready && exit 0; exit 1";
    let healthy = spec(sh(script), 20, 2, 5_000);
    let outcome = wait_healthy(&healthy, dir.path(), &env, CancellationToken::new()).await;
    assert_eq!(outcome, HealthOutcome::Healthy { attempts: 1 });

    // Without the env, or elsewhere, the same check fails.
    let no_env = BTreeMap::new();
    let outcome = wait_healthy(&healthy, dir.path(), &no_env, CancellationToken::new()).await;
    let (attempts, err) = unhealthy(outcome);
    assert_eq!((attempts, err.as_str()), (2, "check exited with status 1"));
    let (_, err) = unhealthy(check(&healthy).await);
    assert_eq!(err, "check exited with status 1");
}

#[tokio::test]
async fn command_exit_codes_and_signals() {
    let outcome = check(&spec(sh("exit 0"), 20, 3, 5_000)).await;
    assert_eq!(outcome, HealthOutcome::Healthy { attempts: 1 });
    let outcome = check(&spec(sh("exit 1"), 20, 3, 5_000)).await;
    assert_eq!(
        unhealthy(outcome),
        (3, "check exited with status 1".to_string())
    );
    let outcome = check(&spec(sh("kill -TERM $$"), 20, 1, 5_000)).await;
    assert_eq!(unhealthy(outcome).1, "check was killed by signal 15");
}

#[tokio::test]
async fn relative_program_is_taken_from_the_working_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    std::os::unix::fs::symlink("/bin/sh", dir.path().join("bin/check")).unwrap();
    let probe = Probe::Command(vec!["./bin/check".into(), "-c".into(), "exit 0".into()]);
    let outcome = wait_healthy(
        &spec(probe, 20, 1, 5_000),
        dir.path(),
        &BTreeMap::new(),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(outcome, HealthOutcome::Healthy { attempts: 1 });

    let missing = Probe::Command(vec!["./bin/nope".into()]);
    let outcome = check(&spec(missing, 20, 2, 5_000)).await;
    let (attempts, err) = unhealthy(outcome);
    assert_eq!(attempts, 2);
    assert!(
        err.starts_with("cannot start check \"./bin/nope\""),
        "{err}"
    );
}

#[tokio::test]
async fn hanging_command_is_killed_per_attempt_with_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let script = "sleep 30 & echo $! >> bg.pids; wait";
    let started = Instant::now();
    let outcome = wait_healthy(
        &spec(sh(script), 20, 2, 10_000),
        dir.path(),
        &BTreeMap::new(),
        CancellationToken::new(),
    )
    .await;
    let elapsed = started.elapsed();
    let (attempts, err) = unhealthy(outcome);
    assert_eq!(attempts, 2);
    assert_eq!(err, "check did not finish within 100ms and was killed");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let background = pids(&dir.path().join("bg.pids"));
    assert_eq!(background.len(), 2);
    for pid in background {
        assert_dies(pid).await;
    }
}

#[tokio::test]
async fn deadline_shorter_than_retries_gives_up_at_the_deadline() {
    let port = closed_port().await;
    let started = Instant::now();
    let outcome = check(&spec(Probe::Tcp(port), 100, 50, 250)).await;
    let elapsed = started.elapsed();
    let (attempts, err) = unhealthy(outcome);
    assert!((2..=3).contains(&attempts), "{attempts}"); // at 0, 100 and 200ms unless slowed down
    assert_eq!(
        err,
        format!("deadline of 250ms passed; last probe: connection refused on 127.0.0.1:{port}")
    );
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn deadline_cuts_a_hanging_probe_short() {
    let started = Instant::now();
    let outcome = check(&spec(sh("sleep 30"), 1_000, 5, 150)).await;
    let elapsed = started.elapsed();
    let (attempts, err) = unhealthy(outcome);
    assert_eq!(attempts, 1);
    assert!(
        err.starts_with("deadline of 150ms passed; last probe: check did not finish within 1")
            && err.ends_with("ms and was killed"),
        "{err}"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn cancel_stops_early() {
    let port = closed_port().await;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(120)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let long = spec(Probe::Tcp(port), 50, 1_000, 60_000);
    let outcome = wait_healthy(&long, Path::new("/"), &BTreeMap::new(), cancel).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let (attempts, err) = unhealthy(outcome);
    assert!((1..=4).contains(&attempts), "{attempts}");
    assert_eq!(
        err,
        format!("cancelled; last probe: connection refused on 127.0.0.1:{port}")
    );

    let cancelled = CancellationToken::new();
    cancelled.cancel();
    let outcome = wait_healthy(&long, Path::new("/"), &BTreeMap::new(), cancelled).await;
    assert_eq!(unhealthy(outcome), (0, "cancelled".to_string()));
}

#[tokio::test]
async fn cancel_kills_a_running_check() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let pid_file = dir.path().join("bg.pids");
    let watched = pid_file.clone();
    tokio::spawn(async move {
        while !watched.exists() {
            sleep(Duration::from_millis(10)).await;
        }
        trigger.cancel();
    });
    let started = Instant::now();
    let script = "sleep 30 & echo $! >> bg.pids; wait";
    let slow = spec(sh(script), 10_000, 3, 60_000);
    let outcome = wait_healthy(&slow, dir.path(), &BTreeMap::new(), cancel).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(unhealthy(outcome), (0, "cancelled".to_string()));
    for pid in pids(&pid_file) {
        assert_dies(pid).await;
    }
}
