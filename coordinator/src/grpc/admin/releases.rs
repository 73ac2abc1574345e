//! The release calls of the `Admin` service: push (signature checked before a byte is
//! stored, unsigned pushes admin-only), status across hosts, and delete (refused while
//! anything still needs the release).

use convoy_proto::identity::Role;
use convoy_proto::v1::{
    DeleteReleaseRequest, DeleteReleaseResponse, GetReleaseRequest, HostRelease, PushReleaseChunk,
    Release, ReleaseDetail, ReleaseMeta, ReleaseStatusRequest, ReleaseStatusResponse,
    push_release_chunk,
};
use ed25519_dalek::VerifyingKey;
use tonic::{Request, Response, Status, Streaming};

use super::AdminService;
use crate::clock::now_unix_ms;
use crate::dispatch::Dispatcher;
use crate::grpc::auth;
use crate::releases::{Artifacts, delete, validate_app, validate_version};
use crate::selector::Selector;

/// `PushRelease`: the metadata first (sizes and role checked), then the bytes.
pub(super) async fn push(
    service: &AdminService,
    request: Request<Streaming<PushReleaseChunk>>,
) -> Result<Response<Release>, Status> {
    let (metadata, extensions, mut stream) = request.into_parts();
    let caller = Request::from_parts(metadata, extensions, ());
    // Only the metadata is read before the role check; the bytes after it.
    let meta = match stream.message().await? {
        Some(PushReleaseChunk {
            body: Some(push_release_chunk::Body::Meta(meta)),
        }) => meta,
        _ => {
            return Err(Status::invalid_argument(
                "the first message must carry the release metadata",
            ));
        }
    };
    crate::grpc::limits::check(&meta)?;
    crate::releases::notes::validate(&meta.notes, &meta.metadata)
        .map_err(|err| Status::invalid_argument(err.to_string()))?;
    let summary = format!(
        "app={} version={} signed={}",
        meta.app,
        meta.version,
        if meta.signature.is_empty() {
            "no".to_string()
        } else {
            format!("by {}", meta.signer)
        }
    );
    let dispatcher = service.dispatcher.clone();
    let artifacts = service.artifacts.clone();
    let keys = service.release_keys.clone();
    let release = service
        .audited(&caller, "PushRelease", summary, |operator| async move {
            // Unsigned code runs only on hosts that opted out of signatures, and is
            // refused before a byte is stored unless an admin pushes it.
            if meta.signature.is_empty() && operator.role < Role::Admin {
                return Err(Status::permission_denied(format!(
                    "operator {} has role {}; pushing an unsigned release needs admin \
                     (sign it with `convoy release push --sign-key KEY`)",
                    operator.name, operator.role
                )));
            }
            // Before a byte is stored: a signature this coordinator can check must hold.
            let verified = verify_signature(&keys, &meta)?;
            let release =
                receive_release(&dispatcher, &artifacts, &operator.name, meta, stream).await?;
            let release = record_verification(&dispatcher, release, verified).await?;
            let outcome = format!(
                "{} {} sha256 {} ({} bytes)",
                release.app, release.version, release.sha256, release.size
            );
            Ok((release, outcome))
        })
        .await?;
    Ok(Response::new(release))
}

/// `ReleaseStatus`: which version of an app each matching host runs.
pub(super) fn status(
    service: &AdminService,
    request: Request<ReleaseStatusRequest>,
) -> Result<Response<ReleaseStatusResponse>, Status> {
    auth::require_role(&request, Role::Viewer)?;
    let body = request.get_ref();
    validate_app(&body.app)?;
    let selector = Selector::parse(&body.selector)
        .map_err(|err| Status::invalid_argument(format!("invalid selector: {err}")))?;
    let hosts = service
        .registry
        .list(&selector)
        .into_iter()
        .filter_map(|agent| {
            let app = agent.apps.iter().find(|a| a.app == body.app)?;
            Some(HostRelease {
                host: agent.id.clone(),
                state: agent.state,
                version: app.version.clone(),
                healthy: app.healthy,
                previous: app.previous.clone(),
            })
        })
        .collect::<Vec<_>>();
    if hosts.is_empty() {
        return Err(Status::not_found(format!(
            "no host{} allows app {:?}: an unknown app, or none of its hosts has [apps.{}]",
            if body.selector.is_empty() {
                String::new()
            } else {
                " matching the selector".to_string()
            },
            body.app,
            body.app
        )));
    }
    Ok(Response::new(ReleaseStatusResponse { hosts }))
}

