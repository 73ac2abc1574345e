//! The capacity report's arithmetic: utilisation percentiles per group, hosts sustained hot
//! or idle, a linear trend with the days left until a threshold, and how many hosts a group
//! needs to keep its p95 under a target. Pure: the caller reads the metrics history and
//! hands in samples.

/// Utilisation samples of one host over the window: percentages (0–100) and load per core,
/// each with its time in days from the window's start (for the trend).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostSamples {
    pub id: String,
    pub cpu: Vec<(f64, f64)>,
    pub mem: Vec<(f64, f64)>,
    pub disk: Vec<(f64, f64)>,
    pub load_per_core: Vec<(f64, f64)>,
}

/// p50 and p95 of one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub p50: f64,
    pub p95: f64,
}

/// A least-squares line through (day, value): `value = slope * day + intercept`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    pub slope_per_day: f64,
    pub intercept: f64,
}

impl Trend {
    /// Days after `now_day` until the line reaches `threshold`; None when it never does
    /// (flat or falling) and Some(0) when it is already there.
    pub fn days_until(&self, now_day: f64, threshold: f64) -> Option<f64> {
        let now = self.slope_per_day * now_day + self.intercept;
        if now >= threshold {
            return Some(0.0);
        }
        (self.slope_per_day > 0.0).then(|| (threshold - now) / self.slope_per_day)
    }
}

/// The report of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupReport {
    pub hosts: usize,
    pub cpu: Option<Spread>,
    pub mem: Option<Spread>,
    pub disk: Option<Spread>,
    pub load_per_core: Option<Spread>,
    /// Hosts whose own cpu or mem p95 is above `hot_above` (sorted).
    pub hot: Vec<String>,
    /// Hosts whose own cpu and mem p95 are below `idle_below` (sorted).
    pub idle: Vec<String>,
    /// Trends of the group's disk and mem (all samples), for "days until full".
    pub disk_trend: Option<Trend>,
    pub mem_trend: Option<Trend>,
    /// Hosts needed to keep the busier of cpu and mem p95 under the target.
    pub recommended_hosts: Option<u32>,
    /// Which of cpu and mem sized the recommendation.
    pub sized_by: Option<&'static str>,
    /// Hosts with any sample.
    pub hosts_with_data: usize,
    /// The host whose own disk (mem) line reaches `full_at` first, and in how many days
    /// from `now_day`.
    pub disk_full_first: Option<(String, f64)>,
    pub mem_full_first: Option<(String, f64)>,
}

/// Thresholds of the report (the issue's: hot above 80 %, idle below 10 %; a target of
/// 60 % p95, so a group keeps room for a 1.5x spike or the loss of one host in three
/// before it saturates; "full" at 90 % for the trends).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub hot_above: f64,
    pub idle_below: f64,
    pub target: f64,
    pub full_at: f64,
}

/// The default target utilisation, as a fraction (`convoy report capacity --target`).
pub const DEFAULT_TARGET: f64 = 0.6;

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            hot_above: 80.0,
            idle_below: 10.0,
            target: DEFAULT_TARGET * 100.0,
            full_at: 90.0,
        }
    }
}

/// The `q`-th percentile (0–100) with linear interpolation between closest ranks (numpy's
/// default); NaNs are ignored; None for no values.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() || !(0.0..=100.0).contains(&q) {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let position = q / 100.0 * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    let fraction = position - low as f64;
    Some(sorted[low] + (sorted[high] - sorted[low]) * fraction)
}

/// Least squares through the points; None for fewer than two distinct days.
pub fn linear_fit(points: &[(f64, f64)]) -> Option<Trend> {
    let points: Vec<_> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = sxy / sxx;
    Some(Trend {
        slope_per_day: slope,
        intercept: mean_y - slope * mean_x,
    })
}

/// Hosts needed so that a load now giving `p95` percent on `hosts` hosts gives at most
/// `target` percent: ceil(hosts × p95 / target), at least 1.
pub fn hosts_needed(hosts: usize, p95: f64, target: f64) -> Option<u32> {
    if hosts == 0 || !p95.is_finite() || target.is_nan() || target <= 0.0 {
        return None;
    }
    let needed = (hosts as f64 * p95.max(0.0) / target).ceil().max(1.0);
    Some(needed.min(f64::from(u32::MAX)) as u32)
}

