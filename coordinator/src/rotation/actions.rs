//! The operator's rotation actions (`convoy ca rotate prepare|trust|issue|finish|abort`): each
//! checks the phase it may follow, writes the new state (temp file + rename) before it takes
//! effect, and returns the status after it.

use super::*;

impl Rotation {
    /// Runs one operator action and returns the status after it.
    pub fn act(&self, action: &str, force: bool) -> Result<RotationStatus, RotationError> {
        self.act_signed(action, force, &[], 0)
    }

    /// [`Self::act`], with `start`'s bundle signature made off the coordinator (empty: the
    /// coordinator signs) and the serial `prepare` returned.
    pub fn act_signed(
        &self,
        action: &str,
        force: bool,
        signature: &[u8],
        serial: u64,
    ) -> Result<RotationStatus, RotationError> {
        let mut guard = self.lock();
        let current = guard.clone();
        let previous = current.clone();
        let phase = current.as_ref().map_or("none", |s| s.phase.as_str());
        let trusted = self.trusted_now(current.as_ref());
        let last_signed = current.as_ref().and_then(|s| s.signed.clone());
        let mut next: Option<State> = match (action, phase) {
            ("status", _) => None,
            ("prepare", "none" | "done") => {
                drop(guard);
                return self.prepare(current.as_ref(), last_signed.as_ref());
            }
            ("start", "none" | "done") if !signature.is_empty() => {
                Some(self.take_prepared(current.as_ref(), (signature, serial), &trusted)?)
            }
            ("start", "none" | "done") => Some(self.start_unsigned(current.as_ref())?),
            ("advance", "init") => current.map(|s| State {
                phase: "update_clients".into(),
                ..s
            }),
            ("advance", "update_clients") => current.map(|s| State {
                phase: "update_servers".into(),
                ..s
            }),
            ("finish", "update_servers") => {
                if !force {
                    self.check_finish(current.as_ref())?;
                }
                current.map(|s| State {
                    phase: "done".into(),
                    ..s
                })
            }
            // Nothing was issued by the new CA yet: back to the old one alone.
            ("abort", "init") => current.map(|s| State {
                phase: "done".into(),
                from: s.from.clone(),
                to: s.from,
                signed: s.signed,
            }),
            ("abort", "update_clients" | "update_servers") => current.map(|s| State {
                phase: "update_servers".into(),
                from: s.to,
                to: s.from,
                signed: s.signed,
            }),
            ("start" | "advance" | "finish" | "abort", phase) => {
                return Err(RotationError::Refused(format!(
                    "cannot {action} in phase {phase}: start → advance (update_clients) → advance (update_servers) → finish; abort before finish"
                )));
            }
            (other, _) => {
                return Err(RotationError::Refused(format!(
                    "unknown action {other:?}: status, start, advance, finish or abort"
                )));
            }
        };
        if let Some(next) = next.as_mut() {
            sign_changed_bundle(next, previous.as_ref(), last_signed.as_ref(), &trusted)?;
        }
        if let Some(next) = next {
            // Persisted before anything changes, so a restart continues from here.
            self.save(&next)?;
            self.apply(&next)?;
            *guard = Some(next);
            let state = guard.clone();
            drop(guard);
            tracing::warn!(
                action,
                phase = state.as_ref().map_or("none", |s| s.phase.as_str()),
                "CA rotation"
            );
            self.push(state.as_ref(), false);
            return Ok(self.status(state.as_ref()));
        }
        let state = guard.clone();
        drop(guard);
        Ok(self.status(state.as_ref()))
    }

    /// `start` without a prepared signature: a new CA made here, which needs the key of the
    /// CA agents trust on this host.
    fn start_unsigned(&self, current: Option<&State>) -> Result<State, RotationError> {
        let from = current
            .cloned()
            .map_or_else(|| self.configured.clone(), |s| s.to);
        if !signing::holds_anchor(&from) {
            return Err(RotationError::Refused(
                "the coordinator does not hold the key of the CA agents trust ([ca] is an intermediate): run `convoy ca rotate start --root-key FILE` with the root CA's key, which never leaves your machine".into(),
            ));
        }
        let to = self.new_ca(&from)?;
        Ok(State {
            phase: "init".into(),
            from,
            to,
            signed: None,
        })
    }

    /// `finish` without `--force`: refused while an online agent or a recent operator still
    /// holds a certificate of the old CA.
    fn check_finish(&self, current: Option<&State>) -> Result<(), RotationError> {
        let old = self.old_holders(current);
        if !old.is_empty() {
            return Err(RotationError::Refused(format!(
                "{} online agent(s) still hold a certificate of the old CA ({}); wait for them to renew, or pass --force",
                old.len(),
                old.join(", ")
            )));
        }
        let operators = self.old_operators(current);
        if !operators.is_empty() {
            let names: Vec<&str> = operators.iter().map(|o| o.name.as_str()).collect();
            return Err(RotationError::Refused(format!(
                "{} operator(s) called with a certificate of the old CA within the last {} and not with one of the new CA since ({}); issue them certificates of the new CA on the coordinator's host (`convoy cert issue operator NAME --role ROLE --ca-dir {}`) and have them call once with it, or pass --force",
                operators.len(),
                humantime::format_duration(OPERATOR_WINDOW),
                names.join(", "),
                current
                    .and_then(|s| s.to.issuer_cert.parent())
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
            )));
        }
        Ok(())
    }
}

/// Every change of the bundle is signed by a CA the agents trust now (`trusted`, with the
/// sides of the state before and after).
fn sign_changed_bundle(
    next: &mut State,
    previous: Option<&State>,
    last_signed: Option<&Signed>,
    trusted: &str,
) -> Result<(), RotationError> {
    let pem = bundle(next)?;
    if next
        .signed
        .as_ref()
        .is_none_or(|signed| signed.ca_pem != pem)
    {
        let serial = signing::next_serial(last_signed);
        let mut sides = vec![&next.from, &next.to];
        sides.extend(previous.iter().flat_map(|s| [&s.from, &s.to]));
        next.signed = Some(signing::sign(&pem, serial, trusted, &sides)?);
    }
    Ok(())
}
