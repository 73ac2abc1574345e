//! A hostile coordinator: the real server certificate, any command it likes.
//!
//! It listens on `127.0.0.1:0` with the test CA's server certificate and the same TLS set-up
//! as the real coordinator (TLS 1.3, client certificates verified against the fleet CA,
//! `grpc::listener`), so a real [`crate::TestAgent`] connects to it as to its coordinator.
//! It answers the agent's Hello with a Welcome and then does only what the test says: send
//! any [`CoordinatorMessage`] (commands with arbitrary Deploy/Rollback contents, cancels,
//! acks), serve any bytes for any sha256 on `FetchArtifact`, and record every Hello and
//! [`CommandEvent`] the agent sends (acking each event unless told not to).
//!
//! It also records the agent's renewal requests (their CSRs), so a test can answer with any
//! certificate and push any CA bundle ([`HostileCoordinator::send`]).
//!
//! It checks nothing and stores nothing on disk: it is the compromised peer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use convoy_proto::v1::agent_link_server::{AgentLink, AgentLinkServer};
use convoy_proto::v1::{
    Ack, AgentMessage, ArtifactChunk, BackupChunk, BackupUpload, BackupUploaded, Command,
    CommandEvent, CoordinatorMessage, DrillRecorded, DrillReport, FetchArtifactRequest,
    FetchBackupRequest, Finished, Hello, RenewRequest, Welcome, agent_message, command_event,
    coordinator_message,
};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status, Streaming};

use crate::TestPki;

type Outbound = mpsc::Sender<Result<CoordinatorMessage, Status>>;

