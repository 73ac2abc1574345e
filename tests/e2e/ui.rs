//! `convoy ui` in a real browser (Debian's headless `chromium`, driven over the DevTools
//! protocol by `convoy_tests::cdp`), against a real coordinator and real agents: the fleet
//! page lists them and shows selector errors in the CLI's words, a host's plot has points,
//! a rollout started from the CLI moves on the page without a reload, pausing it from the
//! page pauses it and the audit names the operator, a viewer's controls are disabled, and a
//! request without the token changes nothing. Skipped loudly when chromium is missing.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use convoy_tests::binary;
use convoy_tests::cdp::{Browser, Page, chromium};

use super::{Fleet, free_port, json, wait_until};

mod host;

/// A running `convoy ui`, killed on drop.
struct Ui {
    child: Child,
    url: String,
    port: u16,
}

impl Ui {
    fn start(fleet: &Fleet, operator: &str) -> Self {
        let port = free_port();
        let mut child = Command::new(binary("convoy"))
            .args(["ui", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(fleet.path())
            .env("CONVOY_ADDR", &fleet.addr)
            .env("CONVOY_CA", "pki/ca.pem")
            .env("CONVOY_CERT", format!("pki/{operator}.pem"))
            .env("CONVOY_KEY", format!("pki/{operator}.key"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_string();
        assert!(
            url.starts_with(&format!("http://127.0.0.1:{port}/?token=")),
            "{url:?}"
        );
        Self { child, url, port }
    }

    fn token(&self) -> &str {
        self.url.split_once("token=").unwrap().1
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One raw HTTP/1.1 exchange: (status, the whole answer).
    fn http(&self, request: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, answer)
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// With `CONVOY_UI_SCREENSHOTS=DIR`, saves the page's viewport as `DIR/NAME.png` (how the
/// screenshots in `docs/` are made); otherwise does nothing.
fn screenshot(browser: &mut Browser, page: &Page, name: &str) {
    if let Some(dir) = std::env::var_os("CONVOY_UI_SCREENSHOTS") {
        let png = browser.screenshot(page).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

fn text(browser: &mut Browser, page: &Page, expression: &str) -> String {
    browser
        .eval(page, expression)
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_dashboard_in_a_real_browser_shows_the_fleet_plots_and_a_live_rollout_it_can_pause() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "\n\n!!!!! SKIPPED the_dashboard_in_a_real_browser…: chromium is not installed \
             (apt-get install chromium) !!!!!\n\n"
        );
        return;
    };
    let hosts = [("web-1", "role=web,zone=a"), ("web-2", "role=web,zone=b")];
    let fleet = Fleet::new(&hosts);
    let release_file = fleet.path().join("ticker.release");
    for (id, _) in hosts {
        let path = fleet.path().join(format!("{id}.toml"));
        let config = std::fs::read_to_string(&path).unwrap();
        // `ticker` prints a line, waits for the test's file, prints another.
        let ticker = format!(
            "[actions.ticker]\nrun = [\"/bin/sh\", \"-c\", \"echo tick-one; while [ ! -f {} ]; do sleep 0.05; done; echo tick-two\"]\ntimeout = \"60s\"\n",
            release_file.display()
        );
        std::fs::write(&path, format!("{config}\n[apps.web]\n{ticker}")).unwrap();
    }
    fleet.ok(&[
        "cert", "issue", "operator", "victor", "--role", "viewer", "--ca-dir", "pki", "--out",
        "pki",
    ]);
    let _coordinator = fleet.serve();
    let _agents: Vec<_> = hosts.iter().map(|(id, _)| fleet.agent(id)).collect();
    fleet.wait_online("role=web", 2);
    for version in ["1.0", "2.0"] {
        let artifact = super::web_release(fleet.path(), version);
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
    let ui = Ui::start(&fleet, "alice");
    let viewer_ui = Ui::start(&fleet, "victor");

    // Without the token (or its cookie) nothing is served and nothing changes.
    let host = format!("Host: 127.0.0.1:{}\r\n", ui.port);
    let (status, _) = ui.http(&format!(
        "GET /fleet HTTP/1.1\r\n{host}Connection: close\r\n\r\n"
    ));
    assert_eq!(status, 401);
    let (status, _) = ui.http(&format!(
        "GET /fleet?token=00{} HTTP/1.1\r\n{host}Connection: close\r\n\r\n",
        &ui.token()[2..]
            .chars()
            .map(|c| if c == '0' { '1' } else { '0' })
            .collect::<String>()
    ));
    assert_eq!(status, 401, "a wrong token is refused");
    let (status, answer) = ui.http(&format!(
        "GET /?token={} HTTP/1.1\r\n{host}Connection: close\r\n\r\n",
        ui.token()
    ));
    assert_eq!(status, 303, "{answer}");
    assert!(
        answer.contains("HttpOnly") && answer.contains("SameSite=Strict"),
        "{answer}"
    );
    let cookie = format!("Cookie: convoy_ui_{}={}\r\n", ui.port, ui.token());

    // The fleet page lists the agents, filters with the CLI's grammar, and shows the
    // CLI's own error for a bad selector.
    let mut browser = Browser::launch(&chromium).unwrap();
    let page = browser.open(&ui.url).unwrap();
    browser
        .wait(
            &page,
            "location.pathname === '/fleet' && !location.search.includes('token') \
             && document.querySelectorAll('tr[data-agent]').length === 2",
            Duration::from_secs(20),
        )
        .unwrap();
    let rows = text(
        &mut browser,
        &page,
        "[...document.querySelectorAll('tr[data-agent]')].map(r => r.dataset.agent + ' ' + r.cells[1].textContent).join('|')",
    );
    assert_eq!(rows, "web-1 ● online|web-2 ● online");
    screenshot(&mut browser, &page, "ui-fleet");
    if std::env::var_os("CONVOY_UI_SCREENSHOTS").is_some() {
        let phone = serde_json::json!({"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true});
        browser
            .call(Some(&page), "Emulation.setDeviceMetricsOverride", phone)
            .unwrap();
        screenshot(&mut browser, &page, "ui-fleet-phone");
        browser
            .call(
                Some(&page),
                "Emulation.clearDeviceMetricsOverride",
                serde_json::json!({}),
            )
            .unwrap();
    }
    assert!(
        text(&mut browser, &page, "document.cookie").is_empty(),
        "the session cookie is HttpOnly"
    );
    browser
        .navigate(&page, &format!("{}/fleet?selector=zone%3Db", ui.base()))
        .unwrap();
    let rows = text(
        &mut browser,
        &page,
        "[...document.querySelectorAll('tr[data-agent]')].map(r => r.dataset.agent).join('|')",
    );
    assert_eq!(rows, "web-2");
    browser
        .navigate(&page, &format!("{}/fleet?selector=zone+in+%28a", ui.base()))
        .unwrap();
    let shown = text(
        &mut browser,
        &page,
        "document.getElementById('error').textContent",
    );
    let cli = fleet.convoy(&["agents", "--selector", "zone in (a"]);
    let cli_error = String::from_utf8_lossy(&cli.stderr);
    assert!(
        !shown.is_empty() && cli_error.contains(&shown),
        "page: {shown:?}\nCLI: {cli_error}"
    );

    // A host's plots have points (the coordinator's metrics history, within a minute).
    let host_url = format!("{}/host/web-1?range=15m", ui.base());
    wait_until(
        "web-1's cpu plot has points",
        Duration::from_secs(60),
        || {
            browser.navigate(&page, &host_url).unwrap();
            browser
                .eval(
                    &page,
                    "document.querySelectorAll('figure[data-series=\"cpu\"] circle title').length",
                )
                .unwrap()
                .as_u64()
                > Some(0)
        },
    );
    let hover = text(
        &mut browser,
        &page,
        "document.querySelector('figure[data-series=\"cpu\"] circle title').textContent",
    );
    assert!(hover.contains(" UTC: ") && hover.contains('%'), "{hover}");
    let apps = text(
        &mut browser,
        &page,
        "document.querySelector('main').textContent",
    );
    assert!(apps.contains("1.0") && apps.contains("✓ healthy"), "{apps}");

    // The events page, open in its own tab, receives what happens from now on.
    let events_page = browser.open(&format!("{}/events", ui.base())).unwrap();
    browser
        .call(Some(&page), "Page.bringToFront", serde_json::json!({}))
        .unwrap();

    // A rollout started from the CLI: the page follows it live.
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
        "1s",
        "-o",
        "json",
    ]));
    let id = started["id"].as_str().unwrap().to_string();
    browser
        .navigate(&page, &format!("{}/rollouts/{id}", ui.base()))
        .unwrap();
    browser.eval(&page, "window.__loaded_once = true").unwrap();
    let state = "document.getElementById('rollout-state').dataset.state";
    browser
        .wait(
            &page,
            &format!("{state} === 'awaiting_promotion'"),
            Duration::from_secs(30),
        )
        .unwrap();

    screenshot(&mut browser, &page, "ui-rollout");
    if std::env::var_os("CONVOY_UI_SCREENSHOTS").is_some() {
        let dark =
            serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]});
        browser
            .call(Some(&page), "Emulation.setEmulatedMedia", dark)
            .unwrap();
        screenshot(&mut browser, &page, "ui-rollout-dark");
        browser
            .call(
                Some(&page),
                "Emulation.setEmulatedMedia",
                serde_json::json!({"features": []}),
            )
            .unwrap();
    }

    // A viewer sees the same rollout with every control disabled, and why.
    let viewer_page = browser.open(&viewer_ui.url).unwrap();
    browser
        .navigate(&viewer_page, &format!("{}/rollouts/{id}", viewer_ui.base()))
        .unwrap();
    let controls = browser
        .eval(
            &viewer_page,
            "[...document.querySelectorAll('.controls button')].map(b => [b.dataset.action, b.disabled]).flat().join(',')",
        )
        .unwrap();
    assert_eq!(
        controls,
        "pause,true,resume,true,promote,true,abort,true,rollback,true"
    );
    let reason = text(
        &mut browser,
        &viewer_page,
        "document.getElementById('why-pause').textContent",
    );
    assert!(reason.contains("viewer"), "{reason}");
    screenshot(&mut browser, &viewer_page, "ui-rollout-viewer");
    // And a viewer's POST, well-formed in every way, is refused by the coordinator.
    let viewer_host = format!("Host: 127.0.0.1:{}\r\n", viewer_ui.port);
    let (status, answer) = viewer_ui.http(&format!(
        "POST /api/rollouts/{id}/pause HTTP/1.1\r\n{viewer_host}Origin: {}\r\nCookie: convoy_ui_{}={}\r\nX-Convoy-Token: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        viewer_ui.base(),
        viewer_ui.port,
        viewer_ui.token(),
        viewer_ui.token()
    ));
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("permission denied"), "{answer}");

    // Forged POSTs to alice's dashboard change nothing: cookie without the header, and
    // the header from another origin.
    for extra in [
        format!("Origin: {}\r\n{cookie}", ui.base()),
        format!(
            "Origin: http://evil.example\r\n{cookie}X-Convoy-Token: {}\r\n",
            ui.token()
        ),
    ] {
        let (status, answer) = ui.http(&format!(
            "POST /api/rollouts/{id}/pause HTTP/1.1\r\n{host}{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
        ));
        assert_eq!(status, 403, "{answer}");
    }
    let status_json = || json(&fleet.ok(&["rollout", "status", &id, "-o", "json"]));
    assert_eq!(status_json()["state"], "awaiting_promotion");

    // Pause from the page, through the confirmation dialog.
    browser
        .call(Some(&page), "Page.bringToFront", serde_json::json!({}))
        .unwrap();
    browser
        .eval(&page, "window.__errors = []; window.addEventListener('error', e => __errors.push(e.message)); window.addEventListener('unhandledrejection', e => __errors.push(String(e.reason))); 1")
        .unwrap();
    browser
        .eval(
            &page,
            "document.querySelector('button[data-action=\"pause\"]').click()",
        )
        .unwrap();
    browser
        .wait(
            &page,
            "document.getElementById('confirm').open",
            Duration::from_secs(5),
        )
        .unwrap();
    browser
        .eval(&page, "document.getElementById('confirm-yes').click()")
        .unwrap();
    browser
        .wait(
            &page,
            &format!("{state} === 'paused' && document.getElementById('control-result').dataset.status === '200'"),
            Duration::from_secs(20),
        )
        .unwrap_or_else(|err| {
            let seen = text(
                &mut browser,
                &page,
                "document.getElementById('rollout-state').dataset.state + ' / ' + document.getElementById('control-result').textContent + ' / dialog open ' + document.getElementById('confirm').open + ' ' + document.getElementById('confirm').returnValue + ' / ' + document.querySelector('button[data-action=\"pause\"]').outerHTML + ' / updates ' + document.getElementById('rollout-live').dataset.updates + ' / errors ' + window.__errors.join(';') + ' / status ' + document.getElementById('control-result').dataset.status",
            );
            panic!("{err}; the page shows {seen}");
        });
    assert_eq!(status_json()["state"], "paused");
    let audit = json(&fleet.ok(&["audit", "-o", "json"]));
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["call"] == "ControlRollout"
                && e["operator"] == "alice"
                && e["request"].as_str().unwrap_or("").contains("pause")
                && e["ok"] == true),
        "{audit:#}"
    );

