//! The `Admin` service: what the `convoy` CLI calls. Every RPC first checks the caller's
//! role (viewer < operator < admin) from its certificate; read-only RPCs need viewer.
//! Every mutating RPC needs operator and is audited, refusals included.

use std::pin::Pin;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use std::time::Duration;

use convoy_proto::identity::Role;
use convoy_proto::v1::admin_server::Admin;
use convoy_proto::v1::{
    AgentDetail, AgentSummary, CancelJobRequest, CommandOutput, CordonAgentRequest,
    DeleteReleaseRequest, DeleteReleaseResponse, GetAgentRequest, GetCommandOutputRequest,
    GetJobRequest, GetReleaseRequest, Job, JobEvent, JobState, ListAgentsRequest,
    ListAgentsResponse, ListAuditRequest, ListAuditResponse, ListJobsRequest, ListJobsResponse,
    ListReleasesRequest, ListReleasesResponse, PushReleaseChunk, Release, ReleaseDetail,
    ReleaseStatusRequest, ReleaseStatusResponse, RemoveAgentRequest, RemoveAgentResponse,
    SaveSnapshotRequest, StartJobRequest, WatchJobRequest, WhoAmIRequest, WhoAmIResponse,
    job_event,
};
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::auth;

mod releases;
mod snapshot;
use crate::dispatch::views::DEFAULT_TAIL_BYTES;
use crate::dispatch::{DispatchError, Dispatcher, JobRequest};
use crate::registry::Registry;
use crate::releases::{Artifacts, validate_app};
use crate::selector::Selector;

pub struct AdminService {
    registry: Arc<Registry>,
    dispatcher: Arc<Dispatcher>,
    artifacts: Artifacts,
    /// Release signing keys the coordinator verifies pushes against.
    release_keys: Arc<Vec<(String, VerifyingKey)>>,
}

impl AdminService {
    pub fn new(registry: Arc<Registry>, dispatcher: Arc<Dispatcher>, artifacts: Artifacts) -> Self {
        Self {
            registry,
            dispatcher,
            artifacts,
            release_keys: Arc::default(),
        }
    }

    /// Verifies signed pushes against `keys` (`release_public_keys` in the config).
    pub fn with_release_keys(mut self, keys: Vec<(String, VerifyingKey)>) -> Self {
        self.release_keys = Arc::new(keys);
        self
    }

    /// Runs a mutating call for an operator (or admin) and records it in the audit log,
    /// whatever the outcome. The caller's identity comes from its certificate.
    async fn audited<T, F, Fut>(
        &self,
        request: &Request<impl Sized>,
        call: &str,
        summary: String,
        f: F,
    ) -> Result<T, Status>
    where
        F: FnOnce(auth::Operator) -> Fut,
        Fut: std::future::Future<Output = Result<(T, String), Status>>,
    {
        super::audit::audited(self.dispatcher.store(), request, call, summary, f).await
    }
}

fn lifecycle_status(err: crate::registry::lifecycle::LifecycleError) -> Status {
    use crate::registry::lifecycle::LifecycleError as E;
    match err {
        E::NotFound(_) => Status::not_found(err.to_string()),
        E::Online(_) => Status::failed_precondition(err.to_string()),
        E::Store(store) => store.into(),
    }
}

impl From<DispatchError> for Status {
    fn from(err: DispatchError) -> Self {
        match err {
            DispatchError::Store(store) => store.into(),
            DispatchError::Release(release) => release.into(),
            DispatchError::NoJob(_) | DispatchError::NoHost { .. } => {
                Status::not_found(err.to_string())
            }
            DispatchError::RequestIdReused { .. } => Status::already_exists(err.to_string()),
            other => Status::invalid_argument(other.to_string()),
        }
    }
}

type JobEventStream = Pin<Box<dyn Stream<Item = Result<JobEvent, Status>> + Send>>;

/// A page of `GetCommandOutput` by default, and at most: well under the message caps.
const OUTPUT_PAGE_BYTES: usize = 1024 * 1024;
const MAX_OUTPUT_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// One page of `ListAudit` holds at most this many bytes of entries (well under the
/// message cap, so a page always fits however large its entries are).
const AUDIT_PAGE_BYTES: usize = 1024 * 1024;

