//! One upload attempt: [`crate::backup::pack`] runs on a blocking thread and writes into a
//! bounded channel of fixed-size chunks that the transport streams out, so neither the
//! archive nor a file is ever held whole in memory, and nothing is written to local disk.

use std::io::{self, Write};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{BackupTransport, UploadError, UploadHeader, UploadPart, UploadTrailer, Uploaded};
use crate::backup::{self, BackupSpec};

/// Bytes per chunk on the wire.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks queued between the packer and the network.
const QUEUE: usize = 4;

/// Packs `spec` and streams it as one upload.
pub(super) async fn once(
    spec: &BackupSpec,
    header: UploadHeader,
    transport: &dyn BackupTransport,
    cancel: &CancellationToken,
) -> Result<(Uploaded, UploadTrailer), UploadError> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let spec = spec.clone();
    let packer = tokio::task::spawn_blocking(move || pack_into(&spec, tx));
    let uploaded = tokio::select! {
        uploaded = transport.upload(header, rx) => uploaded,
        () = cancel.cancelled() => Err(UploadError { message: "cancelled".into(), retry: false }),
    };
    // The receiver is gone now, so a packer still writing stops at its next chunk.
    let packed = packer.await.map_err(|e| UploadError {
        message: format!("packing task failed: {e}"),
        retry: false,
    })?;
    match (uploaded, packed) {
        (Ok(uploaded), Ok(trailer)) => Ok((uploaded, trailer)),
        // The transport's error says why the stream ended; the packer only saw it close.
        (Err(err), _) => Err(err),
        (Ok(_), Err(err)) => Err(UploadError {
            message: err,
            retry: false,
        }),
    }
}

/// Writes the archive, then the manifest, then the trailer into `tx`. Runs on a blocking
/// thread.
fn pack_into(spec: &BackupSpec, tx: mpsc::Sender<UploadPart>) -> Result<UploadTrailer, String> {
    let mut writer = ChunkWriter {
        tx: tx.clone(),
        buf: Vec::with_capacity(CHUNK_BYTES),
    };
    let report = backup::pack(spec, &mut writer).map_err(|e| e.to_string())?;
    writer.send_buffered().map_err(|e| e.to_string())?;
    let manifest = report.manifest.to_json();
    let manifest_sha256 = hex::encode(Sha256::digest(&manifest));
    for chunk in manifest.chunks(CHUNK_BYTES) {
        tx.blocking_send(UploadPart::Manifest(chunk.to_vec()))
            .map_err(|_| "the upload ended early".to_string())?;
    }
    let trailer = UploadTrailer {
        archive_sha256: report.archive_sha256.clone(),
        archive_bytes: report.archive_bytes,
        manifest_sha256,
        files: report.manifest.files.len() as u64,
        bytes: report.manifest.total_bytes(),
        missing: report.manifest.missing.clone(),
        skipped: report
            .manifest
            .skipped
            .iter()
            .map(|(path, why)| format!("{path}: {why}"))
            .collect(),
    };
    tx.blocking_send(UploadPart::Trailer(trailer.clone()))
        .map_err(|_| "the upload ended early".to_string())?;
    Ok(trailer)
}

/// A `Write` that cuts the stream into [`CHUNK_BYTES`] chunks and queues them, waiting
/// (on this blocking thread) while the queue is full.
struct ChunkWriter {
    tx: mpsc::Sender<UploadPart>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send_buffered(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
        self.tx
            .blocking_send(UploadPart::Data(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload ended early"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK_BYTES - self.buf.len();
        let take = data.len().min(room);
        self.buf.extend_from_slice(&data[..take]);
        if self.buf.len() >= CHUNK_BYTES {
            self.send_buffered()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Chunks go out when full or at the end; a flush mid-stream would only make
        // smaller messages.
        Ok(())
    }
}
