//! `handshake-flood`: how long an operator call and an agent reconnect take while N TCP
//! connections that never start TLS are held open against `convoy serve` (issue 12,
//! finding 7), against the same with none (the floor).
//!
//! The idle connections come from 127.0.0.10 onwards (`--flood-addresses` of them), the
//! measured clients from 127.0.0.1. With `--reopen` (the default) a connection the
//! coordinator closes is opened again at once, as an attacker keeping N open would.
//! Each sample is a fresh connection: an operator's mTLS connect + `WhoAmI` +
//! `ListAgents`, and an agent's mTLS connect + Hello until its Welcome.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, ensure};
use convoy_coordinator::pki::{self, Ca};
use convoy_proto::identity::{AgentId, Identity};
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use convoy_proto::v1::{
    AgentMessage, Hello, ListAgentsRequest, WhoAmIRequest, agent_message, coordinator_message,
};
use convoy_tests::CertFiles;
use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::fleet::{Fleet, Proc, Target};
use crate::procfs::median;

/// A measured call slower than this counts as failed (the old listener could hold one
/// for the whole 10 s handshake timeout, and longer).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const PROBE_AGENT: &str = "flood-probe";
/// How long the flood may take to open before the measurement starts anyway.
const OPEN_WITHIN: Duration = Duration::from_secs(15);

#[derive(Debug, clap::Args)]
pub struct FloodArgs {
    /// Idle connections held open during the measurement (0 is measured too, the floor).
    #[arg(long, default_value_t = 2000)]
    idle: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Operator calls and agent connects measured per run and flood size.
    #[arg(long, default_value_t = 5)]
    samples: usize,
    /// Source addresses 127.0.0.10 ..= 127.0.0.(9+N) for the idle connections.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u8).range(1..=200))]
    flood_addresses: u8,
    /// Open a connection again as soon as the coordinator closes it.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    reopen: bool,
}

pub async fn flood_bench(args: &FloodArgs) -> anyhow::Result<()> {
    println!(
        "handshake flood: {} idle connections from {} addresses (reopen: {}), {} runs of {} samples",
        args.idle, args.flood_addresses, args.reopen, args.runs, args.samples
    );
    let fleet = Fleet::new(&[])?;
    let ca = Ca::load(&fleet.ca_dir())?;
    let identity = Identity::Agent(AgentId::new(PROBE_AGENT)?);
    let (cert, key) =
        pki::issue_to_dir(&ca, &identity, PROBE_AGENT, &[], 30, &fleet.ca_dir(), false)?;
    let agent = CertFiles { cert, key };
    let mut coordinator = fleet.spawn_coordinator()?;
    fleet
        .wait_ready(&mut coordinator, Target::Coordinator)
        .await?;
    let target: SocketAddr = format!("127.0.0.1:{}", fleet_port(&fleet)?).parse()?;
    let mut rows: Vec<Row> = [0, args.idle].iter().map(|&idle| Row::new(idle)).collect();
    for run in 1..=args.runs {
        for row in &mut rows {
            let flood = Flood::start(target, row.idle, args.flood_addresses, args.reopen).await?;
            let (operator, agent_connect) =
                measure(&fleet, &agent, &mut coordinator, args.samples).await?;
            let (held, closed) = flood.stop().await;
            println!(
                "run {run}, {} idle: operator call median {:.3} s (max {:.3} s), agent connect \
                 median {:.3} s (max {:.3} s); idle connections open at the end {held}, closed \
                 by the coordinator meanwhile {closed}",
                row.idle,
                median(&operator),
                max(&operator),
                median(&agent_connect),
                max(&agent_connect),
            );
            row.operator.push(median(&operator));
            row.agent.push(median(&agent_connect));
            row.worst_operator = row.worst_operator.max(max(&operator));
            row.worst_agent = row.worst_agent.max(max(&agent_connect));
        }
    }
    coordinator.terminate(Duration::from_secs(60)).await?;
    let floor = (median(&rows[0].operator), median(&rows[0].agent));
    println!(
        "| idle connections | operator call (median of run medians) | worst | agent connect + Welcome | worst | ratio to 0 idle (operator / agent) |"
    );
    for row in &rows {
        let (operator, agent_connect) = (median(&row.operator), median(&row.agent));
        println!(
            "| {} | {operator:.3} s | {:.3} s | {agent_connect:.3} s | {:.3} s | {:.1}x / {:.1}x |",
            row.idle,
            row.worst_operator,
            row.worst_agent,
            operator / floor.0,
            agent_connect / floor.1
        );
    }
    Ok(())
}

/// One flood size's results over the runs.
struct Row {
    idle: usize,
    /// Each run's median, in seconds.
    operator: Vec<f64>,
    agent: Vec<f64>,
    /// The slowest single sample of any run.
    worst_operator: f64,
    worst_agent: f64,
}

impl Row {
    fn new(idle: usize) -> Self {
        Self {
            idle,
            operator: Vec::new(),
            agent: Vec::new(),
            worst_operator: 0.0,
            worst_agent: 0.0,
        }
    }
}

