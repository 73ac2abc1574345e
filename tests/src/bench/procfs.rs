//! Reading a process through /proc, and the small statistics the benches print.

use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

/// Clock ticks per second for /proc/<pid>/stat times, asked once of `getconf CLK_TCK`
/// (100 on every Linux we run on, which is also the fallback).
pub static CLK_TCK: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
});

/// A `Vm*` line of /proc/<pid>/status, in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in {path}"))
}

/// utime + stime of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // The command name may hold spaces; fields after it are fixed. utime and stime are
    // fields 14 and 15, i.e. the 12th and 13th after the closing parenthesis.
    let after_name = &stat[stat.rfind(')').context("malformed stat")? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |at: usize| -> anyhow::Result<u64> {
        fields
            .get(at)
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("malformed {path}"))
    };
    Ok(field(11)? + field(12)?)
}

/// Share of one core, in percent.
#[allow(clippy::cast_precision_loss)]
pub fn cpu_percent(ticks: u64, elapsed: Duration) -> f64 {
    ticks as f64 / *CLK_TCK as f64 / elapsed.as_secs_f64() * 100.0
}

#[allow(clippy::cast_precision_loss)]
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub fn secs(duration: Option<Duration>) -> String {
    duration.map_or_else(|| "-".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn reads_this_process_from_proc() {
        let pid = std::process::id();
        assert!(proc_status_kib(pid, "VmRSS").unwrap() > 0);
        assert!(proc_status_kib(pid, "VmNothing").is_err());
        cpu_ticks(pid).unwrap();
    }
}
