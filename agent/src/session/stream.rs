//! One session over one connection: connect, Hello, Welcome, then a writer half (heartbeats,
//! outbox events, renewal requests) and a reader half (commands, cancels, acks, renewed
//! certificates, CA bundles) until either ends, the agent stops or a reload needs a new
//! Hello.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use convoy_proto::MAX_AGENT_MESSAGE_BYTES;
use convoy_proto::tls::{LinkFailure, classify};
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use convoy_proto::v1::{
    AgentMessage, CoordinatorMessage, Heartbeat, Hello, Welcome, agent_message, coordinator_message,
};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Streaming;
use tracing::{error, info, warn};

use super::commands::{handle, unsent_events};
use super::renew::Renewal;
use super::{Failure, Link, RENEW_RETRY, SessionEnd, failure_from_status};
use crate::config::Config;
use crate::metrics::{self, Sampler};
use crate::runner::Runner;

/// What a session needs from the agent around it.
pub(super) struct Parts<'a> {
    pub(crate) link: &'a Link,
    pub(crate) renewal: &'a Renewal,
    pub(crate) runner: &'a Arc<Runner>,
    pub(crate) sampler: &'a mut Sampler,
    pub(crate) shutdown: &'a CancellationToken,
}

/// Runs one session until it ends.
pub(super) async fn session(
    parts: Parts<'_>,
    config: &mut Config,
    reloads: &mut Option<mpsc::Receiver<Config>>,
) -> SessionEnd {
    let Parts {
        link,
        renewal,
        runner,
        sampler,
        shutdown,
    } = parts;
    let (tx, rx) = mpsc::channel::<AgentMessage>(16);
    let say_hello = || {
        // The queue is empty, so this cannot fail for lack of room.
        let _ = tx.try_send(hello(link, config, runner));
    };
    let (mut inbound, welcome) = match open(link, say_hello, rx, shutdown).await {
        Ok(opened) => opened,
        Err(end) => return end,
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
    let renew_at = (welcome.renew_in_ms > 0)
        .then(|| Instant::now() + Duration::from_millis(welcome.renew_in_ms));
    let renew_now = Notify::new();
    // Two halves so that sending never stops us reading (and so acks keep flowing).
    let writer = write(
        &tx, renewal, runner, sampler, interval, renew_at, &renew_now,
    );
    let reader = read(&mut inbound, renewal, runner, &renew_now);
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

fn failed(failure: Failure) -> SessionEnd {
    SessionEnd::Failed {
        established: false,
        failure,
    }
}

/// Connects, queues the Hello (`say_hello`, once connected, so it says what holds now),
/// sends what `rx` holds and reads the Welcome.
async fn open(
    link: &Link,
    say_hello: impl FnOnce(),
    rx: mpsc::Receiver<AgentMessage>,
    shutdown: &CancellationToken,
) -> Result<(Streaming<CoordinatorMessage>, Welcome), SessionEnd> {
    let channel = tokio::select! {
        () = shutdown.cancelled() => return Err(SessionEnd::Shutdown),
        channel = link.endpoint.connect() => match channel {
            Ok(channel) => channel,
            Err(err) => return Err(failed(match classify(&err) {
                LinkFailure::Tls(why) => Failure::Identity(why),
                LinkFailure::Unreachable(why) => Failure::Transient(why),
            })),
        },
    };
    let mut client = AgentLinkClient::new(channel)
        .max_decoding_message_size(MAX_AGENT_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_AGENT_MESSAGE_BYTES);
    say_hello();
    let response = tokio::select! {
        () = shutdown.cancelled() => return Err(SessionEnd::Shutdown),
        response = client.session(ReceiverStream::new(rx)) => response,
    };
    let mut inbound = match response {
        Ok(response) => response.into_inner(),
        Err(status) => return Err(failed(failure_from_status(&status))),
    };
    let welcome = tokio::select! {
        () = shutdown.cancelled() => return Err(SessionEnd::Shutdown),
        first = tokio::time::timeout(Duration::from_secs(10), inbound.message()) => first,
    };
    let transient = |why: &str| Err(failed(Failure::Transient(why.into())));
    match welcome {
        Ok(Ok(Some(message))) => match message.body {
            Some(coordinator_message::Body::Welcome(welcome)) => Ok((inbound, welcome)),
            _ => transient("the coordinator did not start with a welcome"),
        },
        Ok(Ok(None)) => transient("stream closed before the welcome"),
        Ok(Err(status)) => Err(failed(failure_from_status(&status))),
        Err(_) => transient("no welcome within 10s"),
    }
}

/// The Hello: who this host is and what it allows, and the commands it still holds.
fn hello(link: &Link, config: &Config, runner: &Runner) -> AgentMessage {
    let backup_actions = config
        .backup_sets
        .keys()
        .map(|set| convoy_proto::labels::backup_set_action(set));
    AgentMessage {
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
                .chain(backup_actions)
                .collect(),
            apps: runner.deployer().status(),
        })),
    }
}

fn closed() -> SessionEnd {
    SessionEnd::Closed {
        established: true,
        why: "request stream closed".into(),
    }
}

/// The writer half: heartbeats on the tick (and at once when apps changed), outbox events
/// as they come, renewal requests when due.
async fn write(
    tx: &mpsc::Sender<AgentMessage>,
    renewal: &Renewal,
    runner: &Runner,
    sampler: &mut Sampler,
    interval: Duration,
    mut renew_at: Option<Instant>,
    renew_now: &Notify,
) -> SessionEnd {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent: HashMap<String, u64> = HashMap::new();
    loop {
        let heartbeat = tokio::select! {
            () = sleep_until_some(renew_at) => {
                renew_at = Some(Instant::now() + RENEW_RETRY);
                match renewal.request() {
                    Ok(request) => {
                        info!("renewing this agent's certificate");
                        if tx.send(request).await.is_err() {
                            return closed();
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
        let heartbeat = heartbeat.then(|| {
            // The values of the scrape round finished since the last beat; the next round
            // starts now, on its own task.
            let mut metrics = sampler.sample();
            metrics.signals = runner.signals().take();
            runner.signals().tick();
            AgentMessage {
                body: Some(agent_message::Body::Heartbeat(Heartbeat {
                    metrics: Some(metrics),
                    apps: runner.deployer().status(),
                })),
            }
        });
        for message in heartbeat
            .into_iter()
            .chain(unsent_events(runner, &mut sent))
        {
            if tx.send(message).await.is_err() {
                return closed();
            }
        }
    }
}

/// The reader half: hands commands, cancels and acks to the runner; renewals and CA
/// bundles to `renewal`.
async fn read(
    inbound: &mut Streaming<CoordinatorMessage>,
    renewal: &Renewal,
    runner: &Arc<Runner>,
    renew_now: &Notify,
) -> SessionEnd {
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
}

/// Waits until `at`, or forever when None.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
