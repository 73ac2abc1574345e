//! One simulated agent's task: connect (with retries), Hello, Welcome, then heartbeats
//! and the command pipeline ([`Commands`]) until the swarm stops, the agent is made to
//! vanish, or the stream drops. With `reconnect` set, a dropped agent comes back as a real
//! one does: capped exponential backoff with full jitter (the agent's own [`Backoff`]),
//! a Hello that reports the commands it holds, then its unacked events again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use convoy_agent::session::Backoff;
use convoy_coordinator::clock::now_unix_ms;
use convoy_proto::MAX_AGENT_MESSAGE_BYTES;
use convoy_proto::identity::AgentId;
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use convoy_proto::v1::{
    AgentMessage, CommandEvent, CoordinatorMessage, Facts, Heartbeat, Hello, MetricsSample,
    agent_message, coordinator_message,
};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Endpoint;

use super::commands::{Behaviour, Commands, fails};
use super::{CommandTrace, ECHO_COMMAND_ID, Progress, Shared, SwarmConfig, Vanish};

/// Reconnect pacing, as the real agent's defaults: first retry within 0.5 s, no retry
/// later than 60 s, reset after a session that lasted 30 s.
const BACKOFF_BASE: Duration = convoy_agent::session::BACKOFF_BASE;
const BACKOFF_CAP: Duration = convoy_agent::session::BACKOFF_CAP;
const HEALTHY_AFTER: Duration = Duration::from_secs(30);

/// What one simulated agent needs.
pub(super) struct SimAgent {
    pub index: usize,
    pub agent_id: AgentId,
    pub endpoint: Endpoint,
    /// Set once to make the agent vanish.
    pub fate: watch::Receiver<Option<Vanish>>,
}

pub(super) struct AgentOutcome {
    pub connect_latency: Option<Duration>,
    pub heartbeats_sent: u64,
    /// Commands not finished, or finished and not fully acked, when the agent stopped.
    pub commands_open: usize,
    pub error: Option<String>,
}

/// What every simulated agent's task shares.
pub(super) struct AgentRun {
    pub config: SwarmConfig,
    pub stop: CancellationToken,
    pub progress: Arc<watch::Sender<Progress>>,
    pub connects: Arc<Semaphore>,
    pub shared: Arc<Shared>,
    pub started: Instant,
}

/// An open session: the request sender and the response stream.
struct Session {
    tx: mpsc::Sender<AgentMessage>,
    inbound: tonic::Streaming<CoordinatorMessage>,
}

/// Why the session loop ended.
enum End {
    Stopped,
    Vanished(Vanish),
    Dropped(String),
}

