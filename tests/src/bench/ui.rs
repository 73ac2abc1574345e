//! `convoy-bench ui`: the dashboard's fleet page for N simulated agents, measured in Debian's
//! headless chromium (`convoy_tests::cdp`) from the browser's own timing entries (navigation
//! timing and the `first-contentful-paint` entry through a `PerformanceObserver`): first
//! render (navigation start to first paint and to the end of the load event, including the
//! ListAgents call, sorting and rendering on the `convoy ui` side), a selector filter typed
//! into the page's box and submitted (one host), a sort over all of them, the floor (the same
//! page's bytes from a static loopback server), and `convoy ui`'s resident memory idle after
//! start and after the pages were served.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use convoy_tests::cdp::{Browser, Page, chromium};
use convoy_tests::swarm::{Swarm, SwarmConfig};

use crate::fleet::{Fleet, Target, sibling_binary};
use crate::procfs::{median, proc_status_kib};
use crate::stage::ConnectArgs;

#[derive(Debug, clap::Args)]
pub struct UiArgs {
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// `convoy ui`, killed on drop.
struct UiProc(Child);

impl Drop for UiProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the browser measured for the page it just loaded, from its own timing entries:
/// milliseconds from navigation start to the first byte, to the first contentful paint,
/// and to the end of the load event.
#[derive(Debug, Clone, Copy)]
struct Timing {
    first_byte: f64,
    paint: f64,
    load: f64,
}

fn timing(browser: &mut Browser, page: &Page) -> anyhow::Result<Timing> {
    let value = browser.eval(
        page,
        "new Promise(done => {\
           const n = performance.getEntriesByType('navigation')[0];\
           const finish = fcp => done([n.responseStart - n.startTime, fcp, n.loadEventEnd - n.startTime]);\
           const seen = performance.getEntriesByName('first-contentful-paint')[0];\
           if (seen) return finish(seen.startTime);\
           new PerformanceObserver(list => {\
             const e = list.getEntriesByName('first-contentful-paint')[0];\
             if (e) finish(e.startTime);\
           }).observe({type: 'paint', buffered: true});\
           setTimeout(() => finish(NaN), 5000);\
         })",
    )?;
    let at = |i: usize| value.get(i).and_then(serde_json::Value::as_f64);
    match (at(0), at(2)) {
        (Some(first_byte), Some(load)) if load > 0.0 => Ok(Timing {
            first_byte,
            // No paint entry within 5 s (JSON has no NaN): shown as NaN.
            paint: at(1).unwrap_or(f64::NAN),
            load,
        }),
        _ => bail!("no navigation timing: {value}"),
    }
}

/// Loads `url` as a new document and returns its timing.
fn load(browser: &mut Browser, page: &Page, url: &str) -> anyhow::Result<Timing> {
    browser.navigate(page, url)?;
    timing(browser, page)
}

/// Types `selector` into the fleet page's selector box and submits it, as a user does;
/// returns the resulting page's timing (navigation start is the submit).
fn filter(browser: &mut Browser, page: &Page, selector: &str) -> anyhow::Result<Timing> {
    browser.mark_document(page)?;
    browser.eval(
        page,
        &format!(
            "(() => {{ const box = document.getElementById('selector'); box.value = {}; \
             box.form.requestSubmit(); return 1; }})()",
            serde_json::Value::from(selector)
        ),
    )?;
    browser.wait_new_document(page)?;
    timing(browser, page)
}

fn rows(browser: &mut Browser, page: &Page) -> anyhow::Result<u64> {
    browser
        .eval(page, "document.querySelectorAll('tr[data-agent]').length")?
        .as_u64()
        .context("no row count")
}

/// The floor: the same bytes (the fleet page as `convoy ui` served it, its stylesheet and
/// script) from a static loopback server that answers at once, loaded by the same browser.
struct StaticPages {
    addr: std::net::SocketAddr,
}

impl StaticPages {
    fn serve(pages: Vec<(String, &'static str, String)>) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match std::io::Read::read(&mut stream, &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request);
                let path = line.split(' ').nth(1).unwrap_or("/");
                let found = pages.iter().find(|(p, _, _)| p == path);
                let (status, kind, body) = match found {
                    Some((_, kind, body)) => ("200 OK", *kind, body.as_str()),
                    None => ("404 Not Found", "text/plain", ""),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = std::io::Write::write_all(&mut stream, head.as_bytes());
                let _ = std::io::Write::write_all(&mut stream, body.as_bytes());
            }
        });
        Ok(Self { addr })
    }
}

fn fetch_text(browser: &mut Browser, page: &Page, path: &str) -> anyhow::Result<String> {
    Ok(browser
        .eval(
            page,
            &format!(
                "fetch({}).then(r => r.text())",
                serde_json::Value::from(path)
            ),
        )?
        .as_str()
        .context("no text")?
        .to_string())
}

fn medians(label: &str, runs: &[Timing]) {
    let pick = |f: fn(&Timing) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    println!(
        "  {label}: first byte {:.0} ms, first contentful paint {:.0} ms, load event end {:.0} ms",
        pick(|t| t.first_byte),
        pick(|t| t.paint),
        pick(|t| t.load)
    );
}

