//! Time-series plots as server-rendered SVG: axes with units, a line of the step averages,
//! a band from min to max, and one point per step whose `<title>` is its hover value. No
//! charting library to vendor and keep current, no script needed to see them, and the
//! markup is small (one element per point; a week at 15-minute steps is 672 points).

use std::fmt::Write as _;

use convoy_proto::v1::Series;

use super::html::esc;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// How a series' values read: its unit and the axis floor/ceiling.
pub(crate) struct Unit {
    /// Formats one value with its unit.
    pub format: fn(f64) -> String,
    /// A fixed top for the y axis (100 for percentages), or none to fit the data.
    pub ceiling: Option<f64>,
}

/// The unit of a series name (see `history::BASE_SERIES`).
pub(crate) fn unit_of(series: &str) -> Unit {
    match series {
        "cpu" | "mem" | "swap" => Unit {
            format: |v| format!("{v:.1} %"),
            ceiling: Some(100.0),
        },
        s if s.starts_with("disk:") => Unit {
            format: |v| format!("{v:.1} %"),
            ceiling: Some(100.0),
        },
        "net_rx" | "net_tx" => Unit {
            format: |v| format!("{}/s", super::html::bytes(v)),
            ceiling: None,
        },
        "procs" => Unit {
            format: |v| format!("{v:.0}"),
            ceiling: None,
        },
        s if crate::history::signal_name(s) => Unit {
            format: significant,
            ceiling: None,
        },
        _ => Unit {
            format: |v| format!("{v:.2}"),
            ceiling: None,
        },
    }
}

/// A readable title for a series name.
pub(crate) fn title_of(series: &str) -> String {
    match series {
        "cpu" => "CPU".into(),
        "mem" => "Memory used".into(),
        "swap" => "Swap used".into(),
        "load1" => "Load (1 min)".into(),
        "net_rx" => "Network in".into(),
        "net_tx" => "Network out".into(),
        "procs" => "Processes".into(),
        s if crate::history::signal_name(s) => match s.split_once('.') {
            Some((app, name)) => format!("{name} ({app}, app signal)"),
            None => s.to_string(),
        },
        s => s
            .strip_prefix("disk:")
            .map_or_else(|| s.to_string(), |mount| format!("Disk used {mount}")),
    }
}

/// An app signal's value with three significant digits (an error rate of 0.0042 reads
/// as such, not as 0.00), plainly for everyday magnitudes.
pub(crate) fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor();
    if !(-4.0..6.0).contains(&magnitude) {
        return format!("{v:.2e}");
    }
    // 0..=6 decimals: the cast cannot truncate.
    let decimals = (2.0 - magnitude).clamp(0.0, 6.0) as usize;
    format!("{v:.decimals$}")
}

/// "HH:MM" (UTC) for a time axis label, with the date for ranges over a day.
fn clock(at_ms: i64, with_date: bool) -> String {
    let secs = at_ms.div_euclid(1000);
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(secs) else {
        return String::new();
    };
    if with_date {
        format!(
            "{:02}-{:02} {:02}:{:02}",
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        )
    } else {
        format!("{:02}:{:02}", at.hour(), at.minute())
    }
}

/// The SVG for one series over `[from_ms, to_ms]`.
pub(crate) fn svg(series: &Series, from_ms: i64, to_ms: i64) -> String {
    let unit = unit_of(&series.name);
    let title = title_of(&series.name);
    let points = &series.points;
    let top_value = points.iter().map(|p| p.max).fold(0.0_f64, f64::max);
    let ceiling = unit
        .ceiling
        .unwrap_or_else(|| nice_ceiling(top_value))
        .max(f64::MIN_POSITIVE);
    let span = (to_ms - from_ms).max(1) as f64;
    let x = |at: i64| LEFT + (at - from_ms) as f64 / span * (WIDTH - LEFT - RIGHT);
    let y = |v: f64| TOP + (1.0 - (v / ceiling).clamp(0.0, 1.0)) * (HEIGHT - TOP - BOTTOM);
    let mut out = String::new();
    let _ = write!(
        out,
        "<figure class=\"plot\" data-series=\"{name}\"><figcaption>{title}</figcaption>\
         <svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{title} over time\">",
        name = esc(&series.name),
        title = esc(&title),
    );
    // Y axis: 5 grid lines with labels.
    for i in 0..=4 {
        let v = ceiling * f64::from(i) / 4.0;
        let py = y(v);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/>\
             <text class=\"axis\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            esc(&(unit.format)(v))
        );
    }
    // X axis: 5 time labels.
    let with_date = to_ms - from_ms > 86_400_000;
    for i in 0..=4 {
        let at = from_ms + (to_ms - from_ms) * i / 4;
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            x(at),
            HEIGHT - 8.0,
            clock(at, with_date)
        );
    }
    if points.is_empty() {
        let _ = write!(
            out,
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no samples in this range</text>",
            (LEFT + WIDTH - RIGHT) / 2.0,
            HEIGHT / 2.0
        );
    } else {
        // The min..max band, then the average line, then the points.
        let mut band = String::new();
        for p in points {
            let _ = write!(band, "{:.1},{:.1} ", x(p.at_unix_ms), y(p.max));
        }
        for p in points.iter().rev() {
            let _ = write!(band, "{:.1},{:.1} ", x(p.at_unix_ms), y(p.min));
        }
        let _ = write!(
            out,
            "<polygon class=\"band\" points=\"{}\"/>",
            band.trim_end()
        );
        let line: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.at_unix_ms), y(p.avg)))
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"line\" points=\"{}\"/>",
            line.join(" ")
        );
        for p in points {
            let _ = write!(
                out,
                "<circle class=\"point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"><title>{} UTC: {} (min {}, max {})</title></circle>",
                x(p.at_unix_ms),
                y(p.avg),
                clock(p.at_unix_ms, true),
                esc(&(unit.format)(p.avg)),
                esc(&(unit.format)(p.min)),
                esc(&(unit.format)(p.max)),
            );
        }
    }
    out.push_str("</svg></figure>");
    out
}

/// A round number at or above `v` for an axis top: 1, 2 or 5 times a power of ten.
pub(crate) fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * power)
}