/// What the hostile coordinator saw and what it serves, shared with its service.
#[derive(Default)]
struct Shared {
    /// The live session's outbound queue (the newest session wins).
    session: Mutex<Option<Outbound>>,
    hellos: Mutex<Vec<Hello>>,
    events: Mutex<Vec<CommandEvent>>,
    /// Bytes served on FetchArtifact, by the sha256 the agent asks for.
    artifacts: Mutex<BTreeMap<String, Vec<u8>>>,
    fetches: Mutex<Vec<FetchArtifactRequest>>,
    /// FetchArtifact calls still to answer with a stream that never sends (its sender is
    /// kept in `stalled`, so the stream neither ends nor fails).
    stall_fetches: std::sync::atomic::AtomicUsize,
    stalled: Mutex<Vec<mpsc::Sender<Result<ArtifactChunk, Status>>>>,
    /// Every RenewRequest, oldest first.
    renewals: Mutex<Vec<RenewRequest>>,
    /// Ack every event (so the agent's outbox drains); off to test redelivery.
    no_acks: AtomicBool,
    changed: Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A coordinator under the test's control; see the module docs.
pub struct HostileCoordinator {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl HostileCoordinator {
    /// Starts on `127.0.0.1:0` with the PKI's server certificate (`coordinator.pem`).
    pub async fn start(pki: &TestPki) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let tls = convoy_coordinator::grpc::listener::server_config(
            &pki.ca_cert(),
            &pki.dir().join("coordinator.pem"),
            &pki.dir().join("coordinator.key"),
        )
        .expect("server tls config");
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let incoming = convoy_coordinator::grpc::listener::incoming(
            listener,
            tls,
            convoy_coordinator::config::HandshakeLimits::default(),
            shutdown.clone(),
            tracker.clone(),
        );
        let shared = Arc::new(Shared::default());
        let service = AgentLinkServer::new(Service {
            shared: shared.clone(),
            tracker,
        })
        .max_decoding_message_size(convoy_proto::MAX_AGENT_MESSAGE_BYTES)
        .max_encoding_message_size(convoy_proto::MAX_AGENT_MESSAGE_BYTES);
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
                .await;
        });
        Self {
            addr,
            shared,
            shutdown,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Waits for an agent's Hello (answered with a Welcome) and returns it.
    pub async fn wait_hello(&self, timeout: Duration) -> Hello {
        self.wait("an agent's Hello", timeout, |shared| {
            let connected = lock(&shared.session).is_some();
            lock(&shared.hellos).last().cloned().filter(|_| connected)
        })
        .await
    }

    /// Waits for the `n`-th RenewRequest (1-based) and returns it.
    pub async fn wait_renewal(&self, n: usize, timeout: Duration) -> RenewRequest {
        self.wait("a renewal request", timeout, |shared| {
            lock(&shared.renewals).get(n - 1).cloned()
        })
        .await
    }

    /// Every Hello so far (one per session).
    pub fn hellos(&self) -> Vec<Hello> {
        lock(&self.shared.hellos).clone()
    }

    /// Sends `message` on the live session.
    pub async fn send(&self, message: CoordinatorMessage) {
        let session = lock(&self.shared.session)
            .clone()
            .expect("no agent session: wait_hello first");
        session.send(Ok(message)).await.expect("session closed");
    }

    /// Sends a command.
    pub async fn send_command(&self, command: Command) {
        self.send(CoordinatorMessage {
            body: Some(coordinator_message::Body::Command(command)),
        })
        .await;
    }

    /// Sends a command if a session is open; false when there is none (the agent left).
    pub async fn try_send_command(&self, command: Command) -> bool {
        let Some(session) = lock(&self.shared.session).clone() else {
            return false;
        };
        let message = CoordinatorMessage {
            body: Some(coordinator_message::Body::Command(command)),
        };
        session.send(Ok(message)).await.is_ok()
    }

    /// Serves `bytes` on FetchArtifact for whoever asks for `sha256` (which need not be
    /// their digest).
    pub fn serve_artifact(&self, sha256: &str, bytes: Vec<u8>) {
        lock(&self.shared.artifacts).insert(sha256.to_string(), bytes);
    }

    /// Answers the next `n` FetchArtifact calls with a stream that stays open and silent:
    /// a connection that is alive while the download makes no progress.
    pub fn stall_fetches(&self, n: usize) {
        self.shared.stall_fetches.store(n, Ordering::Relaxed);
    }

    /// FetchArtifact calls so far.
    pub fn fetches(&self) -> Vec<FetchArtifactRequest> {
        lock(&self.shared.fetches).clone()
    }

    /// Stops (or resumes) acking the agent's events.
    pub fn set_acks(&self, on: bool) {
        self.shared.no_acks.store(!on, Ordering::Relaxed);
    }

    /// Every event the agent sent so far, in arrival order.
    pub fn events(&self) -> Vec<CommandEvent> {
        lock(&self.shared.events).clone()
    }

    /// The output lines a command sent (stdout and stderr together).
    pub fn output(&self, command_id: &str) -> String {
        self.events()
            .iter()
            .filter(|e| e.command_id == command_id)
            .filter_map(|e| match &e.body {
                Some(command_event::Body::Output(chunk)) => {
                    Some(String::from_utf8_lossy(&chunk.data).into_owned())
                }
                _ => None,
            })
            .collect()
    }

    /// Waits for the agent's `Finished` for `command_id`.
    pub async fn finished(&self, command_id: &str, timeout: Duration) -> Finished {
        self.wait(&format!("{command_id} finished"), timeout, |shared| {
            lock(&shared.events)
                .iter()
                .filter(|e| e.command_id == command_id)
                .find_map(|e| match &e.body {
                    Some(command_event::Body::Finished(finished)) => Some(finished.clone()),
                    _ => None,
                })
        })
        .await
    }

    async fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Shared) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.changed.notified();
            if let Some(value) = check(&self.shared) {
                return value;
            }
            assert!(
                tokio::time::timeout_at(deadline, changed).await.is_ok(),
                "timed out after {timeout:?} waiting for {what}"
            );
        }
    }

    /// Stops serving: the agent's session ends.
    pub async fn stop(self) {
        lock(&self.shared.session).take();
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

struct Service {
    shared: Arc<Shared>,
    tracker: TaskTracker,
}

#[tonic::async_trait]
impl AgentLink for Service {
    type SessionStream = ReceiverStream<Result<CoordinatorMessage, Status>>;
    type FetchArtifactStream = ReceiverStream<Result<ArtifactChunk, Status>>;
    type FetchBackupStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<BackupChunk, Status>> + Send + 'static>>;

    async fn session(
        &self,
        request: Request<Streaming<AgentMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let mut inbound = request.into_inner();
        let hello = match inbound.message().await? {
            Some(AgentMessage {
                body: Some(agent_message::Body::Hello(hello)),
            }) => hello,
            _ => return Err(Status::invalid_argument("expected a Hello")),
        };
        let (tx, rx) = mpsc::channel(64);
        let welcome = CoordinatorMessage {
            body: Some(coordinator_message::Body::Welcome(Welcome {
                agent_id: hello.agent_id.clone(),
                heartbeat_interval_ms: 200,
                offline_after_ms: 1500,
                server_time_unix_ms: 0,
                ..Default::default()
            })),
        };
        tx.send(Ok(welcome))
            .await
            .map_err(|_| Status::internal("session closed"))?;
        lock(&self.shared.hellos).push(hello);
        *lock(&self.shared.session) = Some(tx.clone());
        self.shared.changed.notify_waiters();
        let shared = self.shared.clone();
        self.tracker.spawn(async move {
            while let Ok(Some(message)) = inbound.message().await {
                if let Some(agent_message::Body::Renew(renew)) = &message.body {
                    lock(&shared.renewals).push(renew.clone());
                    shared.changed.notify_waiters();
                }
                let Some(agent_message::Body::Event(event)) = message.body else {
                    continue;
                };
                let ack = CoordinatorMessage {
                    body: Some(coordinator_message::Body::Ack(Ack {
                        command_id: event.command_id.clone(),
                        seq: event.seq,
                    })),
                };
                lock(&shared.events).push(event);
                shared.changed.notify_waiters();
                if !shared.no_acks.load(Ordering::Relaxed) && tx.send(Ok(ack)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn fetch_artifact(
        &self,
        request: Request<FetchArtifactRequest>,
    ) -> Result<Response<Self::FetchArtifactStream>, Status> {
        let request = request.into_inner();
        lock(&self.shared.fetches).push(request.clone());
        let bytes = lock(&self.shared.artifacts)
            .get(&request.sha256)
            .cloned()
            .ok_or_else(|| Status::not_found("no such artifact"))?;
        let (tx, rx) = mpsc::channel(4);
        let stall = self
            .shared
            .stall_fetches
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if stall {
            lock(&self.shared.stalled).push(tx);
            return Ok(Response::new(ReceiverStream::new(rx)));
        }
        let start = usize::try_from(request.offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        self.tracker.spawn(async move {
            let mut offset = start;
            for chunk in bytes[start..].chunks(64 * 1024) {
                let message = ArtifactChunk {
                    offset: offset as u64,
                    data: chunk.to_vec(),
                };
                offset += chunk.len();
                if tx.send(Ok(message)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn upload_backup(
        &self,
        _request: Request<Streaming<BackupUpload>>,
    ) -> Result<Response<BackupUploaded>, Status> {
        Err(Status::unimplemented(
            "not served by this hostile coordinator",
        ))
    }

    async fn fetch_backup(
        &self,
        _request: Request<FetchBackupRequest>,
    ) -> Result<Response<Self::FetchBackupStream>, Status> {
        Err(Status::unimplemented(
            "not served by this hostile coordinator",
        ))
    }

    async fn report_drill(
        &self,
        _request: Request<DrillReport>,
    ) -> Result<Response<DrillRecorded>, Status> {
        Err(Status::unimplemented(
            "not served by this hostile coordinator",
        ))
    }
}
