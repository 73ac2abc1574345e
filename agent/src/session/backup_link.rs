//! The [`BackupTransport`] over the mTLS link: `UploadBackup` (client-streamed), `FetchBackup`
//! (server-streamed, resumed from the bytes on disk when the connection breaks) and
//! `ReportDrill`, each on its own stream so heartbeats and commands keep flowing.

use std::time::Duration;

use convoy_proto::MAX_AGENT_MESSAGE_BYTES;
use convoy_proto::retry::Backoff;
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use convoy_proto::v1::{
    BackupUpload, BackupUploadHeader, BackupUploadTrailer, DrillReport, FetchBackupRequest,
    backup_upload,
};
use sha2::Sha256;
use sha2::digest::Update as _;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic::transport::Channel;
use tracing::warn;

use crate::recovery::{
    BackupMeta, BackupTransport, BoxFuture, DrillOutcome, TransferError, UploadError, UploadHeader,
    UploadPart, Uploaded,
};

/// Download attempts (each resuming where the last stopped) before a restore gives up.
const ATTEMPTS: u32 = 30;
/// Download resumes wait this much more after each failed attempt, up to [`RETRY_CAP`].
const RETRY_STEP: Duration = Duration::from_millis(200);
const RETRY_CAP: Duration = Duration::from_secs(5);
/// A drill report is tried this many times, waiting this much more after each failure.
const REPORT_ATTEMPTS: u32 = 5;
const REPORT_RETRY_STEP: Duration = Duration::from_millis(300);

pub(crate) struct BackupLink {
    /// The session's endpoint, replaced when the certificate is renewed.
    endpoint: super::SharedEndpoint,
    /// A download that receives nothing for this long is abandoned and resumed.
    stall: std::time::Duration,
}

impl BackupLink {
    pub(crate) fn new(endpoint: super::SharedEndpoint, stall: std::time::Duration) -> Self {
        Self { endpoint, stall }
    }

    async fn client(&self) -> Result<AgentLinkClient<Channel>, String> {
        let endpoint = self
            .endpoint
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        Ok(AgentLinkClient::new(channel)
            .max_decoding_message_size(MAX_AGENT_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_AGENT_MESSAGE_BYTES))
    }

    /// One download attempt from `offset`; returns the backup's meta once all arrived.
    async fn attempt(
        &self,
        command_id: &str,
        backup_id: &str,
        offset: &mut u64,
        file: &mut tokio::fs::File,
        hasher: &mut Sha256,
        meta: &mut Option<BackupMeta>,
    ) -> Result<(), tonic::Status> {
        let mut client = self.client().await.map_err(tonic::Status::unavailable)?;
        let stalled = |e: super::Stalled| tonic::Status::deadline_exceeded(e.to_string());
        let request = FetchBackupRequest {
            command_id: command_id.to_string(),
            backup_id: backup_id.to_string(),
            offset: *offset,
        };
        let mut stream = super::within(self.stall, client.fetch_backup(request))
            .await
            .map_err(stalled)??
            .into_inner();
        while let Some(chunk) = super::within(self.stall, stream.message())
            .await
            .map_err(stalled)??
        {
            if let Some(m) = chunk.meta {
                if meta.as_ref().is_some_and(|known| known.sha256 != m.sha256) {
                    return Err(tonic::Status::data_loss(
                        "the backup changed during the download",
                    ));
                }
                *meta = Some(BackupMeta {
                    backup_id: m.backup_id,
                    sha256: m.sha256,
                    size: m.size,
                    host: m.host,
                    set: m.set,
                });
            }
            if chunk.offset != *offset {
                return Err(tonic::Status::data_loss(format!(
                    "chunk at {} while expecting {offset}",
                    chunk.offset
                )));
            }
            file.write_all(&chunk.data)
                .await
                .map_err(|e| tonic::Status::internal(format!("cannot write the download: {e}")))?;
            hasher.update(&chunk.data);
            *offset += chunk.data.len() as u64;
        }
        file.flush()
            .await
            .map_err(|e| tonic::Status::internal(format!("cannot write the download: {e}")))?;
        Ok(())
    }
}

fn permanent(code: Code) -> bool {
    matches!(
        code,
        Code::NotFound
            | Code::PermissionDenied
            | Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::DataLoss
            | Code::OutOfRange
            | Code::ResourceExhausted
    )
}

