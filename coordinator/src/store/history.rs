//! The metrics history's trees, `history_1m` and `history_15m` (one summary per host per
//! bucket), and its raw tier (every heartbeat's sample of the last `keep_raw`), which lives
//! in per-minute files outside sled ([`raw`]). Keys are time-major (`bucket start ms, big-endian` then the host id), so a
//! fleet-wide query over a time range is one contiguous scan, one host's query is one get
//! per bucket, and retention is a range delete.
//!
//! Each minute file also holds, for each minute still in the raw tier, one fleet row with
//! every host's 1-minute summary (`u8 host length, host, u16 summary length, summary`):
//! a fleet-wide query over the last hour is 60 reads instead of a scan of 60 × N rows. A
//! minute without one (a store written before, whose old `history_raw` and
//! `history_fleet_1m` trees are dropped when it opens) is read from `history_1m` instead.

pub(crate) mod raw;

use std::sync::Arc;

use crate::history::{BASE_SERIES, RAW_PER_MINUTE, Sample, SeriesId, Stat, Summary};

use super::{Store, StoreError};

/// Which tree of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Minute,
    Quarter,
}

#[derive(Debug, Clone)]
pub(crate) struct HistoryTrees {
    raw: Arc<raw::RawFiles>,
    minute: sled::Tree,
    quarter: sled::Tree,
}

impl HistoryTrees {
    /// Opens the sled trees and the raw tier's files under `data_dir/history-raw`.
    pub(super) fn open(db: &sled::Db, data_dir: &std::path::Path) -> Result<Self, StoreError> {
        // Stores written before the raw tier moved out of sled: their raw hour is dropped
        // (the 1-minute tier still covers it).
        for old in ["history_raw", "history_fleet_1m"] {
            if db.tree_names().iter().any(|n| n.as_ref() == old.as_bytes()) {
                db.drop_tree(old)?;
            }
        }
        Ok(Self {
            raw: Arc::new(raw::RawFiles::open(&data_dir.join("history-raw"))?),
            minute: db.open_tree("history_1m")?,
            quarter: db.open_tree("history_15m")?,
        })
    }

    fn tier(&self, tier: Tier) -> &sled::Tree {
        match tier {
            Tier::Minute => &self.minute,
            Tier::Quarter => &self.quarter,
        }
    }
}

fn key(at_ms: i64, host: &str) -> Vec<u8> {
    let mut key = (at_ms.max(0) as u64).to_be_bytes().to_vec();
    key.extend_from_slice(host.as_bytes());
    key
}

fn split_key(key: &[u8]) -> Option<(i64, &str)> {
    let at = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let host = std::str::from_utf8(key.get(8..)?).ok()?;
    Some((i64::try_from(at).ok()?, host))
}

fn bound(at_ms: i64) -> [u8; 8] {
    (at_ms.max(0) as u64).to_be_bytes()
}

