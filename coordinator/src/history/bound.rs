//! The history's stated bound on disk: bytes per host per tier × retention, plus the
//! overhead of where each tier lives (the raw minute files, sled for the 1-minute and
//! 15-minute tiers), computed from the real encoders so it cannot drift from the format.
//! `convoy-bench history-growth` prints measured size / this bound.

use std::time::Duration;

use super::{BASE_SERIES, HistoryConfig, MINUTE_MS, QUARTER_MS, RAW_PER_MINUTE, Sample};
use crate::store::history::{encode_chunk, encode_summary};

/// sled's directory over the 1-minute and 15-minute records it holds, at most: measured
/// about 2× over 3 simulated days (BENCHMARKS.md, `history-growth`), stated with margin.
pub const SLED_OVERHEAD: f64 = 3.0;
/// sled's directory with an empty history (measured 0.1 MiB), with margin.
pub const SLED_BASE: u64 = 16 * 1024 * 1024;
/// What a file can take beyond its bytes (the filesystem's block).
const FILE_SLACK: u64 = 4096;

/// Bytes per host of each tier's records at full retention, and the stated bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// One minute of raw samples at ≥ 1 Hz in a minute file (chunk, directory entry and
    /// fleet-row entry).
    pub raw_minute: u64,
    /// One 1-minute or 15-minute row in sled (key and value).
    pub row: u64,
    /// Minute files on disk at most, and records per host per tier at most.
    pub files: u64,
    pub rows_1m: u64,
    pub rows_15m: u64,
}

fn units(keep: Duration, width: i64) -> u64 {
    (keep.as_millis() as u64).div_ceil(width as u64)
}

impl Bound {
    /// For hosts whose ids are `host` long with these disk mounts (the history keeps 4).
    pub fn new(config: &HistoryConfig, host: &str, mounts: &[&str]) -> Self {
        let sample = |at_ms| Sample {
            at_ms,
            base: [50.0; BASE_SERIES.len()],
            disks: mounts
                .iter()
                .take(super::MAX_DISKS)
                .map(|m| (m.to_string(), 50.0))
                .collect(),
        };
        let samples: Vec<Sample> = (0..RAW_PER_MINUTE as i64)
            .map(|i| sample(i * 1000))
            .collect();
        let summary = super::summarize(&samples).unwrap_or_default();
        let name = 1 + host.len().min(255) as u64;
        let summary = encode_summary(&summary).len() as u64;
        Bound {
            raw_minute: encode_chunk(0, &samples).len() as u64 + (name + 8) + (name + 2 + summary),
            row: 8 + host.len() as u64 + summary,
            // Pruned once a minute: the retention's minutes, the one being pruned, and a
            // minute closed again by a late sample.
            files: units(config.keep_raw, MINUTE_MS) + 2,
            rows_1m: units(config.keep_1m, MINUTE_MS) + 2,
            rows_15m: units(config.keep_15m, QUARTER_MS) + 1,
        }
    }

    /// Record bytes of one host at full retention: raw files, sled rows.
    pub fn per_host(&self) -> (u64, u64) {
        (
            self.files * self.raw_minute,
            (self.rows_1m + self.rows_15m) * self.row,
        )
    }

    /// The stated bound on disk for `hosts` hosts: raw files with a block of slack each,
    /// sled's records × [`SLED_OVERHEAD`] and its base.
    pub fn on_disk(&self, hosts: u64) -> u64 {
        let (raw, rows) = self.per_host();
        hosts * raw
            + self.files * FILE_SLACK
            + (SLED_OVERHEAD * (hosts * rows) as f64) as u64
            + SLED_BASE
    }
}