#[tonic::async_trait]
impl Admin for AdminService {
    #[tracing::instrument(skip_all)]
    async fn list_agents(
        &self,
        request: Request<ListAgentsRequest>,
    ) -> Result<Response<ListAgentsResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let selector = Selector::parse(&request.get_ref().selector)
            .map_err(|err| Status::invalid_argument(format!("invalid selector: {err}")))?;
        Ok(Response::new(ListAgentsResponse {
            agents: self.registry.list(&selector),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_agent(
        &self,
        request: Request<GetAgentRequest>,
    ) -> Result<Response<AgentDetail>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let id = &request.get_ref().id;
        let mut detail = self
            .registry
            .get(id)
            .ok_or_else(|| Status::not_found(format!("no agent {id:?} in the inventory")))?;
        detail.inflight_commands = u32::try_from(
            self.dispatcher
                .store()
                .inflight_for(id)
                .map_err(Status::from)?
                .len(),
        )
        .unwrap_or(u32::MAX);
        Ok(Response::new(detail))
    }

    #[tracing::instrument(skip_all)]
    async fn cordon_agent(
        &self,
        request: Request<CordonAgentRequest>,
    ) -> Result<Response<AgentSummary>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let verb = if body.cordoned { "cordon" } else { "uncordon" };
        let registry = self.registry.clone();
        let summary = self
            .audited(
                &request,
                "CordonAgent",
                format!("{verb} {}", body.id),
                |caller| async move {
                    let shown = registry
                        .set_cordoned(&body.id, body.cordoned, &caller.name)
                        .map_err(lifecycle_status)?;
                    tracing::info!(agent = %body.id, by = %caller.name, verb, "agent lifecycle");
                    Ok((shown, format!("{} {verb}ed", body.id)))
                },
            )
            .await?;
        Ok(Response::new(summary))
    }

    #[tracing::instrument(skip_all)]
    async fn remove_agent(
        &self,
        request: Request<RemoveAgentRequest>,
    ) -> Result<Response<RemoveAgentResponse>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let registry = self.registry.clone();
        let summary = format!(
            "remove {}{}",
            body.id,
            if body.force { " --force" } else { "" }
        );
        let response = self
            .audited(&request, "RemoveAgent", summary, |caller| async move {
                if caller.role < Role::Admin {
                    return Err(Status::permission_denied(
                        "removing an agent needs the admin role",
                    ));
                }
                let was_online = registry
                    .remove(&body.id, body.force)
                    .map_err(lifecycle_status)?;
                tracing::info!(agent = %body.id, by = %caller.name, was_online, "agent removed");
                let outcome = format!(
                    "{} removed{}",
                    body.id,
                    if was_online {
                        " (its session was ended)"
                    } else {
                        ""
                    }
                );
                Ok((
                    RemoveAgentResponse {
                        id: body.id,
                        was_online,
                    },
                    outcome,
                ))
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        super::limits::check(request.get_ref())?;
        let operator = auth::require_role(&request, Role::Viewer)?;
        Ok(Response::new(WhoAmIResponse {
            name: operator.name,
            role: operator.role.to_string(),
            scope: operator
                .scope
                .as_ref()
                .map(|scope| scope.describe())
                .unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn start_job(&self, request: Request<StartJobRequest>) -> Result<Response<Job>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let what = match (&body.deploy, &body.rollback) {
            (Some(d), _) => format!("deploy={} {}", d.app, d.version),
            (None, Some(r)) => format!("rollback={} {}", r.app, r.version)
                .trim_end()
                .to_string(),
            (None, None) if body.params.is_empty() => format!("action={}", body.action),
            (None, None) => format!(
                "action={} params={}",
                body.action,
                crate::dispatch::admit::render_params(&body.params)
            ),
        };
        let summary = format!(
            "{} selector={:?} concurrency={} max_errors={}",
            what,
            body.selector,
            if body.concurrency.is_empty() {
                "all"
            } else {
                &body.concurrency
            },
            if body.max_errors.is_empty() {
                "0"
            } else {
                &body.max_errors
            },
        );
        let dispatcher = self.dispatcher.clone();
        let registry = self.registry.clone();
        let job = self
            .audited(&request, "StartJob", summary, |caller| async move {
                if let Some(scope) = &caller.scope {
                    crate::grpc::scoped::check_job(scope, &registry, &body)?;
                }
                let job_request = JobRequest {
                    params: body.params,
                    action: body.action,
                    selector: body.selector,
                    concurrency: body.concurrency,
                    max_errors: body.max_errors,
                    delivery_timeout: (body.delivery_timeout_ms > 0)
                        .then(|| Duration::from_millis(body.delivery_timeout_ms)),
                    request_id: body.request_id,
                    deploy: body.deploy,
                    rollback: body.rollback,
                    backup: None,
                };
                let record = dispatcher.start_job(&caller.name, &job_request).await?;
                let outcome = format!(
                    "job {} on {}",
                    record.id,
                    crate::dispatch::admit::hosts(record.command_ids.len())
                );
                Ok((record.id, outcome))
            })
            .await?;
        Ok(Response::new(self.dispatcher.job_view(&job, 0)?))
    }

    async fn list_jobs(
        &self,
        request: Request<ListJobsRequest>,
    ) -> Result<Response<ListJobsResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let body = request.get_ref();
        let limit = match body.limit {
            0 => 20,
            n => n.min(1000) as usize,
        };
        if !matches!(
            body.state.as_str(),
            "" | "running" | "succeeded" | "failed" | "cancelled" | "undeliverable"
        ) {
            return Err(DispatchError::BadJobState(body.state.clone()).into());
        }
        let filter = crate::dispatch::views::JobFilter {
            since_unix_ms: body.since_unix_ms,
            state: body.state.clone(),
            action: body.action.clone(),
            host: body.host.clone(),
        };
        let (jobs, next) = self
            .dispatcher
            .list_jobs(&filter, limit, Some(&body.page_token))?;
        Ok(Response::new(ListJobsResponse {
            jobs,
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn get_job(&self, request: Request<GetJobRequest>) -> Result<Response<Job>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let tail = match request.get_ref().tail_bytes {
            0 => DEFAULT_TAIL_BYTES,
            n => (n as usize).min(1024 * 1024),
        };
        Ok(Response::new(
            self.dispatcher.job_view(&request.get_ref().id, tail)?,
        ))
    }

    async fn get_command_output(
        &self,
        request: Request<GetCommandOutputRequest>,
    ) -> Result<Response<CommandOutput>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let body = request.get_ref();
        let max = match body.max_bytes {
            0 => OUTPUT_PAGE_BYTES,
            n => (n as usize).min(MAX_OUTPUT_PAGE_BYTES),
        };
        Ok(Response::new(self.dispatcher.output_page(
            &body.job_id,
            &body.host,
            body.offset,
            max,
        )?))
    }

    #[tracing::instrument(skip_all)]
    async fn cancel_job(
        &self,
        request: Request<CancelJobRequest>,
    ) -> Result<Response<Job>, Status> {
        super::limits::check(request.get_ref())?;
        let id = request.get_ref().id.clone();
        let dispatcher = self.dispatcher.clone();
        let job = self
            .audited(&request, "CancelJob", format!("job={id}"), |_| async move {
                let record = dispatcher.cancel_job(&id).await?;
                Ok((
                    record.id.clone(),
                    format!(
                        "job {} {:?}",
                        record.id,
                        JobState::try_from(record.state).unwrap_or(JobState::Unspecified)
                    ),
                ))
            })
            .await?;
        Ok(Response::new(self.dispatcher.job_view(&job, 0)?))
    }

    type WatchJobStream = JobEventStream;
    type SaveSnapshotStream = snapshot::SnapshotStream;

    async fn watch_job(
        &self,
        request: Request<WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let job_id = request.get_ref().id.clone();
        // Subscribe before reading the state, so nothing falls between the two.
        let mut events = self.dispatcher.subscribe();
        let current = self.dispatcher.job_view(&job_id, 0)?;
        let dispatcher = self.dispatcher.clone();
        let stream = async_stream(move |tx| async move {
            for host in &current.hosts {
                if tx
                    .send(Ok(JobEvent {
                        body: Some(job_event::Body::Host(host.clone())),
                    }))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if current.state != JobState::Running as i32 {
                let _ = tx
                    .send(Ok(JobEvent {
                        body: Some(job_event::Body::Finished(current)),
                    }))
                    .await;
                return;
            }
            loop {
                let received = tokio::select! {
                    received = events.recv() => received,
                    // The watcher went away: stop, do not wait for the next event.
                    () = tx.closed() => return,
                };
                match received {
                    Ok((id, event)) if id == job_id => {
                        let done = matches!(event.body, Some(job_event::Body::Finished(_)));
                        if tx.send(Ok(event)).await.is_err() || done {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(%job_id, missed, "a job watcher fell behind; events skipped");
                        // The final state still arrives; output can be read with job output.
                        if let Ok(job) = dispatcher.job_view(&job_id, 0) {
                            if job.state != JobState::Running as i32 {
                                let _ = tx
                                    .send(Ok(JobEvent {
                                        body: Some(job_event::Body::Finished(job)),
                                    }))
                                    .await;
                                return;
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    #[tracing::instrument(skip_all)]
    async fn push_release(
        &self,
        request: Request<Streaming<PushReleaseChunk>>,
    ) -> Result<Response<Release>, Status> {
        releases::push(self, request).await
    }

    async fn list_releases(
        &self,
        request: Request<ListReleasesRequest>,
    ) -> Result<Response<ListReleasesResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let app = &request.get_ref().app;
        if !app.is_empty() {
            validate_app(app)?;
        }
        let store = self.dispatcher.store();
        let mut releases = store.releases(app)?;
        let rollouts = store.rollouts()?;
        for release in &mut releases {
            release.environments = crate::releases::environments::reached(
                &rollouts,
                &release.app,
                &release.version,
                &[],
            );
        }
        Ok(Response::new(ListReleasesResponse { releases }))
    }

    async fn release_status(
        &self,
        request: Request<ReleaseStatusRequest>,
    ) -> Result<Response<ReleaseStatusResponse>, Status> {
        super::limits::check(request.get_ref())?;
        releases::status(self, request)
    }

    async fn get_release(
        &self,
        request: Request<GetReleaseRequest>,
    ) -> Result<Response<ReleaseDetail>, Status> {
        super::limits::check(request.get_ref())?;
        releases::get(self, request)
    }

    #[tracing::instrument(skip_all)]
    async fn save_snapshot(
        &self,
        request: Request<SaveSnapshotRequest>,
    ) -> Result<Response<Self::SaveSnapshotStream>, Status> {
        super::limits::check(request.get_ref())?;
        snapshot::save(self, request).await
    }

    #[tracing::instrument(skip_all)]
    async fn delete_release(
        &self,
        request: Request<DeleteReleaseRequest>,
    ) -> Result<Response<DeleteReleaseResponse>, Status> {
        super::limits::check(request.get_ref())?;
        releases::delete(self, request).await
    }

    async fn list_audit(
        &self,
        request: Request<ListAuditRequest>,
    ) -> Result<Response<ListAuditResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let body = request.get_ref();
        let limit = match body.limit {
            0 => 1000,
            n => n.min(100_000) as usize,
        };
        let before = match body.page_token.as_str() {
            "" => None,
            token => Some(hex::decode(token).map_err(|_| {
                Status::invalid_argument("page_token is not one this coordinator gave out")
            })?),
        };
        let store = self.dispatcher.store();
        let page = store
            .audit(
                body.since_unix_ms,
                &body.operator,
                limit,
                before.as_deref(),
                AUDIT_PAGE_BYTES,
            )
            .map_err(Status::from)?;
        Ok(Response::new(ListAuditResponse {
            entries: page.entries,
            next_page_token: page.next.map(hex::encode).unwrap_or_default(),
            refusals_not_stored: store.audit_refusals_not_stored(),
        }))
    }
}

/// A stream fed by a spawned producer through a bounded channel.
fn async_stream<F, Fut>(
    producer: F,
) -> tokio_stream::wrappers::ReceiverStream<Result<JobEvent, Status>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<JobEvent, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(producer(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