impl AgentRun {
    pub async fn run(self, mut agent: SimAgent) -> AgentOutcome {
        let mut outcome = AgentOutcome {
            connect_latency: None,
            heartbeats_sent: 0,
            commands_open: 0,
            error: None,
        };
        let mut commands = Commands::new(
            Behaviour {
                delay: self.config.command_delay,
                fail: fails(agent.index, self.config.fail_share),
                pid: 10_000 + u32::try_from(agent.index).unwrap_or(u32::MAX - 10_000),
            },
            &self.config.apps,
        );
        let first_attempt = Instant::now();
        let Some(mut session) = self.first_connect(&agent, &commands, &mut outcome).await else {
            self.progress.send_modify(|p| p.failed += 1);
            return outcome;
        };
        outcome.error = None;
        outcome.connect_latency = Some(first_attempt.elapsed());
        let agents = self.config.agents;
        let since_start = self.started.elapsed();
        self.progress.send_modify(|p| {
            p.connected += 1;
            if p.connected == agents {
                p.all_connected_after = Some(since_start);
            }
        });
        let mut backoff = Backoff::new(BACKOFF_BASE, BACKOFF_CAP);
        loop {
            self.progress.send_modify(|p| p.online += 1);
            let began = Instant::now();
            let end = self
                .session(&mut agent, &mut commands, &mut outcome, &mut session)
                .await;
            self.progress.send_modify(|p| p.online -= 1);
            outcome.commands_open = commands.open_count();
            match end {
                End::Stopped => break,
                End::Vanished(Vanish::Silent) => {
                    // A frozen host: the connection stays open, nothing is sent or read.
                    self.stop.cancelled().await;
                    return outcome;
                }
                End::Vanished(Vanish::Closed) => return outcome,
                End::Dropped(why) => {
                    self.progress.send_modify(|p| p.dropped += 1);
                    outcome.error = Some(format!("{}: {why}", agent.agent_id));
                    if !self.config.reconnect {
                        return outcome;
                    }
                    if began.elapsed() >= HEALTHY_AFTER {
                        backoff.reset();
                    }
                    drop(session);
                    match self.reconnect(&agent, &commands, &mut backoff).await {
                        Some(again) => session = again,
                        None => return outcome,
                    }
                    self.progress.send_modify(|p| p.reconnects += 1);
                }
            }
        }
        // Closing our half ends the session; give the coordinator a moment to close its.
        let Session { tx, mut inbound } = session;
        drop(tx);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(Some(_)) = inbound.message().await {}
        })
        .await;
        outcome
    }

    /// The first connect: a few attempts, 200 ms doubling (capped at 5 s), spread by the
    /// agent's index so retries do not come back in lockstep.
    async fn first_connect(
        &self,
        agent: &SimAgent,
        commands: &Commands,
        outcome: &mut AgentOutcome,
    ) -> Option<Session> {
        for attempt in 0..self.config.connect_attempts {
            if attempt > 0 {
                let backoff = Duration::from_millis(200)
                    .saturating_mul(1 << attempt.min(5))
                    .min(Duration::from_secs(5))
                    + Duration::from_millis((agent.index as u64 * 7919) % 200);
                tokio::select! {
                    () = self.stop.cancelled() => return None,
                    () = tokio::time::sleep(backoff) => {}
                }
            }
            match self.attempt(agent, commands).await? {
                Ok(session) => return Some(session),
                Err(err) => outcome.error = Some(format!("{}: {err:#}", agent.agent_id)),
            }
        }
        None
    }

    /// Reconnects until it works or the swarm stops.
    async fn reconnect(
        &self,
        agent: &SimAgent,
        commands: &Commands,
        backoff: &mut Backoff,
    ) -> Option<Session> {
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return None,
                () = tokio::time::sleep(backoff.next_delay()) => {}
            }
            if let Ok(session) = self.attempt(agent, commands).await? {
                return Some(session);
            }
        }
    }

    /// One attempt under the connect semaphore; None when the swarm stops meanwhile.
    async fn attempt(
        &self,
        agent: &SimAgent,
        commands: &Commands,
    ) -> Option<anyhow::Result<Session>> {
        let _permit = self.connects.acquire().await.ok()?;
        tokio::select! {
            () = self.stop.cancelled() => None,
            attempt = self.connect(agent, commands) => Some(attempt),
        }
    }

    /// Heartbeats and commands until the swarm stops, the agent vanishes or the stream
    /// ends. Starts by sending every unacked event again (none on a first session).
    async fn session(
        &self,
        agent: &mut SimAgent,
        commands: &mut Commands,
        outcome: &mut AgentOutcome,
        session: &mut Session,
    ) -> End {
        let Session { tx, inbound } = session;
        let unsent: Vec<CommandEvent> = commands.unacked().cloned().collect();
        if !self.send_events(tx, unsent).await {
            return End::Dropped("request stream closed".into());
        }
        // Spread the heartbeats of the swarm evenly over one interval.
        let offset = self
            .config
            .heartbeat
            .mul_f64(agent.index as f64 / self.config.agents as f64);
        let mut ticker = tokio::time::interval_at(Instant::now() + offset, self.config.heartbeat);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let due = commands.next_due();
            let (events, tick) = tokio::select! {
                () = self.stop.cancelled() => return End::Stopped,
                fate = async { agent.fate.wait_for(Option::is_some).await.ok().and_then(|f| *f) } => match fate {
                    Some(vanish) => return End::Vanished(vanish),
                    // The swarm is gone: nobody can make this agent vanish any more.
                    None => return End::Stopped,
                },
                _ = ticker.tick() => (Vec::new(), true),
                () = sleep_until(due) => (commands.fire_due(Instant::now()), false),
                message = inbound.message() => match message {
                    Ok(Some(message)) => (self.handle(agent, commands, message), false),
                    Ok(None) => return End::Dropped("coordinator closed the stream".into()),
                    Err(status) => return End::Dropped(format!("stream failed: {status}")),
                },
            };
            if !self.send_events(tx, events).await {
                return End::Dropped("request stream closed".into());
            }
            // A tick, or a deploy that changed an app (reported at once, as a real agent
            // does).
            if tick || commands.apps_changed() {
                let heartbeat = AgentMessage {
                    body: Some(agent_message::Body::Heartbeat(Heartbeat {
                        metrics: Some(synthetic_sample(
                            agent.index,
                            outcome.heartbeats_sent,
                            f64::from_bits(
                                self.config
                                    .disk_percent
                                    .load(std::sync::atomic::Ordering::Relaxed),
                            ),
                            self.config
                                .load
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .get(agent.index)
                                .copied(),
                        )),
                        apps: commands.apps(),
                    })),
                };
                if tx.send(heartbeat).await.is_err() {
                    return End::Dropped("request stream closed".into());
                }
                outcome.heartbeats_sent += 1;
                self.shared.heartbeats.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Applies one coordinator message; returns the events to send.
    fn handle(
        &self,
        agent: &SimAgent,
        commands: &mut Commands,
        message: CoordinatorMessage,
    ) -> Vec<CommandEvent> {
        let shared = &self.shared;
        match message.body {
            Some(coordinator_message::Body::Command(command)) => {
                shared.commands.fetch_add(1, Ordering::Relaxed);
                let before = commands.duplicates;
                let events = commands.on_command(&command, Instant::now());
                if commands.duplicates > before {
                    shared.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                events
            }
            Some(coordinator_message::Body::Cancel(cancel)) => {
                shared.cancels.fetch_add(1, Ordering::Relaxed);
                commands.on_cancel(&cancel.command_id)
            }
            Some(coordinator_message::Body::Ack(ack)) if ack.command_id == ECHO_COMMAND_ID => {
                let sent = i64::try_from(ack.seq).unwrap_or(i64::MAX);
                let round_trip = now_unix_ms().saturating_sub(sent).max(0);
                shared.record_echo(u32::try_from(round_trip).unwrap_or(u32::MAX));
                Vec::new()
            }
            Some(coordinator_message::Body::Ack(ack)) => {
                shared.acks.fetch_add(1, Ordering::Relaxed);
                if let Some(trace) = commands.on_ack(&ack.command_id, ack.seq) {
                    shared.record(CommandTrace {
                        agent: agent.index,
                        trace,
                    });
                }
                Vec::new()
            }
            // Swarm agents keep the certificate they were given.
            Some(
                coordinator_message::Body::Welcome(_)
                | coordinator_message::Body::Renewed(_)
                | coordinator_message::Body::Trust(_),
            )
            | None => Vec::new(),
        }
    }

    async fn send_events(
        &self,
        tx: &mpsc::Sender<AgentMessage>,
        events: Vec<CommandEvent>,
    ) -> bool {
        for event in events {
            let message = AgentMessage {
                body: Some(agent_message::Body::Event(event)),
            };
            if tx.send(message).await.is_err() {
                return false;
            }
            self.shared.events.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// One attempt: channel, Hello (with the commands held and the apps), Welcome.
    async fn connect(&self, agent: &SimAgent, commands: &Commands) -> anyhow::Result<Session> {
        let channel = agent.endpoint.connect().await.context("cannot connect")?;
        let mut client = AgentLinkClient::new(channel)
            .max_decoding_message_size(MAX_AGENT_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_AGENT_MESSAGE_BYTES);
        // Room for a command's four events and a heartbeat without waiting. (tokio
        // allocates a channel's slots in blocks of 32 anyway.)
        let (tx, rx) = mpsc::channel(16);
        let hello = AgentMessage {
            body: Some(agent_message::Body::Hello(Hello {
                agent_id: agent.agent_id.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                // Simulated deploys take any release: say so, as a real agent would.
                allow_unsigned_releases: true,
                labels: self.config.labels.clone().into_iter().collect(),
                facts: Some(fake_facts(&agent.agent_id)),
                commands: commands.held(),
                // Simulated agents allow one action, a no-op.
                actions: vec!["noop".to_string()],
                apps: commands.apps(),
            })),
        };
        tx.send(hello).await.context("request stream closed")?;
        let mut inbound = client
            .session(ReceiverStream::new(rx))
            .await
            .context("session refused")?
            .into_inner();
        let first = tokio::time::timeout(Duration::from_secs(10), inbound.message())
            .await
            .context("no welcome within 10s")?
            .context("stream failed before the welcome")?;
        let first = first.context("stream closed before the welcome")?;
        match first.body {
            Some(coordinator_message::Body::Welcome(_)) => Ok(Session { tx, inbound }),
            _ => anyhow::bail!("the first message was not a welcome"),
        }
    }
}

/// Sleeps until `due`, or forever when there is nothing due.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

fn fake_facts(agent_id: &AgentId) -> Facts {
    Facts {
        hostname: agent_id.to_string(),
        os: "Simulated Linux".into(),
        os_version: "1".into(),
        kernel: "6.0.0-sim".into(),
        arch: "x86_64".into(),
        cpus: 4,
        mem_total_bytes: 8 << 30,
        boot_time_unix: 1_700_000_000,
    }
}

/// Plausible, varying numbers without reading the host. `sampled_at_unix_ms` is the
/// moment the heartbeat is built, just before it is queued: the coordinator's
/// `last_seen_unix_ms` minus it is the heartbeat's delivery and processing time (one
/// machine, one clock), which the `ingest` bench reads.
fn synthetic_sample(
    index: usize,
    sequence: u64,
    disk_percent: f64,
    load: Option<(f64, f64)>,
) -> MetricsSample {
    let wobble = ((index as u64 + sequence) % 50) as f64;
    let mem_total: u64 = 8 << 30;
    let (cpu, mem_used) = match load {
        // A set profile: cpu as given, mem as that share of the total.
        Some((cpu, mem)) => (cpu, (mem_total as f64 * mem / 100.0) as u64),
        None => (5.0 + wobble, (2 << 30) + sequence * 4096),
    };
    MetricsSample {
        sampled_at_unix_ms: now_unix_ms(),
        cpu_percent: cpu,
        load1: 0.1 + wobble / 100.0,
        load5: 0.2,
        load15: 0.3,
        mem_used_bytes: mem_used,
        mem_total_bytes: mem_total,
        swap_used_bytes: 0,
        swap_total_bytes: 0,
        disks: if disk_percent > 0.0 {
            vec![convoy_proto::v1::DiskUsage {
                mount: "/".into(),
                used_bytes: (disk_percent * 1e9) as u64,
                total_bytes: 100_000_000_000,
            }]
        } else {
            Vec::new()
        },
        net_rx_bytes_per_sec: 1000.0 + wobble,
        net_tx_bytes_per_sec: 500.0 + wobble,
        uptime_secs: 100_000 + sequence,
        process_count: 120,
        signals: Default::default(),
    }
}
