//! Fetches an app's metrics page with the health checks' plain HTTP client
//! ([`crate::deploy::health`]): one `GET` as HTTP/1.0 (so the app answers with a body
//! that ends when the connection closes, never chunked), a 2xx status, and a body of at
//! most [`MAX_BODY_BYTES`].

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::deploy::health::{ProbeError, connect, parse_status_line};
use crate::deploy::manifest::HttpTarget;

/// Largest metrics page read (headers included); a bigger one is a failed scrape.
pub(super) const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Why a scrape found no page; the text is what the app's signals report.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScrapeError {
    /// Connecting, sending, reading, or the status line.
    #[error(transparent)]
    Http(#[from] ProbeError),
    #[error("no complete response from {url} within {limit:?}")]
    Timeout { url: String, limit: Duration },
    #[error("the response from {url} is larger than {} MiB", MAX_BODY_BYTES >> 20)]
    TooLarge { url: String },
    #[error("no http status line from {url}")]
    NoStatusLine { url: String },
    #[error("http status {status} from {url}")]
    Status { status: u16, url: String },
    #[error("no end of the http headers from {url}")]
    NoHeadersEnd { url: String },
    #[error("the metrics page from {url} is not UTF-8")]
    NotUtf8 { url: String },
}

/// The page's body as text, or why there is none, within `limit`.
pub(crate) async fn get(
    target: &HttpTarget,
    url: &str,
    limit: Duration,
) -> Result<String, ScrapeError> {
    match tokio::time::timeout(limit, get_unbounded(target, url)).await {
        Ok(result) => result,
        Err(_) => Err(ScrapeError::Timeout {
            url: url.to_string(),
            limit,
        }),
    }
}

async fn get_unbounded(target: &HttpTarget, url: &str) -> Result<String, ScrapeError> {
    let url_owned = || url.to_string();
    let mut stream = connect(&target.addrs()).await?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: convoy-agent\r\nAccept: text/plain\r\n\
         Connection: close\r\n\r\n",
        target.path,
        target.authority()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|source| ProbeError::Send {
            url: url_owned(),
            source,
        })?;
    let mut response = Vec::with_capacity(64 * 1024);
    // One byte past the cap tells a page at the cap from a bigger one.
    (&mut stream)
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut response)
        .await
        .map_err(|source| ProbeError::Read {
            url: url_owned(),
            source,
        })?;
    if response.len() > MAX_BODY_BYTES {
        return Err(ScrapeError::TooLarge { url: url_owned() });
    }
    let line_end = response
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| ScrapeError::NoStatusLine { url: url_owned() })?;
    let status = parse_status_line(&response[..line_end], url)?;
    if !(200..300).contains(&status) {
        return Err(ScrapeError::Status {
            status,
            url: url_owned(),
        });
    }
    let body_start = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| {
            response
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| i + 2)
        })
        .ok_or_else(|| ScrapeError::NoHeadersEnd { url: url_owned() })?;
    String::from_utf8(response.split_off(body_start))
        .map_err(|_| ScrapeError::NotUtf8 { url: url_owned() })
}
