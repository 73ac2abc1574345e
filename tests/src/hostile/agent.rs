//! A hostile agent: a real agent certificate, any message it likes.
//!
//! [`HostileAgent`] connects to a real coordinator over mTLS with a certificate minted by the
//! test's CA, sends the Hello it is given, and then leaves every decision to the test: it
//! hands over whatever the coordinator sends (commands, cancels, acks), sends any
//! `CommandEvent` (any sequence number, state or timestamp; see [`event`] and
//! [`HostileAgent::send_event`]) and uploads any bytes through `UploadBackup` with any header,
//! manifest and trailer ([`ForgedUpload`]). It never runs anything and never checks anything:
//! it is what a compromised host could send. Empty heartbeats keep it online at the
//! Welcome's interval until [`HostileAgent::stop_heartbeats`].

use std::collections::VecDeque;
use std::time::Duration;

use convoy_proto::MAX_AGENT_MESSAGE_BYTES;
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use convoy_proto::v1::{
    AgentMessage, BackupUpload, BackupUploadHeader, BackupUploadTrailer, BackupUploaded, Command,
    CommandEvent, CommandState, CoordinatorMessage, Finished, Heartbeat, Hello, Received, Welcome,
    agent_message, backup_upload, command_event, coordinator_message,
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Status, Streaming};

use crate::{TestCoordinator, TestPki, channel};

/// The name of the manifest entry a real agent appends last to its archives.
pub const MANIFEST_NAME: &str = ".convoy-manifest.json";

/// Bytes per upload message (the agent link refuses messages over 1 MiB).
const CHUNK: usize = 256 * 1024;

/// A connected hostile agent session.
pub struct HostileAgent {
    pub id: String,
    /// What the coordinator answered the Hello with.
    pub welcome: Welcome,
    link: AgentLinkClient<Channel>,
    outbound: mpsc::Sender<AgentMessage>,
    inbound: Streaming<CoordinatorMessage>,
    /// Messages read while looking for something else, handed out first.
    pending: VecDeque<CoordinatorMessage>,
    heartbeats: tokio::task::JoinHandle<()>,
}

impl Drop for HostileAgent {
    fn drop(&mut self) {
        self.heartbeats.abort();
    }
}

/// A Hello as a real agent of this id would send it, advertising `actions` (e.g.
/// `backup:pgdata` for a backup set).
pub fn hello(id: &str, actions: &[&str]) -> Hello {
    Hello {
        agent_id: id.to_string(),
        version: "hostile".to_string(),
        actions: actions.iter().map(|a| (*a).to_string()).collect(),
        ..Default::default()
    }
}

/// A raw event: any command id, sequence number, timestamp and body.
pub fn event(
    command_id: &str,
    seq: u64,
    at_unix_ms: i64,
    body: command_event::Body,
) -> CommandEvent {
    CommandEvent {
        command_id: command_id.to_string(),
        seq,
        at_unix_ms,
        body: Some(body),
    }
}

/// A `Finished` body with any state (terminal or not) and message.
pub fn finished(state: CommandState, message: &str) -> command_event::Body {
    command_event::Body::Finished(Finished {
        state: state.into(),
        message: message.to_string(),
        ..Default::default()
    })
}

