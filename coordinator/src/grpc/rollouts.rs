//! The `Rollouts` service: `convoy rollout ...`. Reads need a viewer certificate; starts
//! and controls need an operator and are audited. Holds no rules: the driver decides.

mod announce;

use announce::announce;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use convoy_proto::identity::Role;
use convoy_proto::v1::rollouts_server::Rollouts as RolloutsRpc;
use convoy_proto::v1::{
    AddFreezeRequest, ApproveRolloutRequest, ControlRolloutRequest, Freeze, GetRolloutRequest,
    ListEnvironmentsRequest, ListEnvironmentsResponse, ListFreezesRequest, ListFreezesResponse,
    ListRolloutsRequest, ListRolloutsResponse, RemoveFreezeRequest, RemoveFreezeResponse,
    RolloutControl, RolloutReport, RolloutReportRequest, RolloutView, StartRolloutRequest,
    StartRolloutResponse,
};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::{audit, auth, environments};
use crate::config::environments::SharedEnvironments;
use crate::registry::Registry;
use crate::rollout::driver::{Control, RolloutError, Rollouts};
use crate::rollout::record::is_settled;
use crate::store::Store;

/// A watcher gets at most this many views a second.
const WATCH_MIN_GAP: Duration = Duration::from_millis(200);

pub struct RolloutService {
    rollouts: Arc<Rollouts>,
    store: Store,
    /// `[[environments]]` (empty unless configured), swapped by a SIGHUP reload.
    environments: SharedEnvironments,
    registry: Option<Arc<Registry>>,
    /// Where approvals are announced (`rollout.approval_given`, `..._withdrawn`).
    events: Option<crate::events::Events>,
}

impl RolloutService {
    pub fn new(rollouts: Arc<Rollouts>, store: Store) -> Self {
        Self {
            rollouts,
            store,
            environments: SharedEnvironments::default(),
            registry: None,
            events: None,
        }
    }

    /// With environments (`--env`, `convoy env list`) and the registry `env list` reads.
    pub fn with_environments(mut self, envs: SharedEnvironments, registry: Arc<Registry>) -> Self {
        self.environments = envs;
        self.registry = Some(registry);
        self
    }

    /// With the event log approvals are announced on (and notified through).
    pub fn with_events(mut self, events: crate::events::Events) -> Self {
        self.events = Some(events);
        self
    }
}

