//! The host page and the rollout page's verdicts in a real browser: an app on loopback
//! serves Prometheus text, the agent scrapes it as `[apps.web.signals]`, and the host page
//! plots `web.error_rate` with points beside the host metrics; it lists the host's
//! deployment (current and previous release, health), the deploy job, and its backup with
//! the last drill. A rollout with a signal gate and a canary analysis shows, per wave, the
//! gates held and the analysis verdict with its p-value, medians and sample counts, and the
//! failures against the budget.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use convoy_tests::cdp::{Browser, chromium};

use super::super::{Fleet, json, wait_until};
use super::{Ui, screenshot, text};

/// An app on 127.0.0.1 serving 100 requests and 1 error more at each scrape, until dropped.
struct MetricsApp {
    url: String,
    stop: Arc<AtomicBool>,
}

impl MetricsApp {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let scrapes = AtomicU64::new(0);
        std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let n = scrapes.fetch_add(1, Ordering::SeqCst) + 1;
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(read) => request.extend_from_slice(&buf[..read]),
                    }
                }
                let body = format!(
                    "# TYPE http_requests_total counter\nhttp_requests_total {}\n\
                     # TYPE http_errors_total counter\nhttp_errors_total {n}\n",
                    100 * n
                );
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        Self { url, stop }
    }
}