pub async fn ui_bench(args: &UiArgs) -> anyhow::Result<()> {
    let Some(chromium) = chromium() else {
        bail!("chromium is not installed (apt-get install chromium)");
    };
    println!(
        "ui: the fleet page for {} simulated agents in headless chromium, {} runs",
        args.agents, args.runs
    );
    let fleet = Fleet::new(&[])?;
    let mut coordinator = fleet.spawn_coordinator()?;
    fleet
        .wait_ready(&mut coordinator, Target::Coordinator)
        .await?;
    let config = SwarmConfig {
        connect_concurrency: args.connect.connect_concurrency,
        source_addresses: args.connect.source_addresses,
        ..SwarmConfig::new(fleet.url(), fleet.ca_dir(), args.agents)
    };
    let mut swarm = Swarm::start(config).await?;
    let progress = swarm.settled(Duration::from_secs(180)).await;
    if progress.connected != args.agents {
        let report = swarm.stop().await;
        bail!(
            "only {} of {} agents connected:\n{report}",
            report.connected,
            args.agents
        );
    }
    fleet
        .wait_online(args.agents, Duration::from_secs(120))
        .await?;

    let mut ui = UiProc(
        Command::new(sibling_binary("convoy")?)
            .args(["ui", "--listen", "127.0.0.1:0"])
            .current_dir(fleet.dir())
            .env("CONVOY_ADDR", fleet.url())
            .env("CONVOY_CA", fleet.ca_dir().join("ca.pem"))
            .env("CONVOY_CERT", &fleet.operator().cert)
            .env("CONVOY_KEY", &fleet.operator().key)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start convoy ui")?,
    );
    let mut url = String::new();
    std::io::BufReader::new(ui.0.stdout.take().context("no stdout")?).read_line(&mut url)?;
    let url = url.trim().to_string();
    let base = url.split("/?").next().unwrap_or_default().to_string();
    let pid = ui.0.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_kib = proc_status_kib(pid, "VmRSS")?;

    let load_avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut browser = tokio::task::block_in_place(|| Browser::launch(&chromium))?;
    let (mut first, mut filtered, mut sorted, mut floor) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    tokio::task::block_in_place(|| -> anyhow::Result<()> {
        let page = browser.open(&url)?;
        let one = browser
            .eval(
                &page,
                "document.querySelector('tr[data-agent]').dataset.agent",
            )?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let served = StaticPages::serve(vec![
            (
                "/fleet".into(),
                "text/html; charset=utf-8",
                fetch_text(&mut browser, &page, "/fleet")?,
            ),
            (
                "/assets/app.css".into(),
                "text/css",
                fetch_text(&mut browser, &page, "/assets/app.css")?,
            ),
            (
                "/assets/app.js".into(),
                "text/javascript",
                fetch_text(&mut browser, &page, "/assets/app.js")?,
            ),
        ])?;
        for run in 1..=args.runs {
            let a = load(&mut browser, &page, &format!("{base}/fleet"))?;
            let shown = rows(&mut browser, &page)?;
            let counts = browser.eval(&page, "document.getElementById('counts').textContent")?;
            let b = filter(&mut browser, &page, &format!("id={one}"))?;
            let matched = rows(&mut browser, &page)?;
            anyhow::ensure!(matched == 1, "the filter id={one} shows {matched} rows");
            let c = load(
                &mut browser,
                &page,
                &format!("{base}/fleet?sort=cpu&dir=desc"),
            )?;
            let d = load(
                &mut browser,
                &page,
                &format!("http://{}/fleet", served.addr),
            )?;
            let floor_rows = rows(&mut browser, &page)?;
            println!(
                "run {run}: first render {:.0} ms to paint, {:.0} ms to load ({shown} rows shown; {counts}); \
                 filter id={one} {:.0} ms to paint, {:.0} ms to load ({matched} row); sort by cpu {:.0} ms to load; \
                 floor (the same {floor_rows}-row page from a static server) {:.0} ms to paint, {:.0} ms to load",
                a.paint, a.load, b.paint, b.load, c.load, d.paint, d.load
            );
            first.push(a);
            filtered.push(b);
            sorted.push(c);
            floor.push(d);
        }
        Ok(())
    })?;
    let served_kib = proc_status_kib(pid, "VmRSS")?;
    println!(
        "median over {} runs (load average before: {}):",
        args.runs,
        load_avg.trim()
    );
    medians("first render", &first);
    medians("selector filter", &filtered);
    medians("sort by cpu", &sorted);
    medians("floor, static page", &floor);
    println!(
        "convoy ui resident memory: {:.1} MiB idle after start, {:.1} MiB after serving the pages",
        idle_kib as f64 / 1024.0,
        served_kib as f64 / 1024.0
    );
    drop(browser);
    drop(ui);
    swarm.stop().await;
    coordinator.terminate(Duration::from_secs(20)).await?;
    Ok(())
}
