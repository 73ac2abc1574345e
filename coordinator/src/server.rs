//! `convoy serve`: wires the store, registry, gRPC services and background tasks together
//! and runs them until the shutdown token is cancelled, then drains within a grace period
//! and flushes the store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use convoy_proto::v1::admin_server::AdminServer;
use convoy_proto::v1::agent_link_server::AgentLinkServer;
use convoy_proto::v1::rollouts_server::RolloutsServer;
use convoy_proto::{MAX_ADMIN_MESSAGE_BYTES, MAX_AGENT_MESSAGE_BYTES};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::Config;
use crate::dispatch::{self, Dispatcher};
use crate::grpc::admin::AdminService;
use crate::grpc::agent_link::AgentLinkService;
use crate::grpc::backups::BackupsService;
use crate::grpc::listener;
use crate::grpc::rollouts::RolloutService;
use crate::registry::Registry;
use crate::rollout::driver::Rollouts;
use crate::store::Store;
use convoy_proto::v1::backups_server::BackupsServer;
use convoy_proto::v1::monitor_server::MonitorServer;

/// How long open sessions get to close after shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often heartbeat-only changes are written to the store.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// Binds `config.listen` and serves until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_reloading(config, None, shutdown).await
}

/// [`run`], reading `path` again on every SIGHUP ([`crate::reload`]).
pub async fn run_reloading(
    config: Config,
    path: Option<std::path::PathBuf>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener =
        bind(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    serve_reloading(config, listener, path, shutdown).await
}

/// The kernel's queue of connections not yet accepted (capped by `net.core.somaxconn`,
/// 4096 by default). Larger than the table of pending handshakes plus a flood's worth of
/// idle connections, so that a flood that is shed and reconnects at once does not fill it:
/// a full queue drops new connections' SYNs, and a real client then waits a second for its
/// SYN to be sent again.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` as `TcpListener::bind` does (SO_REUSEADDR), with [`LISTEN_BACKLOG`].
fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves on an already bound listener (tests bind `127.0.0.1:0` and pass it in).
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    serve_reloading(config, listener, None, shutdown).await
}

