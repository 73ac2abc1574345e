//! The durable, downsampled metrics history: every heartbeat's sample for the last hour
//! (`keep_raw`), 1-minute summaries for 48 hours (`keep_1m`) and 15-minute summaries for 90
//! days (`keep_15m`), each summary keeping min, max and average.
//!
//! Heartbeats reach it through a [`Recorder`] (a bounded channel: `try_send`, never a
//! store write on the heartbeat's path). One task ([`run`]) collects the samples of the
//! current minute in memory and, when a minute closes, writes every host's raw chunk and
//! 1-minute summary in one batch per tree; when a 15-minute window closes it summarises
//! it from the stored 1-minute rows (so a restart loses at most the current minute's
//! samples, and windows missed while down are filled in on start). The pure part
//! ([`Downsampler`], [`merge`]) takes the time as an argument.
//!
//! Bound per host (10 series, ≤ 4 disks, f32 values): raw ≤ 60 chunks of `samples/min × 54
//! B`, ≤ 60 fleet-row entries, 1m ≤ 2,880 rows and 15m ≤ 8,640 rows of ~160 B each: about
//! 2 MiB of records at 1 Hz (BENCHMARKS.md, `convoy-bench history-growth`).

pub mod bound;
pub mod query;
mod sample;

pub use sample::*;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use convoy_proto::v1::MetricsSample;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::store::history::Tier;
use crate::store::{Store, StoreError};

pub use query::{QueryError, query_host, query_selector};

/// The series every sample has, in storage order; disks come after, as `disk:MOUNT`.
pub const BASE_SERIES: [&str; 9] = [
    "cpu", "mem", "swap", "load1", "load5", "load15", "net_rx", "net_tx", "procs",
];
/// Disks kept per sample (the first ones the agent reports).
pub const MAX_DISKS: usize = 4;
/// Raw samples kept per host per minute (1 Hz); a faster heartbeat keeps every k-th.
pub const RAW_PER_MINUTE: usize = 60;
/// App signals kept per sample (the first by key, `APP.NAME`); stored beside the disks as
/// named series (a mount starts with `/`, a signal never does).
pub const MAX_SIGNALS: usize = 8;
/// Samples queued between heartbeats and the history task.
const QUEUE: usize = 65_536;

pub const MINUTE_MS: i64 = 60_000;
pub const QUARTER_MS: i64 = 15 * MINUTE_MS;

/// `[history]` in coordinator.toml.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    pub enabled: bool,
    #[serde(with = "humantime_serde")]
    pub keep_raw: Duration,
    #[serde(with = "humantime_serde")]
    pub keep_1m: Duration,
    #[serde(with = "humantime_serde")]
    pub keep_15m: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            keep_raw: Duration::from_secs(3600),
            keep_1m: Duration::from_secs(48 * 3600),
            keep_15m: Duration::from_secs(90 * 86_400),
        }
    }
}

impl HistoryConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.keep_raw < Duration::from_secs(60)
            || self.keep_1m < self.keep_raw
            || self.keep_15m < self.keep_1m
            || self.keep_1m < Duration::from_secs(1800)
        {
            return Err(
                "history: need 1m <= keep_raw <= keep_1m <= keep_15m and keep_1m >= 30m".into(),
            );
        }
        Ok(())
    }
}

/// Where heartbeats hand their samples to the history (and are counted for
/// `convoy_heartbeats_total`).
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    /// None when the history is off.
    queue: Option<mpsc::Sender<(String, Sample)>>,
    dropped: Arc<AtomicU64>,
    pub heartbeats: prometheus_client::metrics::counter::Counter,
}

impl Recorder {
    /// A recorder that only counts (history off).
    pub fn counting_only() -> Self {
        Recorder::default()
    }

