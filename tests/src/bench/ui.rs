//! `convoy-bench ui`: the dashboard's fleet page for N simulated agents, measured in Debian's
//! headless chromium (`convoy_tests::cdp`): first render (navigation start to the load
//! event, including the ListAgents call, sorting and rendering on the `convoy ui` side),
//! a selector filter (one host), a sort over all of them, and `convoy ui`'s resident memory
//! idle after start and after the pages were served.

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

/// Milliseconds from navigation start to the end of the load event of the current page.
fn load_ms(browser: &mut Browser, page: &Page) -> anyhow::Result<f64> {
    browser
        .eval(
            page,
            "(() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; })()",
        )?
        .as_f64()
        .context("no navigation timing")
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

    let mut browser = tokio::task::block_in_place(|| Browser::launch(&chromium))?;
    let (mut first, mut filter, mut sort) = (Vec::new(), Vec::new(), Vec::new());
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
        for run in 1..=args.runs {
            browser.navigate(&page, &format!("{base}/fleet"))?;
            let rows = browser.eval(&page, "document.querySelectorAll('tr[data-agent]').length")?;
            let counts = browser.eval(&page, "document.getElementById('counts').textContent")?;
            let a = load_ms(&mut browser, &page)?;
            browser.navigate(&page, &format!("{base}/fleet?selector=id%3D{one}"))?;
            let matched =
                browser.eval(&page, "document.querySelectorAll('tr[data-agent]').length")?;
            let b = load_ms(&mut browser, &page)?;
            browser.navigate(&page, &format!("{base}/fleet?sort=cpu&dir=desc"))?;
            let c = load_ms(&mut browser, &page)?;
            println!(
                "run {run}: first render {a:.0} ms ({rows} rows shown; {counts}), filter id={one} {b:.0} ms ({matched} row), sort by cpu {c:.0} ms"
            );
            first.push(a);
            filter.push(b);
            sort.push(c);
        }
        Ok(())
    })?;
    let served_kib = proc_status_kib(pid, "VmRSS")?;
    println!(
        "median over {} runs: first render {:.0} ms, filter {:.0} ms, sort {:.0} ms",
        args.runs,
        median(&first),
        median(&filter),
        median(&sort)
    );
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
