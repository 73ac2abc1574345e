//! Artifact downloads over the mTLS link: a separate `FetchArtifact` stream per download,
//! written to disk as chunks arrive (memory stays bounded), resumed from the last byte
//! written when the connection breaks (paced by [`convoy_proto::retry::Backoff`]).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use convoy_proto::MAX_AGENT_MESSAGE_BYTES;
use convoy_proto::retry::Backoff;
use convoy_proto::v1::FetchArtifactRequest;
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tonic::Code;
use tracing::warn;

use crate::deploy::{ArtifactSource, FetchError};

/// Attempts (each resuming where the last stopped) before a download gives up.
const ATTEMPTS: u32 = 30;
/// The wait after the first failed attempt; each later one waits this much longer, up to
/// [`RETRY_CAP`].
const RETRY_STEP: Duration = Duration::from_millis(200);
const RETRY_CAP: Duration = Duration::from_secs(5);

pub(crate) struct Fetcher {
    /// The session's endpoint, replaced when the certificate is renewed.
    endpoint: super::SharedEndpoint,
    /// No data for this long abandons the attempt (see [`super::Tuning::transfer_stall`]).
    stall: Duration,
}

impl Fetcher {
    pub(crate) fn new(endpoint: super::SharedEndpoint, stall: Duration) -> Self {
        Self { endpoint, stall }
    }

    async fn attempt(
        &self,
        sha256: &str,
        offset: &mut u64,
        file: &mut tokio::fs::File,
        hasher: &mut Sha256,
    ) -> Result<(), FetchError> {
        let endpoint = self
            .endpoint
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        let mut client =
            AgentLinkClient::new(channel).max_decoding_message_size(MAX_AGENT_MESSAGE_BYTES);
        let request = FetchArtifactRequest {
            sha256: sha256.to_string(),
            offset: *offset,
        };
        let stalled = |e: super::Stalled| FetchError::Stalled(e.to_string());
        let mut stream = match super::within(self.stall, client.fetch_artifact(request))
            .await
            .map_err(stalled)?
        {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == Code::NotFound => {
                return Err(FetchError::NotFound {
                    sha256: sha256.to_string(),
                });
            }
            Err(status) => {
                return Err(FetchError::Refused {
                    code: format!("{:?}", status.code()),
                    message: status.message().to_string(),
                });
            }
        };
        while let Some(chunk) = super::within(self.stall, stream.message())
            .await
            .map_err(stalled)?
            .map_err(|status| FetchError::BrokeOff(status.message().to_string()))?
        {
            if chunk.offset != *offset {
                return Err(FetchError::OutOfOrder {
                    got: chunk.offset,
                    expected: *offset,
                });
            }
            file.write_all(&chunk.data)
                .await
                .map_err(FetchError::Write)?;
            // Only what is on disk: a retry resumes from exactly these bytes.
            hasher.update(&chunk.data);
            *offset += chunk.data.len() as u64;
        }
        file.flush().await.map_err(FetchError::Write)?;
        Ok(())
    }
}

impl ArtifactSource for Fetcher {
    fn fetch_into<'a>(
        &'a self,
        sha256: &'a str,
        offset: u64,
        file: &'a mut tokio::fs::File,
        hasher: &'a mut Sha256,
    ) -> Pin<Box<dyn Future<Output = Result<(), FetchError>> + Send + 'a>> {
        Box::pin(async move {
            let mut offset = offset;
            let mut pacing = Backoff::linear(RETRY_STEP, RETRY_CAP);
            let mut attempt = 0;
            loop {
                attempt += 1;
                let err = match self.attempt(sha256, &mut offset, file, hasher).await {
                    Ok(()) => return Ok(()),
                    Err(err) if !err.is_transient() => return Err(err),
                    Err(err) => err,
                };
                if attempt == ATTEMPTS {
                    return Err(FetchError::GaveUp {
                        attempts: ATTEMPTS,
                        last: Box::new(err),
                    });
                }
                warn!(%sha256, offset, attempt, error = %err, "artifact download interrupted; resuming");
                tokio::time::sleep(pacing.next_delay()).await;
            }
        })
    }
}
