//! CA rotation in phases (issue 14; Teleport's init → update clients → update servers →
//! standby). The coordinator makes the new CA itself (`<data_dir>/ca/<name>/`, key 0600),
//! so no host needs an operator:
//!
//! | phase            | trusted (listener, agents' bundle) | issues agent certs | server cert |
//! |------------------|------------------------------------|--------------------|-------------|
//! | `init`           | old + new                          | old                | old         |
//! | `update_clients` | old + new                          | new (renew now)    | old         |
//! | `update_servers` | old + new                          | new                | new         |
//! | `done`           | new                                | new                | new         |
//!
//! Agents get the bundle over their live session (and in every Welcome) and write it for
//! their next connection; in `update_clients` every online agent holding an old-CA
//! certificate is told to renew at once (a Welcome says so too). `finish` drops the old CA
//! only once no online agent holds its certificate. `abort` before `update_clients` drops
//! the new CA; later it swaps the two and continues at `update_servers`, so agents renew
//! back onto the old CA and `finish` then drops the new one.
//!
//! Every bundle is signed for agents by the key of a CA they trust at that moment (see
//! [`signing`]): `start`'s (old + new) by the old CA, later ones by either. When the
//! coordinator does not hold the old CA's key (`[ca]` is an intermediate, the root is
//! offline), `prepare` makes the new CA and returns the bundle, which the operator signs with
//! the root key on their own machine and passes to `start`.
//!
//! The state is `<data_dir>/ca/rotation.json` (written by temp file + rename); after `done`
//! it names the CA, issuer and server certificate in use, which win over the config's
//! files on every start.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use convoy_proto::v1::{CoordinatorMessage, RotationStatus, TrustBundle, coordinator_message};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::enroll::{Enroller, Signer};
use crate::grpc::listener::dynamic::TlsHandles;
use crate::pki::Ca;
use crate::registry::Registry;

mod actions;
mod new_ca;
mod operators;
mod prepare;
pub mod signing;

pub use operators::OPERATOR_WINDOW;
use signing::Signed;

const STATE_FILE: &str = "rotation.json";

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

fn failed(err: impl std::fmt::Display) -> RotationError {
    RotationError::Failed(err.to_string())
}

/// One CA's files: the anchor agents trust, the issuer that signs, the server certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Side {
    pub trust: PathBuf,
    pub issuer_cert: PathBuf,
    pub issuer_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    /// `init`, `update_clients`, `update_servers` or `done`.
    phase: String,
    from: Side,
    to: Side,
    /// The bundle as signed for agents (absent in a state written before signed bundles).
    #[serde(default)]
    signed: Option<Signed>,
}

/// The rotation and everything it changes.
pub struct Rotation {
    dir: PathBuf,
    configured: Side,
    state: Mutex<Option<State>>,
    /// `prepare`'s rotation and serial, waiting for `start` with its signature.
    prepared: Mutex<Option<(State, u64)>>,
    revocations: Option<Arc<crate::revocation::Revocations>>,
    enroller: Arc<Enroller>,
    registry: Arc<Registry>,
    tls: Arc<TlsHandles>,
}

impl std::fmt::Debug for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation").finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<String, RotationError> {
    std::fs::read_to_string(path).map_err(|err| failed(format!("{}: {err}", path.display())))
}

fn signer(side: &Side) -> Result<Arc<Signer>, RotationError> {
    let ca = Ca::from_pem(&read(&side.issuer_cert)?, &read(&side.issuer_key)?).map_err(failed)?;
    Ok(Arc::new(Signer::new(ca)))
}

/// `sha256:HEX` of the first certificate in a PEM file.
fn fingerprint(path: &Path) -> String {
    read(path)
        .ok()
        .and_then(|pem| Enroller::fingerprint(pem.as_bytes()))
        .unwrap_or_default()
}

