//! `prepare` and `start` with a signature made off the coordinator: when the coordinator
//! does not hold the key of the CA the agents trust (`[ca]` is an intermediate, the root is
//! offline), `prepare` makes the new CA and returns the bundle to sign and its serial,
//! changing nothing else; `start` then takes the rotation prepared with that serial if the
//! signature verifies with a CA the agents trust now.

use std::path::Path;
use std::sync::PoisonError;

use convoy_proto::v1::RotationStatus;

use super::signing::{self, Signed};
use super::{Rotation, RotationError, State, bundle};

impl Rotation {
    /// Makes the new CA and keeps the rotation aside until `start` brings its signature.
    pub(super) fn prepare(
        &self,
        current: Option<&State>,
        last_signed: Option<&Signed>,
    ) -> Result<RotationStatus, RotationError> {
        let from = current.map_or_else(|| self.configured.clone(), |s| s.to.clone());
        let to = self.new_ca(&from)?;
        let prepared = State {
            phase: "init".into(),
            from,
            to,
            signed: None,
        };
        let serial = signing::next_serial(last_signed);
        let pem = bundle(&prepared)?;
        let dir = prepared.to.issuer_cert.parent().map(Path::to_path_buf);
        *self.prepared.lock().unwrap_or_else(PoisonError::into_inner) = Some((prepared, serial));
        let mut status = self.status(current);
        status.bundle_pem = pem;
        status.bundle_serial = serial;
        status.new_ca_dir = dir.map(|d| d.display().to_string()).unwrap_or_default();
        Ok(status)
    }

    /// The rotation prepared with `serial`, signed by `signature` if a CA in `trusted` (what
    /// the agents trust now) made it. Kept until a signature verifies: a wrong key can be
    /// retried.
    pub(super) fn take_prepared(
        &self,
        current: Option<&State>,
        (signature, serial): (&[u8], u64),
        trusted: &str,
    ) -> Result<State, RotationError> {
        let from = current.map_or_else(|| self.configured.clone(), |s| s.to.clone());
        let prepared = self
            .prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .filter(|(prepared, prepared_serial)| {
                *prepared_serial == serial && prepared.from == from
            });
        let Some((mut prepared, serial)) = prepared else {
            return Err(RotationError::Refused(
                "no prepared rotation with this serial: run `convoy ca rotate start --root-key FILE` again".into(),
            ));
        };
        let pem = bundle(&prepared)?;
        prepared.signed = Some(signing::external(&pem, serial, signature, trusted)?);
        *self.prepared.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(prepared)
    }
}
