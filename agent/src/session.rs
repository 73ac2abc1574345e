//! The agent's one link to the coordinator, and the only module that speaks gRPC: connect
//! over mTLS, send Hello, read the Welcome, send heartbeats, and reconnect forever with
//! capped exponential backoff and full jitter.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use convoy_proto::MAX_AGENT_MESSAGE_BYTES;
use convoy_proto::identity::{AgentId, Identity as ConvoyIdentity};
use convoy_proto::tls::{LinkFailure, classify};
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use convoy_proto::v1::{
    AgentMessage, CoordinatorMessage, Heartbeat, Hello, agent_message, coordinator_message,
};
use rand::Rng as _;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::deploy::{DeployConfig, Deployer};
use crate::journal::Journal;
use crate::metrics::{self, Sampler};
use crate::runner::Runner;

/// Finished, acknowledged command ids are remembered this long (30 days).
const JOURNAL_RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;

/// Reconnect pacing.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// First retry waits up to this long.
    pub backoff_base: Duration,
    /// No retry waits longer than this.
    pub backoff_cap: Duration,
    /// A session that lasted this long resets the backoff.
    pub healthy_after: Duration,
}

/// The longest wait between reconnect attempts: after an outage of any length the
/// fleet's last agent is back at most this long (plus its connect) after the coordinator
/// returns; full jitter still spreads the agents over that window.
pub const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// The first retry waits up to this long.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);

impl Default for Tuning {
    fn default() -> Self {
        Self {
            backoff_base: BACKOFF_BASE,
            backoff_cap: BACKOFF_CAP,
            healthy_after: Duration::from_secs(30),
        }
    }
}

/// Capped exponential backoff with full jitter: each delay is uniform in
/// `[0, min(cap, base * 2^attempt)]`, so a fleet that lost its coordinator at the same
/// instant does not come back at the same instant.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The upper bound of the next delay.
    pub fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(20));
        self.base.saturating_mul(factor).min(self.cap)
    }

    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        rand::rng().random_range(Duration::ZERO..=ceiling)
    }

    /// For failures a retry cannot fix soon (a refused certificate): wait between half
    /// the cap and the cap.
    pub fn slow_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        rand::rng().random_range(self.cap / 2..=self.cap)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// The endpoint side connections (artifact and backup transfers) use: replaced when a
/// renewed certificate or a new CA bundle is loaded.
pub(crate) type SharedEndpoint = Arc<std::sync::RwLock<Endpoint>>;

/// After a refused renewal, ask again this much later (the session goes on meanwhile).
const RENEW_RETRY: Duration = Duration::from_secs(30);

/// TLS material and the id read from the agent's own certificate.
struct Link {
    endpoint: Endpoint,
    agent_id: AgentId,
}

impl Link {
    fn new(config: &Config) -> anyhow::Result<Self> {
        let read = |path: &std::path::Path, what: &str| {
            std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
        };
        let ca = read(&config.tls.ca, "CA certificate")?;
        let cert = read(&config.tls.cert, "agent certificate")?;
        let key = read(&config.tls.key, "agent key")?;
        let agent_id = match ConvoyIdentity::from_cert_pem(&cert).with_context(|| {
            format!("cannot read an identity from {}", config.tls.cert.display())
        })? {
            ConvoyIdentity::Agent(id) => id,
            other => anyhow::bail!(
                "{} is not an agent certificate (it is for {other})",
                config.tls.cert.display()
            ),
        };
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .identity(Identity::from_pem(cert, key));
        let endpoint = Endpoint::from_shared(config.coordinator.clone())
            .with_context(|| format!("invalid coordinator address {:?}", config.coordinator))?
            .tls_config(tls)
            .context("cannot set up TLS")?
            .connect_timeout(Duration::from_secs(10))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        Ok(Self { endpoint, agent_id })
    }
}

/// How one session ended.
enum SessionEnd {
    Shutdown,
    /// A renewed certificate was written: reconnect with it at once.
    Renewed,
    /// A reloaded config changed what the Hello says: closed cleanly to say it again.
    Reannounce,
    Closed {
        established: bool,
        why: String,
    },
    Failed {
        established: bool,
        failure: Failure,
    },
}

