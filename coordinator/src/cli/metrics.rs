//! `convoy metrics HOST SERIES... [--since 6h] [--step 5m]` (one host's history) and
//! `convoy metrics --selector S SERIES... --agg p95` (across hosts), over the `Monitor`
//! service. In a terminal each series is a sparkline with its min, average, max and last
//! value; piped, a table of points; `-o json` and `-o csv` for scripts.

use std::io::IsTerminal as _;
use std::time::Duration;

use clap::Args;
use convoy_proto::v1::{QueryMetricsRequest, QueryMetricsResponse};
use serde::Serialize;

use super::connect::rpc_error;
use super::monitor::client;
use super::output::rfc3339;
use super::{ConnectArgs, OutputArg, UsageError, out};

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// HOST then SERIES (cpu, mem, swap, load1, load5, load15, net_rx, net_tx, procs,
    /// disk:MOUNT, an app signal APP.NAME like web.error_rate); with --selector, only SERIES.
    #[arg(required = true, value_name = "HOST|SERIES")]
    pub args: Vec<String>,
    /// Aggregate over the hosts this label selector matches instead of one host.
    #[arg(long, short = 's')]
    pub selector: Option<String>,
    /// How far back.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub since: Duration,
    /// Width of one point (default: --since / 60).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub step: Option<Duration>,
    /// Across hosts: avg, min, max, p50, p90, p95 or p99 of the hosts' averages.
    #[arg(long, default_value = "avg")]
    pub agg: String,
}

#[derive(Debug, Serialize)]
struct PointJson {
    at: Option<String>,
    at_unix_ms: i64,
    min: f64,
    avg: f64,
    max: f64,
    count: u32,
}

#[derive(Debug, Serialize)]
struct SeriesJson {
    host: String,
    series: String,
    points: Vec<PointJson>,
}

#[derive(Debug, Serialize)]
struct MetricsJson {
    step_ms: u64,
    hosts: u32,
    series: Vec<SeriesJson>,
}

/// Eight-level sparkline of `values`.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    values
        .iter()
        .map(|v| {
            if (hi - lo).abs() < f64::EPSILON {
                BARS[0]
            } else {
                let level = ((v - lo) / (hi - lo) * 7.0).round() as usize;
                BARS[level.min(7)]
            }
        })
        .collect()
}

pub async fn run(
    args: MetricsArgs,
    connect: &ConnectArgs,
    output: OutputArg,
) -> anyhow::Result<()> {
    if output == OutputArg::Markdown {
        return Err(UsageError(
            "-o markdown is only for convoy rollout report and convoy report".into(),
        )
        .into());
    }
    let (host, series, selector) = match &args.selector {
        Some(selector) => {
            crate::selector::Selector::parse(selector).map_err(|err| UsageError(err.render()))?;
            (String::new(), args.args.clone(), selector.clone())
        }
        None => {
            let Some((host, series)) = args.args.split_first() else {
                return Err(UsageError("name a HOST and at least one SERIES".into()).into());
            };
            if series.is_empty() {
                return Err(UsageError(format!(
                    "name at least one series after {host}, e.g. cpu mem load1"
                ))
                .into());
            }
            (host.clone(), series.to_vec(), String::new())
        }
    };
    for name in &series {
        crate::history::SeriesId::parse(name).map_err(UsageError)?;
    }
    if !selector.is_empty() {
        crate::history::query::Agg::parse(&args.agg).map_err(UsageError)?;
    }
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let mut monitor = client(connect).await?;
    let answer = monitor
        .query_metrics(QueryMetricsRequest {
            host,
            selector,
            series,
            since_ms: millis(args.since),
            step_ms: args.step.map(millis).unwrap_or(0),
            agg: args.agg.clone(),
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    print(&answer, output);
    Ok(())
}

fn print(answer: &QueryMetricsResponse, output: OutputArg) {
    match output {
        OutputArg::Json => {
            let json = MetricsJson {
                step_ms: answer.step_ms,
                hosts: answer.hosts,
                series: answer
                    .series
                    .iter()
                    .map(|s| SeriesJson {
                        host: s.host.clone(),
                        series: s.name.clone(),
                        points: s
                            .points
                            .iter()
                            .map(|p| PointJson {
                                at: rfc3339(p.at_unix_ms),
                                at_unix_ms: p.at_unix_ms,
                                min: p.min,
                                avg: p.avg,
                                max: p.max,
                                count: p.count,
                            })
                            .collect(),
                    })
                    .collect(),
            };
            out!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
        }
        OutputArg::Csv => {
            out!("time,host,series,min,avg,max,count");
            for s in &answer.series {
                for p in &s.points {
                    out!(
                        "{},{},{},{},{},{},{}",
                        rfc3339(p.at_unix_ms).unwrap_or_default(),
                        csv_field(&s.host),
                        csv_field(&s.name),
                        p.min,
                        p.avg,
                        p.max,
                        p.count
                    );
                }
            }
        }
        OutputArg::Table if std::io::stdout().is_terminal() => {
            let width = answer
                .series
                .iter()
                .map(|s| s.name.len())
                .max()
                .unwrap_or(0);
            for s in &answer.series {
                let avgs: Vec<f64> = s.points.iter().map(|p| p.avg).collect();
                if avgs.is_empty() {
                    out!("{:width$}  (no data)", s.name);
                    continue;
                }
                let min = s.points.iter().map(|p| p.min).fold(f64::INFINITY, f64::min);
                let max = s
                    .points
                    .iter()
                    .map(|p| p.max)
                    .fold(f64::NEG_INFINITY, f64::max);
                let avg = avgs.iter().sum::<f64>() / avgs.len() as f64;
                out!(
                    "{:width$}  {}  min {min:.1}  avg {avg:.1}  max {max:.1}  last {:.1}",
                    s.name,
                    sparkline(&avgs),
                    avgs.last().copied().unwrap_or_default()
                );
            }
        }
        OutputArg::Table | OutputArg::Markdown => {
            for s in &answer.series {
                for p in &s.points {
                    out!(
                        "{}\t{}\t{}\t{:.2}\t{:.2}\t{:.2}",
                        rfc3339(p.at_unix_ms).unwrap_or_default(),
                        s.host,
                        s.name,
                        p.min,
                        p.avg,
                        p.max
                    );
                }
            }
        }
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
