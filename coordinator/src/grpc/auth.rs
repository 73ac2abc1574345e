//! Who is calling: the identity read off the verified client certificate at handshake
//! time, and the role checks every RPC makes before doing anything.

use std::net::SocketAddr;

use convoy_proto::identity::{AgentId, Identity, Role};
use tonic::{Request, Status};

/// Attached to every request by the listener.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub remote_addr: Option<SocketAddr>,
    pub identity: Identity,
}

/// The caller's verified identity.
pub fn peer<T>(request: &Request<T>) -> Result<PeerInfo, Status> {
    request
        .extensions()
        .get::<PeerInfo>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no verified client certificate"))
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
}

/// Only operator certificates of at least `min` may call the admin service.
pub fn require_role<T>(request: &Request<T>, min: Role) -> Result<Operator, Status> {
    let peer = peer(request)?;
    match peer.identity {
        Identity::Operator { name, role } if role >= min => Ok(Operator { name, role }),
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
