//! Revocation: the persisted set of revoked serials, agent ids and operator names, the
//! live connections by certificate (so that a revocation closes them at once), and the
//! certificates the coordinator has seen, for `convoy certs list`.
//!
//! The listener consults [`Revocations`] twice: its client-certificate verifier refuses a
//! revoked certificate at the handshake, and each verified connection registers here
//! ([`Revocations::connected`]) and is closed when a revocation matches it. Registering
//! checks the set again, so a revocation that lands between the handshake and the
//! registration still closes the connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use convoy_proto::identity::{AgentId, Identity};
use convoy_proto::v1::{CertInfo, Revocation, SeenCert};
use tokio_util::sync::CancellationToken;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::clock::now_unix_ms;
use crate::store::{Store, StoreError};

/// A certificate's last use is stored at most this often (it is kept in memory at once).
const LAST_SEEN_EVERY_MS: i64 = 60_000;

/// What the coordinator needs to know of a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// Lowercase hex, no separators, no leading zero bytes.
    pub serial: String,
    pub identity: Identity,
    pub not_after_unix_ms: i64,
    pub not_before_unix_ms: i64,
    /// Which CA issued it: [`dn_id`] of the issuer's name.
    pub issuer: String,
}

/// A short, stable name for a distinguished name (sha256 of its DER, first 8 bytes, hex):
/// tells certificates of two CAs apart, however their names read.
pub fn dn_id(raw_dn: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(raw_dn)[..8])
}

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("invalid serial {0:?}: expected hexadecimal digits (colons allowed)")]
    BadSerial(String),
    #[error(transparent)]
    Identity(#[from] convoy_proto::identity::IdentityError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads serial, identity and expiry off a DER certificate.
pub fn cert_facts(der: &[u8]) -> Result<CertFacts, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|err| err.to_string())?;
    let identity = Identity::from_cert_der(der).map_err(|err| err.to_string())?;
    Ok(CertFacts {
        serial: hex_serial(cert.raw_serial()),
        identity,
        not_after_unix_ms: cert.validity().not_after.timestamp().saturating_mul(1000),
        not_before_unix_ms: cert.validity().not_before.timestamp().saturating_mul(1000),
        issuer: dn_id(cert.issuer().as_raw()),
    })
}

/// A serial as lowercase hex without leading zero bytes (DER may pad one).
fn hex_serial(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    let hex: String = raw[start..].iter().map(|b| format!("{b:02x}")).collect();
    if hex.is_empty() { "00".into() } else { hex }
}

/// Normalises an operator-typed serial (`0A:1b:...` or `0a1b...`) to [`hex_serial`]'s form.
pub fn normalize_serial(serial: &str) -> Result<String, RevokeError> {
    let digits: String = serial.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(RevokeError::BadSerial(serial.to_string()));
    }
    let digits = digits.to_ascii_lowercase();
    let padded = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits
    };
    let bytes: Vec<u8> = (0..padded.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&padded[i..i + 2], 16).ok())
        .collect();
    Ok(hex_serial(&bytes))
}

/// What a revocation names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Serial(String),
    Agent(AgentId),
    Operator(String),
}

impl Target {
    fn kind(&self) -> &'static str {
        match self {
            Target::Serial(_) => "serial",
            Target::Agent(_) => "agent",
            Target::Operator(_) => "operator",
        }
    }

    fn value(&self) -> &str {
        match self {
            Target::Serial(serial) => serial,
            Target::Agent(id) => id.as_str(),
            Target::Operator(name) => name,
        }
    }
}

#[derive(Default)]
struct Revoked {
    /// By `kind\0target`.
    by_key: HashMap<(String, String), Revocation>,
}

impl Revoked {
    fn matching(&self, facts: &CertFacts) -> Option<&Revocation> {
        let by_name = match &facts.identity {
            Identity::Agent(id) => Some(("agent", id.as_str())),
            Identity::Operator { name, .. } => Some(("operator", name.as_str())),
            Identity::Server(_) => None,
        };
        self.by_key
            .get(&("serial".to_string(), facts.serial.clone()))
            .or_else(|| {
                by_name
                    .and_then(|(kind, name)| self.by_key.get(&(kind.to_string(), name.to_string())))
            })
    }
}

