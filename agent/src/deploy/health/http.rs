//! The HTTP probe: a hand-written HTTP/1.1 GET to a loopback address, passing on a 2xx
//! status line, reading at most 8 KiB. [`connect`] and [`parse_status_line`] are shared with
//! the metrics scrape (`signals::fetch`).

use super::*;

/// Tries each address in turn; the error is the first address's.
pub(crate) async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, ProbeError> {
    let mut first_error = None;
    for &addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                first_error.get_or_insert(ProbeError::ConnectionRefused(addr));
            }
            Err(err) => {
                first_error.get_or_insert(ProbeError::Connect { addr, source: err });
            }
        }
    }
    Err(first_error.unwrap_or(ProbeError::NoAddress))
}

pub(super) async fn probe_http(url: &str, limit: Duration) -> Result<(), ProbeError> {
    let target = HttpTarget::parse(url)?;
    match timeout(limit, http_status(&target, url)).await {
        Ok(Ok(status)) if (200..300).contains(&status) => Ok(()),
        Ok(Ok(status)) => Err(ProbeError::HttpStatus {
            status,
            url: url.to_string(),
        }),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(ProbeError::HttpTimeout {
            url: url.to_string(),
            limit: rounded(limit),
        }),
    }
}

/// Sends the GET and returns the status code from the response's status line.
async fn http_status(target: &HttpTarget, url: &str) -> Result<u16, ProbeError> {
    let mut stream = connect(&target.addrs()).await?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: convoy-agent\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|source| ProbeError::Send {
            url: url.to_string(),
            source,
        })?;
    let mut response = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = response.iter().position(|&b| b == b'\n') {
            return parse_status_line(&response[..end], url);
        }
        if response.len() >= MAX_RESPONSE_BYTES {
            return Err(ProbeError::NoStatusLine {
                url: url.to_string(),
            });
        }
        let room = chunk.len().min(MAX_RESPONSE_BYTES - response.len());
        let n = stream
            .read(&mut chunk[..room])
            .await
            .map_err(|source| ProbeError::Read {
                url: url.to_string(),
                source,
            })?;
        if n == 0 {
            return Err(ProbeError::ClosedEarly {
                url: url.to_string(),
            });
        }
        response.extend_from_slice(&chunk[..n]);
    }
}

/// `HTTP/1.1 200 OK` → 200.
pub(crate) fn parse_status_line(line: &[u8], url: &str) -> Result<u16, ProbeError> {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end_matches('\r');
    let mut parts = line.split(' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    match code.parse::<u16>() {
        Ok(status) if version.starts_with("HTTP/") && code.len() == 3 && status >= 100 => {
            Ok(status)
        }
        _ => {
            let shown: String = line.chars().take(80).collect();
            Err(ProbeError::MalformedStatusLine {
                url: url.to_string(),
                line: shown,
            })
        }
    }
}