    // CLI moves it on; the same page (never reloaded) follows to the end.
    fleet.ok(&["rollout", "resume", &id]);
    browser
        .wait(
            &page,
            &format!("{state} === 'awaiting_promotion'"),
            Duration::from_secs(20),
        )
        .unwrap();
    fleet.ok(&["rollout", "promote", &id]);
    browser
        .wait(
            &page,
            &format!(
                "{state} === 'succeeded' && document.querySelector('li.host[data-host=\"web-2\"]').dataset.state === 'succeeded'"
            ),
            Duration::from_secs(30),
        )
        .unwrap();
    assert_eq!(
        browser
            .eval(&page, "window.__loaded_once === true")
            .unwrap(),
        true,
        "the page was not reloaded"
    );
    let after = text(
        &mut browser,
        &page,
        "document.querySelector('button[data-action=\"pause\"]').disabled + ' ' + document.getElementById('why-pause').textContent",
    );
    assert!(after.starts_with("true it is over"), "{after}");
    // Below the waves: the post-deployment report (computed for the request until the
    // coordinator stores it).
    let (status, html) = ui.http(&format!(
        "GET /rollouts/{id} HTTP/1.1\r\n{host}Cookie: convoy_ui_{}={}\r\nConnection: close\r\n\r\n",
        ui.port,
        ui.token()
    ));
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("<section id=\"report\"") && html.contains(": succeeded — "),
        "{html}"
    );

    // The events tab got the rollout's events without a reload.
    let seen = text(
        &mut browser,
        &events_page,
        "(document.getElementById('events').dataset.updates || '0') + ' ' + document.getElementById('events').textContent",
    );
    assert!(
        !seen.starts_with("0 ") && seen.contains("rollout"),
        "{seen}"
    );

    // A job's output arrives on its page as the command prints it.
    let job = json(&fleet.ok(&["exec", "ticker", "--host", "web-1", "-o", "json"]));
    let job_id = job["id"].as_str().unwrap().to_string();
    wait_until(
        "the job's first line is stored",
        Duration::from_secs(20),
        || {
            String::from_utf8_lossy(&fleet.convoy(&["job", "show", &job_id]).stdout)
                .contains("tick-one")
        },
    );
    browser
        .navigate(&page, &format!("{}/jobs/{job_id}", ui.base()))
        .unwrap();
    browser.eval(&page, "window.__loaded_once = 'job'").unwrap();
    let output = "document.querySelector('section[data-host=\"web-1\"] .output').textContent";
    browser
        .wait(
            &page,
            &format!("document.getElementById('job-live').dataset.connected === '1' && {output}.includes('tick-one')"),
            Duration::from_secs(20),
        )
        .unwrap();
    std::fs::write(&release_file, "").unwrap();
    browser
        .wait(
            &page,
            &format!("{output}.includes('tick-two') && document.getElementById('job-state').textContent === 'succeeded'"),
            Duration::from_secs(20),
        )
        .unwrap();
    screenshot(&mut browser, &page, "ui-job");
    assert_eq!(
        browser.eval(&page, "window.__loaded_once").unwrap(),
        "job",
        "the job page was not reloaded"
    );

    // The other pages answer.
    for path in ["/rollouts", "/jobs", "/backups", "/events", "/alerts"] {
        browser
            .navigate(&page, &format!("{}{path}", ui.base()))
            .unwrap();
        let title = text(
            &mut browser,
            &page,
            "document.querySelector('h1').textContent",
        );
        assert!(!title.is_empty(), "{path}");
    }
    let listed = text(&mut browser, &page, "location.href");
    assert!(listed.ends_with("/alerts"), "{listed}");
}