impl From<RolloutError> for Status {
    fn from(err: RolloutError) -> Self {
        match err {
            RolloutError::Store(store) => store.into(),
            RolloutError::Release(release) => release.into(),
            RolloutError::Dispatch(dispatch) => dispatch.into(),
            RolloutError::NotFound(_) => Status::not_found(err.to_string()),
            RolloutError::Active { .. } => Status::already_exists(err.to_string()),
            RolloutError::Refused { .. } | RolloutError::NoHistory => {
                Status::failed_precondition(err.to_string())
            }
            RolloutError::Stopped => Status::unavailable(err.to_string()),
            RolloutError::Spec(_)
            | RolloutError::Selector(_)
            | RolloutError::NoTargets(_)
            | RolloutError::UnknownApp { .. } => Status::invalid_argument(err.to_string()),
        }
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<RolloutView, Status>> + Send>>;

#[tonic::async_trait]
impl RolloutsRpc for RolloutService {
    #[tracing::instrument(skip_all)]
    async fn start_rollout(
        &self,
        request: Request<StartRolloutRequest>,
    ) -> Result<Response<StartRolloutResponse>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let spec = body.spec.clone().unwrap_or_default();
        let envs = environments::current(&self.environments);
        if body.dry_run {
            let caller = auth::require_role(&request, Role::Viewer)?;
            let now = crate::clock::now_unix_ms();
            let spec =
                environments::resolve(&envs, &self.store, spec, false, "", &body.at, &caller, now)?;
            let started = self
                .rollouts
                .start_rollout(spec, true, String::new(), caller.name)
                .await?;
            return Ok(Response::new(StartRolloutResponse {
                id: String::new(),
                plan: started.plan,
                rollout: None,
            }));
        }
        let summary = format!(
            "app={} version={} env={:?} at={:?} force={} reason={:?} selector={:?} canary={:?} batch={:?} steps={:?} max_failures={:?} bake_ms={} gates={:?} group_by={:?} on_failure={:?} auto_promote={}",
            spec.app,
            spec.version,
            spec.env,
            body.at,
            body.force,
            body.reason,
            spec.selector,
            spec.canary,
            spec.batch,
            spec.steps,
            spec.max_failures,
            spec.bake_ms,
            spec.gates,
            spec.group_by,
            spec.on_failure,
            spec.auto_promote
        );
        let rollouts = self.rollouts.clone();
        let store = self.store.clone();
        let started = audit::audited(
            &self.store,
            &request,
            "StartRollout",
            summary,
            |operator| async move {
                let now = crate::clock::now_unix_ms();
                let spec = environments::resolve(
                    &envs,
                    &store,
                    spec,
                    body.force,
                    &body.reason,
                    &body.at,
                    &operator,
                    now,
                )?;
                let forced = !spec.forced_reason.is_empty();
                let started = rollouts
                    .start_rollout(spec, false, body.request_id, operator.name)
                    .await?;
                let outcome = if forced {
                    format!("started {} (promotion rule forced)", started.id)
                } else {
                    format!("started {}", started.id)
                };
                Ok((started, outcome))
            },
        )
        .await?;
        Ok(Response::new(StartRolloutResponse {
            id: started.id,
            plan: started.plan,
            rollout: started.view,
        }))
    }

    async fn list_rollouts(
        &self,
        request: Request<ListRolloutsRequest>,
    ) -> Result<Response<ListRolloutsResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let body = request.get_ref();
        let limit = match body.limit {
            0 => 100,
            n => n.min(10_000) as usize,
        };
        Ok(Response::new(ListRolloutsResponse {
            rollouts: self.rollouts.list(&body.app, body.active_only, limit)?,
        }))
    }

