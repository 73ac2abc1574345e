//! Helpers shared by the in-process tests.

use std::time::Duration;

use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use convoy_proto::v1::{
    AgentDetail, AgentMessage, AgentSummary, CommandState, CoordinatorMessage, GetJobRequest,
    Hello, Job, JobState, ListAgentsRequest, agent_message,
};
use convoy_tests::wait_for;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Status, Streaming};

pub const WAIT: Duration = Duration::from_secs(15);

pub async fn list(admin: &mut AdminClient<Channel>, selector: &str) -> Vec<AgentSummary> {
    admin
        .list_agents(ListAgentsRequest {
            selector: selector.into(),
        })
        .await
        .expect("list agents")
        .into_inner()
        .agents
}

pub async fn get(admin: &mut AdminClient<Channel>, id: &str) -> Option<AgentDetail> {
    admin
        .get_agent(convoy_proto::v1::GetAgentRequest { id: id.into() })
        .await
        .ok()
        .map(tonic::Response::into_inner)
}

pub fn online(agent: &AgentSummary) -> bool {
    agent.state == convoy_proto::v1::AgentState::Online as i32
}

pub fn hello(id: &str) -> AgentMessage {
    AgentMessage {
        body: Some(agent_message::Body::Hello(Hello {
            agent_id: id.into(),
            version: "test".into(),
            ..Default::default()
        })),
    }
}

/// A hand-driven agent session: the sender for further messages and the response.
pub async fn raw_session(
    channel: Channel,
    first: AgentMessage,
) -> (
    mpsc::Sender<AgentMessage>,
    Result<Streaming<CoordinatorMessage>, Status>,
) {
    let (tx, rx) = mpsc::channel(4);
    tx.send(first).await.expect("queue first message");
    let mut client = AgentLinkClient::new(channel).max_encoding_message_size(64 * 1024 * 1024);
    let response = client
        .session(ReceiverStream::new(rx))
        .await
        .map(tonic::Response::into_inner);
    (tx, response)
}

/// Waits until `count` agents are online.
pub async fn fleet_online(admin: &AdminClient<Channel>, count: usize) {
    wait_for("agents online", WAIT, || {
        let mut admin = admin.clone();
        async move {
            (list(&mut admin, "")
                .await
                .iter()
                .filter(|a| online(a))
                .count()
                == count)
                .then_some(())
        }
    })
    .await;
}

/// Waits until job `id` has ended and every host is terminal.
pub async fn finished(admin: &AdminClient<Channel>, id: &str) -> Job {
    wait_for("job finished", Duration::from_secs(30), || {
        let mut admin = admin.clone();
        let id = id.to_string();
        async move {
            let job = admin
                .get_job(GetJobRequest { id, tail_bytes: 0 })
                .await
                .ok()?
                .into_inner();
            (job.state != JobState::Running as i32
                && job
                    .hosts
                    .iter()
                    .all(|h| h.state >= CommandState::Succeeded as i32))
            .then_some(job)
        }
    })
    .await
}
