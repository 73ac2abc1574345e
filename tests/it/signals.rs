//! App signals end to end: an app serving Prometheus metrics on loopback, an agent with
//! `[apps.web.signals]` scraping it, the coordinator showing `web.error_rate` on the
//! host's live record, and a rollout gate on it failing the canary.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use convoy_proto::identity::Role;
use convoy_proto::v1::rollouts_client::RolloutsClient;
use convoy_proto::v1::{GetRolloutRequest, JobState, RolloutSpec, StartRolloutRequest};
use convoy_tests::{TestAgent, TestCoordinator, TestPki, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::deploy::{artifact, current, push, run};
use crate::support::{fleet_online, get};

/// An app on 127.0.0.1 that serves 100 requests and `errors_per_100` errors between
/// scrapes; returns its metrics URL.
async fn app(errors_per_100: u64) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let scrapes = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let n = scrapes.fetch_add(1, Ordering::SeqCst) + 1;
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => request.extend_from_slice(&buf[..read]),
                }
            }
            let body = format!(
                "# TYPE http_requests_total counter\nhttp_requests_total {}\n\
                 # TYPE http_errors_total counter\nhttp_errors_total {}\n",
                100 * n,
                errors_per_100 * n
            );
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
        }
    });
    format!("http://127.0.0.1:{port}/metrics")
}

/// A web agent (role=web) whose app `web` reports `error_rate` from `url`.
fn web(pki: &TestPki, coordinator: &str, id: &str, url: &str) -> (TestAgent, std::path::PathBuf) {
    let mut config = TestAgent::config(pki, coordinator, id, &[("role", "web")]);
    let signals = format!(
        "coordinator = \"https://127.0.0.1:1\"\ndata_dir = \"/x\"\n[tls]\nca = \"a\"\ncert = \"b\"\n\
         key = \"c\"\n[apps.web.signals]\nurl = \"{url}\"\n\
         error_rate = \"rate(http_errors_total) / rate(http_requests_total)\"\n"
    );
    let parsed = convoy_agent::Config::parse(&signals, std::path::Path::new("/")).unwrap();
    config.apps = parsed.apps;
    config.app_signals = parsed.app_signals;
    let dir = config.data_dir.join("apps/web");
    (TestAgent::start_with(config), dir)
}

