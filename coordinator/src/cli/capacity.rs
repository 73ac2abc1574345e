//! `convoy report capacity` (utilisation, hot and idle hosts, growth, how many hosts each
//! group needs) and `convoy scale status` (the `[[scaling]]` policies), over the `Monitor`
//! service. Tables by default; `-o json` for scripts; `-o markdown` (the report) for a
//! ticket or a pull request.

use std::time::Duration;

use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::{
    CapacityGroup, CapacityReportRequest, CapacityReportResponse, GrowthTrend, Utilisation,
};
use serde::Serialize;

mod scale;

pub use scale::scale;

use super::connect::rpc_error;
use super::monitor::client;
use super::output::rfc3339;
use super::{ConnectArgs, OutputArg, UsageError, out};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Capacity per group from the metrics history: cpu, mem, disk and load-per-core
    /// p50/p95, hosts hot (p95 > 80 %) and idle (p95 < 10 %), disk and mem growth with the
    /// days until 90 %, and the hosts each group needs to keep its p95 under --target.
    Capacity(CapacityArgs),
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// The hosts to report on (a label selector; default every host).
    #[arg(long, short = 's')]
    pub selector: Option<String>,
    /// One group per value of this label (default: the selector's hosts as one group).
    #[arg(long)]
    pub group_by: Option<String>,
    /// How far back (at most the history's keep_15m).
    #[arg(long, default_value = "14d", value_parser = humantime::parse_duration)]
    pub since: Duration,
    /// Target p95 utilisation, as a fraction (0.6) or a percentage (60%).
    #[arg(long, default_value = "0.6", value_parser = parse_target)]
    pub target: f64,
}

#[derive(Debug, Subcommand)]
pub enum ScaleCommand {
    /// Every [[scaling]] policy: selector, metric, current value and count, desired count,
    /// last action (when, what, result), next allowed action, dry-run.
    Status,
}

/// `0.6` or `60%`: a fraction above 0 and at most 1.
pub fn parse_target(text: &str) -> Result<f64, String> {
    let value = match text.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.trim().parse::<f64>(),
    }
    .map_err(|_| format!("{text:?} is not a number: expected a fraction (0.6) or 60%"))?;
    if value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        Err(format!(
            "{text:?} is out of range: expected a fraction above 0 and at most 1 (0.6 = 60%)"
        ))
    }
}

