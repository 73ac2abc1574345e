//! Convoy's host agent.
//!
//! [`run`] keeps one outbound mTLS stream to the coordinator ([`session`]), reporting host
//! facts and metrics ([`metrics`]) and carrying out commands: the [`runner`] checks each
//! against the [`journal`] (an id runs at most once; results wait in an outbox until
//! acked) and the host's allow-list, and runs it with the [`executor`]. Configuration
//! comes from [`config`].

pub mod archive;
pub mod backup;
pub mod check;
pub mod config;
pub mod deploy;
pub mod enroll;
pub mod executor;
pub mod journal;
pub mod metrics;
pub mod params;
pub mod recovery;
pub mod reload;
pub mod runner;
pub mod session;
pub mod signals;

pub use config::Config;
pub use session::Tuning;
use tokio_util::sync::CancellationToken;

/// Runs the agent until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    session::run(config, shutdown, Tuning::default()).await
}

/// [`run`], reading `path` again on every SIGHUP and applying what can change without a
/// restart ([`reload`]).
pub async fn run_with_reload(
    config: Config,
    path: std::path::PathBuf,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (configs, reloads) = tokio::sync::mpsc::channel(1);
    tokio::spawn(reload::watch_hangups(path, configs, shutdown.clone()));
    session::run_reloading(config, shutdown, Tuning::default(), Some(reloads)).await
}
