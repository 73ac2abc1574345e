//! The agent side of backups on `AgentLink`: `UploadBackup`, `FetchBackup` and `ReportDrill`.
//! The agent is whoever the certificate says; each call is checked against the commands that
//! agent was sent (`crate::backups`).

use convoy_proto::v1::{
    BackupChunk, BackupMeta, BackupUpload, BackupUploaded, DrillRecorded, DrillReport, DrillResult,
    FetchBackupRequest, backup_upload,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status, Streaming};

use super::auth;
use crate::backups::{BackupError, Backups, UploadTrailer};
use crate::clock::now_unix_ms;
use crate::releases::CHUNK_BYTES;

/// Problem lines kept from a drill report.
const MAX_DRILL_PROBLEMS: usize = 20;

impl From<BackupError> for Status {
    fn from(err: BackupError) -> Self {
        match err {
            BackupError::Store(store) => store.into(),
            BackupError::NotYourCommand(_) => Status::permission_denied(err.to_string()),
            BackupError::NoBackup(_) | BackupError::NoLatest { .. } => {
                Status::not_found(err.to_string())
            }
            BackupError::CommandFinished(_)
            | BackupError::NotStored(..)
            | BackupError::Kept { .. } => Status::failed_precondition(err.to_string()),
            BackupError::Corrupt { .. } => Status::data_loss(err.to_string()),
            BackupError::Superseded(_) => Status::aborted(err.to_string()),
            BackupError::Truncated | BackupError::Protocol(_) | BackupError::Malformed { .. } => {
                Status::invalid_argument(err.to_string())
            }
            BackupError::Quota { .. } => Status::resource_exhausted(err.to_string()),
            BackupError::Io(io) => {
                tracing::error!(error = %io, "backup storage failure");
                Status::internal(format!("backup storage: {io}"))
            }
        }
    }
}

pub async fn upload(
    backups: &Backups,
    request: Request<Streaming<BackupUpload>>,
) -> Result<Response<BackupUploaded>, Status> {
    let (agent_id, _) = auth::require_agent(&request)?;
    let mut stream = request.into_inner();
    let header = match stream.message().await? {
        Some(BackupUpload {
            body: Some(backup_upload::Body::Header(header)),
        }) => header,
        _ => {
            return Err(Status::invalid_argument(
                "an upload must start with a header",
            ));
        }
    };
    if header.keep != 0 {
        // Retention is the coordinator's: a host must not prune its own off-host backups.
        tracing::debug!(%agent_id, keep = header.keep, "ignoring the keep in an upload header");
    }
    let mut sink = backups
        .begin_upload(agent_id.as_str(), &header.command_id)
        .await?;
    tracing::info!(%agent_id, backup_id = sink.backup_id(), "backup upload started");
    let trailer = loop {
        let next = tokio::select! {
            next = stream.message() => next,
            () = sink.superseded() => {
                tracing::warn!(%agent_id, backup_id = sink.backup_id(), attempt = sink.attempt(), "backup upload superseded by a newer attempt");
                let err = BackupError::Superseded(sink.backup_id().to_string());
                sink.abort().await;
                return Err(err.into());
            }
        };
        let message = match next {
            Ok(Some(message)) => message,
            Ok(None) => {
                sink.abort().await;
                return Err(BackupError::Truncated.into());
            }
            Err(status) => {
                tracing::warn!(%agent_id, backup_id = sink.backup_id(), error = %status.message(), "backup upload broke off");
                sink.abort().await;
                return Err(status);
            }
        };
        let written = match message.body {
            Some(backup_upload::Body::Data(data)) => sink.write_archive(&data).await,
            Some(backup_upload::Body::Manifest(data)) => sink.write_manifest(&data).await,
            Some(backup_upload::Body::Trailer(t)) => break t,
            _ => Err(BackupError::Protocol("a second header")),
        };
        match written {
            Ok(()) => {}
            Err(err @ BackupError::Quota { .. }) => {
                backups.refuse(sink, &err).await?;
                return Err(err.into());
            }
            Err(err) => {
                sink.abort().await;
                return Err(err.into());
            }
        }
    };
    let record = backups
        .finish_upload(
            sink,
            UploadTrailer {
                archive_sha256: trailer.archive_sha256,
                archive_bytes: trailer.archive_bytes,
                manifest_sha256: trailer.manifest_sha256,
                files: trailer.files,
                bytes: trailer.bytes,
                missing: trailer.missing,
                skipped: trailer.skipped,
            },
        )
        .await?;
    Ok(Response::new(BackupUploaded {
        partial: record.state == convoy_proto::v1::BackupState::Partial as i32,
        backup_id: record.id,
    }))
}

pub async fn fetch(
    backups: &Backups,
    tracker: &TaskTracker,
    request: Request<FetchBackupRequest>,
) -> Result<Response<ReceiverStream<Result<BackupChunk, Status>>>, Status> {
    let (agent_id, _) = auth::require_agent(&request)?;
    let FetchBackupRequest {
        command_id,
        backup_id,
        offset,
    } = request.into_inner();
    let (backup, mut file) = backups
        .open_for_fetch(agent_id.as_str(), &command_id, &backup_id)
        .await?;
    if offset > backup.size {
        return Err(Status::out_of_range(format!(
            "offset {offset} is past the end ({} bytes)",
            backup.size
        )));
    }
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|_| Status::internal("cannot read the backup"))?;
    tracing::debug!(%agent_id, backup_id = %backup.id, offset, "backup download");
    let mut meta = Some(BackupMeta {
        backup_id: backup.id.clone(),
        sha256: backup.sha256.clone(),
        size: backup.size,
        host: backup.host.clone(),
        set: backup.set.clone(),
    });
    let (tx, rx) = mpsc::channel(4);
    tracker.spawn(async move {
        let mut position = offset;
        let mut buffer = vec![0u8; CHUNK_BYTES];
        loop {
            let read = match file.read(&mut buffer).await {
                Ok(read) => read,
                Err(err) => {
                    let _ = tx
                        .send(Err(Status::internal(format!("backup read failed: {err}"))))
                        .await;
                    break;
                }
            };
            // The first chunk carries the meta even when there are no bytes left.
            if read == 0 && meta.is_none() {
                break;
            }
            let chunk = BackupChunk {
                offset: position,
                data: buffer[..read].to_vec(),
                meta: meta.take(),
            };
            if tx.send(Ok(chunk)).await.is_err() || read == 0 {
                break;
            }
            position += read as u64;
        }
    });
    Ok(Response::new(ReceiverStream::new(rx)))
}

pub async fn report_drill(
    backups: &Backups,
    request: Request<DrillReport>,
) -> Result<Response<DrillRecorded>, Status> {
    let (agent_id, _) = auth::require_agent(&request)?;
    let report = request.into_inner();
    let result = DrillResult {
        at_unix_ms: now_unix_ms(),
        ok: report.ok,
        files: report.files,
        bytes: report.bytes,
        duration_ms: report.duration_ms,
        host: agent_id.to_string(),
        problems: report
            .problems
            .into_iter()
            .take(MAX_DRILL_PROBLEMS)
            .map(|p| p.chars().take(500).collect())
            .collect(),
    };
    backups
        .record_drill(
            agent_id.as_str(),
            &report.command_id,
            &report.backup_id,
            result,
        )
        .await?;
    Ok(Response::new(DrillRecorded {}))
}
