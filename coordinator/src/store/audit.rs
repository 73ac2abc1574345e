//! The audit log: one entry per mutating operator call, in time order, read back newest
//! first in pages bounded by count and bytes. Refused calls are kept within a budget per
//! identity (a burst, then a steady rate): beyond it they are counted, not stored one by
//! one, so a certificate that hammers refused calls can neither fill the disk nor bury the
//! log. Entries are bounded in size by their writer (`grpc::audit`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use convoy_proto::v1::AuditEntry;
use prost::Message;

use super::{Store, StoreError, decode};

/// Refused calls stored per identity in a burst, and then one per this many seconds.
const REFUSAL_BURST: f64 = 20.0;
const REFUSAL_REFILL_SECS: f64 = 3.0;
/// Identities whose refusal budget is tracked; past it, full buckets are forgotten.
const MAX_TRACKED_IDENTITIES: usize = 4096;

/// One page of the audit log.
#[derive(Debug, Default)]
pub struct AuditPage {
    /// Oldest first.
    pub entries: Vec<AuditEntry>,
    /// Where the next (older) page starts, when this one stopped at a cap.
    pub next: Option<Vec<u8>>,
}

/// What became of an entry handed to [`Store::append_audit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Stored,
    /// A refusal beyond its identity's budget: counted only.
    Counted,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// Refusals counted (not stored) since this identity's last stored one.
    counted: u64,
}

/// The per-identity budget of stored refusals.
#[derive(Debug, Default)]
pub(super) struct RefusalBudget {
    buckets: Mutex<HashMap<String, Bucket>>,
    not_stored: AtomicU64,
}

