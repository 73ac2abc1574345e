//! The agent's wiring: what runs at start-up and in what order, and how it stops. Opens
//! the data dir and the journal (finishing interrupted commands, forgetting old ones),
//! builds the deployer, the backup side and the [`Runner`], tells systemd it is ready,
//! starts the health monitor and the watchdog, keeps the coordinator link
//! ([`crate::session`]) until shutdown or a journal failure, then drains the running
//! commands. Speaks no gRPC itself.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;
use crate::deploy::{DeployConfig, Deployer};
use crate::journal::Journal;
use crate::runner::Runner;
use crate::session::{Connection, Tuning};

/// How long running commands get to end after shutdown before the agent exits anyway.
const DRAIN_GRACE: Duration = Duration::from_secs(15);

/// Runs the agent until `shutdown` is cancelled, applying each config that arrives on
/// `reloads` (a SIGHUP's, see [`crate::reload`]).
pub(crate) async fn run(
    mut config: Config,
    shutdown: CancellationToken,
    tuning: Tuning,
    mut reloads: Option<mpsc::Receiver<Config>>,
) -> anyhow::Result<()> {
    let mut connection = Connection::new(&config)?;
    // Private to the agent's user: journal, downloads, records and app state live here.
    crate::deploy::record::private_dir(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    info!(agent_id = %connection.agent_id(), coordinator = %config.coordinator, "agent starting");
    warn_signature_policy(&config);
    let journal = open_journal(&config)?;
    let deployer = Arc::new(Deployer::new(deploy_config(&config)?));
    let runner = Runner::new(
        journal,
        config.actions.clone(),
        deployer,
        connection.artifact_source(tuning.transfer_stall),
        shutdown.clone(),
    );
    runner.signals().configure(config.app_signals.clone());
    runner.set_recovery(
        Arc::new(crate::reload::recovery_for(
            &config,
            connection.agent_id().as_str(),
        )),
        connection.backup_transport(tuning.transfer_stall),
    );
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
    // A journal that cannot write ends the agent (see `Journal::failed`).
    let journal_failure = tokio::select! {
        () = connection.stay_connected(&mut config, &runner, &shutdown, tuning, &mut reloads) => None,
        why = runner.journal().failed() => Some(why),
    };
    if journal_failure.is_some() {
        // Running commands are stopped: without a journal their results cannot be kept.
        shutdown.cancel();
    }
    convoy_proto::service::stopping();
    runner.drain(DRAIN_GRACE).await;
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

/// Opens the journal, finishes what a stop interrupted and forgets long-finished ids.
fn open_journal(config: &Config) -> anyhow::Result<Arc<Journal>> {
    let journal = Arc::new(Journal::open(&config.data_dir)?);
    for command_id in journal.recover_interrupted()? {
        warn!(%command_id, "command was running when the agent stopped; reported as interrupted, not run again");
    }
    // Ids older than this are long finished on the coordinator and never sent again.
    let keep_since = crate::journal::now_unix_ms() - crate::journal::RETENTION_MS;
    match journal.prune_finished(keep_since) {
        Ok(0) => {}
        Ok(pruned) => info!(pruned, "forgot finished commands older than 30 days"),
        Err(err) => warn!(error = %err, "cannot prune the command journal"),
    }
    Ok(journal)
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
