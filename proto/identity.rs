//! Identities carried in certificates.
//!
//! Every certificate the fleet CA issues names exactly one identity as a SAN URI:
//! `convoy://agent/<id>`, `convoy://operator/<role>/<name>` or `convoy://server/<name>`.
//! The coordinator reads identities only from verified peer certificates, never from a
//! message field.

use std::fmt;
use std::str::FromStr;

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

const SCHEME: &str = "convoy://";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "invalid agent id {0:?}: expected 1-63 characters of [a-z0-9.-], starting with a letter or digit"
    )]
    InvalidAgentId(String),
    #[error(
        "invalid name {0:?}: expected 1-63 characters of [a-z0-9._-], starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("invalid role {0:?}: expected viewer, operator or admin")]
    InvalidRole(String),
    #[error("invalid identity uri {0:?}")]
    InvalidUri(String),
    #[error("certificate is not valid DER x509: {0}")]
    BadCertificate(String),
    #[error("certificate carries no convoy identity (a convoy:// SAN URI)")]
    NoIdentity,
    #[error("certificate carries more than one convoy identity")]
    SeveralIdentities,
}

/// An agent's id: `[a-z0-9][a-z0-9.-]{0,62}`. Constructed only through validation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(String);

impl AgentId {
    pub fn new(id: impl Into<String>) -> Result<Self, IdentityError> {
        let id = id.into();
        if valid_token(&id, |c| c == '.' || c == '-') {
            Ok(Self(id))
        } else {
            Err(IdentityError::InvalidAgentId(id))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AgentId {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// An operator's role. Ordered: each role may do everything the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads only.
    Viewer,
    /// Reads, and runs day-to-day fleet actions.
    Operator,
    /// Everything.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(IdentityError::InvalidRole(other.to_string())),
        }
    }
}

/// Who a certificate belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    Agent(AgentId),
    Operator { name: String, role: Role },
    Server(String),
}

/// Validates an operator or server name: `[a-z0-9][a-z0-9._-]{0,62}`.
pub fn validate_name(name: &str) -> Result<(), IdentityError> {
    if valid_token(name, |c| c == '.' || c == '-' || c == '_') {
        Ok(())
    } else {
        Err(IdentityError::InvalidName(name.to_string()))
    }
}

fn valid_token(token: &str, extra: impl Fn(char) -> bool) -> bool {
    let mut chars = token.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    token.len() <= 63
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra(c))
}

impl Identity {
    /// The SAN URI that carries this identity in a certificate.
    pub fn uri(&self) -> String {
        match self {
            Identity::Agent(id) => format!("{SCHEME}agent/{id}"),
            Identity::Operator { name, role } => format!("{SCHEME}operator/{role}/{name}"),
            Identity::Server(name) => format!("{SCHEME}server/{name}"),
        }
    }

    /// Parses a `convoy://` URI.
    pub fn from_uri(uri: &str) -> Result<Self, IdentityError> {
        let bad = || IdentityError::InvalidUri(uri.to_string());
        let rest = uri.strip_prefix(SCHEME).ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["agent", id] => Ok(Identity::Agent(AgentId::new(*id)?)),
            ["operator", role, name] => {
                validate_name(name)?;
                Ok(Identity::Operator {
                    name: (*name).to_string(),
                    role: role.parse()?,
                })
            }
            ["server", name] => {
                validate_name(name)?;
                Ok(Identity::Server((*name).to_string()))
            }
            _ => Err(bad()),
        }
    }

    /// Reads the single convoy identity out of a DER certificate. Only call this on a
    /// certificate whose chain was verified against the fleet CA.
    pub fn from_cert_der(der: &[u8]) -> Result<Self, IdentityError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|err| IdentityError::BadCertificate(err.to_string()))?;
        let san = cert
            .subject_alternative_name()
            .map_err(|err| IdentityError::BadCertificate(err.to_string()))?;
        let mut found = None;
        if let Some(san) = san {
            for name in &san.value.general_names {
                if let GeneralName::URI(uri) = name {
                    if uri.starts_with(SCHEME) {
                        if found.is_some() {
                            return Err(IdentityError::SeveralIdentities);
                        }
                        found = Some(Identity::from_uri(uri)?);
                    }
                }
            }
        }
        found.ok_or(IdentityError::NoIdentity)
    }

    /// Reads the identity out of the first certificate in a PEM file's contents.
    pub fn from_cert_pem(pem: &[u8]) -> Result<Self, IdentityError> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem)
            .map_err(|err| IdentityError::BadCertificate(err.to_string()))?;
        Self::from_cert_der(&pem.contents)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Agent(id) => write!(f, "agent {id}"),
            Identity::Operator { name, role } => write!(f, "operator {name} ({role})"),
            Identity::Server(name) => write!(f, "server {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_ids() {
        for good in ["web-1", "a", "db.eu-1", "0", &"x".repeat(63)] {
            assert!(AgentId::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-web",
            ".a",
            "Web",
            "web_1",
            "web 1",
            "é",
            &"x".repeat(64),
        ] {
            assert!(AgentId::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uris_round_trip() {
        let ids = [
            Identity::Agent(AgentId::new("web-1").unwrap()),
            Identity::Operator {
                name: "alice".into(),
                role: Role::Admin,
            },
            Identity::Server("coordinator".into()),
        ];
        for id in ids {
            assert_eq!(Identity::from_uri(&id.uri()).unwrap(), id);
        }
    }

    #[test]
    fn bad_uris() {
        for bad in [
            "https://agent/web-1",
            "convoy://agent/",
            "convoy://agent/Web",
            "convoy://agent/a/b",
            "convoy://operator/root/alice",
            "convoy://operator/alice",
            "convoy://thing/x",
        ] {
            assert!(Identity::from_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
    }
}
