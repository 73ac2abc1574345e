//! Monitoring end to end with the real binaries: webhooks signed, in order, retried past
//! 500s and delivered after a SIGKILLed coordinator restarts; an alert with `for = 2s`
//! firing and resolving against a real agent; `/metrics` checked by `promtool`, scraped by
//! a real Prometheus, and alerts received by a real Alertmanager (when Debian's
//! `prometheus` and `prometheus-alertmanager` are installed; skipped loudly otherwise).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Fleet, Proc, free_port};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub(super) headers: BTreeMap<String, String>,
    pub(super) body: String,
    pub(super) status: u16,
}

/// A loopback HTTP receiver: answers 500 to the first `fail` requests (or to all while
/// `down`), 200 after; records everything.
#[derive(Clone)]
pub(super) struct Receiver {
    pub(super) port: u16,
    fail: Arc<AtomicUsize>,
    down: Arc<std::sync::atomic::AtomicBool>,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(super) fn start(fail: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let receiver = Receiver {
            port: listener.local_addr().unwrap().port(),
            fail: Arc::new(AtomicUsize::new(fail)),
            down: Arc::default(),
            got: Arc::default(),
        };
        let state = receiver.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = state.handle(stream);
            }
        });
        receiver
    }

    fn handle(&self, mut stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            raw.extend_from_slice(&buf[..n]);
            if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
        let headers: BTreeMap<String, String> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while raw.len() < head_end + length {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        let body = String::from_utf8_lossy(&raw[head_end..]).to_string();
        let failing = self.down.load(Ordering::SeqCst)
            || self
                .fail
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        let status = if failing { 500 } else { 200 };
        self.got.lock().unwrap().push(Received {
            headers,
            body,
            status,
        });
        let reason = if failing {
            "Internal Server Error"
        } else {
            "OK"
        };
        write!(
            stream,
            "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    }

    pub(super) fn accepted(&self) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.status == 200)
            .cloned()
            .collect()
    }
}

pub(super) fn json_field(body: &str, name: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match &value[name] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hmac(secret: &str, body: &[u8]) -> String {
    // The receiver's own check, independent of the coordinator's code: RFC 2104 over sha256.
    use sha2::{Digest, Sha256};
    let mut key = secret.as_bytes().to_vec();
    key.resize(64, 0);
    let inner: Vec<u8> = key.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = key.iter().map(|b| b ^ 0x5c).collect();
    let inner_hash = Sha256::new()
        .chain_update(&inner)
        .chain_update(body)
        .finalize();
    let mac = Sha256::new()
        .chain_update(&outer)
        .chain_update(inner_hash)
        .finalize();
    format!("sha256={}", hex::encode(mac))
}

fn append_config(fleet: &Fleet, extra: &str) {
    let path = fleet.path().join("coordinator.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(extra);
    std::fs::write(path, text).unwrap();
}

/// A plain HTTP GET on loopback; the body.
pub(super) fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    // The coordinator answers with Content-Length; others may chunk.
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            if size == 0 {
                break;
            }
            out.push_str(tail.get(..size)?);
            rest = tail.get(size + 2..)?;
        }
        return Some(out);
    }
    Some(body.to_string())
}

