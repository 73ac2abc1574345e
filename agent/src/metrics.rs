//! Host facts and metrics, read with `sysinfo`. Sampling reads /proc and statfs only; the
//! arithmetic that turns raw counters into a [`MetricsSample`] is the pure
//! [`to_sample`], tested without a host.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use convoy_proto::v1::{DiskUsage, Facts, MetricsSample};
use sysinfo::{Disks, Networks, System};

/// At most this many mounts are reported.
const MAX_DISKS: usize = 32;
/// Filesystems that are not storage an operator watches.
const PSEUDO_FS: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "overlay",
    "squashfs",
    "nsfs",
    "autofs",
    "tracefs",
    "debugfs",
    "securityfs",
    "pstore",
    "bpf",
    "ramfs",
    "fuse.lxcfs",
];

/// Facts sent once per session in the Hello.
pub(crate) fn facts() -> Facts {
    let mut system = System::new();
    system.refresh_memory();
    Facts {
        hostname: System::host_name().unwrap_or_default(),
        os: System::name().unwrap_or_default(),
        os_version: System::os_version().unwrap_or_default(),
        kernel: System::kernel_version().unwrap_or_default(),
        arch: System::cpu_arch(),
        cpus: std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            .unwrap_or(1),
        mem_total_bytes: system.total_memory(),
        boot_time_unix: System::boot_time(),
    }
}

/// Raw readings at one instant; counters are cumulative.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Readings {
    pub(crate) cpu_percent: f64,
    pub(crate) load: (f64, f64, f64),
    pub(crate) mem_used: u64,
    pub(crate) mem_total: u64,
    pub(crate) swap_used: u64,
    pub(crate) swap_total: u64,
    pub(crate) disks: Vec<DiskUsage>,
    pub(crate) net_rx_total: u64,
    pub(crate) net_tx_total: u64,
    pub(crate) uptime_secs: u64,
    pub(crate) process_count: u32,
}

/// Turns readings into a sample; network rates come from the previous readings.
pub(crate) fn to_sample(
    now: &Readings,
    previous: Option<(&Readings, Duration)>,
    sampled_at_unix_ms: i64,
) -> MetricsSample {
    let rate = |current: u64, before: u64, elapsed: Duration| {
        let secs = elapsed.as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        // Counters reset when an interface goes away: report 0, not a huge number.
        #[allow(clippy::cast_precision_loss)]
        let delta = current.saturating_sub(before) as f64;
        delta / secs
    };
    let (rx, tx) = match previous {
        Some((before, elapsed)) => (
            rate(now.net_rx_total, before.net_rx_total, elapsed),
            rate(now.net_tx_total, before.net_tx_total, elapsed),
        ),
        None => (0.0, 0.0),
    };
    MetricsSample {
        sampled_at_unix_ms,
        cpu_percent: now.cpu_percent.clamp(0.0, 100.0),
        load1: now.load.0,
        load5: now.load.1,
        load15: now.load.2,
        mem_used_bytes: now.mem_used,
        mem_total_bytes: now.mem_total,
        swap_used_bytes: now.swap_used,
        swap_total_bytes: now.swap_total,
        disks: now.disks.clone(),
        net_rx_bytes_per_sec: rx,
        net_tx_bytes_per_sec: tx,
        uptime_secs: now.uptime_secs,
        process_count: now.process_count,
        // App signals are the collector's (`crate::signals::collect`), added by the session.
        signals: Default::default(),
    }
}

/// Keeps the sysinfo handles between samples (CPU usage and network rates are deltas).
pub(crate) struct Sampler {
    system: System,
    disks: Disks,
    networks: Networks,
    previous: Option<(Readings, Instant)>,
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

impl Sampler {
    pub(crate) fn new() -> Self {
        let mut system = System::new();
        // Prime the CPU counters so the first sample has a baseline.
        system.refresh_cpu_usage();
        Self {
            system,
            disks: Disks::new(),
            networks: Networks::new_with_refreshed_list(),
            previous: None,
        }
    }

    fn read(&mut self) -> Readings {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.disks.refresh(true);
        self.networks.refresh(true);
        let load = System::load_average();
        let mut disks: Vec<DiskUsage> = Vec::new();
        for disk in self.disks.list() {
            let fs = disk.file_system().to_string_lossy();
            let mount = disk.mount_point().to_string_lossy().into_owned();
            if disk.total_space() == 0
                || PSEUDO_FS.contains(&fs.as_ref())
                || disks.iter().any(|d| d.mount == mount)
            {
                continue;
            }
            disks.push(DiskUsage {
                mount,
                used_bytes: disk.total_space().saturating_sub(disk.available_space()),
                total_bytes: disk.total_space(),
            });
            if disks.len() == MAX_DISKS {
                break;
            }
        }
        let (mut rx, mut tx) = (0, 0);
        for (name, data) in &self.networks {
            if name != "lo" {
                rx += data.total_received();
                tx += data.total_transmitted();
            }
        }
        Readings {
            cpu_percent: f64::from(self.system.global_cpu_usage()),
            load: (load.one, load.five, load.fifteen),
            mem_used: self.system.used_memory(),
            mem_total: self.system.total_memory(),
            swap_used: self.system.used_swap(),
            swap_total: self.system.total_swap(),
            disks,
            net_rx_total: rx,
            net_tx_total: tx,
            uptime_secs: System::uptime(),
            process_count: count_processes(),
        }
    }

    /// Takes one sample.
    pub(crate) fn sample(&mut self) -> MetricsSample {
        let readings = self.read();
        let now = Instant::now();
        let sampled_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let previous = self
            .previous
            .as_ref()
            .map(|(readings, at)| (readings, now.duration_since(*at)));
        let sample = to_sample(&readings, previous, sampled_at);
        self.previous = Some((readings, now));
        sample
    }
}

/// Counts processes by listing /proc: far cheaper than a full process refresh.
fn count_processes() -> u32 {
    std::fs::read_dir("/proc")
        .map(|entries| {
            let count = entries
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                })
                .count();
            u32::try_from(count).unwrap_or(u32::MAX)
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_rates_come_from_counter_deltas() {
        let before = Readings {
            net_rx_total: 1_000,
            net_tx_total: 500,
            ..Default::default()
        };
        let now = Readings {
            net_rx_total: 3_000,
            net_tx_total: 400, // counter reset
            cpu_percent: 140.0,
            ..Default::default()
        };
        let sample = to_sample(&now, Some((&before, Duration::from_secs(2))), 7);
        assert_eq!(sample.net_rx_bytes_per_sec, 1_000.0);
        assert_eq!(sample.net_tx_bytes_per_sec, 0.0);
        assert_eq!(sample.cpu_percent, 100.0);
        assert_eq!(sample.sampled_at_unix_ms, 7);
        assert_eq!(to_sample(&now, None, 0).net_rx_bytes_per_sec, 0.0);
    }

    #[test]
    fn samples_this_host() {
        let mut sampler = Sampler::new();
        let first = sampler.sample();
        let second = sampler.sample();
        assert!(first.mem_total_bytes > 0 && first.mem_used_bytes <= first.mem_total_bytes);
        assert!(second.process_count > 0);
        assert!(second.uptime_secs > 0);
        let facts = facts();
        assert!(facts.cpus >= 1 && !facts.arch.is_empty());
    }
}
