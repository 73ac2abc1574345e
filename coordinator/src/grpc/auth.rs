//! Who is calling: the identity read off the verified client certificate at handshake
//! time, and the role checks every RPC makes before doing anything.

use std::net::SocketAddr;

use convoy_proto::identity::{AgentId, Identity, Role};
use tonic::{Request, Status};

/// A verified caller: its address and the identity its certificate names.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub remote_addr: Option<SocketAddr>,
    pub identity: Identity,
    /// The `[[policies]]` entry that narrows this operator, if any.
    pub scope: Option<std::sync::Arc<crate::policy::Scope>>,
    /// Serial, validity and issuer of the verified certificate (renewal, rotation).
    pub cert: Option<std::sync::Arc<crate::revocation::CertFacts>>,
}

/// Attached to every request by the listener: a verified caller, or (only when
/// enrollment is on) a client that sent no certificate, which may call `Enroll` alone.
#[derive(Debug, Clone)]
pub enum Caller {
    Verified(PeerInfo),
    Anonymous(SocketAddr),
}

impl Caller {
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        match self {
            Caller::Verified(peer) => peer.remote_addr,
            Caller::Anonymous(addr) => Some(*addr),
        }
    }
}

/// The caller's verified identity. A client without a certificate has none: every RPC
/// but `Enroll` goes through here (or the `require_*` below) and is refused.
pub fn peer<T>(request: &Request<T>) -> Result<PeerInfo, Status> {
    match request.extensions().get::<Caller>() {
        Some(Caller::Verified(peer)) => Ok(peer.clone()),
        Some(Caller::Anonymous(_)) | None => {
            Err(Status::unauthenticated("no verified client certificate"))
        }
    }
}

/// Only agent certificates may open an agent session.
pub fn require_agent<T>(request: &Request<T>) -> Result<(AgentId, PeerInfo), Status> {
    let peer = peer(request)?;
    match &peer.identity {
        Identity::Agent(id) => Ok((id.clone(), peer.clone())),
        other => {
            tracing::warn!(identity = %other, "non-agent certificate opened an agent session");
            Err(Status::permission_denied(format!(
                "{other} may not open an agent session: an agent certificate is required"
            )))
        }
    }
}

/// An operator caller, by name and role.
#[derive(Debug, Clone)]
pub struct Operator {
    pub name: String,
    pub role: Role,
    /// Set when a policy narrows this operator (see `crate::policy`).
    pub scope: Option<std::sync::Arc<crate::policy::Scope>>,
}

/// Only operator certificates of at least `min` may call the admin service.
pub fn require_role<T>(request: &Request<T>, min: Role) -> Result<Operator, Status> {
    let peer = peer(request)?;
    let scope = peer.scope.clone();
    match peer.identity {
        Identity::Operator { name, role } if role >= min => Ok(Operator { name, role, scope }),
        Identity::Operator { name, role } => Err(Status::permission_denied(format!(
            "operator {name} has role {role}; this needs {min}"
        ))),
        other => {
            tracing::warn!(identity = %other, "non-operator certificate called the admin service");
            Err(Status::permission_denied(format!(
                "{other} may not call the admin service: an operator certificate is required"
            )))
        }
    }
}
