//! The gRPC edge: the TLS listener, reading identities off verified certificates, and the
//! `AgentLink` and `Admin` services. Converts between proto messages and the registry and
//! maps domain errors to `Status` codes; holds no business rules of its own.

pub mod admin;
pub mod agent_link;
pub mod audit;
pub mod auth;
pub mod backup_link;
pub mod backups;
pub mod certs;
pub mod enroll;
pub mod environments;
pub mod limits;
pub mod listener;
pub mod monitor;
pub mod rollouts;
pub mod scoped;

use crate::store::StoreError;

impl From<StoreError> for tonic::Status {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store failure");
        tonic::Status::internal("coordinator store failure")
    }
}

impl From<crate::policy::Denied> for tonic::Status {
    fn from(denied: crate::policy::Denied) -> Self {
        tonic::Status::permission_denied(denied.0)
    }
}