impl HostileAgent {
    /// Connects with `id`'s real agent certificate (minted now) and sends `hello`; returns
    /// once the Welcome arrived, or the status the coordinator refused the session with.
    pub async fn connect(
        pki: &TestPki,
        coordinator: &TestCoordinator,
        id: &str,
        hello: Hello,
    ) -> Result<Self, Status> {
        let certs = pki.agent(id);
        let channel = channel(&coordinator.url(), &pki.ca_cert(), Some(&certs))
            .await
            .map_err(|e| Status::unavailable(format!("cannot connect: {e}")))?;
        let link = AgentLinkClient::new(channel)
            .max_encoding_message_size(MAX_AGENT_MESSAGE_BYTES)
            .max_decoding_message_size(MAX_AGENT_MESSAGE_BYTES);
        let (outbound, rx) = mpsc::channel(64);
        outbound
            .send(AgentMessage {
                body: Some(agent_message::Body::Hello(hello)),
            })
            .await
            .map_err(|_| Status::internal("hello not queued"))?;
        let mut inbound = link
            .clone()
            .session(ReceiverStream::new(rx))
            .await?
            .into_inner();
        let welcome = match tokio::time::timeout(Duration::from_secs(10), inbound.message()).await {
            Ok(Ok(Some(CoordinatorMessage {
                body: Some(coordinator_message::Body::Welcome(welcome)),
            }))) => welcome,
            Ok(Err(status)) => return Err(status),
            Ok(other) => return Err(Status::internal(format!("no welcome: {other:?}"))),
            Err(_) => return Err(Status::deadline_exceeded("no welcome within 10s")),
        };
        let interval = Duration::from_millis(welcome.heartbeat_interval_ms.max(50));
        let beat = outbound.clone();
        let heartbeats = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let message = AgentMessage {
                    body: Some(agent_message::Body::Heartbeat(Heartbeat::default())),
                };
                if beat.send(message).await.is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            id: id.to_string(),
            welcome,
            link,
            outbound,
            inbound,
            pending: VecDeque::new(),
            heartbeats,
        })
    }

    /// Stops the empty heartbeats (the coordinator will mark this agent offline).
    pub fn stop_heartbeats(&self) {
        self.heartbeats.abort();
    }

    /// The `AgentLink` client on this agent's connection, for calls of the test's own.
    pub fn link(&self) -> AgentLinkClient<Channel> {
        self.link.clone()
    }

    /// Sends any message on the session.
    pub async fn send(&self, message: agent_message::Body) {
        self.outbound
            .send(AgentMessage {
                body: Some(message),
            })
            .await
            .expect("the session is open");
    }

    /// Sends any event, exactly as given.
    pub async fn send_event(&self, event: CommandEvent) {
        self.send(agent_message::Body::Event(event)).await;
    }

    /// Acknowledges receipt of a command as a real agent would (`Received`, seq 1).
    pub async fn received(&self, command_id: &str) {
        let body = command_event::Body::Received(Received {});
        self.send_event(event(command_id, 1, now_unix_ms(), body))
            .await;
    }

    /// The next message from the coordinator, or None if the session ended or nothing came
    /// within `timeout`.
    pub async fn next_message(&mut self, timeout: Duration) -> Option<CoordinatorMessage> {
        if let Some(message) = self.pending.pop_front() {
            return Some(message);
        }
        match tokio::time::timeout(timeout, self.inbound.message()).await {
            Ok(Ok(message)) => message,
            _ => None,
        }
    }

    /// Waits for a command that `matches` (other messages are kept for [`next_message`]).
    ///
    /// [`next_message`]: HostileAgent::next_message
    pub async fn command_where(
        &mut self,
        timeout: Duration,
        matches: impl Fn(&Command) -> bool,
    ) -> Command {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut skipped = Vec::new();
        let found = loop {
            if let Some(index) = self.pending.iter().position(|m| is_command(m, &matches)) {
                break self.pending.remove(index);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.inbound.message()).await {
                Ok(Ok(Some(message))) if is_command(&message, &matches) => break Some(message),
                Ok(Ok(Some(message))) => skipped.push(message),
                _ => break None,
            }
        };
        self.pending.extend(skipped);
        match found {
            Some(CoordinatorMessage {
                body: Some(coordinator_message::Body::Command(command)),
            }) => command,
            _ => panic!("{}: no matching command within {timeout:?}", self.id),
        }
    }

    /// Sends `event` and waits until the coordinator acknowledges its command up to its
    /// sequence number (other messages are kept for [`next_message`]). Panics when no
    /// such ack comes within `timeout`.
    ///
    /// [`next_message`]: HostileAgent::next_message
    pub async fn send_acked(&mut self, event: CommandEvent, timeout: Duration) {
        let (command_id, seq) = (event.command_id.clone(), event.seq);
        self.send_event(event).await;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.inbound.message()).await {
                Ok(Ok(Some(CoordinatorMessage {
                    body: Some(coordinator_message::Body::Ack(ack)),
                }))) if ack.command_id == command_id && ack.seq >= seq => return,
                Ok(Ok(Some(message))) => self.pending.push_back(message),
                other => panic!("{}: no ack of {command_id} seq {seq}: {other:?}", self.id),
            }
        }
    }

    /// Waits for the backup command of `job_id`.
    pub async fn backup_command(&mut self, job_id: &str) -> Command {
        self.command_where(Duration::from_secs(15), |c| {
            c.job_id == job_id
                && matches!(c.action, Some(convoy_proto::v1::command::Action::Backup(_)))
        })
        .await
    }

    /// Streams `parts` as one `UploadBackup` call and returns its answer.
    pub async fn upload_parts(&self, parts: Vec<BackupUpload>) -> Result<BackupUploaded, Status> {
        let stream = tokio_stream::iter(parts);
        self.link
            .clone()
            .upload_backup(stream)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Uploads a forged (or honest) backup.
    pub async fn upload(&self, upload: &ForgedUpload) -> Result<BackupUploaded, Status> {
        self.upload_parts(upload.parts()).await
    }
}