#[test]
fn webhooks_are_signed_ordered_retried_and_survive_a_sigkill() {
    let receiver = Receiver::start(2);
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    append_config(
        &fleet,
        &format!(
            "[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{}/hook\"\nevents = [\"agent.*\", \"alert.*\"]\nsecret = \"s3cret\"\n\n[[alerts]]\nname = \"busy\"\nexpr = \"procs>1\"\nfor = \"2s\"\nseverity = \"critical\"\nsummary = \"processes are running\"\n",
            receiver.port
        ),
    );
    let coordinator = fleet.serve();
    let agent = fleet.agent("web-1");
    fleet.wait_online("", 1);

    // The alert waits out its `for`, then fires; the receiver's two 500s are retried.
    let alerts = wait_until("the busy alert", Duration::from_secs(20), || {
        let out = fleet.ok(&["alerts", "-o", "json"]);
        out.contains("\"busy\"").then_some(out)
    });
    assert!(
        alerts.contains("\"host\": \"web-1\"") && alerts.contains("\"state\": \"firing\""),
        "{alerts}"
    );
    // The agent dies: offline, and the alert resolves (no metrics from an offline host).
    agent.signal("-KILL");
    agent.wait(Duration::from_secs(10));
    let kinds = |r: &Receiver| -> Vec<String> {
        r.accepted()
            .iter()
            .map(|x| json_field(&x.body, "kind"))
            .collect()
    };
    wait_until(
        "firing, offline and resolved delivered",
        Duration::from_secs(30),
        || {
            let k = kinds(&receiver);
            (k.contains(&"alert.firing".into())
                && k.contains(&"agent.offline".into())
                && k.contains(&"alert.resolved".into()))
            .then_some(())
        },
    );
    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got[0].status, 500);
    assert_eq!(got[1].status, 500);
    assert_eq!(got[2].status, 200);
    assert_eq!(
        (
            json_field(&got[0].body, "id"),
            json_field(&got[2].body, "id")
        ),
        (
            json_field(&got[0].body, "id"),
            json_field(&got[0].body, "id")
        ),
        "the same event retried"
    );
    assert_eq!(got[2].headers["x-convoy-delivery-attempt"], "3");
    for request in &got {
        assert_eq!(
            request.headers["x-convoy-signature"],
            hmac("s3cret", request.body.as_bytes())
        );
        assert_eq!(
            request.headers["x-convoy-event-id"],
            json_field(&request.body, "id")
        );
        assert_eq!(json_field(&request.body, "schema"), "convoy.event.v1");
    }
    let log = fleet.ok(&["notify", "log", "-o", "json"]);
    assert!(
        log.contains("\"attempts\": 3") && log.contains("\"status\": \"delivered\""),
        "{log}"
    );
    let events = fleet.ok(&["events", "--kind", "alert.*", "-o", "json"]);
    assert!(
        events.contains("alert.firing")
            && events.contains("alert.resolved")
            && !events.contains("agent.offline"),
        "{events}"
    );

    // The receiver goes down; the agent comes back; its event is stuck in the outbox when
    // the coordinator is SIGKILLed, and is delivered after the restart.
    receiver.down.store(true, Ordering::SeqCst);
    let agent = fleet.agent("web-1");
    wait_until(
        "agent.back to be attempted",
        Duration::from_secs(30),
        || {
            let log = fleet.ok(&["notify", "log", "-o", "json"]);
            let value: serde_json::Value = serde_json::from_str(&log).ok()?;
            value
                .as_array()?
                .iter()
                .any(|d| {
                    d["kind"] == "agent.back"
                        && d["status"] == "pending"
                        && d["attempts"].as_u64() >= Some(1)
                })
                .then_some(())
        },
    );
    coordinator.signal("-KILL");
    coordinator.wait(Duration::from_secs(10));
    receiver.down.store(false, Ordering::SeqCst);
    let coordinator = fleet.serve();
    wait_until(
        "agent.back delivered after the restart",
        Duration::from_secs(30),
        || {
            kinds(&receiver)
                .contains(&"agent.back".into())
                .then_some(())
        },
    );

    // Once each (after dedup by id), in the log's order.
    let mut seen = std::collections::BTreeSet::new();
    let mut last = 0u64;
    for request in receiver.accepted() {
        let id = json_field(&request.body, "id");
        if !seen.insert(id.clone()) {
            continue;
        }
        let seq: u64 = json_field(&request.body, "seq").parse().unwrap();
        assert!(seq > last, "{id} after seq {last}");
        last = seq;
    }
    coordinator.signal("-TERM");
    assert!(
        coordinator.wait(Duration::from_secs(15)).success(),
        "{}",
        fleet.log("convoy")
    );
    drop(agent);
}

fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn prometheus_scrapes_and_alertmanager_receives() {
    let missing: Vec<&str> = ["promtool", "prometheus", "prometheus-alertmanager"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "\n\n!!!!! SKIPPED prometheus_scrapes_and_alertmanager_receives: {} not installed \
             (apt-get install prometheus prometheus-alertmanager) !!!!!\n\n",
            missing.join(", ")
        );
        return;
    }
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    let metrics_port = free_port();
    let am_port = free_port();
    let prom_port = free_port();
    append_config(
        &fleet,
        &format!(
            "[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\nper_host = true\nper_host_labels = [\"role\"]\n\n[[notify]]\nname = \"am\"\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:{am_port}\"\nevents = [\"alert.*\"]\n\n[[alerts]]\nname = \"busy\"\nexpr = \"procs>1\"\nfor = \"1s\"\nsummary = \"processes are running\"\n"
        ),
    );
    let dir = fleet.path();
    std::fs::write(
        dir.join("am.yml"),
        "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("prom.yml"),
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: convoy\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"),
    )
    .unwrap();
    let coordinator = fleet.serve();
    let _agent = fleet.agent("web-1");
    fleet.wait_online("", 1);

    // promtool accepts the exposition.
    let text = wait_until("/metrics", Duration::from_secs(10), || {
        http_get(metrics_port, "/metrics").filter(|t| t.contains("convoy_host_cpu_percent"))
    });
    for needle in [
        "convoy_agents{state=\"online\"} 1",
        "# TYPE convoy_command_duration_seconds histogram",
        "convoy_build_info{version=",
        "convoy_cert_expiry_timestamp_seconds{cert=\"coordinator.pem\"}",
        "convoy_store_size_bytes ",
        "convoy_heartbeats_total ",
        "convoy_grpc_requests_total{method=\"convoy.v1.Admin/ListAgents\",code=\"OK\"}",
        "convoy_host_cpu_percent{id=\"web-1\",role=\"web\"}",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // Started after the coordinator holds its ports.
    let _alertmanager = Proc::spawn_path(
        "prometheus-alertmanager",
        dir,
        &[
            "--config.file=am.yml",
            "--storage.path=am-data",
            &format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=",
        ],
    );
    let _prometheus = Proc::spawn_path(
        "prometheus",
        dir,
        &[
            "--config.file=prom.yml",
            "--storage.tsdb.path=prom-data",
            &format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
    );
    // A real Prometheus scrapes it.
    wait_until(
        "Prometheus to scrape convoy_agents",
        Duration::from_secs(60),
        || {
            http_get(
                prom_port,
                "/api/v1/query?query=convoy_agents%7Bstate%3D%22online%22%7D",
            )
            .filter(|body| body.contains("\"convoy_agents\"") && body.contains("\"1\"]"))
        },
    );
    // A real Alertmanager receives the alert.
    let alerts = wait_until(
        "Alertmanager to hold the busy alert",
        Duration::from_secs(30),
        || {
            http_get(am_port, "/api/v2/alerts")
                .filter(|body| body.contains("\"alertname\":\"busy\""))
        },
    );
    assert!(
        alerts.contains("\"instance\":\"web-1\"") && alerts.contains("\"source\":\"convoy\""),
        "{alerts}"
    );
    coordinator.signal("-TERM");
    assert!(coordinator.wait(Duration::from_secs(15)).success());
}

/// The packaged example alert rules (`packaging/prometheus/`) load in Prometheus and the
/// snapshot-age rule fires only past 2 days (`promtool test rules`).
#[test]
fn packaged_alert_rules_pass_promtool() {
    if !have("promtool") {
        eprintln!(
            "\n\n!!!!! SKIPPED packaged_alert_rules_pass_promtool: promtool not installed \
             (apt-get install prometheus) !!!!!\n\n"
        );
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/prometheus");
    for args in [
        ["check", "rules", "convoy-rules.yml"],
        ["test", "rules", "convoy-rules.test.yml"],
    ] {
        let out = std::process::Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
