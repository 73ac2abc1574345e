//! `convoy serve`: wires the store, registry, gRPC services and background tasks together
//! and runs them until the shutdown token is cancelled, then drains within a grace period
//! and flushes the store. [`Core`] is the state and engines, `services` builds the gRPC
//! services from them, `tasks` holds the housekeeping tasks.

pub mod drill;
mod services;
pub mod snapshots;
mod tasks;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::Config;
use crate::dispatch::{self, Dispatcher};
use crate::grpc::listener;
use crate::registry::Registry;
use crate::rollout::driver::Rollouts;
use crate::store::Store;

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
    let tracker = TaskTracker::new();
    let core = Core::start(&config, &tracker, &shutdown).await?;
    let policies: crate::policy::SharedPolicies =
        Arc::new(std::sync::RwLock::new(config.policies.clone()));
    if let Some(path) = reload_from {
        tracker.spawn(crate::reload::watch_hangups(
            path,
            config.clone(),
            crate::reload::Reloadable {
                backups: core.backups.clone(),
                alerts: core.monitor.alerts.clone(),
                events: core.monitor.events.clone(),
                notifier: core.monitor.notifier.clone(),
                scaling: core.monitor.scaling.clone(),
                policies: policies.clone(),
                environments: core.environments.clone(),
            },
            shutdown.clone(),
        ));
    }
    let (store, registry) = (core.store.clone(), core.registry.clone());
    let (tls, revocations) = (core.tls.clone(), core.revocations.clone());
    let grpc_calls = core.grpc_calls.clone();
    if config.snapshots.enabled() {
        tracker.spawn(snapshots::run(
            config.snapshots.clone(),
            store.clone(),
            config.data_dir.clone(),
            shutdown.clone(),
        ));
    }
    let routes = services::routes(&config, core, &tracker, &shutdown).await?;

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
    let stop = shutdown.clone();
    let server = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .layer(crate::exposition::grpc::GrpcMetricsLayer { calls: grpc_calls })
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, async move { stop.cancelled().await });
    tasks::end_sessions_on_shutdown(&registry, &shutdown, &tracker);
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

/// The coordinator's state and engines, loaded from the data dir, with their background
/// tasks running on the tracker: what the gRPC services are built from.
struct Core {
    store: Store,
    registry: Arc<Registry>,
    dispatcher: Arc<Dispatcher>,
    artifacts: crate::releases::Artifacts,
    backups: crate::backups::Backups,
    revocations: Arc<crate::revocation::Revocations>,
    rollouts: Arc<Rollouts>,
    /// `[[environments]]`, swapped by a SIGHUP reload.
    environments: crate::config::environments::SharedEnvironments,
    monitor: crate::grpc::monitor::MonitorService,
    tls: Arc<rustls::ServerConfig>,
    tls_handles: Arc<listener::dynamic::TlsHandles>,
    grpc_calls: crate::exposition::grpc::Calls,
}

impl Core {
    async fn start(
        config: &Config,
        tracker: &TaskTracker,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let data_dir = config.data_dir.display();
        private_dir(&config.data_dir)
            .with_context(|| format!("cannot create data dir {data_dir}"))?;
        let store = Store::open(&config.data_dir)
            .with_context(|| format!("cannot open the store in {data_dir}"))?;
        let monitoring = crate::monitoring::prepare(config, &store)?;
        let grpc_calls = monitoring.counters.grpc.clone();
        let revocations = crate::revocation::Revocations::load(store.clone())
            .context("cannot load revocations")?;
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
        let artifacts = crate::releases::Artifacts::open(&config.data_dir)
            .with_context(|| format!("cannot open the artifact store in {data_dir}"))?;
        let backups = crate::backups::Backups::open(&config.data_dir, store.clone())
            .with_context(|| format!("cannot open the backup store in {data_dir}"))?
            .with_policy(config.backups.clone());
        tracker.spawn(crate::backups::schedule::run(
            backups.clone(),
            Arc::new(crate::backups::schedule::DispatchLauncher {
                dispatcher: dispatcher.clone(),
            }),
            Arc::new(crate::clock::SystemClock),
            shutdown.clone(),
        ));
        tasks::spawn_housekeeping(&registry, config, shutdown, tracker);
        // Before the scheduler and the listener: the driver hears of every result and session.
        let history = config.monitor.history;
        let environments = Arc::new(std::sync::RwLock::new(config.environments.clone()));
        let rollouts = Rollouts::start_with_history(
            store.clone(),
            registry.clone(),
            dispatcher.clone(),
            history.enabled.then_some(history),
            environments.clone(),
            tracker,
            shutdown.clone(),
        )
        .await
        .context("cannot resume rollouts")?;
        tracker.spawn(dispatch::scheduler::run(
            dispatcher.clone(),
            shutdown.clone(),
        ));
        let monitor = crate::monitoring::start(
            monitoring,
            config,
            registry.clone(),
            dispatcher.clone(),
            rollouts.clone(),
            tracker,
            shutdown,
        )
        .await?;
        Ok(Self {
            store,
            registry,
            dispatcher,
            artifacts,
            backups,
            revocations,
            rollouts,
            environments,
            monitor,
            tls,
            tls_handles,
            grpc_calls,
        })
    }
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