impl RefusalBudget {
    /// Takes one refusal from `identity`'s budget: `Some(n)` when it may be stored (with
    /// the `n` refusals counted since its last stored one), `None` when it is only counted.
    fn take(&self, identity: &str, now: Instant) -> Option<u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED_IDENTITIES && !buckets.contains_key(identity) {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() / REFUSAL_REFILL_SECS
                    < REFUSAL_BURST
            });
        }
        let bucket = buckets.entry(identity.to_string()).or_insert(Bucket {
            tokens: REFUSAL_BURST,
            at: now,
            counted: 0,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() / REFUSAL_REFILL_SECS;
        bucket.tokens = (bucket.tokens + refill).min(REFUSAL_BURST);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Some(std::mem::take(&mut bucket.counted))
        } else {
            bucket.counted += 1;
            self.not_stored.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

impl Store {
    /// Appends to the audit log. A refused call (`ok == false`) is stored only within its
    /// identity's budget; the first stored after a run of counted ones says how many.
    pub fn append_audit(&self, entry: &AuditEntry) -> Result<Appended, StoreError> {
        let mut entry = entry.clone();
        if !entry.ok {
            match self.refusals.take(&entry.operator, Instant::now()) {
                None => return Ok(Appended::Counted),
                Some(0) => {}
                Some(counted) => entry
                    .outcome
                    .push_str(&format!(" ({counted} earlier refused calls not stored)")),
            }
        }
        // Time-ordered keys; the sled id breaks ties between entries of one millisecond.
        let mut key = entry.at_unix_ms.to_be_bytes().to_vec();
        key.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        self.audit.insert(key, entry.encode_to_vec())?;
        Ok(Appended::Stored)
    }

    /// Refused calls counted but not stored since this coordinator started.
    pub fn audit_refusals_not_stored(&self) -> u64 {
        self.refusals.not_stored.load(Ordering::Relaxed)
    }

    /// Audit entries at or after `since` (and of `operator`, when not empty), newest first
    /// from `before` (a key from an earlier page's `next`), until `limit` entries or
    /// `max_bytes` of encoded entries; returned oldest first.
    pub fn audit(
        &self,
        since_unix_ms: i64,
        operator: &str,
        limit: usize,
        before: Option<&[u8]>,
        max_bytes: usize,
    ) -> Result<AuditPage, StoreError> {
        let start = since_unix_ms.max(0).to_be_bytes().to_vec();
        let range = match before {
            Some(before) => self.audit.range(start..before.to_vec()),
            None => self.audit.range(start..),
        };
        let mut page = AuditPage::default();
        let mut bytes = 0;
        let mut oldest_taken = None;
        for item in range.rev() {
            let (key, raw) = item?;
            let entry: AuditEntry = decode("audit", &key, &raw)?;
            if !operator.is_empty() && entry.operator != operator {
                continue;
            }
            if page.entries.len() == limit || (bytes + raw.len() > max_bytes && bytes > 0) {
                page.next = oldest_taken;
                break;
            }
            bytes += raw.len();
            page.entries.push(entry);
            oldest_taken = Some(key.to_vec());
        }
        page.entries.reverse();
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn entry(at: i64, operator: &str, ok: bool, outcome: &str) -> AuditEntry {
        AuditEntry {
            at_unix_ms: at,
            operator: operator.into(),
            call: "StartJob".into(),
            ok,
            outcome: outcome.into(),
            ..Default::default()
        }
    }

    #[test]
    fn pages_are_bounded_by_count_and_bytes_and_chain_to_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for at in 1..=50 {
            store
                .append_audit(&entry(at, "alice", true, &"x".repeat(500)))
                .unwrap();
        }
        // 50 entries of ~520 bytes, pages of at most 5,000 bytes: 9 per page.
        let mut seen = Vec::new();
        let mut before: Option<Vec<u8>> = None;
        let mut pages = 0;
        loop {
            let page = store.audit(0, "", 1000, before.as_deref(), 5000).unwrap();
            pages += 1;
            assert!(page.entries.len() <= 9, "{}", page.entries.len());
            let times: Vec<i64> = page.entries.iter().map(|e| e.at_unix_ms).collect();
            assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first");
            seen.splice(0..0, times);
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, (1..=50).collect::<Vec<_>>());
        assert_eq!(pages, 6);
        // A count limit stops a page too, and `since` and the operator filter apply.
        let page = store.audit(0, "", 3, None, usize::MAX).unwrap();
        let times: Vec<i64> = page.entries.iter().map(|e| e.at_unix_ms).collect();
        assert_eq!(times, vec![48, 49, 50]);
        assert!(page.next.is_some());
        let page = store.audit(45, "", 100, None, usize::MAX).unwrap();
        assert_eq!(page.entries.len(), 6);
        assert!(page.next.is_none());
        assert!(
            store
                .audit(0, "bob", 100, None, 5000)
                .unwrap()
                .entries
                .is_empty()
        );
    }

    #[test]
    fn refusals_beyond_the_budget_are_counted_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let stored = (0..100)
            .filter(|i| {
                store
                    .append_audit(&entry(i + 1, "mallory", false, "denied"))
                    .unwrap()
                    == Appended::Stored
            })
            .count();
        // The burst, and perhaps one refill if this loop was slow.
        assert!((20..=21).contains(&stored), "{stored}");
        assert_eq!(store.audit_refusals_not_stored(), 100 - stored as u64);
        // Calls that succeed, and other identities, are not held back.
        assert_eq!(
            store
                .append_audit(&entry(200, "mallory", true, "ok"))
                .unwrap(),
            Appended::Stored
        );
        assert_eq!(
            store
                .append_audit(&entry(201, "alice", false, "denied"))
                .unwrap(),
            Appended::Stored
        );
        // Once the bucket refills, the next stored refusal says how many were not.
        let budget = RefusalBudget::default();
        let start = Instant::now();
        for _ in 0..25 {
            budget.take("m", start);
        }
        let later = start + Duration::from_secs_f64(REFUSAL_REFILL_SECS);
        assert_eq!(budget.take("m", later), Some(5));
    }
}
