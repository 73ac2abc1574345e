//! Fetches an app's metrics page with the health checks' plain HTTP client
//! ([`crate::deploy::health`]): one `GET` as HTTP/1.0 (so the app answers with a body
//! that ends when the connection closes, never chunked), a 2xx status, and a body of at
//! most [`MAX_BODY_BYTES`].

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::deploy::health::{connect, parse_status_line};
use crate::deploy::manifest::HttpTarget;

/// Largest metrics page read (headers included); a bigger one is a failed scrape.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The page's body as text, or why there is none, within `limit`.
pub(crate) async fn get(target: &HttpTarget, url: &str, limit: Duration) -> Result<String, String> {
    match tokio::time::timeout(limit, get_unbounded(target, url)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no complete response from {url} within {limit:?}")),
    }
}

async fn get_unbounded(target: &HttpTarget, url: &str) -> Result<String, String> {
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
        .map_err(|err| format!("cannot send http request to {url}: {err}"))?;
    let mut response = Vec::with_capacity(64 * 1024);
    // One byte past the cap tells a page at the cap from a bigger one.
    (&mut stream)
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut response)
        .await
        .map_err(|err| format!("cannot read http response from {url}: {err}"))?;
    if response.len() > MAX_BODY_BYTES {
        return Err(format!(
            "the response from {url} is larger than {} MiB",
            MAX_BODY_BYTES >> 20
        ));
    }
    let line_end = response
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| format!("no http status line from {url}"))?;
    let status = parse_status_line(&response[..line_end], url)?;
    if !(200..300).contains(&status) {
        return Err(format!("http status {status} from {url}"));
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
        .ok_or_else(|| format!("no end of the http headers from {url}"))?;
    String::from_utf8(response.split_off(body_start))
        .map_err(|_| format!("the metrics page from {url} is not UTF-8"))
}
