//! `AgentLink.Session`: one long-lived stream per agent. Checks the Hello against the
//! certificate, registers the session, answers with a Welcome, then feeds heartbeats to
//! the registry until the stream ends or the registry ends the session.

use std::sync::Arc;
use std::time::Duration;

use convoy_proto::identity::AgentId;
use convoy_proto::v1::agent_link_server::AgentLink;
use convoy_proto::v1::{
    AgentMessage, ArtifactChunk, CoordinatorMessage, FetchArtifactRequest, Welcome, agent_message,
    coordinator_message,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status, Streaming};
use tracing::{debug, info, warn};

use super::auth;
use checks::{HeartbeatBudget, bound_heartbeat, bound_signals, check_hello};

pub mod checks;
mod stream;

use crate::clock::now_unix_ms;
use crate::config::AgentsConfig;
use crate::dispatch::Dispatcher;
use crate::registry::{Registry, SessionTicket, reason};
use crate::releases::{Artifacts, CHUNK_BYTES, valid_sha256};
use stream::run_session;

/// An agent must send its Hello this soon after opening the stream.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages queued towards one agent before the sender waits.
const OUTBOUND_QUEUE: usize = 16;

pub struct AgentLinkService {
    registry: Arc<Registry>,
    dispatcher: Arc<Dispatcher>,
    artifacts: Artifacts,
    settings: AgentsConfig,
    tracker: TaskTracker,
    backups: Option<crate::backups::Backups>,
    /// The issuing CA (`[ca]`): renewals over the session. None: renewal is off.
    enroller: Option<Arc<crate::enroll::Enroller>>,
    /// CA rotation: the bundle each Welcome carries.
    rotation: Option<Arc<crate::rotation::Rotation>>,
}

impl AgentLinkService {
    pub fn new(
        registry: Arc<Registry>,
        dispatcher: Arc<Dispatcher>,
        artifacts: Artifacts,
        settings: AgentsConfig,
        tracker: TaskTracker,
    ) -> Self {
        Self {
            registry,
            dispatcher,
            artifacts,
            settings,
            tracker,
            backups: None,
            enroller: None,
            rotation: None,
        }
    }

    /// Serves backup uploads, downloads and drill reports (`grpc::backup_link`).
    pub fn with_backups(mut self, backups: crate::backups::Backups) -> Self {
        self.backups = Some(backups);
        self
    }

    /// Renews agent certificates over their sessions (`[ca]` configured).
    pub fn with_enroller(mut self, enroller: Option<Arc<crate::enroll::Enroller>>) -> Self {
        self.enroller = enroller;
        self
    }

    /// Each Welcome carries the CA bundle of the rotation in progress.
    pub fn with_rotation(mut self, rotation: Option<Arc<crate::rotation::Rotation>>) -> Self {
        self.rotation = rotation;
        self
    }

    fn backups(&self) -> Result<&crate::backups::Backups, Status> {
        self.backups
            .as_ref()
            .ok_or_else(|| Status::unimplemented("this coordinator keeps no backups"))
    }
}

#[tonic::async_trait]
impl AgentLink for AgentLinkService {
    type SessionStream = ReceiverStream<Result<CoordinatorMessage, Status>>;