pub async fn report(
    command: ReportCommand,
    connect: &ConnectArgs,
    output: OutputArg,
) -> anyhow::Result<()> {
    let ReportCommand::Capacity(args) = command;
    let selector = args.selector.clone().unwrap_or_default();
    crate::selector::Selector::parse(&selector)
        .map_err(|err| UsageError(format!("--selector: {}", err.render())))?;
    if let Some(label) = &args.group_by
        && !convoy_proto::labels::valid_key(label)
    {
        return Err(UsageError(format!("--group-by {label:?} is not a label key")).into());
    }
    if args.since < Duration::from_secs(60) {
        return Err(UsageError("--since must be at least 1m".into()).into());
    }
    if output == OutputArg::Csv {
        return Err(UsageError("convoy report takes -o table, json or markdown".into()).into());
    }
    let mut monitor = client(connect).await?;
    let answer = monitor
        .capacity_report(CapacityReportRequest {
            selector,
            group_by: args.group_by.clone().unwrap_or_default(),
            since_ms: u64::try_from(args.since.as_millis()).unwrap_or(u64::MAX),
            target: args.target,
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    match output {
        OutputArg::Json => out!(
            "{}",
            serde_json::to_string_pretty(&ReportJson::from(&answer))?
        ),
        OutputArg::Markdown => out!("{}", markdown(&answer)),
        _ => out!("{}", table(&answer)),
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct SpreadJson {
    p50: f64,
    p95: f64,
}

#[derive(Debug, Serialize)]
struct TrendJson {
    slope_per_day: f64,
    now: f64,
    days_until_full: Option<f64>,
    first_full_host: Option<String>,
    first_full_days: Option<f64>,
}

#[derive(Debug, Serialize)]
struct GroupJson {
    name: String,
    hosts: u32,
    hosts_with_data: u32,
    cpu: Option<SpreadJson>,
    mem: Option<SpreadJson>,
    disk: Option<SpreadJson>,
    load_per_core: Option<SpreadJson>,
    hot: Vec<String>,
    idle: Vec<String>,
    disk_trend: Option<TrendJson>,
    mem_trend: Option<TrendJson>,
    recommended_hosts: Option<u32>,
    sized_by: Option<String>,
}

#[derive(Debug, Serialize)]
struct ReportJson {
    from: Option<String>,
    to: Option<String>,
    step_ms: u64,
    selector: String,
    group_by: String,
    target: f64,
    hot_above: f64,
    idle_below: f64,
    full_at: f64,
    groups: Vec<GroupJson>,
}

fn spread_json(u: Option<&Utilisation>) -> Option<SpreadJson> {
    u.map(|u| SpreadJson {
        p50: u.p50,
        p95: u.p95,
    })
}

fn trend_json(t: Option<&GrowthTrend>) -> Option<TrendJson> {
    t.map(|t| TrendJson {
        slope_per_day: t.slope_per_day,
        now: t.now,
        days_until_full: t.days_until_full,
        first_full_host: (!t.first_full_host.is_empty()).then(|| t.first_full_host.clone()),
        first_full_days: t.first_full_days,
    })
}

impl From<&CapacityReportResponse> for ReportJson {
    fn from(r: &CapacityReportResponse) -> Self {
        ReportJson {
            from: rfc3339(r.from_unix_ms),
            to: rfc3339(r.to_unix_ms),
            step_ms: r.step_ms,
            selector: r.selector.clone(),
            group_by: r.group_by.clone(),
            target: r.target,
            hot_above: r.hot_above,
            idle_below: r.idle_below,
            full_at: r.full_at,
            groups: r
                .groups
                .iter()
                .map(|g| GroupJson {
                    name: g.name.clone(),
                    hosts: g.hosts,
                    hosts_with_data: g.hosts_with_data,
                    cpu: spread_json(g.cpu.as_ref()),
                    mem: spread_json(g.mem.as_ref()),
                    disk: spread_json(g.disk.as_ref()),
                    load_per_core: spread_json(g.load_per_core.as_ref()),
                    hot: g.hot.clone(),
                    idle: g.idle.clone(),
                    disk_trend: trend_json(g.disk_trend.as_ref()),
                    mem_trend: trend_json(g.mem_trend.as_ref()),
                    recommended_hosts: g.recommended_hosts,
                    sized_by: (!g.sized_by.is_empty()).then(|| g.sized_by.clone()),
                })
                .collect(),
        }
    }
}

fn pct(u: Option<&Utilisation>) -> String {
    u.map_or("-".into(), |u| format!("{:.0}/{:.0}%", u.p50, u.p95))
}

fn ratio(u: Option<&Utilisation>) -> String {
    u.map_or("-".into(), |u| format!("{:.2}/{:.2}", u.p50, u.p95))
}

/// "+0.8/d, 90% in 12d (db-3 in 4d)" for a growth trend.
fn growth(t: Option<&GrowthTrend>) -> String {
    let Some(t) = t else { return "-".into() };
    let mut text = format!("{:+.1}/d", t.slope_per_day);
    match t.days_until_full {
        Some(days) => text.push_str(&format!(", full in {days:.0}d")),
        None => text.push_str(", not filling"),
    }
    if let Some(days) = t.first_full_days {
        text.push_str(&format!(" ({} in {days:.0}d)", t.first_full_host));
    }
    text
}

fn needed(g: &CapacityGroup) -> String {
    match g.recommended_hosts {
        Some(n) => format!("{n} (by {})", g.sized_by),
        None => "-".into(),
    }
}

fn list(hosts: &[String]) -> String {
    const SHOWN: usize = 5;
    if hosts.is_empty() {
        return "-".into();
    }
    let mut text = hosts
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if hosts.len() > SHOWN {
        text.push_str(&format!(" +{}", hosts.len() - SHOWN));
    }
    text
}

fn table(r: &CapacityReportResponse) -> String {
    if r.groups.is_empty() {
        return "no hosts match".into();
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header([
        "GROUP",
        "HOSTS",
        "CPU p50/p95",
        "MEM p50/p95",
        "DISK p50/p95",
        "LOAD/CORE",
        "HOT",
        "IDLE",
        "DISK GROWTH",
        "MEM GROWTH",
        "NEEDED",
    ]);
    for g in &r.groups {
        table.add_row([
            g.name.clone(),
            g.hosts.to_string(),
            pct(g.cpu.as_ref()),
            pct(g.mem.as_ref()),
            pct(g.disk.as_ref()),
            ratio(g.load_per_core.as_ref()),
            list(&g.hot),
            list(&g.idle),
            growth(g.disk_trend.as_ref()),
            growth(g.mem_trend.as_ref()),
            needed(g),
        ]);
    }
    format!(
        "{table}\n{} to {}; hot: p95 > {:.0}%, idle: p95 < {:.0}%, full: {:.0}%; NEEDED keeps \
         p95 under {:.0}%",
        rfc3339(r.from_unix_ms).unwrap_or_default(),
        rfc3339(r.to_unix_ms).unwrap_or_default(),
        r.hot_above,
        r.idle_below,
        r.full_at,
        r.target * 100.0
    )
}

fn markdown(r: &CapacityReportResponse) -> String {
    let mut text = format!(
        "## Capacity report\n\n{} to {}, target p95 {:.0}%\n\n| group | hosts | cpu p50/p95 | mem \
         p50/p95 | disk p50/p95 | load/core | hot | idle | disk growth | mem growth | needed \
         |\n|---|---:|---:|---:|---:|---:|---|---|---|---|---:|\n",
        rfc3339(r.from_unix_ms).unwrap_or_default(),
        rfc3339(r.to_unix_ms).unwrap_or_default(),
        r.target * 100.0
    );
    let cell = |s: String| s.replace('|', "\\|");
    for g in &r.groups {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(g.name.clone()),
            g.hosts,
            pct(g.cpu.as_ref()),
            pct(g.mem.as_ref()),
            pct(g.disk.as_ref()),
            ratio(g.load_per_core.as_ref()),
            cell(list(&g.hot)),
            cell(list(&g.idle)),
            cell(growth(g.disk_trend.as_ref())),
            cell(growth(g.mem_trend.as_ref())),
            needed(g),
        ));
    }
    text.push_str(&format!(
        "\nHot: p95 above {:.0}%; idle: p95 below {:.0}%; growth is a linear fit, \"full\" at \
         {:.0}%.",
        r.hot_above, r.idle_below, r.full_at
    ));
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets_are_fractions_or_percentages() {
        use super::parse_target;
        assert_eq!(parse_target("0.6"), Ok(0.6));
        assert_eq!(parse_target("75%"), Ok(0.75));
        assert_eq!(parse_target("1"), Ok(1.0));
        for bad in ["0", "60", "-0.5", "1.5", "abc", "%", "NaN"] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