/// `GetRelease`: one release with its notes, metadata and the rollouts that used it.
pub(super) fn get(
    service: &AdminService,
    request: Request<GetReleaseRequest>,
) -> Result<Response<ReleaseDetail>, Status> {
    auth::require_role(&request, Role::Viewer)?;
    let GetReleaseRequest { app, version } = request.get_ref();
    validate_app(app)?;
    validate_version(version)?;
    let store = service.dispatcher.store();
    let mut release =
        store
            .release(app, version)?
            .ok_or_else(|| crate::releases::ReleaseError::Unknown {
                app: app.clone(),
                version: version.clone(),
            })?;
    let rollouts = crate::releases::notes::rollouts_of(store, app, version)?;
    release.environments =
        crate::releases::environments::reached(&store.rollouts()?, app, version, &[]);
    Ok(Response::new(ReleaseDetail {
        release: Some(release),
        rollouts,
    }))
}

/// `DeleteRelease` (admin): refused while a host runs it, a deploy is unfinished or an
/// active rollout needs it.
pub(super) async fn delete(
    service: &AdminService,
    request: Request<DeleteReleaseRequest>,
) -> Result<Response<DeleteReleaseResponse>, Status> {
    let DeleteReleaseRequest { app, version } = request.get_ref().clone();
    let store = service.dispatcher.store().clone();
    let artifacts = service.artifacts.clone();
    let registry = service.registry.clone();
    let dispatcher = service.dispatcher.clone();
    let summary = format!("delete release {app} {version}");
    let response = service
        .audited(&request, "DeleteRelease", summary, |caller| async move {
            if caller.role < Role::Admin {
                return Err(Status::permission_denied(
                    "deleting a release needs the admin role",
                ));
            }
            let needed_by = || {
                let agents = registry.list(&Selector::default());
                let unfinished = dispatcher.unfinished_commands(|c| c.deploy.is_some());
                let rollouts = store.rollouts()?;
                Ok(delete::in_use(
                    &app,
                    &version,
                    &agents,
                    &unfinished,
                    &rollouts,
                ))
            };
            let (release, artifact_removed) =
                delete::delete(&store, &artifacts, &app, &version, needed_by)
                    .await
                    .map_err(delete_status)?;
            tracing::info!(%app, %version, by = %caller.name, "release deleted");
            let outcome = format!(
                "release {app} {version} deleted{}",
                if artifact_removed {
                    ""
                } else {
                    " (artifact kept: another release has the same bytes)"
                }
            );
            Ok((
                DeleteReleaseResponse {
                    release: Some(release),
                    artifact_removed,
                },
                outcome,
            ))
        })
        .await?;
    Ok(Response::new(response))
}

fn delete_status(err: delete::DeleteError) -> Status {
    use delete::DeleteError as E;
    match err {
        E::Invalid(invalid) => invalid.into(),
        E::NotFound { .. } => Status::not_found(err.to_string()),
        E::InUse { .. } => Status::failed_precondition(err.to_string()),
        E::Store(store) => store.into(),
    }
}