/// [`serve`], with SIGHUP reloading `reload_from` when given.
pub async fn serve_reloading(
    config: Config,
    listener: TcpListener,
    reload_from: Option<std::path::PathBuf>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    private_dir(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let store = Store::open(&config.data_dir)
        .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?;
    let monitoring = crate::monitoring::prepare(&config, &store)?;
    let grpc_calls = monitoring.counters.grpc.clone();
    let revocations =
        crate::revocation::Revocations::load(store.clone()).context("cannot load revocations")?;
    let (tls, tls_handles) = listener::server_config_dynamic(
        &config.tls.ca,
        &config.tls.cert,
        &config.tls.key,
        Some(revocations.clone()),
        config.ca.is_some(),
    )
    .context("cannot set up TLS")?;
    let registry = Arc::new(
        Registry::load(store.clone(), config.agents.offline_after)
            .context("cannot load the inventory")?
            .with_monitoring(monitoring.events.clone(), monitoring.recorder.clone()),
    );
    let dispatcher = Arc::new(
        Dispatcher::load(
            store.clone(),
            registry.clone(),
            config.jobs.output_cap_bytes,
        )
        .context("cannot load jobs")?,
    );
    let artifacts = crate::releases::Artifacts::open(&config.data_dir).with_context(|| {
        format!(
            "cannot open the artifact store in {}",
            config.data_dir.display()
        )
    })?;
    let backups = crate::backups::Backups::open(&config.data_dir, store.clone())
        .with_context(|| {
            format!(
                "cannot open the backup store in {}",
                config.data_dir.display()
            )
        })?
        .with_policy(config.backups.clone());
    let tracker = TaskTracker::new();
    tracker.spawn(crate::backups::schedule::run(
        backups.clone(),
        Arc::new(crate::backups::schedule::DispatchLauncher {
            dispatcher: dispatcher.clone(),
        }),
        Arc::new(crate::backups::schedule::SystemClock),
        shutdown.clone(),
    ));
    spawn_housekeeping(&registry, &config, &shutdown, &tracker);
    // Before the scheduler and the listener: the driver hears of every result and session.
    let rollouts = Rollouts::start(
        store.clone(),
        registry.clone(),
        dispatcher.clone(),
        &tracker,
        shutdown.clone(),
    )
    .await
    .context("cannot resume rollouts")?;
    tracker.spawn(dispatch::scheduler::run(
        dispatcher.clone(),
        shutdown.clone(),
    ));
    let monitor_service = crate::monitoring::start(
        monitoring,
        &config,
        registry.clone(),
        dispatcher.clone(),
        rollouts.clone(),
        &tracker,
        &shutdown,
    )
    .await?;
    let policies: crate::policy::SharedPolicies =
        Arc::new(std::sync::RwLock::new(config.policies.clone()));
    if let Some(path) = reload_from {
        tracker.spawn(crate::reload::watch_hangups(
            path,
            config.clone(),
            crate::reload::Reloadable {
                backups: backups.clone(),
                alerts: monitor_service.alerts.clone(),
                events: monitor_service.events.clone(),
                notifier: monitor_service.notifier.clone(),
                policies: policies.clone(),
            },
            shutdown.clone(),
        ));
    }
    let monitor_service = MonitorServer::new(monitor_service)
        .max_decoding_message_size(crate::grpc::limits::MAX_OPERATOR_REQUEST_BYTES)
        .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES);

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<AgentLinkServer<AgentLinkService>>()
        .await;
    health.set_serving::<AdminServer<AdminService>>().await;
    health.set_serving::<RolloutsServer<RolloutService>>().await;

    let (enroller, ca_pem) = enrollment(&config, &store, &registry, &revocations)?;
    let rotation = rotation(
        &config,
        enroller.as_ref(),
        (&registry, &revocations),
        tls_handles,
    )?;
    if let Some(rotation) = &rotation {
        tracker.spawn(
            rotation
                .clone()
                .run(Duration::from_secs(2), shutdown.clone()),
        );
    }
    let agent_link = AgentLinkServer::new(
        AgentLinkService::new(
            registry.clone(),
            dispatcher.clone(),
            artifacts.clone(),
            config.agents,
            tracker.clone(),
        )
        .with_backups(backups.clone())
        .with_enroller(enroller.clone())
        .with_rotation(rotation.clone()),
    )
    .max_decoding_message_size(MAX_AGENT_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_AGENT_MESSAGE_BYTES);
    let release_keys = load_release_keys(&config.release_public_keys)?;
    let admin = AdminServer::new(
        AdminService::new(registry.clone(), dispatcher.clone(), artifacts)
            .with_release_keys(release_keys),
    )
    .max_decoding_message_size(crate::grpc::limits::MAX_OPERATOR_REQUEST_BYTES)
    .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES);
    // Backups: the same operator certificates and audit log as Admin.
    let backups_service = BackupsServer::new(BackupsService::new(dispatcher.clone(), backups))
        .max_decoding_message_size(crate::grpc::limits::MAX_OPERATOR_REQUEST_BYTES)
        .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES);

    let rollout_service = RolloutsServer::new(RolloutService::new(rollouts, store.clone()))
        .max_decoding_message_size(crate::grpc::limits::MAX_OPERATOR_REQUEST_BYTES)
        .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES);

    let certs_service = convoy_proto::v1::certs_server::CertsServer::new(
        crate::grpc::certs::CertsService::new(revocations.clone(), store.clone())
            .with_enroller(enroller.clone(), ca_pem.clone())
            .with_rotation(rotation.clone()),
    )
    .max_decoding_message_size(crate::grpc::limits::MAX_OPERATOR_REQUEST_BYTES);
    let enrollment_service = convoy_proto::v1::enrollment_server::EnrollmentServer::new(
        crate::grpc::enroll::EnrollmentService::new(enroller, ca_pem, store.clone())
            .with_rotation(rotation),
    )
    .max_decoding_message_size(16 * 1024);

    let local = listener.local_addr().context("listener has no address")?;
    let incoming = listener::incoming_revoking(
        listener,
        tls,
        config.handshakes,
        Some(revocations),
        policies,
        shutdown.clone(),
        tracker.clone(),
    );
    let stop_registry = registry.clone();
    let stop = shutdown.clone();
    let server = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .layer(crate::exposition::grpc::GrpcMetricsLayer { calls: grpc_calls })
        .add_service(health_service)
        .add_service(agent_link)
        .add_service(admin)
        .add_service(rollout_service)
        .add_service(backups_service)
        .add_service(monitor_service)
        .add_service(certs_service)
        .add_service(enrollment_service)
        .serve_with_incoming_shutdown(incoming, async move { stop.cancelled().await });
    // Ending the sessions must not depend on tonic polling its shutdown signal: when the
    // incoming stream ends first (the accept loop watches the same token), tonic goes
    // straight to draining and never polls it, and open agent streams would hold the
    // drain until the grace period ran out.
    let closing = shutdown.clone();
    tracker.spawn(async move {
        closing.cancelled().await;
        convoy_proto::service::stopping();
        info!("shutting down: closing agent sessions");
        stop_registry.end_all_sessions();
    });
    info!(listen = %local, data_dir = %config.data_dir.display(), "coordinator ready");
    convoy_proto::service::ready();
    tracker.spawn(convoy_proto::service::watchdog(
        shutdown.clone().cancelled_owned(),
    ));

    let grace_expired = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => result.context("grpc server failed")?,
        () = grace_expired => warn!("shutdown grace period expired; closing remaining connections"),
        why = store.failed() => {
            // A store that hit an I/O error stays broken (see `Store::failed`): exit
            // non-zero and let the service manager restart us on a freshly opened store.
            shutdown.cancel();
            anyhow::bail!(
                "the store in {} failed ({why}); exiting so that a restart reopens it",
                config.data_dir.display()
            );
        }
    }
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        warn!("background tasks did not finish within the grace period");
    }
    registry.flush_store().context("cannot flush the store")?;
    info!("coordinator stopped");
    Ok(())
}