struct LiveConn {
    facts: CertFacts,
    cut: CancellationToken,
}

/// The revocation set, the live connections and the certificates seen.
pub struct Revocations {
    store: Store,
    revoked: RwLock<Revoked>,
    live: Mutex<HashMap<u64, LiveConn>>,
    /// Every certificate seen, by serial, with its last use, and when it was last stored.
    seen: Mutex<HashMap<String, (SeenCert, i64)>>,
    next_id: AtomicU64,
    refused: AtomicU64,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations").finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every operation leaves the maps consistent before it could panic: still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Revocations {
    /// Loads the persisted revocations.
    pub fn load(store: Store) -> Result<Arc<Self>, StoreError> {
        let mut revoked = Revoked::default();
        for revocation in store.revocations()? {
            revoked.by_key.insert(
                (revocation.kind.clone(), revocation.target.clone()),
                revocation,
            );
        }
        let seen = store
            .seen_certs()?
            .into_iter()
            .map(|c| {
                let stored = c.last_seen_unix_ms.max(c.first_seen_unix_ms);
                (c.serial.clone(), (c, stored))
            })
            .collect();
        Ok(Arc::new(Self {
            store,
            revoked: RwLock::new(revoked),
            live: Mutex::default(),
            seen: Mutex::new(seen),
            next_id: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }))
    }

    /// The revocation that matches this certificate, if any.
    pub fn revoked(&self, facts: &CertFacts) -> Option<Revocation> {
        let revoked = self.revoked.read().unwrap_or_else(PoisonError::into_inner);
        revoked.matching(facts).cloned()
    }