enum Failure {
    /// The certificate was refused, or the coordinator refused who we are.
    Identity(String),
    /// Network trouble or the coordinator going away.
    Transient(String),
}

fn failure_from_status(status: &tonic::Status) -> Failure {
    use tonic::Code;
    match status.code() {
        Code::PermissionDenied | Code::Unauthenticated => {
            Failure::Identity(status.message().to_string())
        }
        _ if std::error::Error::source(status).is_some() => match classify(status) {
            LinkFailure::Tls(why) => Failure::Identity(why),
            LinkFailure::Unreachable(why) => Failure::Transient(why),
        },
        code => Failure::Transient(format!("{code:?}: {}", status.message())),
    }
}

/// Runs the link until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    shutdown: CancellationToken,
    tuning: Tuning,
) -> anyhow::Result<()> {
    run_reloading(config, shutdown, tuning, None).await
}

/// [`run`], applying each config that arrives on `reloads` (a SIGHUP's, see
/// [`crate::reload`]).
pub async fn run_reloading(
    mut config: Config,
    shutdown: CancellationToken,
    tuning: Tuning,
    mut reloads: Option<mpsc::Receiver<Config>>,
) -> anyhow::Result<()> {
    let mut link = Link::new(&config)?;
    let shared: SharedEndpoint = Arc::new(std::sync::RwLock::new(link.endpoint.clone()));
    let renewal = renew::Renewal::new(config.tls.clone(), link.agent_id.clone());
    // Private to the agent's user: journal, downloads, records and app state live here.
    crate::deploy::record::private_dir(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    info!(agent_id = %link.agent_id, coordinator = %config.coordinator, "agent starting");
    warn_signature_policy(&config);
    let journal = Arc::new(Journal::open(&config.data_dir)?);
    for command_id in journal.recover_interrupted()? {
        warn!(%command_id, "command was running when the agent stopped; reported as interrupted, not run again");
    }
    // Ids older than this are long finished on the coordinator and never sent again.
    let keep_since = crate::journal::now_unix_ms() - JOURNAL_RETENTION_MS;
    match journal.prune_finished(keep_since) {
        Ok(0) => {}
        Ok(pruned) => info!(pruned, "forgot finished commands older than 30 days"),
        Err(err) => warn!(error = %err, "cannot prune the command journal"),
    }
    let deployer = Arc::new(Deployer::new(deploy_config(&config)?));
    let fetcher = Arc::new(fetch::Fetcher::new(shared.clone()));
    let runner = Runner::new(
        journal,
        config.actions.clone(),
        deployer,
        fetcher,
        shutdown.clone(),
    );
    runner.set_recovery(
        Arc::new(crate::reload::recovery_for(&config, link.agent_id.as_str())),
        Arc::new(backup_link::BackupLink::new(shared.clone())),
    );
    let mut sampler = Sampler::new();
    // Ready once the journal is recovered: not waiting for the coordinator, which may be
    // down for a long time without the agent being broken.
    convoy_proto::service::ready();
    let watchdog = tokio::spawn(convoy_proto::service::watchdog(
        shutdown.clone().cancelled_owned(),
    ));
    // Keeps probing running releases; a change of health is reported like a deploy's.
    let monitor = tokio::spawn({
        let (runner, shutdown) = (runner.clone(), shutdown.clone());
        async move {
            let on_change = || runner.apps_changed().notify_one();
            crate::deploy::monitor::run(runner.deployer(), on_change, &shutdown).await;
        }
    });
    let mut backoff = Backoff::new(tuning.backoff_base, tuning.backoff_cap);
    // A journal that cannot write ends the agent (see `Journal::failed`).
    let journal_failed = runner.journal().failed();
    tokio::pin!(journal_failed);
    let mut journal_failure = None;
    loop {
        let started = Instant::now();
        let end = tokio::select! {
            end = session(
                (&link, &renewal),
                &mut config,
                &runner,
                &mut sampler,
                &shutdown,
                &mut reloads,
            ) => end,
            why = &mut journal_failed => {
                journal_failure = Some(why);
                break;
            }
        };
        // A renewal or a CA bundle may have changed the files: the next connection (and
        // every transfer) uses what is on disk now.
        match Link::new(&config) {
            Ok(new) if new.agent_id == link.agent_id => {
                *shared
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = new.endpoint.clone();
                link = new;
            }
            Ok(new) => {
                error!(agent_id = %new.agent_id, "the certificate on disk names another agent; keeping the one loaded")
            }
            Err(err) => error!(error = %err, "cannot load the TLS files; keeping the ones loaded"),
        }
        let established = match &end {
            SessionEnd::Shutdown => break,
            SessionEnd::Renewed => {
                info!(agent_id = %link.agent_id, "certificate renewed: reconnecting with it");
                continue;
            }
            SessionEnd::Reannounce => {
                info!("reconnecting at once to announce the reloaded config");
                continue;
            }
            SessionEnd::Closed { established, why } => {
                info!(reason = %why, "session ended");
                *established
            }
            SessionEnd::Failed {
                established,
                failure: Failure::Transient(why),
            } => {
                warn!(coordinator = %config.coordinator, reason = %why, "coordinator unreachable");
                *established
            }
            SessionEnd::Failed {
                established,
                failure: Failure::Identity(why),
            } => {
                error!(
                    agent_id = %link.agent_id,
                    reason = %why,
                    "coordinator refused this agent's identity: check the agent's certificate, key and CA"
                );
                *established
            }
        };
        if established && started.elapsed() >= tuning.healthy_after {
            backoff.reset();
        }
        let delay = match end {
            SessionEnd::Failed {
                failure: Failure::Identity(_),
                ..
            } => backoff.slow_delay(),
            _ => backoff.next_delay(),
        };
        debug!(delay_ms = delay.as_millis(), "reconnecting after delay");
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(delay) => {}
            // Applied now; the next Hello carries it.
            new = crate::reload::next(&mut reloads) => {
                crate::reload::apply(&mut config, &runner, link.agent_id.as_str(), new);
            }
        }
    }
    if journal_failure.is_some() {
        // Running commands are stopped: without a journal their results cannot be kept.
        shutdown.cancel();
    }
    convoy_proto::service::stopping();
    runner.drain(Duration::from_secs(15)).await;
    let _ = watchdog.await;
    let _ = monitor.await;
    if let Some(why) = journal_failure {
        anyhow::bail!(
            "the command journal in {} failed ({why}); stopping: no command runs without its \
             at-most-once record",
            config.data_dir.display()
        );
    }
    runner.journal().flush()?;
    info!("agent stopped");
    Ok(())
}

