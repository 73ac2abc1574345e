//! Who may use the dashboard's port: whoever holds the token printed at start. The first
//! visit with `?token=` gets an HttpOnly, SameSite=Strict cookie and is redirected to the
//! same page without the token in the URL; later requests carry the cookie. Anything else
//! is answered 401 and changes nothing. A POST (every action) also needs the token in the
//! `X-Convoy-Token` header (which only the dashboard's own pages know, from a meta tag) and
//! an `Origin` equal to the dashboard's own, so another site open in the same browser
//! cannot drive it (no CSRF). On a loopback listen address the `Host` must name loopback,
//! so a DNS-rebinding page cannot read answers either.

use std::net::SocketAddr;

use hyper::{HeaderMap, Method, Response, StatusCode, header};

use super::Body;

/// The cookie's name, before the port: cookies are not kept apart by port, so two
/// dashboards on one machine (two operators, two fleets) each need their own name.
pub(crate) const COOKIE: &str = "convoy_ui_";
/// The header a POST carries the token in.
pub(crate) const TOKEN_HEADER: &str = "x-convoy-token";

/// What a request may do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Allowed,
    /// A GET with the right `?token=`: set the cookie and go to `location` (the token gone).
    SetCookie {
        location: String,
    },
    Refused(StatusCode, String),
}

/// The dashboard's token and the hosts it answers to.
pub(crate) struct Auth {
    token: String,
    hosts: Option<Vec<String>>,
    cookie: String,
}

impl Auth {
    /// A fresh random token (32 bytes, hex) for a dashboard listening on `local`.
    pub fn new(local: SocketAddr) -> Self {
        let bytes: [u8; 32] = rand::random();
        Self::with_token(local, hex::encode(bytes))
    }

    pub fn with_token(local: SocketAddr, token: String) -> Self {
        let port = local.port();
        let hosts = local.ip().is_loopback().then(|| {
            vec![
                local.to_string(),
                format!("localhost:{port}"),
                format!("127.0.0.1:{port}"),
                format!("[::1]:{port}"),
            ]
        });
        Self {
            token,
            hosts,
            cookie: format!("{COOKIE}{port}"),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    fn matches(&self, offered: &str) -> bool {
        // Constant time in the offered bytes: the comparison does not leak a prefix.
        let (a, b) = (offered.as_bytes(), self.token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// Decides what a request may do, from its method, path, query and headers alone.
    pub fn check(&self, method: &Method, path: &str, query: &str, headers: &HeaderMap) -> Access {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if let Some(hosts) = &self.hosts {
            if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
                return Access::Refused(
                    StatusCode::FORBIDDEN,
                    format!("this dashboard answers to {} only", hosts[0]),
                );
            }
        }
        let cookie_ok = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == self.cookie && self.matches(value));
        if method == Method::POST {
            let header_ok = headers
                .get(TOKEN_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| self.matches(v));
            let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
            let same_origin = origin == Some(format!("http://{host}").as_str());
            return match (cookie_ok, header_ok, same_origin) {
                (true, true, true) => Access::Allowed,
                (false, _, _) => Access::Refused(
                    StatusCode::UNAUTHORIZED,
                    "no dashboard session: open the URL `convoy ui` printed".into(),
                ),
                (true, false, _) => Access::Refused(
                    StatusCode::FORBIDDEN,
                    format!("an action needs the {TOKEN_HEADER} header"),
                ),
                (true, true, false) => {
                    Access::Refused(StatusCode::FORBIDDEN, "cross-origin request refused".into())
                }
            };
        }
        let offered = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == "token")
            .map(|(_, value)| value);
        match offered {
            Some(value) if self.matches(value) => {
                let rest: Vec<&str> = query
                    .split('&')
                    .filter(|pair| !pair.starts_with("token=") && !pair.is_empty())
                    .collect();
                let location = if rest.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{}", rest.join("&"))
                };
                Access::SetCookie { location }
            }
            _ if cookie_ok => Access::Allowed,
            _ => Access::Refused(
                StatusCode::UNAUTHORIZED,
                "no dashboard session: open the URL `convoy ui` printed (it carries the token)"
                    .into(),
            ),
        }
    }

    /// The answer to a first visit: the cookie, and a redirect that drops the token.
    pub fn set_cookie(&self, location: &str) -> Response<Body> {
        let mut response = super::redirect(location);
        let cookie = format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            self.cookie, self.token
        );
        if let Ok(value) = header::HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        response
    }
}
