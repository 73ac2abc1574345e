//! Convoy's host agent.
//!
//! [`run`] keeps one outbound mTLS stream to the coordinator ([`session`]), reporting host
//! facts and metrics ([`metrics`]). Configuration comes from [`config`].

pub mod config;
pub mod metrics;
pub mod session;

pub use config::Config;
pub use session::Tuning;
use tokio_util::sync::CancellationToken;

/// Runs the agent until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    session::run(config, shutdown, Tuning::default()).await
}