impl Drop for MetricsApp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[test]
fn the_host_page_plots_app_signals_and_shows_deployments_and_backups_and_the_rollout_page_its_verdicts()
 {
    let Some(chromium) = chromium() else {
        eprintln!(
            "\n\n!!!!! SKIPPED the_host_page_plots_app_signals…: chromium is not installed \
             (apt-get install chromium) !!!!!\n\n"
        );
        return;
    };
    let hosts = [("web-1", "role=web"), ("web-2", "role=web")];
    let fleet = Fleet::new(&hosts);
    let app = MetricsApp::start();
    let live = fleet.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(live.join("state.db"), b"rows\n").unwrap();
    for (id, _) in hosts {
        let path = fleet.path().join(format!("{id}.toml"));
        let config = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            format!(
                "{config}\n[apps.web.signals]\nurl = \"{}\"\n\
                 error_rate = \"rate(http_errors_total) / rate(http_requests_total)\"\n\
                 [backup]\nrestore_roots = [\"{root}\"]\n[backup.sets.appdata]\npaths = [\"{live}\"]\n",
                app.url,
                root = fleet.path().display(),
                live = live.display(),
            ),
        )
        .unwrap();
    }
    let _coordinator = fleet.serve();
    let _agents: Vec<_> = hosts.iter().map(|(id, _)| fleet.agent(id)).collect();
    fleet.wait_online("role=web", 2);
    for version in ["1.0", "2.0"] {
        let artifact = super::super::web_release(fleet.path(), version);
        fleet.ok(&[
            "release",
            "push",
            "web",
            version,
            artifact.to_str().unwrap(),
            "--sign-key",
            "release.key",
        ]);
    }
    fleet.ok(&["deploy", "web", "1.0", "--selector", "role=web", "--wait"]);
    fleet.ok(&[
        "backup",
        "run",
        "appdata",
        "--selector",
        "role=web",
        "--wait",
    ]);
    fleet.ok(&[
        "backup",
        "drill",
        "appdata",
        "--selector",
        "role=web",
        "--wait",
    ]);
    let ui = Ui::start(&fleet, "alice");
    let mut browser = Browser::launch(&chromium).unwrap();
    let page = browser.open(&ui.url).unwrap();

    // The app signal is plotted, with points, beside the host metrics.
    let host_url = format!("{}/host/web-1?range=15m", ui.base());
    let signal = "figure[data-series=\"web.error_rate\"]";
    wait_until(
        "web-1's web.error_rate plot has points",
        Duration::from_secs(60),
        || {
            browser.navigate(&page, &host_url).unwrap();
            browser
                .eval(
                    &page,
                    &format!("document.querySelectorAll('{signal} circle title').length"),
                )
                .unwrap()
                .as_u64()
                > Some(0)
        },
    );
    let caption = text(
        &mut browser,
        &page,
        &format!("document.querySelector('{signal} figcaption').textContent"),
    );
    assert_eq!(caption, "error_rate (web, app signal)");
    // One error in a hundred requests: the hover value reads 0.0100.
    let hover = text(
        &mut browser,
        &page,
        &format!("document.querySelector('{signal} circle title').textContent"),
    );
    assert!(hover.contains(" UTC: 0.0100"), "{hover}");
    assert_eq!(
        browser
            .eval(
                &page,
                "document.querySelectorAll('#host-plots figure[data-series=\"cpu\"]').length"
            )
            .unwrap(),
        1
    );
    let ranges = text(
        &mut browser,
        &page,
        "[...document.querySelectorAll('.ranges a')].map(a => a.textContent).join(',')",
    );
    assert_eq!(ranges, "15m,1h,6h,24h,7d");

    // Its deployment, the deploy job behind it, and its backup with the last drill.
    let deployed = text(
        &mut browser,
        &page,
        "[...document.querySelector('#apps tr[data-app=\"web\"]').cells].map(c => c.textContent).join('|')",
    );
    assert_eq!(deployed, "web|1.0|–|✓ healthy");
    let deploys = text(
        &mut browser,
        &page,
        "document.getElementById('host-deploys').textContent",
    );
    assert!(
        deploys.contains("deploy web 1.0") && deploys.contains("✓ succeeded"),
        "{deploys}"
    );
    let backups = json(&fleet.ok(&["backup", "list", "--host", "web-1", "-o", "json"]));
    let backup_id = backups[0]["id"].as_str().unwrap().to_string();
    let drill = text(
        &mut browser,
        &page,
        &format!(
            "document.querySelector('#host-backups tr[data-backup=\"{backup_id}\"] .drill').textContent"
        ),
    );
    assert!(drill.starts_with("✓ ok on web-"), "{drill}");
    screenshot(&mut browser, &page, "ui-host");
    if std::env::var_os("CONVOY_UI_SCREENSHOTS").is_some() {
        let dark =
            serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]});
        browser
            .call(Some(&page), "Emulation.setEmulatedMedia", dark)
            .unwrap();
        browser
            .eval(
                &page,
                "window.scrollTo(0, document.getElementById('signals').offsetTop - 8)",
            )
            .unwrap();
        screenshot(&mut browser, &page, "ui-host-dark");
        browser
            .call(
                Some(&page),
                "Emulation.setEmulatedMedia",
                serde_json::json!({"features": []}),
            )
            .unwrap();
        let phone = serde_json::json!({"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true});
        browser
            .call(Some(&page), "Emulation.setDeviceMetricsOverride", phone)
            .unwrap();
        browser.eval(&page, "window.scrollTo(0, 0)").unwrap();
        screenshot(&mut browser, &page, "ui-host-phone");
        browser
            .call(
                Some(&page),
                "Emulation.clearDeviceMetricsOverride",
                serde_json::json!({}),
            )
            .unwrap();
    }

    // A rollout with a signal gate and a canary analysis: the page shows both per wave.
    let started = json(&fleet.ok(&[
        "rollout",
        "start",
        "web",
        "2.0",
        "--selector",
        "role=web",
        "--canary",
        "1",
        "--batch",
        "1",
        "--bake",
        "10s",
        "--gate",
        "web.error_rate<0.5",
        "--analysis",
        "mem<=1.5*baseline",
        "--auto-promote",
        "-o",
        "json",
    ]));
    let id = started["id"].as_str().unwrap().to_string();
    browser
        .navigate(&page, &format!("{}/rollouts/{id}", ui.base()))
        .unwrap();
    let verdict = "document.querySelector('li.wave[data-wave=\"0\"] tr[data-verdict]')";
    browser
        .wait(
            &page,
            &format!("{verdict} !== null"),
            Duration::from_secs(180),
        )
        .unwrap();
    browser
        .wait(
            &page,
            "document.getElementById('rollout-state').dataset.state === 'succeeded'",
            Duration::from_secs(60),
        )
        .unwrap();
    let status = json(&fleet.ok(&["rollout", "status", &id, "-o", "json"]));
    let judged = &status["waves"][0]["analysis"][0];
    let row = text(
        &mut browser,
        &page,
        &format!("[...{verdict}.cells].map(c => c.textContent).join('|')"),
    );
    let cells: Vec<&str> = row.split('|').collect();
    assert_eq!(cells[0], "mem<=1.5*baseline", "{row}");
    let word = judged["verdict"].as_str().unwrap();
    assert!(
        cells[1].starts_with(&format!("✓ {word}")),
        "{row} / {judged}"
    );
    assert_eq!(
        cells[5],
        format!(
            "{}/{}",
            judged["canary_samples"], judged["baseline_samples"]
        ),
        "{row}"
    );
    assert!(judged["canary_samples"].as_u64().unwrap() > 0, "{judged}");
    assert!(
        cells[2] != "–" && cells[3] != "–" && cells[4] != "–",
        "{row}"
    );
    let gates = text(
        &mut browser,
        &page,
        "[...document.querySelectorAll('li.wave .gates')].map(g => g.dataset.gates + ':' + g.textContent).join('|')",
    );
    assert_eq!(
        gates,
        "held:✓ gates held: web.error_rate<0.5|held:✓ gates held: web.error_rate<0.5"
    );
    let budget = text(
        &mut browser,
        &page,
        "document.getElementById('budget').textContent",
    );
    assert!(
        budget.starts_with("✓ within budget: failures 0 of budget "),
        "{budget}"
    );
    screenshot(&mut browser, &page, "ui-rollout-analysis");
}