impl BackupTransport for BackupLink {
    fn upload(
        &self,
        header: UploadHeader,
        parts: mpsc::Receiver<UploadPart>,
    ) -> BoxFuture<'_, Result<Uploaded, UploadError>> {
        Box::pin(async move {
            let mut client = self.client().await.map_err(|message| UploadError {
                message,
                retry: true,
            })?;
            let first = BackupUpload {
                body: Some(backup_upload::Body::Header(BackupUploadHeader {
                    command_id: header.command_id,
                    // Retention is the coordinator's; the field stays for old coordinators.
                    keep: 0,
                })),
            };
            let rest = ReceiverStream::new(parts).map(|part| BackupUpload {
                body: Some(match part {
                    UploadPart::Data(data) => backup_upload::Body::Data(data),
                    UploadPart::Manifest(data) => backup_upload::Body::Manifest(data),
                    UploadPart::Trailer(t) => backup_upload::Body::Trailer(BackupUploadTrailer {
                        archive_sha256: t.archive_sha256,
                        archive_bytes: t.archive_bytes,
                        manifest_sha256: t.manifest_sha256,
                        files: t.files,
                        bytes: t.bytes,
                        missing: t.missing,
                        skipped: t.skipped,
                    }),
                }),
            });
            let stream = tokio_stream::once(first).chain(rest);
            match client.upload_backup(stream).await {
                Ok(reply) => {
                    let reply = reply.into_inner();
                    Ok(Uploaded {
                        backup_id: reply.backup_id,
                        partial: reply.partial,
                    })
                }
                Err(status) => Err(UploadError {
                    message: format!("{:?}: {}", status.code(), status.message()),
                    retry: !permanent(status.code()),
                }),
            }
        })
    }

    fn download<'a>(
        &'a self,
        command_id: &'a str,
        backup_id: &'a str,
        file: &'a mut tokio::fs::File,
        hasher: &'a mut Sha256,
    ) -> BoxFuture<'a, Result<BackupMeta, TransferError>> {
        Box::pin(async move {
            let mut offset = 0;
            let mut meta = None;
            let mut last = String::new();
            let mut pacing = Backoff::linear(RETRY_STEP, RETRY_CAP);
            for attempt in 1..=ATTEMPTS {
                // A drill learns its backup id from the first response; resumes ask for it.
                let id = meta
                    .as_ref()
                    .map_or(backup_id, |m: &BackupMeta| m.backup_id.as_str())
                    .to_string();
                match self
                    .attempt(command_id, &id, &mut offset, file, hasher, &mut meta)
                    .await
                {
                    Ok(()) => return meta.ok_or(TransferError::NoBackup),
                    Err(status) if permanent(status.code()) => {
                        return Err(TransferError::Refused(status.message().to_string()));
                    }
                    Err(status) => {
                        warn!(command_id, offset, attempt, error = %status.message(), "backup download interrupted; resuming");
                        last = status.message().to_string();
                        tokio::time::sleep(pacing.next_delay()).await;
                    }
                }
            }
            Err(TransferError::GaveUp {
                what: "download",
                attempts: ATTEMPTS,
                last,
            })
        })
    }

    fn report_drill<'a>(
        &'a self,
        outcome: &'a DrillOutcome,
    ) -> BoxFuture<'a, Result<(), TransferError>> {
        Box::pin(async move {
            let mut last = String::new();
            let mut pacing =
                Backoff::linear(REPORT_RETRY_STEP, REPORT_RETRY_STEP * REPORT_ATTEMPTS);
            for _ in 0..REPORT_ATTEMPTS {
                let result = async {
                    let mut client = self.client().await?;
                    client
                        .report_drill(DrillReport {
                            command_id: outcome.command_id.clone(),
                            backup_id: outcome.backup_id.clone(),
                            ok: outcome.ok,
                            files: outcome.files,
                            bytes: outcome.bytes,
                            duration_ms: outcome.duration_ms,
                            problems: outcome.problems.clone(),
                        })
                        .await
                        .map(|_| ())
                        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
                }
                .await;
                match result {
                    Ok(()) => return Ok(()),
                    Err(err) => last = err,
                }
                tokio::time::sleep(pacing.next_delay()).await;
            }
            // The message stays the last attempt's alone, as operators have seen it.
            Err(TransferError::Refused(last))
        })
    }
}