async fn session(
    (link, renewal): (&Link, &renew::Renewal),
    config: &mut Config,
    runner: &Arc<Runner>,
    sampler: &mut Sampler,
    shutdown: &CancellationToken,
    reloads: &mut Option<mpsc::Receiver<Config>>,
) -> SessionEnd {
    let failed = |failure| SessionEnd::Failed {
        established: false,
        failure,
    };
    let channel = tokio::select! {
        () = shutdown.cancelled() => return SessionEnd::Shutdown,
        channel = link.endpoint.connect() => match channel {
            Ok(channel) => channel,
            Err(err) => return failed(match classify(&err) {
                LinkFailure::Tls(why) => Failure::Identity(why),
                LinkFailure::Unreachable(why) => Failure::Transient(why),
            }),
        },
    };
    let mut client = AgentLinkClient::new(channel)
        .max_decoding_message_size(MAX_AGENT_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_AGENT_MESSAGE_BYTES);
    let (tx, rx) = mpsc::channel::<AgentMessage>(16);
    let hello = AgentMessage {
        body: Some(agent_message::Body::Hello(Hello {
            agent_id: link.agent_id.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            allow_unsigned_releases: config.allow_unsigned_releases
                && config.release_public_keys.is_empty(),
            labels: config.labels.clone(),
            facts: Some(metrics::facts()),
            commands: runner.journal().held().unwrap_or_default(),
            actions: config
                .actions
                .keys()
                .cloned()
                .chain(
                    config
                        .backup_sets
                        .keys()
                        .map(|set| convoy_proto::labels::backup_set_action(set)),
                )
                .collect(),
            apps: runner.deployer().status(),
        })),
    };
    // The queue is empty, so this cannot fail for lack of room.
    let _ = tx.try_send(hello);
    let response = tokio::select! {
        () = shutdown.cancelled() => return SessionEnd::Shutdown,
        response = client.session(ReceiverStream::new(rx)) => response,
    };
    let mut inbound = match response {
        Ok(response) => response.into_inner(),
        Err(status) => return failed(failure_from_status(&status)),
    };
    let welcome = tokio::select! {
        () = shutdown.cancelled() => return SessionEnd::Shutdown,
        first = tokio::time::timeout(Duration::from_secs(10), inbound.message()) => first,
    };
    let welcome = match welcome {
        Ok(Ok(Some(message))) => match message.body {
            Some(coordinator_message::Body::Welcome(welcome)) => welcome,
            _ => {
                return failed(Failure::Transient(
                    "the coordinator did not start with a welcome".into(),
                ));
            }
        },
        Ok(Ok(None)) => {
            return failed(Failure::Transient(
                "stream closed before the welcome".into(),
            ));
        }
        Ok(Err(status)) => return failed(failure_from_status(&status)),
        Err(_) => return failed(Failure::Transient("no welcome within 10s".into())),
    };
    let interval = config.metrics_interval.unwrap_or(Duration::from_millis(
        welcome.heartbeat_interval_ms.max(100),
    ));
    info!(agent_id = %welcome.agent_id, interval_ms = interval.as_millis(), "connected to coordinator");
    // `welcome.ca_pem` is the unsigned form for older agents: only a signed bundle counts.
    if let Some(bundle) = &welcome.trust {
        match renewal.trust(bundle) {
            Ok(true) => info!("new CA bundle from the coordinator saved for the next connection"),
            Ok(false) => {}
            Err(err) => warn!(error = %err, "CA bundle from the coordinator refused"),
        }
    }
    // Renewal is timed on the monotonic clock from the coordinator's "in N ms".
    let mut renew_at = (welcome.renew_in_ms > 0)
        .then(|| Instant::now() + Duration::from_millis(welcome.renew_in_ms));
    let renew_now = tokio::sync::Notify::new();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Two halves so that sending never stops us reading (and so acks keep flowing).
    let writer = async {
        let mut sent: HashMap<String, u64> = HashMap::new();
        loop {
            let heartbeat = tokio::select! {
                () = sleep_until_some(renew_at) => {
                    renew_at = Some(Instant::now() + RENEW_RETRY);
                    match renewal.request() {
                        Ok(request) => {
                            info!("renewing this agent's certificate");
                            if tx.send(request).await.is_err() {
                                return SessionEnd::Closed {
                                    established: true,
                                    why: "request stream closed".into(),
                                };
                            }
                        }
                        Err(err) => error!(error = %err, "cannot make a key or CSR for renewal"),
                    }
                    continue;
                }
                () = renew_now.notified() => {
                    renew_at = Some(Instant::now());
                    continue;
                }
                _ = ticker.tick() => true,
                () = runner.apps_changed().notified() => true,
                () = runner.outbox_changed().notified() => false,
            };
            let heartbeat = heartbeat.then(|| AgentMessage {
                body: Some(agent_message::Body::Heartbeat(Heartbeat {
                    metrics: Some(sampler.sample()),
                    apps: runner.deployer().status(),
                })),
            });
            for message in heartbeat
                .into_iter()
                .chain(unsent_events(runner, &mut sent))
            {
                if tx.send(message).await.is_err() {
                    return SessionEnd::Closed {
                        established: true,
                        why: "request stream closed".into(),
                    };
                }
            }
        }
    };
    let reader = async {
        loop {
            match inbound.message().await {
                Ok(Some(CoordinatorMessage {
                    body: Some(coordinator_message::Body::Renewed(renewed)),
                })) => match renewal.accept(renewed) {
                    Ok(()) => return SessionEnd::Renewed,
                    Err(err) => warn!(error = %err, "certificate renewal failed; retrying later"),
                },
                Ok(Some(CoordinatorMessage {
                    body: Some(coordinator_message::Body::Trust(bundle)),
                })) => {
                    if let Err(err) = renewal.trust(&bundle) {
                        warn!(error = %err, "CA bundle from the coordinator refused");
                    }
                    if bundle.renew_now {
                        renew_now.notify_one();
                    }
                }
                Ok(Some(message)) => {
                    if let Err(err) = handle(runner, message) {
                        error!(error = %err, "cannot write to the command journal");
                    }
                }
                Ok(None) => {
                    return SessionEnd::Closed {
                        established: true,
                        why: "coordinator closed the stream".into(),
                    };
                }
                Err(status) => {
                    return SessionEnd::Failed {
                        established: true,
                        failure: failure_from_status(&status),
                    };
                }
            }
        }
    };
    // Whatever is in the outbox goes out first thing in every session.
    runner.outbox_changed().notify_one();
    let (mut writer, mut reader) = (Box::pin(writer), Box::pin(reader));
    let end = loop {
        tokio::select! {
            () = shutdown.cancelled() => break SessionEnd::Shutdown,
            end = &mut writer => return end,
            end = &mut reader => return end,
            new = crate::reload::next(reloads) => {
                let agent_id = link.agent_id.to_string();
                if crate::reload::apply(config, runner, &agent_id, new).announce {
                    break SessionEnd::Reannounce;
                }
            }
        }
    };
    drop((writer, reader));
    // Closing our half ends the session cleanly; give the coordinator a moment to close
    // its half (and to ack what it has).
    drop(tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(message)) = inbound.message().await {
            let _ = handle(runner, message);
        }
    })
    .await;
    end
}

