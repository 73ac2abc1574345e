//! Artifact downloads over the mTLS link: a separate `FetchArtifact` stream per download,
//! written to disk as chunks arrive (memory stays bounded), resumed from the last byte
//! written when the connection breaks.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use convoy_proto::MAX_AGENT_MESSAGE_BYTES;
use convoy_proto::v1::FetchArtifactRequest;
use convoy_proto::v1::agent_link_client::AgentLinkClient;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use tracing::warn;

use crate::deploy::ArtifactSource;

/// Attempts (each resuming where the last stopped) before a download gives up.
const ATTEMPTS: u32 = 30;

pub struct Fetcher {
    /// The session's endpoint, replaced when the certificate is renewed.
    endpoint: super::SharedEndpoint,
}

impl Fetcher {
    pub fn new(endpoint: super::SharedEndpoint) -> Self {
        Self { endpoint }
    }

    async fn attempt(
        &self,
        sha256: &str,
        offset: &mut u64,
        file: &mut tokio::fs::File,
        hasher: &mut Sha256,
    ) -> Result<(), String> {
        let endpoint = self
            .endpoint
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let mut client =
            AgentLinkClient::new(channel).max_decoding_message_size(MAX_AGENT_MESSAGE_BYTES);
        let mut stream = client
            .fetch_artifact(FetchArtifactRequest {
                sha256: sha256.to_string(),
                offset: *offset,
            })
            .await
            .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
            .into_inner();
        while let Some(chunk) = stream
            .message()
            .await
            .map_err(|status| format!("download broke off: {}", status.message()))?
        {
            if chunk.offset != *offset {
                return Err(format!(
                    "chunk at {} while expecting {}",
                    chunk.offset, offset
                ));
            }
            file.write_all(&chunk.data)
                .await
                .map_err(|e| format!("cannot write the download: {e}"))?;
            // Only what is on disk: a retry resumes from exactly these bytes.
            hasher.update(&chunk.data);
            *offset += chunk.data.len() as u64;
        }
        file.flush()
            .await
            .map_err(|e| format!("cannot write the download: {e}"))?;
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
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let mut offset = offset;
            let mut last = String::new();
            for attempt in 1..=ATTEMPTS {
                match self.attempt(sha256, &mut offset, file, hasher).await {
                    Ok(()) => return Ok(()),
                    Err(err) if err.starts_with("NotFound") => {
                        return Err(format!("the coordinator has no artifact {sha256}"));
                    }
                    Err(err) => {
                        warn!(%sha256, offset, attempt, error = %err, "artifact download interrupted; resuming");
                        last = err;
                        let delay = Duration::from_millis(200 * u64::from(attempt.min(25)));
                        tokio::time::sleep(delay).await;
                    }
                }
            }
            Err(format!("download failed after {ATTEMPTS} attempts: {last}"))
        })
    }
}