fn is_command(message: &CoordinatorMessage, matches: &impl Fn(&Command) -> bool) -> bool {
    matches!(&message.body, Some(coordinator_message::Body::Command(c)) if matches(c))
}

fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Everything an upload carries, every field the test's to set.
#[derive(Debug, Clone)]
pub struct ForgedUpload {
    pub header: BackupUploadHeader,
    /// The archive bytes, sent in chunks.
    pub data: Vec<u8>,
    /// The manifest sent after the archive.
    pub manifest: Vec<u8>,
    pub trailer: BackupUploadTrailer,
}

impl ForgedUpload {
    /// A backup as a real agent makes it: a tar.zst of `files` (regular files), the manifest
    /// embedded as the last entry and sent beside it, and the matching trailer.
    pub fn honest(command_id: &str, files: &[(&str, &[u8])]) -> Self {
        let manifest = manifest_for(files);
        let mut builder = tar::Builder::new(Vec::new());
        for (name, bytes) in files {
            append(&mut builder, name, bytes);
        }
        append(&mut builder, MANIFEST_NAME, &manifest);
        let tar = builder.into_inner().expect("tar into memory");
        let data = zstd::encode_all(tar.as_slice(), 3).expect("zstd into memory");
        let mut upload = Self {
            header: BackupUploadHeader {
                command_id: command_id.to_string(),
                keep: 0,
            },
            data,
            manifest,
            trailer: BackupUploadTrailer {
                files: files.len() as u64,
                bytes: files.iter().map(|(_, b)| b.len() as u64).sum(),
                ..Default::default()
            },
        };
        upload.rehash();
        upload
    }

    /// Recomputes the trailer's hashes and archive size from `data` and `manifest` (after a
    /// test changed them), so only what the test meant to forge disagrees.
    pub fn rehash(&mut self) {
        self.trailer.archive_sha256 = hex::encode(Sha256::digest(&self.data));
        self.trailer.archive_bytes = self.data.len() as u64;
        self.trailer.manifest_sha256 = hex::encode(Sha256::digest(&self.manifest));
    }

    /// The messages of the upload, in order: header, data chunks, manifest chunks, trailer.
    pub fn parts(&self) -> Vec<BackupUpload> {
        let part = |body| BackupUpload { body: Some(body) };
        let mut parts = vec![part(backup_upload::Body::Header(self.header.clone()))];
        parts.extend(
            self.data
                .chunks(CHUNK)
                .map(|c| part(backup_upload::Body::Data(c.to_vec()))),
        );
        parts.extend(
            self.manifest
                .chunks(CHUNK)
                .map(|c| part(backup_upload::Body::Manifest(c.to_vec()))),
        );
        parts.push(part(backup_upload::Body::Trailer(self.trailer.clone())));
        parts
    }
}

/// The manifest JSON a real agent writes for regular `files`.
pub fn manifest_for(files: &[(&str, &[u8])]) -> Vec<u8> {
    let entries: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, bytes)| {
            serde_json::json!({
                "path": name,
                "size": bytes.len(),
                "mode": 0o644,
                "mtime": 0,
                "sha256": hex::encode(Sha256::digest(bytes)),
                "kind": {"type": "file"},
            })
        })
        .collect();
    serde_json::json!({"files": entries, "missing": [], "skipped": []})
        .to_string()
        .into_bytes()
}

fn append(builder: &mut tar::Builder<Vec<u8>>, name: &str, bytes: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    builder
        .append_data(&mut header, name, bytes)
        .expect("tar entry into memory");
}
