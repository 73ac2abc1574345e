//! Enrollment: one-time tokens (random, shown once, stored as a sha256 hash, with a TTL,
//! a use count, the labels they grant and an optional agent id pattern) and the checks an
//! `Enroll` call passes before the issuing CA (`[ca]`) signs the host's CSR: the source
//! IP's rate, the token, the id (pattern, not live, not revoked), the CSR itself.
//!
//! Refusals say what was wrong and change nothing; a token's use is taken (compare-and-
//! swap, flushed) only once every check passed.

mod tokens;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use convoy_proto::identity::{AgentId, Identity};
use convoy_proto::v1::{TokenInfo, TokenRecord};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::clock::now_unix_ms;
use crate::pki::csr::{CsrError, check_agent_csr};
use crate::pki::{Ca, Validity};
use crate::registry::Registry;
use crate::revocation::{CertFacts, Revocations};
use crate::store::{Store, StoreError};

/// Enroll calls admitted per source IP per [`RATE_WINDOW`] by default
/// (`[ca] enrolls_per_ip_per_minute`); the rest are refused unread.
pub const ENROLLS_PER_IP: usize = 20;
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Longest token TTL an operator may ask for.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Most uses of one token.
pub const MAX_TOKEN_USES: u32 = 10_000;
const TOKEN_PREFIX: &str = "cvt1";

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("too many enrollment attempts from {0}; try again in a minute")]
    RateLimited(IpAddr),
    #[error("malformed token")]
    MalformedToken,
    #[error("unknown token")]
    UnknownToken,
    #[error("token {0} was revoked")]
    RevokedToken(String),
    #[error("token {0} has expired")]
    ExpiredToken(String),
    #[error("token {0} has no uses left")]
    UsedUp(String),
    #[error("agent id {id} does not match token {token}'s pattern {pattern:?}")]
    OutsidePattern {
        id: String,
        token: String,
        pattern: String,
    },
    #[error("agent {0} is online: an id held by a live agent cannot be enrolled again")]
    Live(String),
    #[error("agent {0} is revoked: enroll under a new id")]
    Revoked(String),
    #[error(transparent)]
    Identity(#[from] convoy_proto::identity::IdentityError),
    #[error(transparent)]
    Csr(#[from] CsrError),
    #[error("cannot sign: {0}")]
    Sign(#[from] crate::pki::PkiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    BadRequest(String),
}

/// What a successful enrollment hands back.
#[derive(Debug)]
pub struct Enrolled {
    pub cert_pem: String,
    pub labels: BTreeMap<String, String>,
    pub not_after_unix_ms: i64,
    pub token_id: String,
}

/// The issuing CA with the token store and the per-IP limiter.
pub struct Enroller {
    /// The issuing CA; a CA rotation replaces it (`set_issuer`).
    issuer: RwLock<Arc<Signer>>,
    lifetime: Duration,
    per_ip: usize,
    store: Store,
    registry: Arc<Registry>,
    revocations: Arc<Revocations>,
    attempts: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl std::fmt::Debug for Enroller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enroller").finish_non_exhaustive()
    }
}

/// The CA that signs, and what goes after the leaf in an issued chain.
pub struct Signer {
    pub ca: Ca,
    /// The issuing CA's certificate when it is an intermediate, appended to issued certs.
    pub chain_pem: String,
}

impl Signer {
    pub fn new(ca: Ca) -> Self {
        // A self-signed CA is the trust anchor itself; an intermediate goes in the chain.
        let chain_pem = match x509_parser::pem::parse_x509_pem(ca.cert_pem().as_bytes()) {
            Ok((_, pem)) => match pem.parse_x509() {
                Ok(cert) if cert.subject() != cert.issuer() => ca.cert_pem().to_string(),
                _ => String::new(),
            },
            Err(_) => String::new(),
        };
        Self { ca, chain_pem }
    }

    /// [`crate::revocation::dn_id`] of the CA's subject: the `issuer` of what it signs.
    pub fn id(&self) -> String {
        x509_parser::pem::parse_x509_pem(self.ca.cert_pem().as_bytes())
            .ok()
            .and_then(|(_, pem)| {
                pem.parse_x509()
                    .ok()
                    .map(|cert| crate::revocation::dn_id(cert.subject().as_raw()))
            })
            .unwrap_or_default()
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A glob with `*` (any run of characters) only.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

impl Enroller {
    pub fn new(
        ca: Ca,
        agent_cert_days: u32,
        store: Store,
        registry: Arc<Registry>,
        revocations: Arc<Revocations>,
    ) -> Self {
        Self {
            issuer: RwLock::new(Arc::new(Signer::new(ca))),
            lifetime: Duration::from_secs(u64::from(agent_cert_days.max(1)) * 86_400),
            per_ip: ENROLLS_PER_IP,
            store,
            registry,
            revocations,
            attempts: Mutex::default(),
        }
    }

    /// Lifetime of the certificates it signs (`[ca] agent_cert_lifetime`).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The CA that signs now.
    pub fn issuer(&self) -> Arc<Signer> {
        self.issuer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Signs with `issuer` from now on (a CA rotation).
    pub fn set_issuer(&self, issuer: Arc<Signer>) {
        *self.issuer.write().unwrap_or_else(PoisonError::into_inner) = issuer;
    }

    /// When a session's certificate should be renewed, from now: at 2/3 of its lifetime
    /// (by this coordinator's clock), at once if another CA than the issuing one signed
    /// it; at least 1 ms (0 means "no renewal" on the wire).
    pub fn renew_in(&self, cert: &CertFacts, now_ms: i64) -> Duration {
        let (start, end) = (cert.not_before_unix_ms, cert.not_after_unix_ms);
        if cert.issuer != self.issuer().id() || end <= start {
            return Duration::from_millis(1);
        }
        let due = start + (end - start) / 3 * 2;
        Duration::from_millis(u64::try_from(due - now_ms).unwrap_or(0).max(1))
    }

    /// Renewal over a live session: certifies the CSR's key for `session`'s own identity
    /// (the verified certificate's, never a message field), unless that certificate or
    /// its agent id is revoked, or the CSR asks for anything else.
    pub fn renew(&self, session: &CertFacts, csr_der: &[u8]) -> Result<Enrolled, EnrollError> {
        let Identity::Agent(id) = &session.identity else {
            return Err(EnrollError::BadRequest(
                "only agent certificates renew".into(),
            ));
        };
        if self.revocations.revoked(session).is_some() {
            return Err(EnrollError::Revoked(id.to_string()));
        }
        let csr = check_agent_csr(csr_der, id)?;
        let validity = Validity::lifetime(self.lifetime)?;
        let issuer = self.issuer();
        let mut cert_pem = issuer.ca.sign_agent_csr(csr, id, validity)?;
        cert_pem.push_str(&issuer.chain_pem);
        Ok(Enrolled {
            cert_pem,
            labels: BTreeMap::new(),
            not_after_unix_ms: validity.not_after.unix_timestamp().saturating_mul(1000),
            token_id: String::new(),
        })
    }

    /// Enroll calls admitted per source IP per minute.
    pub fn with_rate(mut self, per_ip: usize) -> Self {
        self.per_ip = per_ip.max(1);
        self
    }

    /// Admits one Enroll call from `ip`, or refuses it past the per-IP rate.
    pub fn admit(&self, ip: IpAddr) -> Result<(), EnrollError> {
        let now = Instant::now();
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        if attempts.len() > 100_000 {
            // Bounded memory under a flood from many addresses: forget stale windows.
            attempts.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < RATE_WINDOW)
            });
        }
        let times = attempts.entry(ip).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= self.per_ip {
            return Err(EnrollError::RateLimited(ip));
        }
        times.push_back(now);
        Ok(())
    }

    /// The CA certificate agents trust, as `sha256:HEX` of its DER.
    pub fn fingerprint(ca_pem: &[u8]) -> Option<String> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(ca_pem).ok()?;
        Some(format!("sha256:{}", sha256_hex(&pem.contents)))
    }

    /// Every check, then one use of the token, then the signature.
    pub fn enroll(
        &self,
        token: &str,
        agent_id: &str,
        csr_der: &[u8],
    ) -> Result<Enrolled, EnrollError> {
        let mut parts = token.trim().split('.');
        let (Some(TOKEN_PREFIX), Some(token_id), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(EnrollError::MalformedToken);
        };
        if token_id.len() != 16 || secret.len() != 64 {
            return Err(EnrollError::MalformedToken);
        }
        let id = AgentId::new(agent_id)?;
        let csr = check_agent_csr(csr_der, &id)?;
        loop {
            let record = self
                .store
                .token(token_id)?
                .ok_or(EnrollError::UnknownToken)?;
            if record.secret_sha256 != sha256_hex(secret.as_bytes()) {
                return Err(EnrollError::UnknownToken);
            }
            let info = record.info.clone().unwrap_or_default();
            if info.revoked {
                return Err(EnrollError::RevokedToken(info.id));
            }
            if info.expires_at_unix_ms <= now_unix_ms() {
                return Err(EnrollError::ExpiredToken(info.id));
            }
            if info.used >= info.uses {
                return Err(EnrollError::UsedUp(info.id));
            }
            if !info.id_pattern.is_empty() && !glob_match(&info.id_pattern, id.as_str()) {
                return Err(EnrollError::OutsidePattern {
                    id: id.to_string(),
                    token: info.id,
                    pattern: info.id_pattern,
                });
            }
            if self.registry.is_online(id.as_str()) {
                return Err(EnrollError::Live(id.to_string()));
            }
            let probe = CertFacts {
                serial: String::new(),
                identity: Identity::Agent(id.clone()),
                not_after_unix_ms: 0,
                not_before_unix_ms: 0,
                issuer: String::new(),
            };
            if self.revocations.revoked(&probe).is_some() {
                return Err(EnrollError::Revoked(id.to_string()));
            }
            let mut used = record.clone();
            let used_info = used.info.get_or_insert_with(TokenInfo::default);
            used_info.used += 1;
            if used_info.enrolled.len() < 1000 {
                used_info.enrolled.push(id.to_string());
            }
            if !self.store.swap_token(&record, &used)? {
                // Another enrollment took a use meanwhile: check again.
                continue;
            }
            let validity = Validity::lifetime(self.lifetime)?;
            let issuer = self.issuer();
            let mut cert_pem = issuer.ca.sign_agent_csr(csr, &id, validity)?;
            cert_pem.push_str(&issuer.chain_pem);
            self.registry.grant_labels(&id, info.labels.clone())?;
            return Ok(Enrolled {
                cert_pem,
                labels: info.labels,
                not_after_unix_ms: validity.not_after.unix_timestamp().saturating_mul(1000),
                token_id: info.id,
            });
        }
    }
}

#[cfg(test)]
mod tests;