impl Rotation {
    /// Loads `<data_dir>/ca/rotation.json` (if any) and applies it to the enroller and the
    /// listener. `configured`: the config's files (`[tls]` and `[ca]`).
    pub fn load(
        data_dir: &Path,
        configured: Side,
        enroller: Arc<Enroller>,
        registry: Arc<Registry>,
        tls: Arc<TlsHandles>,
        revocations: Option<Arc<crate::revocation::Revocations>>,
    ) -> Result<Arc<Self>, RotationError> {
        let dir = data_dir.join("ca");
        let state = match std::fs::read(dir.join(STATE_FILE)) {
            Ok(bytes) => Some(serde_json::from_slice::<State>(&bytes).map_err(failed)?),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(failed(err)),
        };
        let rotation = Arc::new(Self {
            dir,
            configured,
            state: Mutex::new(state.clone()),
            prepared: Mutex::default(),
            revocations,
            enroller,
            registry,
            tls,
        });
        if let Some(state) = &state {
            rotation.apply(state)?;
            tracing::info!(phase = %state.phase, "CA rotation state loaded");
        }
        Ok(rotation)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The CA bundle agents should trust now (None: no rotation ever happened).
    pub fn bundle(&self) -> Option<String> {
        self.lock().as_ref().and_then(|state| bundle(state).ok())
    }

    /// The signed bundle agents should trust now (None: no rotation ever happened).
    pub fn signed_bundle(&self) -> Option<TrustBundle> {
        self.lock()
            .as_ref()
            .and_then(|state| state.signed.as_ref().map(|signed| signed.message(false)))
    }

    /// The serial of the bundle in force (0: none yet).
    pub fn trust_serial(&self) -> u64 {
        self.lock()
            .as_ref()
            .and_then(|state| state.signed.as_ref().map(|signed| signed.serial))
            .unwrap_or(0)
    }

    /// What agents trust now: the last signed bundle, else the rotation's bundle, else the
    /// configured CA file.
    fn trusted_now(&self, state: Option<&State>) -> String {
        match state {
            Some(State {
                signed: Some(signed),
                ..
            }) => signed.ca_pem.clone(),
            Some(state) => bundle(state).unwrap_or_default(),
            None => read(&self.configured.trust).unwrap_or_default(),
        }
    }

    /// The CA new hosts pin at enrollment (the one the rotation moves to; None: no
    /// rotation ever happened, the config's).
    pub fn anchor(&self) -> Option<String> {
        self.lock()
            .as_ref()
            .and_then(|state| read(&state.to.trust).ok())
    }

    /// Points the listener and the issuer at what `state`'s phase says.
    fn apply(&self, state: &State) -> Result<(), RotationError> {
        let (issuer, server) = match state.phase.as_str() {
            "init" => (&state.from, &state.from),
            "update_clients" => (&state.to, &state.from),
            _ => (&state.to, &state.to),
        };
        self.tls.set_trusted(&bundle(state)?).map_err(failed)?;
        self.tls
            .set_server(&read(&server.server_cert)?, &read(&server.server_key)?)
            .map_err(failed)?;
        self.enroller.set_issuer(signer(issuer)?);
        Ok(())
    }

    fn save(&self, state: &State) -> Result<(), RotationError> {
        crate::server::private_dir(&self.dir).map_err(failed)?;
        let temp = self.dir.join(format!(".{STATE_FILE}.tmp"));
        let json = serde_json::to_string_pretty(state).map_err(failed)?;
        crate::pki::write_file(&temp, &json, false, true).map_err(failed)?;
        std::fs::rename(&temp, self.dir.join(STATE_FILE)).map_err(failed)
    }

    /// Tells online agents the bundle to trust, and those whose certificate another CA
    /// than the issuing one signed to renew at once; `only_stale`: those alone.
    fn push(&self, state: Option<&State>, only_stale: bool) {
        // A state from before signed bundles: only the nudge to renew.
        let signed = state.and_then(|s| s.signed.clone());
        let issuer = self.enroller.issuer().id();
        for (agent, cert_issuer) in self.registry.online_issuers() {
            if only_stale && cert_issuer == issuer {
                continue;
            }
            let message = CoordinatorMessage {
                body: Some(coordinator_message::Body::Trust(
                    signed.as_ref().map_or_else(
                        || TrustBundle {
                            renew_now: cert_issuer != issuer,
                            ..Default::default()
                        },
                        |signed| signed.message(cert_issuer != issuer),
                    ),
                )),
            };
            let _ = self.registry.try_send(&agent, message);
        }
    }

    /// Keeps nudging agents that still hold a certificate of a CA that no longer issues
    /// (one whose queue was full, or that missed the push) every `every`.
    pub async fn run(self: Arc<Self>, every: Duration, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let state = self.lock().clone();
            if state.as_ref().is_some_and(|s| s.phase != "init") {
                self.push(state.as_ref(), true);
            }
        }
    }

    /// Online agents whose certificate the rotation's old CA issued.
    fn old_holders(&self, state: Option<&State>) -> Vec<String> {
        let Some(state) = state else {
            return Vec::new();
        };
        let Ok(new) = signer(&state.to) else {
            return Vec::new();
        };
        let new = new.id();
        let mut old: Vec<String> = self
            .registry
            .online_issuers()
            .into_iter()
            .filter(|(_, issuer)| *issuer != new)
            .map(|(agent, _)| agent)
            .collect();
        old.sort();
        old
    }

    fn status(&self, state: Option<&State>) -> RotationStatus {
        RotationStatus {
            phase: state.map_or("none", |s| s.phase.as_str()).to_string(),
            from_fingerprint: state
                .map(|s| fingerprint(&s.from.trust))
                .unwrap_or_default(),
            to_fingerprint: state.map(|s| fingerprint(&s.to.trust)).unwrap_or_default(),
            old_ca_agents: if state.is_some_and(|s| s.phase != "done") {
                self.old_holders(state)
            } else {
                Vec::new()
            },
            online_agents: u32::try_from(self.registry.online_count()).unwrap_or(u32::MAX),
            bundle_pem: state
                .map(bundle)
                .and_then(Result::ok)
                .unwrap_or_else(|| read(&self.configured.trust).unwrap_or_default()),
            new_ca_dir: state
                .and_then(|s| s.to.issuer_cert.parent())
                .map(|dir| dir.display().to_string())
                .unwrap_or_default(),
            bundle_serial: state
                .and_then(|s| s.signed.as_ref().map(|signed| signed.serial))
                .unwrap_or(0),
            old_ca_operators: if state.is_some_and(|s| s.phase != "done") {
                self.old_operators(state)
            } else {
                Vec::new()
            },
            operator_window_ms: u64::try_from(OPERATOR_WINDOW.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// The CAs to trust in `state`'s phase, PEM.
fn bundle(state: &State) -> Result<String, RotationError> {
    let to = read(&state.to.trust)?;
    if state.phase == "done" || state.from.trust == state.to.trust {
        return Ok(to);
    }
    let mut from = read(&state.from.trust)?;
    if !from.ends_with('\n') {
        from.push('\n');
    }
    Ok(from + &to)
}
