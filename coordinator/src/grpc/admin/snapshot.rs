//! `SaveSnapshot` (admin, audited): a snapshot of the coordinator's state streamed to the
//! caller as it is written (`snapshot::save` on a blocking thread, through a bounded
//! channel of 256 KiB chunks, so memory stays a few MiB whatever the store's size; a
//! caller that goes away stops the save). The audit entry is written when the snapshot
//! starts; its end is logged.

use std::io::Write;
use std::pin::Pin;

use convoy_proto::identity::Role;
use convoy_proto::v1::{SaveSnapshotRequest, SnapshotChunk};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::AdminService;

/// Bytes per streamed chunk (well under the clients' 4 MiB decoding limit).
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks queued ahead of a slow reader.
const QUEUE: usize = 8;

pub type SnapshotStream = Pin<Box<dyn Stream<Item = Result<SnapshotChunk, Status>> + Send>>;

/// A `Write` that sends full chunks down the channel (blocking: a blocking thread's).
struct ChunkWriter {
    tx: mpsc::Sender<Result<SnapshotChunk, Status>>,
    buffer: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        self.tx
            .blocking_send(Ok(SnapshotChunk { data }))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the caller went away")
            })
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK_BYTES - self.buffer.len();
        let n = buf.len().min(room);
        self.buffer.extend_from_slice(&buf[..n]);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

pub(super) async fn save(
    service: &AdminService,
    request: Request<SaveSnapshotRequest>,
) -> Result<Response<SnapshotStream>, Status> {
    let no_blobs = request.get_ref().no_blobs;
    let store = service.dispatcher.store().clone();
    let data_dir = service.artifacts.data_dir().to_path_buf();
    let summary = format!("save snapshot{}", if no_blobs { " (no blobs)" } else { "" });
    let stream = service
        .audited(&request, "SaveSnapshot", summary, |caller| async move {
            if caller.role < Role::Admin {
                return Err(Status::permission_denied(
                    "saving a snapshot needs the admin role",
                ));
            }
            let (tx, rx) = mpsc::channel(QUEUE);
            let name = caller.name.clone();
            // Ends when the save does: finished, failed, or the caller gone (a send fails).
            tokio::task::spawn_blocking(move || {
                let mut writer = ChunkWriter {
                    tx: tx.clone(),
                    buffer: Vec::with_capacity(CHUNK_BYTES),
                };
                let now = crate::clock::now_unix_ms();
                match crate::snapshot::save::save(&store, &data_dir, no_blobs, now, &mut writer) {
                    Ok(header) => tracing::info!(
                        by = %name,
                        records = header.trees.values().sum::<u64>(),
                        blobs = header.blobs.len(),
                        "snapshot saved"
                    ),
                    Err(err) => {
                        tracing::warn!(by = %name, error = %err, "snapshot failed");
                        let _ = tx.blocking_send(Err(Status::internal(format!(
                            "the snapshot failed: {err}"
                        ))));
                    }
                }
            });
            let stream: SnapshotStream = Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx));
            Ok((stream, "snapshot started".to_string()))
        })
        .await?;
    Ok(Response::new(stream))
}
