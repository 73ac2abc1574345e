//! The gRPC services `convoy serve` offers, built from the started [`Core`], plus the two
//! optional identity engines they share (enrollment and CA rotation, both on with `[ca]`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use convoy_proto::v1::admin_server::AdminServer;
use convoy_proto::v1::agent_link_server::AgentLinkServer;
use convoy_proto::v1::backups_server::BackupsServer;
use convoy_proto::v1::monitor_server::MonitorServer;
use convoy_proto::v1::rollouts_server::RolloutsServer;
use convoy_proto::{MAX_ADMIN_MESSAGE_BYTES, MAX_AGENT_MESSAGE_BYTES};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::service::Routes;
use tracing::info;

use super::Core;
use crate::config::Config;
use crate::grpc::admin::AdminService;
use crate::grpc::agent_link::AgentLinkService;
use crate::grpc::backups::BackupsService;
use crate::grpc::limits::MAX_OPERATOR_REQUEST_BYTES;
use crate::grpc::listener;
use crate::grpc::rollouts::RolloutService;
use crate::registry::Registry;
use crate::store::Store;

/// Every service on the one TLS port, with its message size caps.
pub(super) async fn routes(
    config: &Config,
    core: Core,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> anyhow::Result<Routes> {
    let Core {
        store,
        registry,
        dispatcher,
        artifacts,
        backups,
        revocations,
        rollouts,
        environments,
        monitor,
        tls_handles,
        ..
    } = core;
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<AgentLinkServer<AgentLinkService>>()
        .await;
    health.set_serving::<AdminServer<AdminService>>().await;
    health.set_serving::<RolloutsServer<RolloutService>>().await;

    let (enroller, ca_pem) = enrollment(config, &store, &registry, &revocations)?;
    let rotation = rotation(
        config,
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
    .max_decoding_message_size(MAX_OPERATOR_REQUEST_BYTES)
    .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES);
    // Backups: the same operator certificates and audit log as Admin.
    let backups_service = BackupsServer::new(BackupsService::new(dispatcher, backups))
        .max_decoding_message_size(MAX_OPERATOR_REQUEST_BYTES)
        .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES);
    let rollout_service = RolloutsServer::new(
        RolloutService::new(rollouts, store.clone())
            .with_environments(environments, registry.clone())
            .with_events(monitor.events.clone()),
    )
    .max_decoding_message_size(MAX_OPERATOR_REQUEST_BYTES)
    .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES);
    let monitor_service = MonitorServer::new(monitor)
        .max_decoding_message_size(MAX_OPERATOR_REQUEST_BYTES)
        .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES);
    let certs_service = convoy_proto::v1::certs_server::CertsServer::new(
        crate::grpc::certs::CertsService::new(revocations, store.clone())
            .with_enroller(enroller.clone(), ca_pem.clone())
            .with_rotation(rotation.clone()),
    )
    .max_decoding_message_size(MAX_OPERATOR_REQUEST_BYTES);
    let enrollment_service = convoy_proto::v1::enrollment_server::EnrollmentServer::new(
        crate::grpc::enroll::EnrollmentService::new(enroller, ca_pem, store)
            .with_rotation(rotation),
    )
    .max_decoding_message_size(16 * 1024);

    Ok(Routes::new(health_service)
        .add_service(agent_link)
        .add_service(admin)
        .add_service(rollout_service)
        .add_service(backups_service)
        .add_service(monitor_service)
        .add_service(certs_service)
        .add_service(enrollment_service))
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
