//! The `Admin` service: what the `convoy` CLI calls. Every RPC first checks the caller's
//! role (viewer < operator < admin) from its certificate; read-only RPCs need viewer,
//! anything that changes the fleet needs operator or admin and is audited.

use std::sync::Arc;

use convoy_proto::identity::Role;
use convoy_proto::v1::admin_server::Admin;
use convoy_proto::v1::{
    AgentDetail, GetAgentRequest, ListAgentsRequest, ListAgentsResponse, WhoAmIRequest,
    WhoAmIResponse,
};
use tonic::{Request, Response, Status};

use super::auth;
use crate::registry::Registry;
use crate::selector::Selector;

pub struct AdminService {
    registry: Arc<Registry>,
}

impl AdminService {
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }
}

#[tonic::async_trait]
impl Admin for AdminService {
    #[tracing::instrument(skip_all)]
    async fn list_agents(
        &self,
        request: Request<ListAgentsRequest>,
    ) -> Result<Response<ListAgentsResponse>, Status> {
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
        auth::require_role(&request, Role::Viewer)?;
        let id = &request.get_ref().id;
        self.registry
            .get(id)
            .map(Response::new)
            .ok_or_else(|| Status::not_found(format!("no agent {id:?} in the inventory")))
    }

    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let operator = auth::require_role(&request, Role::Viewer)?;
        Ok(Response::new(WhoAmIResponse {
            name: operator.name,
            role: operator.role.to_string(),
        }))
    }
}