mod backup_link;
mod commands;
mod fetch;
mod renew;
pub use renew::serial_path as trust_serial_path;

/// Waits until `at`, or forever when None.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Says at every start when this host runs releases nobody signed, or cannot deploy.
fn warn_signature_policy(config: &Config) {
    if !config.release_public_keys.is_empty() {
        return;
    }
    if config.allow_unsigned_releases {
        warn!(
            "allow_unsigned_releases = true: this host runs releases nobody signed; anyone who \
             controls the coordinator or an operator certificate can run code here as this agent"
        );
    } else {
        warn!(
            "no release_public_keys: every deploy and rollback will be refused until keys are \
             configured (or allow_unsigned_releases = true)"
        );
    }
}

/// The deploy settings from the agent config, with the release keys loaded.
fn deploy_config(config: &Config) -> anyhow::Result<DeployConfig> {
    let mut trusted_keys = Vec::new();
    for path in &config.release_public_keys {
        let key = convoy_proto::signing::load_public(path)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        trusted_keys.push((name, key));
    }
    Ok(DeployConfig {
        data_dir: config.data_dir.clone(),
        apps: config.apps.clone(),
        trusted_keys,
        allow_unsigned: config.allow_unsigned_releases,
        keep_releases: config.keep_releases,
        limits: crate::archive::Limits {
            max_total_bytes: config.max_release_bytes,
            ..Default::default()
        },
    })
}
use commands::{handle, unsent_events};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            ceilings.push(backoff.ceiling());
            let delay = backoff.next_delay();
            assert!(delay <= *ceilings.last().unwrap());
        }
        assert_eq!(ceilings[0], Duration::from_millis(100));
        assert_eq!(ceilings[3], Duration::from_millis(800));
        assert_eq!(*ceilings.last().unwrap(), Duration::from_secs(5));
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_millis(100));
        let slow = backoff.slow_delay();
        assert!(slow >= Duration::from_millis(2500) && slow <= Duration::from_secs(5));
    }

    #[test]
    fn the_default_cap_brings_a_fleet_back_within_fifteen_seconds() {
        // However long the outage, no agent waits longer than the cap between attempts.
        let tuning = Tuning::default();
        let mut backoff = Backoff::new(tuning.backoff_base, tuning.backoff_cap);
        for _ in 0..40 {
            assert!(backoff.next_delay() <= Duration::from_secs(10));
        }
        assert_eq!(backoff.ceiling(), Duration::from_secs(10));
        assert!(tuning.backoff_cap + Duration::from_secs(5) <= Duration::from_secs(15));
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        backoff.attempt = 5;
        let delays: std::collections::BTreeSet<_> = (0..50)
            .map(|_| {
                let mut b = Backoff {
                    attempt: 5,
                    ..Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
                };
                b.next_delay().as_millis()
            })
            .collect();
        assert!(delays.len() > 40, "delays should differ: {delays:?}");
        assert_eq!(backoff.ceiling(), Duration::from_secs(32));
    }
}
