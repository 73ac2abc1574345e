//! Convoy's host agent.
//!
//! [`run`] starts the agent (its wiring is in `agent`) and keeps one outbound mTLS stream
//! to the coordinator ([`session`], the only gRPC speaker), reporting host facts and
//! metrics ([`metrics`]) and carrying out commands: each is decoded once into a
//! [`command::AgentCommand`], and the [`runner`] checks it against the [`journal`] (an id
//! runs at most once; results wait in an outbox until acked) and the host's config, and
//! runs it with the [`executor`], the [`deploy`]er or [`recovery`]. Configuration comes
//! from [`config`].

// An item no other crate can reach is `pub(crate)`, not `pub` (issue 13).
#![warn(unreachable_pub)]

mod agent;
pub mod archive;
pub mod backup;
pub mod check;
pub(crate) mod command;
pub mod config;
pub mod deploy;
pub mod enroll;
pub(crate) mod executor;
pub mod journal;
pub(crate) mod metrics;
pub mod params;
pub(crate) mod recovery;
pub(crate) mod reload;
pub(crate) mod runner;
pub mod session;
pub mod signals;

pub use config::Config;
pub use session::Tuning;
use tokio_util::sync::CancellationToken;

/// Runs the agent until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    agent::run(config, shutdown, Tuning::default(), None).await
}

/// [`run`] with its own reconnect pacing (tests and benches make it fast).
pub async fn run_tuned(
    config: Config,
    shutdown: CancellationToken,
    tuning: Tuning,
) -> anyhow::Result<()> {
    agent::run(config, shutdown, tuning, None).await
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
    agent::run(config, shutdown, Tuning::default(), Some(reloads)).await
}
