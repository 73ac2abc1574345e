//! The monitoring trees: the event log (key: the event's sequence number, big-endian, so
//! iteration is log order), the notification outbox (key: event sequence number, then the
//! sink's name: deliveries of one sink come out in event order) and the marks the event
//! sources keep of what they already reported (key: a source-chosen string).
//!
//! An event and its deliveries are written in one sled transaction: a crash leaves both or
//! neither.

use convoy_proto::v1::{Delivery, Event};
use prost::Message;
use sled::Transactional as _;

use super::{Store, StoreError, decode};

/// The monitoring trees, opened with the store.
#[derive(Debug, Clone)]
pub(super) struct MonitorTrees {
    events: sled::Tree,
    outbox: sled::Tree,
    marks: sled::Tree,
    pub(super) history: super::history::HistoryTrees,
}

impl MonitorTrees {
    pub(super) fn open(db: &sled::Db, data_dir: &std::path::Path) -> Result<Self, StoreError> {
        Ok(Self {
            events: db.open_tree("events")?,
            outbox: db.open_tree("notify_outbox")?,
            marks: db.open_tree("event_marks")?,
            history: super::history::HistoryTrees::open(db, data_dir)?,
        })
    }
}

fn outbox_key(seq: u64, sink: &str) -> Vec<u8> {
    let mut key = seq.to_be_bytes().to_vec();
    key.extend_from_slice(sink.as_bytes());
    key
}

fn seq_of(key: &[u8]) -> u64 {
    key.get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

impl Store {
    /// The highest sequence number in the event log (0 when empty).
    pub fn last_event_seq(&self) -> Result<u64, StoreError> {
        Ok(self
            .monitor
            .events
            .last()?
            .map(|(key, _)| seq_of(&key))
            .unwrap_or(0))
    }

    /// Appends an event and its deliveries atomically.
    pub fn append_event(&self, event: &Event, deliveries: &[Delivery]) -> Result<(), StoreError> {
        let value = event.encode_to_vec();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = deliveries
            .iter()
            .map(|d| (outbox_key(d.seq, &d.sink), d.encode_to_vec()))
            .collect();
        (&self.monitor.events, &self.monitor.outbox)
            .transaction(|(events, outbox)| {
                events.insert(&event.seq.to_be_bytes(), value.as_slice())?;
                for (key, row) in &rows {
                    outbox.insert(key.as_slice(), row.as_slice())?;
                }
                Ok(())
            })
            .map_err(|err: sled::transaction::TransactionError<()>| match err {
                sled::transaction::TransactionError::Storage(err) => StoreError::Sled(err),
                sled::transaction::TransactionError::Abort(()) => StoreError::FlushAborted,
            })
    }

    pub fn event(&self, seq: u64) -> Result<Option<Event>, StoreError> {
        self.monitor
            .events
            .get(seq.to_be_bytes())?
            .map(|raw| decode("events", &seq.to_be_bytes(), &raw))
            .transpose()
    }

    /// Events with `seq > after` that `keep` accepts, oldest first, at most `limit`.
    pub fn events_after(
        &self,
        after: u64,
        limit: usize,
        keep: impl Fn(&Event) -> bool,
    ) -> Result<Vec<Event>, StoreError> {
        let mut out = Vec::new();
        for item in self.monitor.events.range((after + 1).to_be_bytes()..) {
            let (key, raw) = item?;
            let event: Event = decode("events", &key, &raw)?;
            if keep(&event) {
                out.push(event);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The newest `limit` events that `keep` accepts, oldest first.
    pub fn events_newest(
        &self,
        limit: usize,
        keep: impl Fn(&Event) -> bool,
    ) -> Result<Vec<Event>, StoreError> {
        let mut out = Vec::new();
        for item in self.monitor.events.iter().rev() {
            let (key, raw) = item?;
            let event: Event = decode("events", &key, &raw)?;
            if keep(&event) {
                out.push(event);
                if out.len() >= limit {
                    break;
                }
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Drops events beyond `keep_count` and those older than `before_unix_ms` (with their
    /// finished deliveries). Returns how many events went.
    pub fn prune_events(
        &self,
        keep_count: usize,
        before_unix_ms: i64,
    ) -> Result<usize, StoreError> {
        let total = self.monitor.events.len();
        let mut over = total.saturating_sub(keep_count);
        let mut removed = 0;
        let mut last_removed = None;
        for item in self.monitor.events.iter() {
            let (key, raw) = item?;
            let event: Event = decode("events", &key, &raw)?;
            if over == 0 && event.at_unix_ms >= before_unix_ms {
                break;
            }
            self.monitor.events.remove(&key)?;
            over = over.saturating_sub(1);
            removed += 1;
            last_removed = Some(event.seq);
        }
        if let Some(last) = last_removed {
            for item in self.monitor.outbox.range(..(last + 1).to_be_bytes()) {
                let (key, raw) = item?;
                let delivery: Delivery = decode("notify_outbox", &key, &raw)?;
                if delivery.status != "pending" {
                    self.monitor.outbox.remove(&key)?;
                }
            }
        }
        Ok(removed)
    }

    pub fn put_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.monitor.outbox.insert(
            outbox_key(delivery.seq, &delivery.sink),
            delivery.encode_to_vec(),
        )?;
        Ok(())
    }

    /// Every delivery still pending of events after `after`, in event order.
    pub fn pending_deliveries_after(&self, after: u64) -> Result<Vec<Delivery>, StoreError> {
        let mut out = Vec::new();
        for item in self.monitor.outbox.range((after + 1).to_be_bytes()..) {
            let (key, raw) = item?;
            let delivery: Delivery = decode("notify_outbox", &key, &raw)?;
            if delivery.status == "pending" {
                out.push(delivery);
            }
        }
        Ok(out)
    }

    /// The newest `limit` deliveries that `keep` accepts, newest first.
    pub fn deliveries_newest(
        &self,
        limit: usize,
        keep: impl Fn(&Delivery) -> bool,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut out = Vec::new();
        for item in self.monitor.outbox.iter().rev() {
            let (key, raw) = item?;
            let delivery: Delivery = decode("notify_outbox", &key, &raw)?;
            if keep(&delivery) {
                out.push(delivery);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// What an event source last reported about `key`.
    pub fn event_mark(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .monitor
            .marks
            .get(key.as_bytes())?
            .map(|raw| String::from_utf8_lossy(&raw).into_owned()))
    }

    pub fn put_event_mark(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.monitor
            .marks
            .insert(key.as_bytes(), value.as_bytes())?;
        Ok(())
    }
}

impl Store {
    /// Bytes the store takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}