/// Little-endian cursor over a value.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N)?;
        self.0 = rest;
        head.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
    fn f32(&mut self) -> Option<f32> {
        self.take().map(f32::from_le_bytes)
    }
    fn name(&mut self) -> Option<String> {
        let len = usize::from(self.u8()?);
        let (head, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(String::from_utf8_lossy(head).into_owned())
    }
    fn stat(&mut self) -> Option<Stat> {
        Some(Stat {
            min: self.f32()?,
            max: self.f32()?,
            avg: self.f32()?,
        })
    }
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    let bytes = &name.as_bytes()[..name.len().min(255)];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn put_stat(out: &mut Vec<u8>, stat: &Stat) {
    for v in [stat.min, stat.max, stat.avg] {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

pub(crate) fn encode_summary(summary: &Summary) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + BASE_SERIES.len() * 12 + 16);
    out.extend_from_slice(&summary.count.to_le_bytes());
    for stat in &summary.base {
        put_stat(&mut out, stat);
    }
    out.push(summary.disks.len() as u8);
    for (mount, stat) in &summary.disks {
        put_name(&mut out, mount);
        put_stat(&mut out, stat);
    }
    out
}

pub(crate) fn decode_summary(raw: &[u8]) -> Option<Summary> {
    let mut r = Reader(raw);
    let count = r.u32()?;
    let mut base = [Stat::default(); BASE_SERIES.len()];
    for stat in &mut base {
        *stat = r.stat()?;
    }
    let disks = (0..r.u8()?)
        .map(|_| Some((r.name()?, r.stat()?)))
        .collect::<Option<Vec<_>>>()?;
    Some(Summary { count, base, disks })
}

/// One series' stat and the sample count from an encoded summary, without decoding the
/// rest: base series are at fixed offsets, disks are walked by name. The selector query
/// reads every host's row for the hour, so this is its inner loop.
pub(crate) fn summary_stat(raw: &[u8], series: &SeriesId) -> Option<(u32, Stat)> {
    const STAT: usize = 12;
    let mut r = Reader(raw);
    let count = r.u32()?;
    match series {
        SeriesId::Base(i) => {
            let at = 4 + i * STAT;
            Some((count, Reader(raw.get(at..at + STAT)?).stat()?))
        }
        SeriesId::Disk(mount) | SeriesId::Signal(mount) => {
            let mut r = Reader(raw.get(4 + BASE_SERIES.len() * STAT..)?);
            for _ in 0..r.u8()? {
                let len = usize::from(r.u8()?);
                let (name, rest) = r.0.split_at_checked(len)?;
                r.0 = rest;
                let stat = r.stat()?;
                if name == mount.as_bytes() {
                    return Some((count, stat));
                }
            }
            None
        }
    }
}

/// A raw chunk: the samples of one minute, times relative to `minute`; at most
/// [`RAW_PER_MINUTE`] of them, evenly spread (a faster heartbeat still counts in the
/// summaries), so the raw tier's bound holds whatever the heartbeat.
pub(crate) fn encode_chunk(minute: i64, samples: &[Sample]) -> Vec<u8> {
    let stride = samples.len().div_ceil(RAW_PER_MINUTE).max(1);
    let kept = samples.len().div_ceil(stride);
    let mut out = Vec::with_capacity(2 + kept * (3 + BASE_SERIES.len() * 4 + 12));
    out.extend_from_slice(&(kept as u16).to_le_bytes());
    for sample in samples.iter().step_by(stride) {
        let offset = (sample.at_ms - minute).clamp(0, 59_999) as u16;
        out.extend_from_slice(&offset.to_le_bytes());
        for v in sample.base {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(sample.disks.len() as u8);
        for (mount, v) in &sample.disks {
            put_name(&mut out, mount);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

pub(crate) fn decode_chunk(minute: i64, raw: &[u8]) -> Option<Vec<Sample>> {
    let mut r = Reader(raw);
    let n = r.u16()?;
    let mut samples = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let at_ms = minute + i64::from(r.u16()?);
        let mut base = [0f32; BASE_SERIES.len()];
        for v in &mut base {
            *v = r.f32()?;
        }
        let disks = (0..r.u8()?)
            .map(|_| Some((r.name()?, r.f32()?)))
            .collect::<Option<Vec<_>>>()?;
        samples.push(Sample { at_ms, base, disks });
    }
    Some(samples)
}

fn put_fleet_entry(out: &mut Vec<u8>, host: &str, summary: &[u8]) {
    put_name(out, host);
    let len = summary.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&summary[..len]);
}

/// Walks a fleet row: `each(host, encoded summary)`. False if the row is cut short.
pub(crate) fn fleet_entries(raw: &[u8], mut each: impl FnMut(&[u8], &[u8])) -> bool {
    let mut r = Reader(raw);
    while !r.0.is_empty() {
        let Some(len) = r.u8() else { return false };
        let Some((host, rest)) = r.0.split_at_checked(usize::from(len)) else {
            return false;
        };
        r.0 = rest;
        let Some(len) = r.u16() else { return false };
        let Some((summary, rest)) = r.0.split_at_checked(usize::from(len)) else {
            return false;
        };
        r.0 = rest;
        each(host, summary);
    }
    true
}

fn corrupt(tree: &'static str, key: &[u8]) -> StoreError {
    StoreError::CorruptHistory {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
    }
}

impl Store {
    /// Writes closed minutes: each minute's raw chunks and fleet row in one file, the
    /// 1-minute summaries in one sled batch.
    pub fn put_history_minutes(
        &self,
        rows: &[(i64, String, Vec<Sample>, Summary)],
    ) -> Result<(), StoreError> {
        let mut minute = sled::Batch::default();
        // Minute -> (host, encoded summary, encoded chunk).
        type Encoded<'a> = Vec<(&'a str, Vec<u8>, Vec<u8>)>;
        let mut files: std::collections::BTreeMap<i64, Encoded<'_>> = Default::default();
        for (at, host, samples, summary) in rows {
            let encoded = encode_summary(summary);
            minute.insert(key(*at, host), encoded.clone());
            files
                .entry(*at)
                .or_default()
                .push((host, encoded, encode_chunk(*at, samples)));
        }
        let trees = &self.monitor.history;
        for (at, entries) in files {
            let entries: Vec<raw::Entry<'_>> = entries
                .iter()
                .map(|(h, s, c)| (*h, s.as_slice(), c.as_slice()))
                .collect();
            trees.raw.write(at, &entries)?;
        }
        trees.minute.apply_batch(minute)?;
        Ok(())
    }

    pub fn put_history_quarters(&self, rows: &[(i64, String, Summary)]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (at, host, summary) in rows {
            batch.insert(key(*at, host), encode_summary(summary));
        }
        self.monitor.history.quarter.apply_batch(batch)?;
        Ok(())
    }

    /// One host's raw samples in `[from, to)` (minute chunks starting in that range).
    pub fn history_raw(&self, host: &str, from: i64, to: i64) -> Result<Vec<Sample>, StoreError> {
        let mut out = Vec::new();
        let mut minute = from.div_euclid(60_000) * 60_000;
        while minute < to {
            for raw in self.monitor.history.raw.chunks(minute, host)? {
                let samples = decode_chunk(minute, &raw)
                    .ok_or_else(|| corrupt("history-raw", &key(minute, host)))?;
                out.extend(
                    samples
                        .into_iter()
                        .filter(|s| s.at_ms >= from && s.at_ms < to),
                );
            }
            minute += 60_000;
        }
        Ok(out)
    }

    /// One host's summaries of `tier` in `[from, to)`, `width` apart.
    pub fn history_host(
        &self,
        tier: Tier,
        host: &str,
        from: i64,
        to: i64,
        width: i64,
    ) -> Result<Vec<(i64, Summary)>, StoreError> {
        let tree = self.monitor.history.tier(tier);
        let mut out = Vec::new();
        let mut at = from.div_euclid(width) * width;
        if at < from {
            at += width;
        }
        while at < to {
            let k = key(at, host);
            if let Some(raw) = tree.get(&k)? {
                out.push((
                    at,
                    decode_summary(&raw).ok_or_else(|| corrupt("history", &k))?,
                ));
            }
            at += width;
        }
        Ok(out)
    }

    /// The fleet row of one minute (every host's 1-minute summary), if the store has it.
    pub fn history_fleet_minute(&self, minute: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.monitor.history.raw.fleet(minute)
    }

    /// Every host's summaries of `tier` in `[from, to)`, in time order.
    pub fn history_scan(
        &self,
        tier: Tier,
        from: i64,
        to: i64,
        mut each: impl FnMut(i64, &str, &[u8]),
    ) -> Result<(), StoreError> {
        let tree = self.monitor.history.tier(tier);
        for item in tree.range(bound(from)..bound(to)) {
            let (k, raw) = item?;
            if let Some((at, host)) = split_key(&k) {
                each(at, host, &raw);
            }
        }
        Ok(())
    }

    /// Deletes raw minutes before `raw_before` (their files), minutes before
    /// `minute_before` and quarters before `quarter_before` (range scans over the old end
    /// of each tree).
    pub fn prune_history(
        &self,
        raw_before: i64,
        minute_before: i64,
        quarter_before: i64,
    ) -> Result<usize, StoreError> {
        let trees = &self.monitor.history;
        let mut removed = trees.raw.prune(raw_before)?;
        for (tree, before) in [
            (&trees.minute, minute_before),
            (&trees.quarter, quarter_before),
        ] {
            let mut batch = sled::Batch::default();
            for item in tree.range(..bound(before)) {
                batch.remove(item?.0);
                removed += 1;
            }
            tree.apply_batch(batch)?;
        }
        Ok(removed)
    }

    /// Deletes every 1-minute and 15-minute record of a host `keep` refuses (hosts deleted
    /// from the fleet): a full scan, run rarely. Their raw minutes are not rewritten: they
    /// go with their files within `keep_raw`, and queries refuse hosts not in the fleet.
    pub fn prune_history_hosts(&self, keep: impl Fn(&str) -> bool) -> Result<usize, StoreError> {
        let trees = &self.monitor.history;
        let mut removed = 0;
        for tree in [&trees.minute, &trees.quarter] {
            let mut batch = sled::Batch::default();
            for item in tree.iter() {
                let (k, _) = item?;
                if split_key(&k).is_none_or(|(_, host)| !keep(host)) {
                    batch.remove(k);
                    removed += 1;
                }
            }
            tree.apply_batch(batch)?;
        }
        Ok(removed)
    }

    /// Bytes of history records: raw minute files (without their fleet rows), 1m and 15m
    /// trees (keys and values), fleet rows in the minute files.
    pub fn history_bytes(&self) -> Result<[u64; 4], StoreError> {
        let trees = &self.monitor.history;
        let mut out = [0u64; 4];
        (out[0], out[3]) = trees.raw.bytes()?;
        for (slot, tree) in out[1..3].iter_mut().zip([&trees.minute, &trees.quarter]) {
            for item in tree.iter() {
                let (k, v) = item?;
                *slot += (k.len() + v.len()) as u64;
            }
        }
        Ok(out)
    }
}
