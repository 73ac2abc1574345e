//! The `Certs` service (`identity.proto`): the certificates the coordinator knows and
//! revocation. Admins only; every revocation goes through [`super::audit::audited`].

use std::sync::Arc;

use convoy_proto::identity::{AgentId, Role};
use convoy_proto::v1::certs_server::Certs;
use convoy_proto::v1::revoke_request::Target as WireTarget;
use convoy_proto::v1::{
    CreateTokenRequest, CreateTokenResponse, ListCertsRequest, ListCertsResponse,
    ListTokensRequest, ListTokensResponse, RevokeRequest, RevokeResponse, RevokeTokenRequest,
    RotateCaRequest, RotationStatus, TokenInfo,
};
use tonic::{Request, Response, Status};

use super::auth;
use crate::clock::now_unix_ms;
use crate::enroll::{EnrollError, Enroller};
use crate::revocation::{Revocations, RevokeError, Target};
use crate::store::Store;

pub struct CertsService {
    revocations: Arc<Revocations>,
    store: Store,
    enroller: Option<Arc<Enroller>>,
    ca_pem: String,
    rotation: Option<Arc<crate::rotation::Rotation>>,
}

impl CertsService {
    pub fn new(revocations: Arc<Revocations>, store: Store) -> Self {
        Self {
            revocations,
            store,
            enroller: None,
            ca_pem: String::new(),
            rotation: None,
        }
    }

    /// Tokens need the issuing CA; `ca_pem` is what agents trust (its fingerprint is
    /// printed with each token).
    pub fn with_enroller(mut self, enroller: Option<Arc<Enroller>>, ca_pem: String) -> Self {
        self.enroller = enroller;
        self.ca_pem = ca_pem;
        self
    }

    /// `RotateCa` (needs `[ca]`).
    pub fn with_rotation(mut self, rotation: Option<Arc<crate::rotation::Rotation>>) -> Self {
        self.rotation = rotation;
        self
    }

    fn enroller(&self) -> Result<Arc<Enroller>, Status> {
        self.enroller.clone().ok_or_else(|| {
            Status::failed_precondition(
                "enrollment is off: the coordinator has no [ca] (an issuing CA) configured",
            )
        })
    }
}

fn enroll_status(err: EnrollError) -> Status {
    match err {
        EnrollError::Store(err) => Status::internal(err.to_string()),
        EnrollError::UnknownToken => Status::not_found("no such token"),
        other => Status::invalid_argument(other.to_string()),
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

fn rotation_status(err: crate::rotation::RotationError) -> Status {
    match err {
        crate::rotation::RotationError::Refused(why) => Status::failed_precondition(why),
        crate::rotation::RotationError::Failed(why) => Status::internal(why),
    }
}

#[tonic::async_trait]
impl Certs for CertsService {
    async fn rotate_ca(
        &self,
        request: Request<RotateCaRequest>,
    ) -> Result<Response<RotationStatus>, Status> {
        super::limits::check(request.get_ref())?;
        let rotation = self.rotation.clone().ok_or_else(|| {
            Status::failed_precondition(
                "CA rotation needs an issuing CA: configure [ca] on the coordinator",
            )
        })?;
        let body = request.get_ref().clone();
        if body.action == "status" {
            let caller = auth::require_role(&request, Role::Viewer)?;
            admin_only(&caller)?;
            let status = tokio::task::spawn_blocking(move || rotation.act("status", false))
                .await
                .map_err(|err| Status::internal(err.to_string()))?;
            return status.map(Response::new).map_err(rotation_status);
        }
        let summary = format!(
            "action={} force={} signed={}",
            body.action,
            body.force,
            !body.bundle_signature.is_empty()
        );
        super::audit::audited(
            &self.store,
            &request,
            "RotateCa",
            summary,
            |caller| async move {
                admin_only(&caller)?;
                let action = body.action.clone();
                let status = tokio::task::spawn_blocking(move || {
                    rotation.act_signed(
                        &body.action,
                        body.force,
                        &body.bundle_signature,
                        body.bundle_serial,
                    )
                })
                .await
                .map_err(|err| Status::internal(err.to_string()))?
                .map_err(rotation_status)?;
                let outcome = format!("{action}: phase {}", status.phase);
                Ok((status, outcome))
            },
        )
        .await
        .map(Response::new)
    }

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

    async fn create_token(
        &self,
        request: Request<CreateTokenRequest>,
    ) -> Result<Response<CreateTokenResponse>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let summary = format!(
            "labels={:?} ttl_ms={} uses={} id_pattern={}",
            body.labels, body.ttl_ms, body.uses, body.id_pattern
        );
        let enroller = self.enroller.clone();
        // After a CA rotation new hosts pin the CA it moved to.
        let anchor = self
            .rotation
            .as_ref()
            .and_then(|rotation| rotation.anchor())
            .unwrap_or_else(|| self.ca_pem.clone());
        let fingerprint = Enroller::fingerprint(anchor.as_bytes()).unwrap_or_default();
        let response = super::audit::audited(
            &self.store,
            &request,
            "CreateToken",
            summary,
            |caller| async move {
                admin_only(&caller)?;
                let enroller = enroller.ok_or_else(|| {
                    Status::failed_precondition(
                        "enrollment is off: the coordinator has no [ca] (an issuing CA) configured",
                    )
                })?;
                let (token, info) = enroller
                    .create_token(
                        body.labels,
                        std::time::Duration::from_millis(body.ttl_ms),
                        body.uses,
                        body.id_pattern,
                        &caller.name,
                    )
                    .map_err(enroll_status)?;
                // The secret is never audited or logged: the token id is.
                let outcome = format!("token {} created", info.id);
                Ok((
                    CreateTokenResponse {
                        token,
                        info: Some(info),
                        ca_fingerprint: fingerprint,
                    },
                    outcome,
                ))
            },
        )
        .await?;
        Ok(Response::new(response))
    }

    async fn list_tokens(
        &self,
        request: Request<ListTokensRequest>,
    ) -> Result<Response<ListTokensResponse>, Status> {
        super::limits::check(request.get_ref())?;
        let caller = auth::require_role(&request, Role::Viewer)?;
        admin_only(&caller)?;
        let tokens = self.enroller()?.tokens().map_err(enroll_status)?;
        Ok(Response::new(ListTokensResponse { tokens }))
    }

    async fn revoke_token(
        &self,
        request: Request<RevokeTokenRequest>,
    ) -> Result<Response<TokenInfo>, Status> {
        super::limits::check(request.get_ref())?;
        let id = request.get_ref().id.clone();
        let enroller = self.enroller.clone();
        let info = super::audit::audited(
            &self.store,
            &request,
            "RevokeToken",
            format!("token={id}"),
            |caller| async move {
                admin_only(&caller)?;
                let enroller = enroller.ok_or_else(|| {
                    Status::failed_precondition("enrollment is off: no [ca] configured")
                })?;
                let info = enroller.revoke_token(&id).map_err(enroll_status)?;
                Ok((info, format!("token {id} revoked")))
            },
        )
        .await?;
        Ok(Response::new(info))
    }
}