/// The issuing CA of `[ca]` (None: enrollment off) and the CA bundle agents trust.
fn enrollment(
    config: &Config,
    store: &Store,
    registry: &Arc<Registry>,
    revocations: &Arc<crate::revocation::Revocations>,
) -> anyhow::Result<(Option<Arc<crate::enroll::Enroller>>, String)> {
    let ca_pem = std::fs::read_to_string(&config.tls.ca)
        .with_context(|| format!("cannot read {}", config.tls.ca.display()))?;
    let Some(issuing) = &config.ca else {
        return Ok((None, ca_pem));
    };
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let ca = crate::pki::Ca::from_pem(&read(&issuing.cert)?, &read(&issuing.key)?)
        .context("cannot load the issuing CA ([ca] cert and key)")?;
    info!("enrollment on: agents may enroll with a token");
    Ok((
        Some(Arc::new(
            crate::enroll::Enroller::new(
                ca,
                issuing.agent_cert_days,
                store.clone(),
                registry.clone(),
                revocations.clone(),
            )
            .with_rate(issuing.enrolls_per_ip_per_minute)
            .with_lifetime(issuing.lifetime()),
        )),
        ca_pem,
    ))
}

/// CA rotation (`convoy ca rotate`): needs the issuing CA of `[ca]`. A rotation state on
/// disk is applied to the listener and the issuer here.
fn rotation(
    config: &Config,
    enroller: Option<&Arc<crate::enroll::Enroller>>,
    (registry, revocations): (&Arc<Registry>, &Arc<crate::revocation::Revocations>),
    tls: Arc<listener::dynamic::TlsHandles>,
) -> anyhow::Result<Option<Arc<crate::rotation::Rotation>>> {
    let (Some(enroller), Some(issuing)) = (enroller, &config.ca) else {
        return Ok(None);
    };
    let configured = crate::rotation::Side {
        trust: config.tls.ca.clone(),
        issuer_cert: issuing.cert.clone(),
        issuer_key: issuing.key.clone(),
        server_cert: config.tls.cert.clone(),
        server_key: config.tls.key.clone(),
    };
    let rotation = crate::rotation::Rotation::load(
        &config.data_dir,
        configured,
        enroller.clone(),
        registry.clone(),
        tls,
        Some(revocations.clone()),
    )
    .context("cannot load the CA rotation state")?;
    Ok(Some(rotation))
}

fn spawn_housekeeping(
    registry: &Arc<Registry>,
    config: &Config,
    shutdown: &CancellationToken,
    tracker: &TaskTracker,
) {
    // An agent is shown offline up to one sweep after `offline_after`; a twentieth keeps
    // that lag small (150 ms for a 3 s window). A sweep is one pass over the registry.
    let sweep_every =
        (config.agents.offline_after / 20).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let sweeper = registry.clone();
    let stop = shutdown.clone();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(sweep_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                now = tick.tick() => {
                    for agent_id in sweeper.sweep(now) {
                        warn!(%agent_id, "no heartbeat within offline_after; agent marked offline");
                    }
                }
            }
        }
    });
    let flusher = registry.clone();
    let stop = shutdown.clone();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {
                    // Thousands of sled writes: off the runtime's workers, which carry
                    // every session's heartbeats.
                    // Flushed too, so a store that can no longer write is found out
                    // within one interval even when no agent reports anything.
                    let flushing = flusher.clone();
                    match tokio::task::spawn_blocking(move || flushing.flush_store()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => {
                            tracing::error!(error = %err, "cannot persist agent records");
                        }
                        Err(err) => tracing::error!(error = %err, "agent record flush panicked"),
                    }
                }
            }
        }
    });
}

/// Creates `dir` (and its parents) and makes it `0700`: the store, artifacts and backups
/// under it are the fleet's state, readable by the coordinator's user alone. An existing
/// dir that was open to others is closed, with a warning.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        if mode & 0o077 != 0 {
            tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "data dir was open to other users; set to 0700");
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The release signing keys named in the config, each named by its file's stem.
fn load_release_keys(
    paths: &[std::path::PathBuf],
) -> anyhow::Result<Vec<(String, ed25519_dalek::VerifyingKey)>> {
    paths
        .iter()
        .map(|path| {
            let key = convoy_proto::signing::load_public(path)
                .with_context(|| format!("cannot load release key {}", path.display()))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, key))
        })
        .collect()
}