    async fn get_rollout(
        &self,
        request: Request<GetRolloutRequest>,
    ) -> Result<Response<RolloutView>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        Ok(Response::new(
            self.rollouts.get(&request.get_ref().id).await?,
        ))
    }

    async fn get_rollout_report(
        &self,
        request: Request<RolloutReportRequest>,
    ) -> Result<Response<RolloutReport>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        Ok(Response::new(
            self.rollouts.report(&request.get_ref().id).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn control_rollout(
        &self,
        request: Request<ControlRolloutRequest>,
    ) -> Result<Response<RolloutView>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let control = match RolloutControl::try_from(body.control) {
            Ok(RolloutControl::Pause) => Control::Pause,
            Ok(RolloutControl::Resume) => Control::Resume,
            Ok(RolloutControl::Promote) => Control::Promote,
            Ok(RolloutControl::Abort) => Control::Abort,
            Ok(RolloutControl::Rollback) => Control::Rollback,
            _ => return Err(Status::invalid_argument("unknown rollout control")),
        };
        let rollouts = self.rollouts.clone();
        let view = audit::audited(
            &self.store,
            &request,
            "ControlRollout",
            format!("{} {}", control.as_str(), body.id),
            |operator| async move {
                let view = rollouts
                    .control(&body.id, control, &operator.name, body.force)
                    .await?;
                let outcome = format!("{} is {}", view.id, view.state().name());
                Ok((view, outcome))
            },
        )
        .await?;
        Ok(Response::new(view))
    }

    #[tracing::instrument(skip_all)]
    async fn approve_rollout(
        &self,
        request: Request<ApproveRolloutRequest>,
    ) -> Result<Response<RolloutView>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let rollouts = self.rollouts.clone();
        let events = self.events.clone();
        let verb = if body.withdraw { "withdraw" } else { "approve" };
        let view = audit::audited(
            &self.store,
            &request,
            "ApproveRollout",
            format!("{verb} {} comment={:?}", body.id, body.comment),
            |operator| async move {
                // The approver is the certificate's operator name, never a request field.
                let view = rollouts
                    .approve(
                        &body.id,
                        &operator.name,
                        operator.role,
                        &body.comment,
                        body.withdraw,
                    )
                    .await?;
                if let Some(events) = &events {
                    announce(events, &view, &operator.name, &body);
                }
                let outcome = format!(
                    "{} is {} ({} more approval(s) needed)",
                    view.id,
                    view.state().name(),
                    view.approvals_needed
                );
                Ok((view, outcome))
            },
        )
        .await?;
        Ok(Response::new(view))
    }

    async fn add_freeze(
        &self,
        request: Request<AddFreezeRequest>,
    ) -> Result<Response<Freeze>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let envs = environments::current(&self.environments);
        let store = self.store.clone();
        let freeze = audit::audited(
            &self.store,
            &request,
            "AddFreeze",
            format!(
                "env={} from={} until={} reason={:?}",
                body.env, body.from_unix_ms, body.until_unix_ms, body.reason
            ),
            |operator| async move {
                let now = crate::clock::now_unix_ms();
                let freeze = environments::add_freeze(&envs, &store, &body, &operator.name, now)?;
                store.flush_async().await?;
                let outcome = format!("added {}", freeze.id);
                Ok((freeze, outcome))
            },
        )
        .await?;
        Ok(Response::new(freeze))
    }

    async fn list_freezes(
        &self,
        request: Request<ListFreezesRequest>,
    ) -> Result<Response<ListFreezesResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        Ok(Response::new(ListFreezesResponse {
            freezes: self.store.freezes()?,
        }))
    }

    async fn remove_freeze(
        &self,
        request: Request<RemoveFreezeRequest>,
    ) -> Result<Response<RemoveFreezeResponse>, Status> {
        super::limits::check(request.get_ref())?;
        let id = request.get_ref().id.clone();
        let store = self.store.clone();
        audit::audited(
            &self.store,
            &request,
            "RemoveFreeze",
            format!("id={id}"),
            |_| async move {
                if !store.remove_freeze(&id)? {
                    return Err(Status::not_found(format!("no freeze {id:?}")));
                }
                store.flush_async().await?;
                Ok(((), format!("removed {id}")))
            },
        )
        .await?;
        Ok(Response::new(RemoveFreezeResponse {}))
    }

    async fn list_environments(
        &self,
        request: Request<ListEnvironmentsRequest>,
    ) -> Result<Response<ListEnvironmentsResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let envs = environments::current(&self.environments);
        let freezes = self.store.freezes()?;
        let environments = match &self.registry {
            Some(registry) => {
                environments::list(&envs, &freezes, registry, crate::clock::now_unix_ms())
            }
            None => Vec::new(),
        };
        Ok(Response::new(ListEnvironmentsResponse { environments }))
    }

    type WatchRolloutStream = WatchStream;

    async fn watch_rollout(
        &self,
        request: Request<GetRolloutRequest>,
    ) -> Result<Response<Self::WatchRolloutStream>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let id = request.get_ref().id.clone();
        // Subscribe before the first view: no change can fall in between.
        let changes = self.rollouts.subscribe();
        let first = self.rollouts.get(&id).await?;
        let rollouts = self.rollouts.clone();
        struct Watch {
            rollouts: Arc<Rollouts>,
            changes: tokio::sync::broadcast::Receiver<String>,
            id: String,
            next: Option<RolloutView>,
            done: bool,
        }
        let watch = Watch {
            rollouts,
            changes,
            id,
            next: Some(first),
            done: false,
        };
        let stream = futures_util::stream::unfold(watch, |mut watch| async move {
            if watch.done {
                return None;
            }
            if let Some(view) = watch.next.take() {
                watch.done = is_settled(&view);
                return Some((Ok(view), watch));
            }
            loop {
                match watch.changes.recv().await {
                    Ok(id) if id != watch.id => continue,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
                tokio::time::sleep(WATCH_MIN_GAP).await;
                // Changes that arrived during the gap are covered by this one view.
                while let Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) =
                    watch.changes.try_recv()
                {}
                let view = match watch.rollouts.get(&watch.id).await {
                    Ok(view) => view,
                    Err(err) => return Some((Err(Status::from(err)), watch)),
                };
                watch.done = is_settled(&view);
                return Some((Ok(view), watch));
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
