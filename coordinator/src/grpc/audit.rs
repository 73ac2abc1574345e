//! The audit log's one door: every mutating RPC of every operator service runs through
//! [`audited`], which checks the caller's role and records the call and its outcome.

use convoy_proto::identity::{Identity, Role};
use convoy_proto::v1::AuditEntry;
use tonic::{Request, Status};

use super::auth;
use crate::clock::now_unix_ms;
use crate::store::{Appended, Store};

/// The request summary and the outcome of an audit entry are cut to this many bytes.
pub const AUDIT_TEXT_BYTES: usize = 1024;

/// Runs a mutating call for an operator (or admin) and records it in the audit log,
/// whatever the outcome. The caller's identity comes from its certificate.
pub async fn audited<T, F, Fut>(
    store: &Store,
    request: &Request<impl Sized>,
    call: &str,
    summary: String,
    f: F,
) -> Result<T, Status>
where
    F: FnOnce(auth::Operator) -> Fut,
    Fut: std::future::Future<Output = Result<(T, String), Status>>,
{
    let (operator, role) = match auth::peer(request).map(|p| p.identity) {
        Ok(Identity::Operator { name, role }) => (name, role.to_string()),
        Ok(other) => (other.to_string(), String::new()),
        Err(_) => ("unknown".to_string(), String::new()),
    };
    let result = match auth::require_role(request, Role::Operator) {
        Ok(caller) => match caller.scope.as_ref().map(|scope| scope.check_call(call)) {
            Some(Err(denied)) => Err(denied.into()),
            _ => f(caller).await,
        },
        Err(status) => Err(status),
    };
    let mut entry = AuditEntry {
        at_unix_ms: now_unix_ms(),
        operator,
        role,
        call: call.to_string(),
        request: summary,
        ok: result.is_ok(),
        outcome: match &result {
            Ok((_, outcome)) => outcome.clone(),
            Err(status) => format!("{:?}: {}", status.code(), status.message()),
        },
    };
    super::limits::truncate(&mut entry.request, AUDIT_TEXT_BYTES);
    super::limits::truncate(&mut entry.outcome, AUDIT_TEXT_BYTES);
    match store.append_audit(&entry).map_err(Status::from)? {
        Appended::Stored => {
            store.flush_async().await.map_err(Status::from)?;
            tracing::info!(operator = %entry.operator, call, ok = entry.ok, outcome = %entry.outcome, "audit");
        }
        // Over this identity's budget of stored refusals: counted, and not logged either.
        Appended::Counted => {}
    }
    result.map(|(value, _)| value)
}