fn spread(values: &[f64]) -> Option<Spread> {
    Some(Spread {
        p50: percentile(values, 50.0)?,
        p95: percentile(values, 95.0)?,
    })
}

fn values(samples: &[(f64, f64)]) -> Vec<f64> {
    samples.iter().map(|s| s.1).collect()
}

/// Among `hosts`, the one whose own line through `pick` reaches `threshold` first after
/// `now_day`, with the days left (ties: the first id).
pub fn first_to_reach(
    hosts: &[HostSamples],
    pick: fn(&HostSamples) -> &Vec<(f64, f64)>,
    now_day: f64,
    threshold: f64,
) -> Option<(String, f64)> {
    let mut soonest: Option<(String, f64)> = None;
    for host in hosts {
        let Some(days) = linear_fit(pick(host)).and_then(|t| t.days_until(now_day, threshold))
        else {
            continue;
        };
        let sooner = match &soonest {
            None => true,
            Some((id, best)) => days < *best || (days == *best && host.id < *id),
        };
        if sooner {
            soonest = Some((host.id.clone(), days));
        }
    }
    soonest
}

/// The report of one group of hosts; `now_day` is the window's end in days from its start.
pub fn group_report(hosts: &[HostSamples], thresholds: Thresholds, now_day: f64) -> GroupReport {
    let all = |pick: fn(&HostSamples) -> &Vec<(f64, f64)>| -> Vec<(f64, f64)> {
        hosts.iter().flat_map(|h| pick(h).iter().copied()).collect()
    };
    let (cpu, mem, disk, load) = (
        all(|h| &h.cpu),
        all(|h| &h.mem),
        all(|h| &h.disk),
        all(|h| &h.load_per_core),
    );
    let own_p95 = |h: &HostSamples| {
        (
            percentile(&values(&h.cpu), 95.0),
            percentile(&values(&h.mem), 95.0),
        )
    };
    let mut hot = Vec::new();
    let mut idle = Vec::new();
    for host in hosts {
        let (cpu, mem) = own_p95(host);
        if cpu.is_some_and(|v| v > thresholds.hot_above)
            || mem.is_some_and(|v| v > thresholds.hot_above)
        {
            hot.push(host.id.clone());
        } else if cpu.is_some_and(|v| v < thresholds.idle_below)
            && mem.is_some_and(|v| v < thresholds.idle_below)
        {
            idle.push(host.id.clone());
        }
    }
    hot.sort();
    idle.sort();
    let (cpu, mem) = (spread(&values(&cpu)), spread(&values(&mem)));
    let busiest = match (cpu, mem) {
        (Some(c), Some(m)) if m.p95 > c.p95 => Some((m.p95, "mem")),
        (Some(c), _) => Some((c.p95, "cpu")),
        (None, Some(m)) => Some((m.p95, "mem")),
        (None, None) => None,
    };
    let with_data = hosts
        .iter()
        .filter(|h| {
            !(h.cpu.is_empty()
                && h.mem.is_empty()
                && h.disk.is_empty()
                && h.load_per_core.is_empty())
        })
        .count();
    GroupReport {
        hosts: hosts.len(),
        cpu,
        mem,
        disk: spread(&values(&disk)),
        load_per_core: spread(&values(&load)),
        hot,
        idle,
        disk_trend: linear_fit(&disk),
        mem_trend: linear_fit(&all(|h| &h.mem)),
        recommended_hosts: busiest
            .and_then(|(p95, _)| hosts_needed(with_data, p95, thresholds.target)),
        sized_by: busiest.map(|(_, by)| by),
        hosts_with_data: with_data,
        disk_full_first: first_to_reach(hosts, |h| &h.disk, now_day, thresholds.full_at),
        mem_full_first: first_to_reach(hosts, |h| &h.mem, now_day, thresholds.full_at),
    }
}

#[cfg(test)]
mod tests;
