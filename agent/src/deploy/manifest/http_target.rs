//! Health-check and metrics URLs: [`HttpTarget`] takes a plain `http://` URL on a loopback
//! host apart; anything else is a [`UrlError`] naming the URL.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a URL is not a local `http://` URL; the text names the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("{0:?} contains whitespace or control characters")]
    Unprintable(String),
    #[error(
        "{0:?} must be an http:// URL on 127.0.0.1, localhost or [::1] (health checks are local only)"
    )]
    NotLocal(String),
    #[error("{url:?} has an invalid port {port:?} (expected 1..=65535)")]
    Port { url: String, port: String },
}

/// A health-check URL taken apart: plain `http://` to `127.0.0.1`, `localhost` or `[::1]`
/// only, with an optional port (default 80) and path (default `/`); a `#fragment` is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// `127.0.0.1`, `localhost` or `[::1]`.
    pub host: String,
    pub port: u16,
    /// Path and query, as sent in the request line.
    pub path: String,
}

impl HttpTarget {
    pub fn parse(url: &str) -> Result<HttpTarget, UrlError> {
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::Unprintable(url.to_string()));
        }
        let not_local = || UrlError::NotLocal(url.to_string());
        let rest = match url.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &url[7..],
            _ => return Err(not_local()),
        };
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                (&authority[..i], Some(&authority[i + 1..]))
            }
            _ => (authority, None),
        };
        let host = host.to_ascii_lowercase();
        if !["127.0.0.1", "localhost", "[::1]"].contains(&host.as_str()) {
            return Err(not_local());
        }
        let port = match port {
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&n| n != 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| UrlError::Port {
                    url: url.to_string(),
                    port: p.to_string(),
                })?,
        };
        let path = format!("{}{path}", if path.starts_with('/') { "" } else { "/" });
        Ok(HttpTarget { host, port, path })
    }

    /// The addresses to try, in order (`localhost` is both loopbacks, without a DNS lookup).
    pub fn addrs(&self) -> Vec<SocketAddr> {
        let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, self.port));
        match self.host.as_str() {
            "127.0.0.1" => vec![v4],
            "[::1]" => vec![v6],
            _ => vec![v4, v6],
        }
    }

    /// The `Host` header's value: `host:port`.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}
