//! Operators during a CA rotation: who still calls with a certificate of the old CA. An
//! operator has no session to follow, so the coordinator judges by use: the certificates
//! seen at verified connections, with their issuer and last use ([`crate::revocation`]).
//! An operator blocks `finish` when one of their old-CA certificates (not expired, not
//! revoked) was used within [`OPERATOR_WINDOW`] and none of the new CA was used since.

use std::collections::BTreeMap;
use std::time::Duration;

use convoy_proto::identity::Identity;
use convoy_proto::v1::OldCaOperator;

use super::{Rotation, State, signer};
use crate::clock::now_unix_ms;
use crate::revocation::CertFacts;

/// How far back an operator's use of an old-CA certificate counts: a day, so that the
/// operators who work daily are all seen before `finish`.
pub const OPERATOR_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl Rotation {
    /// Operators seen on an old-CA certificate within the window and not on a new-CA one
    /// since, sorted by name.
    pub(super) fn old_operators(&self, state: Option<&State>) -> Vec<OldCaOperator> {
        let (Some(state), Some(revocations)) = (state, self.revocations.as_ref()) else {
            return Vec::new();
        };
        let Ok(new) = signer(&state.to) else {
            return Vec::new();
        };
        let new = new.id();
        let now = now_unix_ms();
        let window = i64::try_from(OPERATOR_WINDOW.as_millis()).unwrap_or(i64::MAX);
        // By name: the newest use of an old-CA certificate, and of a new-CA one.
        let mut by_name: BTreeMap<String, (Option<OldCaOperator>, i64)> = BTreeMap::new();
        for cert in revocations.seen() {
            if cert.kind != "operator" || cert.not_after_unix_ms < now {
                continue;
            }
            let Ok(role) = cert.role.parse() else {
                continue;
            };
            let facts = CertFacts {
                serial: cert.serial.clone(),
                identity: Identity::Operator {
                    name: cert.name.clone(),
                    role,
                },
                not_after_unix_ms: cert.not_after_unix_ms,
                not_before_unix_ms: 0,
                issuer: cert.issuer.clone(),
            };
            if revocations.revoked(&facts).is_some() {
                continue;
            }
            let entry = by_name.entry(cert.name.clone()).or_insert((None, i64::MIN));
            if cert.issuer == new {
                entry.1 = entry.1.max(cert.last_seen_unix_ms);
            } else if now.saturating_sub(cert.last_seen_unix_ms) <= window
                && entry
                    .0
                    .as_ref()
                    .is_none_or(|old| old.last_seen_unix_ms < cert.last_seen_unix_ms)
            {
                entry.0 = Some(OldCaOperator {
                    name: cert.name,
                    serial: cert.serial,
                    last_seen_unix_ms: cert.last_seen_unix_ms,
                });
            }
        }
        by_name
            .into_values()
            .filter_map(|(old, new_seen)| old.filter(|old| old.last_seen_unix_ms > new_seen))
            .collect()
    }
}