fn fleet_port(fleet: &Fleet) -> anyhow::Result<u16> {
    fleet
        .url()
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .context("the fleet's url has no port")
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

/// `samples` operator calls and agent connects, each on a fresh connection, in seconds;
/// one that fails or takes longer than [`CALL_TIMEOUT`] counts as [`CALL_TIMEOUT`] (and
/// is reported).
async fn measure(
    fleet: &Fleet,
    agent: &CertFiles,
    coordinator: &mut Proc,
    samples: usize,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut operator = Vec::new();
    let mut agent_connect = Vec::new();
    for _ in 0..samples {
        coordinator.ensure_running()?;
        let began = Instant::now();
        let call = tokio::time::timeout(CALL_TIMEOUT, async {
            let mut admin = fleet.admin().await?;
            admin.who_am_i(WhoAmIRequest {}).await?;
            admin.list_agents(ListAgentsRequest::default()).await?;
            anyhow::Ok(())
        })
        .await;
        operator.push(seconds("operator call", began, call));

        let began = Instant::now();
        let call = tokio::time::timeout(CALL_TIMEOUT, agent_session(fleet, agent)).await;
        agent_connect.push(seconds("agent connect", began, call));
    }
    Ok((operator, agent_connect))
}

fn seconds(
    what: &str,
    began: Instant,
    call: Result<anyhow::Result<()>, tokio::time::error::Elapsed>,
) -> f64 {
    match call {
        Ok(Ok(())) => began.elapsed().as_secs_f64(),
        Ok(Err(err)) => {
            println!(
                "{what} failed after {:.2} s: {err:#}",
                began.elapsed().as_secs_f64()
            );
            CALL_TIMEOUT.as_secs_f64()
        }
        Err(_) => {
            println!("{what} timed out after {CALL_TIMEOUT:?}");
            CALL_TIMEOUT.as_secs_f64()
        }
    }
}

/// An agent's reconnect: mTLS connect, Hello, until the Welcome.
async fn agent_session(fleet: &Fleet, agent: &CertFiles) -> anyhow::Result<()> {
    let ca = fleet.ca_dir().join(pki::CA_CERT_FILE);
    let channel = convoy_tests::channel(&fleet.url(), &ca, Some(agent)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(AgentMessage {
        body: Some(agent_message::Body::Hello(Hello {
            agent_id: PROBE_AGENT.into(),
            version: "bench".into(),
            ..Default::default()
        })),
    })
    .await?;
    let mut inbound = AgentLinkClient::new(channel)
        .session(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    let first = inbound.message().await?.context("no first message")?;
    ensure!(
        matches!(first.body, Some(coordinator_message::Body::Welcome(_))),
        "the first message was not a Welcome: {first:?}"
    );
    Ok(())
}

/// N idle TCP connections held open by as many tasks.
struct Flood {
    stop: CancellationToken,
    tasks: JoinSet<()>,
    open: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

impl Flood {
    /// Opens `count` connections and returns once all were open at least once.
    async fn start(
        target: SocketAddr,
        count: usize,
        addresses: u8,
        reopen: bool,
    ) -> anyhow::Result<Self> {
        let flood = Self {
            stop: CancellationToken::new(),
            tasks: JoinSet::new(),
            open: Arc::new(AtomicUsize::new(0)),
            closed: Arc::new(AtomicUsize::new(0)),
        };
        let opened = Arc::new(AtomicUsize::new(0));
        let mut flood = flood;
        for index in 0..count {
            let last = 10 + u8::try_from(index % usize::from(addresses)).unwrap_or(0);
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
            let (stop, open, closed, opened) = (
                flood.stop.clone(),
                flood.open.clone(),
                flood.closed.clone(),
                opened.clone(),
            );
            flood.tasks.spawn(async move {
                let mut first = true;
                loop {
                    let socket = TcpSocket::new_v4().and_then(|socket| {
                        socket.bind(SocketAddr::new(source, 0)).map(|()| socket)
                    });
                    let connected = match socket {
                        Ok(socket) => tokio::select! {
                            () = stop.cancelled() => return,
                            connected = socket.connect(target) => connected,
                        },
                        Err(err) => Err(err),
                    };
                    let Ok(mut stream) = connected else {
                        // Out of ports or descriptors for a moment: try again shortly.
                        tokio::select! {
                            () = stop.cancelled() => return,
                            () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                        }
                    };
                    if std::mem::take(&mut first) {
                        opened.fetch_add(1, Ordering::Relaxed);
                    }
                    open.fetch_add(1, Ordering::Relaxed);
                    let mut buf = [0_u8; 64];
                    tokio::select! {
                        () = stop.cancelled() => {
                            open.fetch_sub(1, Ordering::Relaxed);
                            return;
                        }
                        _ = stream.read(&mut buf) => {}
                    }
                    open.fetch_sub(1, Ordering::Relaxed);
                    closed.fetch_add(1, Ordering::Relaxed);
                    if !reopen {
                        stop.cancelled().await;
                        return;
                    }
                }
            });
        }
        // A listener that stops accepting (the old one did, at 512) leaves the rest of the
        // connects waiting in the kernel: they press on it all the same, so go on.
        let deadline = Instant::now() + OPEN_WITHIN;
        while opened.load(Ordering::Relaxed) < count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let done = opened.load(Ordering::Relaxed);
        if done < count {
            println!(
                "only {done} of {count} idle connections opened within {OPEN_WITHIN:?}; the \
                 rest are still connecting"
            );
        }
        Ok(flood)
    }

    /// Closes every connection; returns (open at the end, closed by the coordinator).
    async fn stop(mut self) -> (usize, usize) {
        let counts = (
            self.open.load(Ordering::Relaxed),
            self.closed.load(Ordering::Relaxed),
        );
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
        counts
    }
}
