//! What the history keeps of a heartbeat: the sample, its series by name, the min/max/average
//! summary of a bucket, and the downsampler that closes minutes. Pure: no I/O, time passed in.

use super::*;

/// One heartbeat's sample, as the history keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// When the coordinator received it (unix ms).
    pub at_ms: i64,
    pub base: [f32; BASE_SERIES.len()],
    /// Named series: `(mount, percent used)` for up to [`MAX_DISKS`] disks, then `(APP.NAME,
    /// value)` for up to [`MAX_SIGNALS`] app signals.
    pub disks: Vec<(String, f32)>,
}

impl Sample {
    pub fn from_metrics(at_ms: i64, m: &MetricsSample) -> Self {
        let pct = |used: u64, total: u64| {
            if total == 0 {
                0.0
            } else {
                (used as f64 * 100.0 / total as f64) as f32
            }
        };
        // A name is stored with a one-byte length: longer signal keys are not kept.
        let signals = m
            .signals
            .iter()
            .filter(|(key, _)| key.len() <= 255 && !key.starts_with('/'))
            .take(MAX_SIGNALS)
            .map(|(key, value)| (key.clone(), *value as f32));
        let disks = m
            .disks
            .iter()
            .take(MAX_DISKS)
            .map(|d| (d.mount.clone(), pct(d.used_bytes, d.total_bytes)))
            .chain(signals)
            .collect();
        Sample {
            at_ms,
            base: [
                m.cpu_percent as f32,
                pct(m.mem_used_bytes, m.mem_total_bytes),
                pct(m.swap_used_bytes, m.swap_total_bytes),
                m.load1 as f32,
                m.load5 as f32,
                m.load15 as f32,
                m.net_rx_bytes_per_sec as f32,
                m.net_tx_bytes_per_sec as f32,
                m.process_count as f32,
            ],
            disks,
        }
    }

    /// The value of a named series, if this sample has it.
    pub fn value(&self, series: &SeriesId) -> Option<f32> {
        match series {
            SeriesId::Base(i) => self.base.get(*i).copied(),
            SeriesId::Disk(name) | SeriesId::Signal(name) => {
                self.disks.iter().find(|(m, _)| m == name).map(|(_, v)| *v)
            }
        }
    }
}

/// A series by name: one of [`BASE_SERIES`], `disk:MOUNT`, or an app signal `APP.NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesId {
    Base(usize),
    Disk(String),
    Signal(String),
}

impl SeriesId {
    pub fn parse(name: &str) -> Result<Self, String> {
        if let Some(i) = BASE_SERIES.iter().position(|s| *s == name) {
            return Ok(SeriesId::Base(i));
        }
        match name.strip_prefix("disk:") {
            Some(mount) if mount.starts_with('/') => Ok(SeriesId::Disk(mount.to_string())),
            None if signal_name(name) => Ok(SeriesId::Signal(name.to_string())),
            _ => Err(format!(
                "unknown series {name:?}: expected one of {}, disk:MOUNT, or an app signal \
                 APP.NAME",
                BASE_SERIES.join(", ")
            )),
        }
    }
}

/// An app signal's full name, `APP.NAME`: an app name, a dot, a label key (split at one of
/// the dots), as agents report them.
pub fn signal_name(name: &str) -> bool {
    use convoy_proto::labels::{valid_app_name, valid_key};
    name.match_indices('.')
        .any(|(at, _)| valid_app_name(&name[..at]) && valid_key(&name[at + 1..]))
}

/// Min, max and average of one series over a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stat {
    pub min: f32,
    pub max: f32,
    pub avg: f32,
}

/// Every series of one host over one bucket, and how many samples it covers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub count: u32,
    pub base: [Stat; BASE_SERIES.len()],
    pub disks: Vec<(String, Stat)>,
}

impl Summary {
    pub fn stat(&self, series: &SeriesId) -> Option<Stat> {
        match series {
            SeriesId::Base(i) => self.base.get(*i).copied(),
            SeriesId::Disk(name) | SeriesId::Signal(name) => {
                self.disks.iter().find(|(m, _)| m == name).map(|(_, s)| *s)
            }
        }
    }

    pub(super) fn of_sample(sample: &Sample) -> Self {
        let one = |v: f32| Stat {
            min: v,
            max: v,
            avg: v,
        };
        Summary {
            count: 1,
            base: sample.base.map(one),
            disks: sample
                .disks
                .iter()
                .map(|(m, v)| (m.clone(), one(*v)))
                .collect(),
        }
    }
}

fn merge_stat(a: Stat, wa: f64, b: Stat, wb: f64) -> Stat {
    Stat {
        min: a.min.min(b.min),
        max: a.max.max(b.max),
        avg: ((f64::from(a.avg) * wa + f64::from(b.avg) * wb) / (wa + wb)) as f32,
    }
}

/// Merges summaries, weighting averages by sample count.
pub fn merge<'a>(parts: impl IntoIterator<Item = &'a Summary>) -> Option<Summary> {
    let mut out: Option<Summary> = None;
    for part in parts {
        if part.count == 0 {
            continue;
        }
        let Some(acc) = &mut out else {
            out = Some(part.clone());
            continue;
        };
        let (wa, wb) = (f64::from(acc.count), f64::from(part.count));
        for (a, b) in acc.base.iter_mut().zip(part.base.iter()) {
            *a = merge_stat(*a, wa, *b, wb);
        }
        for (mount, b) in &part.disks {
            if let Some((_, a)) = acc.disks.iter_mut().find(|(m, _)| m == mount) {
                *a = merge_stat(*a, wa, *b, wb);
            } else {
                // Disks and signals are capped apart (a signal's name never starts with '/').
                let disk = mount.starts_with('/');
                let kept = acc.disks.iter().filter(|(m, _)| m.starts_with('/') == disk);
                if kept.count() < if disk { MAX_DISKS } else { MAX_SIGNALS } {
                    acc.disks.push((mount.clone(), *b));
                }
            }
        }
        acc.count = acc.count.saturating_add(part.count);
    }
    out
}

pub fn summarize(samples: &[Sample]) -> Option<Summary> {
    let singles: Vec<Summary> = samples.iter().map(Summary::of_sample).collect();
    merge(&singles)
}

/// Samples of the minutes not yet written. Pure: the time comes in as an argument.
#[derive(Debug, Default)]
pub struct Downsampler {
    /// minute start -> host -> samples.
    open: std::collections::BTreeMap<i64, HashMap<String, Vec<Sample>>>,
}

/// One closed minute of one host: its raw samples and their summary.
pub type MinuteRow = (i64, String, Vec<Sample>, Summary);

impl Downsampler {
    pub fn add(&mut self, host: String, sample: Sample) {
        let minute = sample.at_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        self.open
            .entry(minute)
            .or_default()
            .entry(host)
            .or_default()
            .push(sample);
    }

    /// Every minute that ended at or before `now`, taken out.
    pub fn close(&mut self, now: i64) -> Vec<MinuteRow> {
        let current = now.div_euclid(MINUTE_MS) * MINUTE_MS;
        let later = self.open.split_off(&current);
        let closed = std::mem::replace(&mut self.open, later);
        let mut rows = Vec::new();
        for (minute, hosts) in closed {
            for (host, samples) in hosts {
                if let Some(summary) = summarize(&samples) {
                    rows.push((minute, host, samples, summary));
                }
            }
        }
        rows
    }
}
