//! The `Certs` service (`identity.proto`): the certificates the coordinator knows and
//! revocation. Admins only; every revocation goes through [`super::audit::audited`].

use std::sync::Arc;

use convoy_proto::identity::{AgentId, Role};
use convoy_proto::v1::certs_server::Certs;
use convoy_proto::v1::revoke_request::Target as WireTarget;
use convoy_proto::v1::{ListCertsRequest, ListCertsResponse, RevokeRequest, RevokeResponse};
use tonic::{Request, Response, Status};

use super::auth;
use crate::registry::now_unix_ms;
use crate::revocation::{Revocations, RevokeError, Target};
use crate::store::Store;

pub struct CertsService {
    revocations: Arc<Revocations>,
    store: Store,
}

impl CertsService {
    pub fn new(revocations: Arc<Revocations>, store: Store) -> Self {
        Self { revocations, store }
    }
}

fn admin_only(caller: &auth::Operator) -> Result<(), Status> {
    if caller.role < Role::Admin {
        return Err(Status::permission_denied(format!(
            "operator {} has role {}; revocation needs admin",
            caller.name, caller.role
        )));
    }
    Ok(())
}

fn target(request: &RevokeRequest) -> Result<Target, Status> {
    match &request.target {
        Some(WireTarget::Serial(serial)) => Ok(Target::Serial(serial.clone())),
        Some(WireTarget::AgentId(id)) => AgentId::new(id.clone())
            .map(Target::Agent)
            .map_err(|err| Status::invalid_argument(err.to_string())),
        Some(WireTarget::Operator(name)) => Ok(Target::Operator(name.clone())),
        None => Err(Status::invalid_argument(
            "name what to revoke: a serial, an agent id or an operator name",
        )),
    }
}

#[tonic::async_trait]
impl Certs for CertsService {
    async fn list_certs(
        &self,
        request: Request<ListCertsRequest>,
    ) -> Result<Response<ListCertsResponse>, Status> {
        super::limits::check(request.get_ref())?;
        let caller = auth::require_role(&request, Role::Viewer)?;
        admin_only(&caller)?;
        let certs = self
            .revocations
            .list(now_unix_ms())
            .map_err(|err| Status::internal(err.to_string()))?;
        Ok(Response::new(ListCertsResponse { certs }))
    }

    async fn revoke(
        &self,
        request: Request<RevokeRequest>,
    ) -> Result<Response<RevokeResponse>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let summary = match &body.target {
            Some(WireTarget::Serial(s)) => format!("serial={s} reason={}", body.reason),
            Some(WireTarget::AgentId(s)) => format!("agent={s} reason={}", body.reason),
            Some(WireTarget::Operator(s)) => format!("operator={s} reason={}", body.reason),
            None => format!("target=none reason={}", body.reason),
        };
        let revocations = self.revocations.clone();
        let response = super::audit::audited(
            &self.store,
            &request,
            "Revoke",
            summary,
            |caller| async move {
                admin_only(&caller)?;
                let target = target(&body)?;
                let (revocation, closed) = revocations
                    .revoke(target, &body.reason, &caller.name)
                    .map_err(|err| match err {
                    RevokeError::Store(err) => Status::internal(err.to_string()),
                    other => Status::invalid_argument(other.to_string()),
                })?;
                tracing::warn!(
                    kind = %revocation.kind,
                    target = %revocation.target,
                    by = %caller.name,
                    sessions_closed = closed,
                    "certificate revoked"
                );
                let outcome = format!(
                    "revoked {} {}; {closed} live connection(s) closed",
                    revocation.kind, revocation.target
                );
                Ok((
                    RevokeResponse {
                        revocation: Some(revocation),
                        sessions_closed: closed,
                    },
                    outcome,
                ))
            },
        )
        .await?;
        Ok(Response::new(response))
    }
}