    /// Queues one sample without waiting; a full queue drops it (counted).
    pub fn record(&self, host: &str, metrics: &MetricsSample) {
        self.heartbeats.inc();
        let Some(queue) = &self.queue else { return };
        let sample = Sample::from_metrics(crate::clock::now_unix_ms(), metrics);
        if queue.try_send((host.to_string(), sample)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues a sample whose time is already set (replays and `convoy-bench
    /// history-growth`, which drive the writer with an injected clock). Returns false if
    /// the history is off or the queue is full (then the sample is counted as dropped).
    pub fn record_sample(&self, host: &str, sample: Sample) -> bool {
        let Some(queue) = &self.queue else {
            return false;
        };
        let sent = queue.try_send((host.to_string(), sample)).is_ok();
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The history's writer: owns the open minutes and the store writes.
pub struct History {
    store: Store,
    config: HistoryConfig,
    queue: mpsc::Receiver<(String, Sample)>,
    open: Downsampler,
    /// End of the last 15-minute window summarised.
    quarters_done: i64,
    last_prune: i64,
}

const QUARTERS_MARK: &str = "history/15m-done";

impl History {
    pub fn new(store: Store, config: HistoryConfig) -> Result<(Self, Recorder), StoreError> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let quarters_done = store
            .event_mark(QUARTERS_MARK)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok((
            History {
                store,
                config,
                queue: rx,
                open: Downsampler::default(),
                quarters_done,
                last_prune: 0,
            },
            Recorder {
                queue: Some(tx),
                ..Recorder::default()
            },
        ))
    }

    /// Takes queued samples, writes minutes closed by `now`, summarises closed 15-minute
    /// windows and prunes. `keep_host` says which hosts still belong to the fleet.
    pub fn tick(&mut self, now: i64, keep_host: &dyn Fn(&str) -> bool) -> Result<(), StoreError> {
        while let Ok((host, sample)) = self.queue.try_recv() {
            self.open.add(host, sample);
        }
        let rows = self.open.close(now);
        if !rows.is_empty() {
            self.store.put_history_minutes(&rows)?;
        }
        self.quarters(now)?;
        if now - self.last_prune >= MINUTE_MS {
            let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            self.store.prune_history(
                now - ms(self.config.keep_raw),
                now - ms(self.config.keep_1m),
                now - ms(self.config.keep_15m),
            )?;
            // Hosts deleted from the fleet: once an hour (a full scan).
            if now.div_euclid(3_600_000) != self.last_prune.div_euclid(3_600_000) {
                self.store.prune_history_hosts(keep_host)?;
            }
            self.last_prune = now;
        }
        Ok(())
    }

    /// Summarises every 15-minute window that closed (at most `keep_1m` back).
    fn quarters(&mut self, now: i64) -> Result<(), StoreError> {
        let closed = now.div_euclid(QUARTER_MS) * QUARTER_MS;
        let keep_1m = i64::try_from(self.config.keep_1m.as_millis()).unwrap_or(i64::MAX);
        let oldest = (closed - keep_1m).div_euclid(QUARTER_MS) * QUARTER_MS;
        let mut start = self.quarters_done.max(oldest);
        while start < closed {
            let mut hosts: HashMap<String, Vec<Summary>> = HashMap::new();
            self.store
                .history_scan(Tier::Minute, start, start + QUARTER_MS, |_, host, raw| {
                    if let Some(s) = crate::store::history::decode_summary(raw) {
                        hosts.entry(host.to_string()).or_default().push(s);
                    }
                })?;
            let rows: Vec<(i64, String, Summary)> = hosts
                .into_iter()
                .filter_map(|(host, parts)| merge(&parts).map(|s| (start, host, s)))
                .collect();
            if !rows.is_empty() {
                self.store.put_history_quarters(&rows)?;
            }
            start += QUARTER_MS;
            self.quarters_done = start;
            self.store
                .put_event_mark(QUARTERS_MARK, &start.to_string())?;
        }
        Ok(())
    }

    /// Writes what is still open (shutdown), as if every minute had closed.
    pub fn finish(&mut self) -> Result<(), StoreError> {
        while let Ok((host, sample)) = self.queue.try_recv() {
            self.open.add(host, sample);
        }
        let rows = self.open.close(i64::MAX);
        if !rows.is_empty() {
            self.store.put_history_minutes(&rows)?;
        }
        Ok(())
    }
}

/// Runs the history writer: a tick every second (off the runtime's workers) until shutdown.
pub async fn run(
    history: History,
    registry: Arc<crate::registry::Registry>,
    shutdown: CancellationToken,
) {
    let history = Arc::new(std::sync::Mutex::new(history));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let writer = history.clone();
        let known = registry.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut writer = writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            writer.tick(crate::clock::now_unix_ms(), &|host| known.is_known(host))
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(error = %err, "cannot write the metrics history"),
            Err(err) => tracing::error!(error = %err, "metrics history writer panicked"),
        }
    }
    let mut writer = history
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Err(err) = writer.finish() {
        tracing::error!(error = %err, "cannot write the metrics history at shutdown");
    }
}

#[cfg(test)]
mod tests;