    #[tracing::instrument(skip_all, fields(agent_id))]
    async fn session(
        &self,
        request: Request<Streaming<AgentMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let (agent_id, peer) = auth::require_agent(&request)?;
        tracing::Span::current().record("agent_id", agent_id.as_str());
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no hello within the deadline"))??;
        let hello = match first.and_then(|m| m.body) {
            Some(agent_message::Body::Hello(hello)) => hello,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be a hello",
                ));
            }
        };
        check_hello(&agent_id, &hello)?;
        let version = hello.version.clone();
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let ticket = self
            .registry
            .connect(&agent_id, hello, peer.remote_addr, tx.clone())?;
        info!(%agent_id, %version, remote = ?peer.remote_addr, "agent connected");
        if let Some(cert) = &peer.cert {
            self.registry.note_cert(&agent_id, cert);
        }
        let renewal = self.enroller.clone().zip(peer.cert.clone());
        let renew_in_ms = renewal.as_ref().map_or(0, |(enroller, cert)| {
            millis(enroller.renew_in(cert, now_unix_ms())).max(1)
        });

        let welcome = CoordinatorMessage {
            body: Some(coordinator_message::Body::Welcome(Welcome {
                agent_id: agent_id.to_string(),
                heartbeat_interval_ms: millis(self.settings.heartbeat_interval),
                offline_after_ms: millis(self.settings.offline_after),
                server_time_unix_ms: now_unix_ms(),
                renew_in_ms,
                ca_pem: self
                    .rotation
                    .as_ref()
                    .and_then(|rotation| rotation.bundle())
                    .unwrap_or_default(),
                trust: self
                    .rotation
                    .as_ref()
                    .and_then(|rotation| rotation.signed_bundle()),
            })),
        };
        let registry = self.registry.clone();
        let dispatcher = self.dispatcher.clone();
        // From here on the session task owns the registration: whatever happens, it is the
        // one that records the disconnect.
        self.tracker.spawn(run_session(
            (registry, renewal),
            dispatcher,
            agent_id,
            ticket,
            inbound,
            tx,
            welcome,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type FetchArtifactStream = ReceiverStream<Result<ArtifactChunk, Status>>;
    type FetchBackupStream = ReceiverStream<Result<convoy_proto::v1::BackupChunk, Status>>;

    #[tracing::instrument(skip_all)]
    async fn upload_backup(
        &self,
        request: Request<Streaming<convoy_proto::v1::BackupUpload>>,
    ) -> Result<Response<convoy_proto::v1::BackupUploaded>, Status> {
        super::backup_link::upload(self.backups()?, request).await
    }

    #[tracing::instrument(skip_all)]
    async fn fetch_backup(
        &self,
        request: Request<convoy_proto::v1::FetchBackupRequest>,
    ) -> Result<Response<Self::FetchBackupStream>, Status> {
        super::backup_link::fetch(self.backups()?, &self.tracker, request).await
    }

    #[tracing::instrument(skip_all)]
    async fn report_drill(
        &self,
        request: Request<convoy_proto::v1::DrillReport>,
    ) -> Result<Response<convoy_proto::v1::DrillRecorded>, Status> {
        super::backup_link::report_drill(self.backups()?, request).await
    }

    #[tracing::instrument(skip_all, fields(agent_id))]
    async fn fetch_artifact(
        &self,
        request: Request<FetchArtifactRequest>,
    ) -> Result<Response<Self::FetchArtifactStream>, Status> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let (agent_id, _) = auth::require_agent(&request)?;
        tracing::Span::current().record("agent_id", agent_id.as_str());
        let FetchArtifactRequest { sha256, offset } = request.into_inner();
        if !valid_sha256(&sha256) {
            return Err(Status::invalid_argument(
                "sha256 must be 64 lowercase hex digits",
            ));
        }
        match self.dispatcher.owes_artifact(agent_id.as_str(), &sha256) {
            Ok(true) => {}
            Ok(false) => {
                warn!(%agent_id, %sha256, "artifact download without a deploy command refused");
                return Err(Status::permission_denied(format!(
                    "no unfinished deploy of artifact {sha256} was sent to {agent_id}"
                )));
            }
            Err(err) => {
                tracing::error!(%agent_id, error = %err, "cannot read the agent's commands");
                return Err(Status::unavailable("coordinator store failure"));
            }
        }
        let mut file = tokio::fs::File::open(self.artifacts.path(&sha256))
            .await
            .map_err(|_| Status::not_found(format!("no artifact {sha256}")))?;
        let size = file
            .metadata()
            .await
            .map_err(|_| Status::internal("cannot read artifact"))?
            .len();
        if offset > size {
            return Err(Status::out_of_range(format!(
                "offset {offset} is past the end ({size} bytes)"
            )));
        }
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(|_| Status::internal("cannot read artifact"))?;
        debug!(%agent_id, %sha256, offset, size, "artifact download");
        // A few chunks in flight: memory stays bounded whatever the artifact's size.
        let (tx, rx) = mpsc::channel(4);
        self.tracker.spawn(async move {
            let mut position = offset;
            let mut buffer = vec![0u8; CHUNK_BYTES];
            loop {
                let read = match file.read(&mut buffer).await {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(err) => {
                        let _ = tx
                            .send(Err(Status::internal(format!(
                                "artifact read failed: {err}"
                            ))))
                            .await;
                        break;
                    }
                };
                let chunk = ArtifactChunk {
                    offset: position,
                    data: buffer[..read].to_vec(),
                };
                if tx.send(Ok(chunk)).await.is_err() {
                    break;
                }
                position += read as u64;
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future an async fn with seven arguments returns.
    fn future_size<A, B, C, D, E, F, G, Fut>(_: fn(A, B, C, D, E, F, G) -> Fut) -> usize {
        std::mem::size_of::<Fut>()
    }

    /// One session task lives as long as its agent is connected, so its future is part of
    /// the coordinator's memory per agent: the large futures it awaits only now and then
    /// (the registration flush, applying events) are boxed and do not count.
    #[test]
    fn the_session_task_stays_small() {
        let size = future_size(run_session as fn(_, _, _, _, _, _, _) -> _);
        println!("run_session future: {size} bytes");
        // 2,696 bytes before the boxing, 1,896 after (release build).
        assert!(size <= 2048, "run_session future: {size} bytes");
    }
}
