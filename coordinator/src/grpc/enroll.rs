//! The `Enrollment` service: the one RPC a client without a certificate may call (the
//! listener admits such clients only when `[ca]` is configured, and every other RPC
//! refuses them in `auth::peer`). Rate limited per source IP, sizes bounded before
//! anything is parsed, every call audited (refusals within the audit log's budget).

use std::sync::Arc;

use convoy_proto::v1::enrollment_server::Enrollment;
use convoy_proto::v1::{AuditEntry, EnrollRequest, EnrollResponse};
use tonic::{Request, Response, Status};

use super::auth::Caller;
use crate::clock::now_unix_ms;
use crate::enroll::{EnrollError, Enroller};
use crate::pki::csr::MAX_CSR_BYTES;
use crate::store::Store;

pub struct EnrollmentService {
    enroller: Option<Arc<Enroller>>,
    ca_pem: String,
    store: Store,
    /// A CA rotation's bundle replaces `ca_pem` in the answer.
    rotation: Option<Arc<crate::rotation::Rotation>>,
}

impl EnrollmentService {
    /// `enroller` None: enrollment is off (no `[ca]`), and every call says so.
    pub fn new(enroller: Option<Arc<Enroller>>, ca_pem: String, store: Store) -> Self {
        Self {
            enroller,
            ca_pem,
            store,
            rotation: None,
        }
    }

    /// Enrolled hosts get the CA bundle of the rotation (if any) instead of `[tls] ca`.
    pub fn with_rotation(mut self, rotation: Option<Arc<crate::rotation::Rotation>>) -> Self {
        self.rotation = rotation;
        self
    }
}

fn status(err: EnrollError) -> Status {
    match err {
        EnrollError::RateLimited(_) => Status::resource_exhausted(err.to_string()),
        EnrollError::Store(_) | EnrollError::Sign(_) => Status::internal(err.to_string()),
        EnrollError::Live(_) => Status::already_exists(err.to_string()),
        EnrollError::MalformedToken
        | EnrollError::UnknownToken
        | EnrollError::RevokedToken(_)
        | EnrollError::ExpiredToken(_)
        | EnrollError::UsedUp(_)
        | EnrollError::OutsidePattern { .. }
        | EnrollError::Revoked(_) => Status::permission_denied(err.to_string()),
        EnrollError::Identity(_) | EnrollError::Csr(_) | EnrollError::BadRequest(_) => {
            Status::invalid_argument(err.to_string())
        }
    }
}

#[tonic::async_trait]
impl Enrollment for EnrollmentService {
    async fn enroll(
        &self,
        request: Request<EnrollRequest>,
    ) -> Result<Response<EnrollResponse>, Status> {
        let remote = request
            .extensions()
            .get::<Caller>()
            .and_then(Caller::remote_addr);
        let Some(enroller) = &self.enroller else {
            return Err(Status::failed_precondition(
                "enrollment is off: the coordinator has no [ca] (an issuing CA) configured",
            ));
        };
        let ip = remote.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip());
        // Before anything else: a flood costs a map lookup per call.
        enroller.admit(ip).map_err(status)?;
        let body = request.into_inner();
        let result = if body.csr_der.len() > MAX_CSR_BYTES
            || body.token.len() > 256
            || body.agent_id.len() > 63
        {
            Err(EnrollError::BadRequest(format!(
                "request too large: csr at most {MAX_CSR_BYTES} bytes, token 256, agent id 63"
            )))
        } else {
            let enroller = enroller.clone();
            let (token, agent_id, csr) = (body.token, body.agent_id.clone(), body.csr_der);
            tokio::task::spawn_blocking(move || enroller.enroll(&token, &agent_id, &csr))
                .await
                .map_err(|err| Status::internal(err.to_string()))?
        };
        // The token never goes in the audit log: its id does, once known.
        let mut entry = AuditEntry {
            at_unix_ms: now_unix_ms(),
            operator: format!("enroll@{ip}"),
            role: String::new(),
            call: "Enroll".into(),
            request: format!("agent={}", body.agent_id),
            ok: result.is_ok(),
            outcome: match &result {
                Ok(enrolled) => format!(
                    "enrolled {} with token {}",
                    body.agent_id, enrolled.token_id
                ),
                Err(err) => err.to_string(),
            },
        };
        super::limits::truncate(&mut entry.request, super::audit::AUDIT_TEXT_BYTES);
        super::limits::truncate(&mut entry.outcome, super::audit::AUDIT_TEXT_BYTES);
        if let Ok(crate::store::Appended::Stored) = self.store.append_audit(&entry) {
            tracing::info!(agent_id = %body.agent_id, %ip, ok = entry.ok, outcome = %entry.outcome, "enroll");
        }
        let enrolled = result.map_err(status)?;
        Ok(Response::new(EnrollResponse {
            cert_pem: enrolled.cert_pem,
            ca_pem: self
                .rotation
                .as_ref()
                .and_then(|rotation| rotation.bundle())
                .unwrap_or_else(|| self.ca_pem.clone()),
            labels: enrolled.labels,
            not_after_unix_ms: enrolled.not_after_unix_ms,
            trust_serial: self
                .rotation
                .as_ref()
                .map_or(0, |rotation| rotation.trust_serial()),
        }))
    }
}