    /// Counts a handshake refused because its certificate is revoked.
    pub fn note_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Handshakes refused so far because of a revocation.
    pub fn refused_handshakes(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Registers a verified connection. None when its certificate is revoked (it must be
    /// closed); else a guard whose token is cancelled when a revocation matches it.
    pub fn connected(self: &Arc<Self>, facts: CertFacts) -> Option<LiveGuard> {
        self.record_seen(&facts);
        let cut = CancellationToken::new();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.live).insert(
            id,
            LiveConn {
                facts: facts.clone(),
                cut: cut.clone(),
            },
        );
        let guard = LiveGuard {
            revocations: self.clone(),
            id,
            cut,
        };
        // After registering: a revocation made since the handshake is seen here, or it
        // saw this connection in `live`.
        if self.revoked(&facts).is_some() {
            self.note_refused();
            return None;
        }
        Some(guard)
    }

    /// Records a verified use of a certificate: its issuer and the time, kept in memory at
    /// once and stored at the first sighting and then at most once a minute per serial.
    fn record_seen(&self, facts: &CertFacts) {
        let now = now_unix_ms();
        let cert = {
            let mut seen = lock(&self.seen);
            let (cert, stored) = seen.entry(facts.serial.clone()).or_insert_with(|| {
                let (kind, name, role) = describe(&facts.identity);
                let cert = SeenCert {
                    serial: facts.serial.clone(),
                    kind: kind.into(),
                    name,
                    role,
                    not_after_unix_ms: facts.not_after_unix_ms,
                    first_seen_unix_ms: now,
                    issuer: facts.issuer.clone(),
                    last_seen_unix_ms: now,
                };
                (cert, i64::MIN)
            });
            cert.last_seen_unix_ms = now;
            if cert.issuer.is_empty() {
                cert.issuer.clone_from(&facts.issuer);
            }
            if now.saturating_sub(*stored) < LAST_SEEN_EVERY_MS {
                return;
            }
            *stored = now;
            cert.clone()
        };
        if let Err(err) = self.store.put_seen_cert(&cert) {
            tracing::error!(error = %err, serial = %cert.serial, "cannot record a certificate seen");
        }
    }

    /// Every certificate seen, with its issuer and last use (as of now, not as stored).
    pub fn seen(&self) -> Vec<SeenCert> {
        lock(&self.seen)
            .values()
            .map(|(cert, _)| cert.clone())
            .collect()
    }

    /// Revokes `target`: persisted (and flushed) first, then every live connection it
    /// matches is closed. Returns the stored revocation and how many connections closed.
    pub fn revoke(
        &self,
        target: Target,
        reason: &str,
        by: &str,
    ) -> Result<(Revocation, u32), RevokeError> {
        let target = match target {
            Target::Serial(serial) => Target::Serial(normalize_serial(&serial)?),
            Target::Operator(name) => {
                convoy_proto::identity::validate_name(&name)?;
                Target::Operator(name)
            }
            agent => agent,
        };
        let revocation = Revocation {
            kind: target.kind().into(),
            target: target.value().into(),
            reason: reason.into(),
            revoked_at_unix_ms: now_unix_ms(),
            revoked_by: by.into(),
        };
        self.store.put_revocation(&revocation)?;
        {
            let mut revoked = self.revoked.write().unwrap_or_else(PoisonError::into_inner);
            revoked.by_key.insert(
                (revocation.kind.clone(), revocation.target.clone()),
                revocation.clone(),
            );
        }
        let mut closed = 0;
        for conn in lock(&self.live).values() {
            if self.revoked(&conn.facts).is_some() && !conn.cut.is_cancelled() {
                conn.cut.cancel();
                closed += 1;
            }
        }
        Ok((revocation, closed))
    }

    /// Every certificate seen, with its state, then the revocations by name; sorted by
    /// kind and name.
    pub fn list(&self, now_ms: i64) -> Result<Vec<CertInfo>, StoreError> {
        let mut certs = Vec::new();
        for seen in self.store.seen_certs()? {
            let identity = match seen.kind.as_str() {
                "agent" => AgentId::new(seen.name.clone()).ok().map(Identity::Agent),
                "operator" => seen.role.parse().ok().map(|role| Identity::Operator {
                    name: seen.name.clone(),
                    role,
                }),
                _ => Some(Identity::Server(seen.name.clone())),
            };
            let revocation = identity.and_then(|identity| {
                self.revoked(&CertFacts {
                    serial: seen.serial.clone(),
                    identity,
                    not_after_unix_ms: seen.not_after_unix_ms,
                    not_before_unix_ms: 0,
                    issuer: String::new(),
                })
            });
            let state = match (&revocation, seen.not_after_unix_ms < now_ms) {
                (Some(_), _) => "revoked",
                (None, true) => "expired",
                (None, false) => "active",
            };
            certs.push(CertInfo {
                serial: seen.serial,
                kind: seen.kind,
                name: seen.name,
                not_after_unix_ms: seen.not_after_unix_ms,
                state: state.into(),
                reason: revocation.map(|r| r.reason).unwrap_or_default(),
                role: seen.role,
            });
        }
        let revoked = self.revoked.read().unwrap_or_else(PoisonError::into_inner);
        for revocation in revoked.by_key.values().filter(|r| r.kind != "serial") {
            certs.push(CertInfo {
                serial: "*".into(),
                kind: revocation.kind.clone(),
                name: revocation.target.clone(),
                not_after_unix_ms: 0,
                state: "revoked".into(),
                reason: revocation.reason.clone(),
                role: String::new(),
            });
        }
        certs.sort_by(|a, b| (&a.kind, &a.name, &a.serial).cmp(&(&b.kind, &b.name, &b.serial)));
        Ok(certs)
    }
}

fn describe(identity: &Identity) -> (&'static str, String, String) {
    match identity {
        Identity::Agent(id) => ("agent", id.to_string(), String::new()),
        Identity::Operator { name, role } => ("operator", name.clone(), role.to_string()),
        Identity::Server(name) => ("server", name.clone(), String::new()),
    }
}

/// A live connection's registration; dropping it (the connection closed) forgets it.
pub struct LiveGuard {
    revocations: Arc<Revocations>,
    id: u64,
    /// Cancelled when a revocation matches the connection's certificate.
    pub cut: CancellationToken,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        lock(&self.revocations.live).remove(&self.id);
    }
}

#[cfg(test)]
mod tests;