impl From<crate::releases::ReleaseError> for Status {
    fn from(err: crate::releases::ReleaseError) -> Self {
        use crate::releases::ReleaseError;
        match err {
            ReleaseError::Conflict { .. } => Status::already_exists(err.to_string()),
            ReleaseError::Unknown { .. } => Status::not_found(err.to_string()),
            ReleaseError::Corrupt { .. } => Status::data_loss(err.to_string()),
            ReleaseError::Io(io) => {
                tracing::error!(error = %io, "artifact storage failure");
                Status::internal("coordinator artifact storage failure")
            }
            other => Status::invalid_argument(other.to_string()),
        }
    }
}

/// Checks a push's signature against the coordinator's release keys, before any byte is
/// received: `Some(key name)` when it verified, `None` when there is nothing to verify
/// against (no signature, or no keys configured). A signature that the configured keys do
/// not verify is refused.
fn verify_signature(
    keys: &[(String, VerifyingKey)],
    meta: &ReleaseMeta,
) -> Result<Option<String>, Status> {
    if meta.signature.is_empty() || keys.is_empty() {
        return Ok(None);
    }
    if meta.sha256.is_empty() {
        return Err(Status::invalid_argument(
            "a signed push must name the artifact's sha256 in its metadata",
        ));
    }
    convoy_proto::signing::verify(
        keys,
        &meta.app,
        &meta.version,
        &meta.sha256,
        &meta.signature,
    )
    .map(Some)
    .map_err(|err| {
        Status::permission_denied(format!(
            "the signature on {} {} does not verify: {err}",
            meta.app, meta.version
        ))
    })
}

/// Records that the coordinator verified a new release's signature, naming the key that
/// did (not what the pusher claimed).
async fn record_verification(
    dispatcher: &Dispatcher,
    mut release: Release,
    verified: Option<String>,
) -> Result<Release, Status> {
    let Some(key) = verified else {
        return Ok(release);
    };
    if release.signature_verified && release.signer == key {
        return Ok(release);
    }
    release.signature_verified = true;
    release.signer = key;
    let store = dispatcher.store();
    store.put_release(&release)?;
    store.flush_async().await?;
    Ok(release)
}

/// Receives an artifact upload after its metadata, stores it and records the release.
async fn receive_release(
    dispatcher: &Dispatcher,
    artifacts: &Artifacts,
    pushed_by: &str,
    meta: ReleaseMeta,
    mut stream: Streaming<PushReleaseChunk>,
) -> Result<Release, Status> {
    validate_app(&meta.app)?;
    validate_version(&meta.version)?;
    let mut upload = artifacts.begin().await?;
    loop {
        let chunk = match stream.message().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(status) => {
                upload.abort().await;
                return Err(status);
            }
        };
        let Some(push_release_chunk::Body::Data(data)) = chunk.body else {
            upload.abort().await;
            return Err(Status::invalid_argument("metadata sent twice"));
        };
        if let Err(err) = upload.write(&data).await {
            upload.abort().await;
            return Err(err.into());
        }
    }
    let (sha256, size, format) = upload.finish(artifacts, &meta.sha256).await?;
    let store = dispatcher.store();
    if let Some(existing) = store.release(&meta.app, &meta.version)? {
        if existing.sha256 == sha256 {
            return Ok(existing);
        }
        // The new bytes stay only if another release uses them.
        if !store.releases("")?.iter().any(|r| r.sha256 == sha256) {
            let _ = tokio::fs::remove_file(artifacts.path(&sha256)).await;
        }
        return Err(crate::releases::ReleaseError::Conflict {
            app: meta.app,
            version: meta.version,
            existing: existing.sha256,
        }
        .into());
    }
    let release = Release {
        app: meta.app,
        version: meta.version,
        sha256,
        size,
        signature: meta.signature,
        signer: meta.signer,
        pushed_unix_ms: now_unix_ms(),
        pushed_by: pushed_by.to_string(),
        format: format.to_string(),
        signature_verified: false,
        environments: Vec::new(),
        notes: meta.notes,
        metadata: meta.metadata,
    };
    store.put_release(&release)?;
    store.flush_async().await?;
    Ok(release)
}
