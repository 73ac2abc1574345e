//! The hidden `floor-server` mode: `convoy.v1.AgentLink` with nothing behind it, the
//! least memory one mTLS gRPC stream can cost. With `--echo` it is also a bare
//! bidirectional-stream echo: each heartbeat is answered at once with an `Ack` carrying
//! the heartbeat's timestamp ([`ECHO_COMMAND_ID`]), the floor for heartbeat ingest.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use convoy_proto::v1::agent_link_server::{AgentLink, AgentLinkServer};
use convoy_proto::v1::{
    Ack, AgentMessage, CoordinatorMessage, Welcome, agent_message, coordinator_message,
};
use convoy_tests::swarm::ECHO_COMMAND_ID;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::{Certificate, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

/// `AgentLink` with nothing behind it: answers the Hello with a Welcome, keeps the
/// response stream open and reads and drops heartbeats. No registry, no store.
struct FloorLink {
    stop: CancellationToken,
    tracker: TaskTracker,
    echo: bool,
}

#[tonic::async_trait]
impl AgentLink for FloorLink {
    type SessionStream = ReceiverStream<Result<CoordinatorMessage, Status>>;
    type FetchArtifactStream = ReceiverStream<Result<convoy_proto::v1::ArtifactChunk, Status>>;

    /// The floor serves no artifacts.
    async fn fetch_artifact(
        &self,
        _request: Request<convoy_proto::v1::FetchArtifactRequest>,
    ) -> Result<Response<Self::FetchArtifactStream>, Status> {
        Err(Status::unimplemented("the floor server has no artifacts"))
    }

    type FetchBackupStream = ReceiverStream<Result<convoy_proto::v1::BackupChunk, Status>>;

    /// The floor keeps no backups.
    async fn upload_backup(
        &self,
        _request: Request<Streaming<convoy_proto::v1::BackupUpload>>,
    ) -> Result<Response<convoy_proto::v1::BackupUploaded>, Status> {
        Err(Status::unimplemented("the floor server keeps no backups"))
    }

    async fn fetch_backup(
        &self,
        _request: Request<convoy_proto::v1::FetchBackupRequest>,
    ) -> Result<Response<Self::FetchBackupStream>, Status> {
        Err(Status::unimplemented("the floor server keeps no backups"))
    }

    async fn report_drill(
        &self,
        _request: Request<convoy_proto::v1::DrillReport>,
    ) -> Result<Response<convoy_proto::v1::DrillRecorded>, Status> {
        Err(Status::unimplemented("the floor server keeps no backups"))
    }

    async fn session(
        &self,
        request: Request<Streaming<AgentMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let mut inbound = request.into_inner();
        let agent_id = match inbound.message().await?.and_then(|m| m.body) {
            Some(agent_message::Body::Hello(hello)) => hello.agent_id,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be a hello",
                ));
            }
        };
        let (tx, rx) = mpsc::channel(if self.echo { 16 } else { 1 });
        let welcome = CoordinatorMessage {
            body: Some(coordinator_message::Body::Welcome(Welcome {
                agent_id,
                heartbeat_interval_ms: 1000,
                offline_after_ms: 10_000,
                server_time_unix_ms: convoy_coordinator::clock::now_unix_ms(),
                ..Default::default()
            })),
        };
        // The queue is empty, so this cannot fail for lack of room.
        let _ = tx.try_send(Ok(welcome));
        let stop = self.stop.clone();
        let echo = self.echo;
        self.tracker.spawn(async move {
            let serve = async {
                while let Ok(Some(message)) = inbound.message().await {
                    let Some(agent_message::Body::Heartbeat(heartbeat)) = message.body else {
                        continue;
                    };
                    if !echo {
                        continue;
                    }
                    let sent = heartbeat.metrics.map_or(0, |m| m.sampled_at_unix_ms);
                    let ack = CoordinatorMessage {
                        body: Some(coordinator_message::Body::Ack(Ack {
                            command_id: ECHO_COMMAND_ID.to_string(),
                            seq: u64::try_from(sent).unwrap_or(0),
                        })),
                    };
                    if tx.send(Ok(ack)).await.is_err() {
                        break;
                    }
                }
            };
            tokio::select! {
                () = stop.cancelled() => {}
                () = serve => {}
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

pub async fn floor_server(
    listen: SocketAddr,
    ca: &Path,
    cert: &Path,
    key: &Path,
    echo: bool,
) -> anyhow::Result<()> {
    let read = |path: &Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let tls = ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            read(cert)?,
            read(key)?,
        ))
        .client_ca_root(Certificate::from_pem(read(ca)?));
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let service = AgentLinkServer::new(FloorLink {
        stop: stop.clone(),
        tracker: tracker.clone(),
        echo,
    })
    .max_decoding_message_size(convoy_proto::MAX_AGENT_MESSAGE_BYTES)
    .max_encoding_message_size(convoy_proto::MAX_AGENT_MESSAGE_BYTES);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install a SIGTERM handler")?;
    let signalled = stop.clone();
    let server = Server::builder()
        .tls_config(tls)
        .context("invalid TLS configuration")?
        .add_service(service)
        .serve_with_shutdown(listen, async move {
            term.recv().await;
            signalled.cancel();
        });
    let grace_expired = async {
        stop.cancelled().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    };
    tokio::select! {
        result = server => result.context("floor server failed")?,
        () = grace_expired => eprintln!("grace period expired; closing remaining connections"),
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
    Ok(())
}
