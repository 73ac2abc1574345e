//! The agent's one link to the coordinator, and the only module that speaks gRPC: connect
//! over mTLS, send Hello, read the Welcome, send heartbeats, and reconnect forever with
//! capped exponential backoff and full jitter ([`convoy_proto::retry::Backoff`]). The side
//! connections (artifact downloads in `fetch`, backup transfers in `backup_link`) and
//! certificate renewal (`renew`) are here too; what a session does with commands is the
//! runner's business (`commands` hands them over, decoded once into
//! [`crate::command::AgentCommand`]). The agent's wiring is in [`crate::agent`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use convoy_proto::identity::{AgentId, Identity as ConvoyIdentity};
use convoy_proto::tls::{LinkFailure, classify};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::deploy::ArtifactSource;
use crate::metrics::Sampler;
use crate::recovery::BackupTransport;
use crate::runner::Runner;

mod backup_link;
mod commands;
mod fetch;
mod renew;
pub use renew::serial_path as trust_serial_path;
mod stream;

/// Capped exponential backoff with full jitter: each delay is uniform in
/// `[0, min(cap, base * 2^attempt)]`, so a fleet that lost its coordinator at the same
/// instant does not come back at the same instant.
pub use convoy_proto::retry::Backoff;

/// Reconnect pacing.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// First retry waits up to this long.
    pub backoff_base: Duration,
    /// No retry waits longer than this.
    pub backoff_cap: Duration,
    /// A session that lasted this long resets the backoff.
    pub healthy_after: Duration,
    /// An artifact or backup download that receives nothing for this long is abandoned and
    /// resumed on a new connection (a stream can stall without its connection failing).
    pub transfer_stall: Duration,
}

/// [`Tuning::transfer_stall`] by default.
pub(crate) const TRANSFER_STALL: Duration = Duration::from_secs(20);

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
            transfer_stall: TRANSFER_STALL,
        }
    }
}

/// The endpoint side connections (artifact and backup transfers) use: replaced when a
/// renewed certificate or a new CA bundle is loaded.
type SharedEndpoint = Arc<std::sync::RwLock<Endpoint>>;

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

/// The agent's connection to the coordinator: its TLS files, its identity, and the
/// endpoint the side connections share.
pub(crate) struct Connection {
    link: Link,
    shared: SharedEndpoint,
    renewal: renew::Renewal,
}

impl Connection {
    /// Reads the TLS files and the agent's id from its certificate; connects nothing yet.
    pub(crate) fn new(config: &Config) -> anyhow::Result<Self> {
        let link = Link::new(config)?;
        let shared: SharedEndpoint = Arc::new(std::sync::RwLock::new(link.endpoint.clone()));
        let renewal = renew::Renewal::new(config.tls.clone(), link.agent_id.clone());
        Ok(Self {
            link,
            shared,
            renewal,
        })
    }

    pub(crate) fn agent_id(&self) -> &AgentId {
        &self.link.agent_id
    }

    /// Where deploys fetch release bytes: the coordinator, over this link.
    pub(crate) fn artifact_source(&self, stall: Duration) -> Arc<dyn ArtifactSource> {
        Arc::new(fetch::Fetcher::new(self.shared.clone(), stall))
    }

    /// Where backups go and restores come from: the coordinator, over this link.
    pub(crate) fn backup_transport(&self, stall: Duration) -> Arc<dyn BackupTransport> {
        Arc::new(backup_link::BackupLink::new(self.shared.clone(), stall))
    }

    /// Keeps a session with the coordinator, reconnecting with `tuning`'s backoff, until
    /// `shutdown` is cancelled; applies each config that arrives on `reloads`.
    pub(crate) async fn stay_connected(
        &mut self,
        config: &mut Config,
        runner: &Arc<Runner>,
        shutdown: &CancellationToken,
        tuning: Tuning,
        reloads: &mut Option<mpsc::Receiver<Config>>,
    ) {
        let mut sampler = Sampler::new();
        let mut backoff = Backoff::new(tuning.backoff_base, tuning.backoff_cap);
        loop {
            let started = Instant::now();
            let parts = stream::Parts {
                link: &self.link,
                renewal: &self.renewal,
                runner,
                sampler: &mut sampler,
                shutdown,
            };
            let end = stream::session(parts, config, reloads).await;
            self.reload_tls(config);
            let Some(established) = self.report(&end, config) else {
                match end {
                    SessionEnd::Shutdown => return,
                    _ => continue,
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
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
                // Applied now; the next Hello carries it.
                new = crate::reload::next(reloads) => {
                    crate::reload::apply(config, runner, self.link.agent_id.as_str(), new);
                }
            }
        }
    }

    /// A renewal or a CA bundle may have changed the files: the next connection (and every
    /// transfer) uses what is on disk now.
    fn reload_tls(&mut self, config: &Config) {
        match Link::new(config) {
            Ok(new) if new.agent_id == self.link.agent_id => {
                *self
                    .shared
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = new.endpoint.clone();
                self.link = new;
            }
            Ok(new) => {
                error!(agent_id = %new.agent_id, "the certificate on disk names another agent; keeping the one loaded")
            }
            Err(err) => error!(error = %err, "cannot load the TLS files; keeping the ones loaded"),
        }
    }

    /// Logs how a session ended; says whether it had been established, or None when the
    /// next step is not a paced retry (shutdown, or reconnect at once).
    fn report(&self, end: &SessionEnd, config: &Config) -> Option<bool> {
        match end {
            SessionEnd::Shutdown => None,
            SessionEnd::Renewed => {
                info!(agent_id = %self.link.agent_id, "certificate renewed: reconnecting with it");
                None
            }
            SessionEnd::Reannounce => {
                info!("reconnecting at once to announce the reloaded config");
                None
            }
            SessionEnd::Closed { established, why } => {
                info!(reason = %why, "session ended");
                Some(*established)
            }
            SessionEnd::Failed {
                established,
                failure: Failure::Transient(why),
            } => {
                warn!(coordinator = %config.coordinator, reason = %why, "coordinator unreachable");
                Some(*established)
            }
            SessionEnd::Failed {
                established,
                failure: Failure::Identity(why),
            } => {
                error!(
                    agent_id = %self.link.agent_id,
                    reason = %why,
                    "coordinator refused this agent's identity: check the agent's certificate, key and CA"
                );
                Some(*established)
            }
        }
    }
}

/// `future`, or an error once `stall` passed without it finishing: a download step that
/// waits longer is abandoned (and resumed by the caller's retry).
pub(crate) async fn within<T>(
    stall: Duration,
    future: impl std::future::Future<Output = T>,
) -> Result<T, Stalled> {
    tokio::time::timeout(stall, future)
        .await
        .map_err(|_| Stalled(stall))
}

/// A download step that made no progress within the stall limit.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("no data for {0:?}")]
pub(crate) struct Stalled(pub(crate) Duration);

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
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60)).at_attempt(5);
        let delays: std::collections::BTreeSet<_> = (0..50)
            .map(|_| {
                let mut b =
                    Backoff::new(Duration::from_secs(1), Duration::from_secs(60)).at_attempt(5);
                b.next_delay().as_millis()
            })
            .collect();
        assert!(delays.len() > 40, "delays should differ: {delays:?}");
        assert_eq!(backoff.ceiling(), Duration::from_secs(32));
    }
}