#[tokio::test]
async fn a_canary_whose_app_reports_errors_fails_a_signal_gate() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    // Half of web-1's requests fail, and a quarter of web-2's: whichever is the canary
    // breaks the gate.
    let agents = [
        web(&pki, &coordinator.url(), "web-1", &app(50).await),
        web(&pki, &coordinator.url(), "web-2", &app(25).await),
    ];
    let operator = pki.operator("alice", Role::Operator);
    let mut admin = coordinator.admin(&pki, &operator).await;
    let mut rollouts: RolloutsClient<_> = coordinator.rollouts(&pki, &operator).await;
    fleet_online(&admin, 2).await;
    // The live record shows each host's signal (what `convoy agents show` prints).
    for (id, expected) in [("web-1", 0.5), ("web-2", 0.25)] {
        let seen = wait_for(
            &format!("{id} reports web.error_rate"),
            Duration::from_secs(15),
            || {
                let mut admin = admin.clone();
                async move {
                    let detail = get(&mut admin, id).await?;
                    let metrics = detail.agent?.metrics?;
                    metrics.signals.get("web.error_rate").copied()
                }
            },
        )
        .await;
        assert!((seen - expected).abs() < 1e-9, "{id}: {seen}");
    }
    for version in ["1.0", "2.0"] {
        push(
            &mut admin,
            version,
            &artifact(version, true),
            Some(pki.signer()),
        )
        .await
        .unwrap();
    }
    let job = run(&mut admin, crate::deploy::deploy("1.0")).await;
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    let id = rollouts
        .start_rollout(StartRolloutRequest {
            spec: Some(RolloutSpec {
                app: "web".into(),
                version: "2.0".into(),
                selector: "role=web".into(),
                canary: "1".into(),
                batch: "1".into(),
                bake_ms: 30_000,
                gates: vec!["web.error_rate<0.01".into()],
                auto_promote: true,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("a gate on an app signal is accepted")
        .into_inner()
        .id;
    let halted = wait_for("the rollout halts", Duration::from_secs(60), || {
        let mut rollouts = rollouts.clone();
        let id = id.clone();
        async move {
            let view = rollouts
                .get_rollout(GetRolloutRequest { id })
                .await
                .ok()?
                .into_inner();
            (view.state().name() == "paused").then_some(view)
        }
    })
    .await;
    let canary = &halted.waves[0].hosts[0];
    assert_eq!(canary.state().name(), "failed", "{halted:?}");
    assert!(canary.reason.contains("web.error_rate"), "{canary:?}");
    assert_eq!(halted.failures, 1);
    // The host that was not the canary was not touched.
    let other = if canary.host == "web-1" {
        &agents[1]
    } else {
        &agents[0]
    };
    assert_eq!(current(&other.1), "releases/1.0");
    coordinator.stop().await;
}

/// `[[alerts]] expr` on an app signal: a host whose app fails a tenth of its requests
/// fires `web.error_rate>0.05`; one whose app is fine does not.
#[tokio::test]
async fn an_alert_on_an_app_signal_fires_for_the_failing_host() {
    use convoy_coordinator::alerts::Rule;
    use convoy_coordinator::config::monitor::AlertConfig;
    use convoy_proto::v1::ListAlertsRequest;
    use convoy_proto::v1::monitor_client::MonitorClient;

    let pki = TestPki::new();
    let rule = Rule::new(&AlertConfig {
        name: "errors".into(),
        expr: "web.error_rate>0.05".into(),
        for_: Duration::ZERO,
        severity: "critical".into(),
        selector: "role=web".into(),
        summary: "web errors".into(),
    })
    .expect("an app signal is a series in an alert rule");
    let coordinator = TestCoordinator::start_configured(&pki, |config| {
        config.monitor.alerts = vec![rule];
    })
    .await;
    let _agents = [
        web(&pki, &coordinator.url(), "web-1", &app(10).await),
        web(&pki, &coordinator.url(), "web-2", &app(0).await),
    ];
    let viewer = pki.operator("vera", Role::Viewer);
    let monitor = MonitorClient::new(
        convoy_tests::channel(&coordinator.url(), &pki.ca_cert(), Some(&viewer))
            .await
            .unwrap(),
    );
    let firing = wait_for("the error alert fires", Duration::from_secs(20), || {
        let mut monitor = monitor.clone();
        async move {
            let alerts = monitor
                .list_alerts(ListAlertsRequest { pending: false })
                .await
                .ok()?
                .into_inner()
                .alerts;
            (!alerts.is_empty()).then_some(alerts)
        }
    })
    .await;
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(
        (firing[0].rule.as_str(), firing[0].host.as_str()),
        ("errors", "web-1")
    );
    assert!((firing[0].value - 0.1).abs() < 1e-6, "{firing:?}");
    coordinator.stop().await;
}

/// An app that accepts the scrape and never answers (timeout 30 s) does not slow the
/// heartbeats: the host's samples keep coming at the heartbeat interval (200 ms in tests).
#[tokio::test]
async fn a_hanging_app_never_delays_a_heartbeat() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/metrics",
        listener.local_addr().unwrap().port()
    );
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let holder = held.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            holder.lock().unwrap().push(stream);
        }
    });
    let mut config = TestAgent::config(&pki, &coordinator.url(), "web-1", &[("role", "web")]);
    let text = format!(
        "coordinator = \"https://127.0.0.1:1\"\ndata_dir = \"/x\"\n[tls]\nca = \"a\"\ncert = \"b\"\n\
         key = \"c\"\n[apps.web.signals]\nurl = \"{url}\"\ntimeout = \"30s\"\nup = \"up\"\n"
    );
    config.app_signals = convoy_agent::Config::parse(&text, std::path::Path::new("/"))
        .unwrap()
        .app_signals;
    let _agent = TestAgent::start_with(config);
    let operator = pki.operator("alice", Role::Viewer);
    let admin = coordinator.admin(&pki, &operator).await;
    fleet_online(&admin, 1).await;
    let sampled = |admin: &convoy_proto::v1::admin_client::AdminClient<_>| {
        let mut admin = admin.clone();
        async move {
            let metrics = get(&mut admin, "web-1").await?.agent?.metrics?;
            Some(metrics.sampled_at_unix_ms)
        }
    };
    let first = wait_for("a first sample", Duration::from_secs(10), || {
        sampled(&admin)
    })
    .await;
    wait_for("the app holds a scrape", Duration::from_secs(10), || {
        let held = held.clone();
        async move { (!held.lock().unwrap().is_empty()).then_some(()) }
    })
    .await;
    // Five more heartbeats (1 s at 200 ms) well within the scrape's 30 s timeout.
    let started = std::time::Instant::now();
    wait_for(
        "heartbeats while a scrape hangs",
        Duration::from_secs(5),
        || {
            let next = sampled(&admin);
            async move { next.await.filter(|at| *at >= first + 1000) }
        },
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    coordinator.stop().await;
}
