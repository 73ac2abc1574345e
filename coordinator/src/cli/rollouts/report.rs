//! `convoy rollout report RID [-o json|markdown]`: the post-deployment report as tables
//! (default), Markdown that fits a pull-request comment (headings, one table per section,
//! no ANSI), or stable JSON (README, "Post-deployment report": fields are added, never
//! renamed or removed). [`sections`] is the one layout the three text forms (and the
//! dashboard's report section) share.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::{MetricDelta, RolloutReport};

use crate::analysis::report::{duration, number};
use crate::cli::output::rfc3339;

/// A titled table.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub title: String,
    /// A sentence under the title (may be empty).
    pub note: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// `2026-12-03 10:00:00` (UTC), or `-` for never.
pub fn when(unix_ms: i64) -> String {
    rfc3339(unix_ms).map_or("-".to_string(), |t| t[..19].replace('T', " "))
}

fn span(from: i64, to: i64) -> String {
    if from <= 0 || to < from {
        "-".to_string()
    } else {
        duration(to - from)
    }
}

fn opt(value: Option<f64>) -> String {
    value.map_or("-".to_string(), number)
}

/// The title line: `Rollout r-1: web 2.0 — rolled back`.
pub fn title(report: &RolloutReport) -> String {
    format!(
        "Rollout {}: {} {} — {}",
        report.id,
        report.app,
        report.version,
        report.state().name().replace('_', " ")
    )
}

fn delta_row(d: &MetricDelta) -> Vec<String> {
    let change = match (d.change, d.change_percent) {
        (Some(c), Some(p)) => format!(
            "{}{} ({p:+.1}%)",
            if c >= 0.0 { "+" } else { "" },
            number(c)
        ),
        (Some(c), None) => format!("{}{}", if c >= 0.0 { "+" } else { "" }, number(c)),
        _ => "-".to_string(),
    };
    vec![
        d.series.clone(),
        if d.host.is_empty() {
            "all compared".to_string()
        } else {
            d.host.clone()
        },
        opt(d.before_median),
        opt(d.after_median),
        change,
        d.p_value.map_or("-".to_string(), |p| format!("{p:.4}")),
        match (d.p_value, d.significant) {
            (None, _) => "too few samples".to_string(),
            (Some(_), true) => "yes".to_string(),
            (Some(_), false) => "no".to_string(),
        },
        format!("{}/{}", d.before_samples, d.after_samples),
    ]
}

/// The report's sections, in order: overview, timeline, waits, who did what, hosts,
/// rollback, metric deltas (pooled, then each host with a reason), canary analysis.
pub fn sections(report: &RolloutReport) -> Vec<Section> {
    let mut out = Vec::new();
    let finished = if report.finished_unix_ms > 0 {
        format!(
            "{} (took {})",
            when(report.finished_unix_ms),
            span(report.created_unix_ms, report.finished_unix_ms)
        )
    } else {
        "still going".to_string()
    };
    out.push(Section {
        title: "Overview".into(),
        note: String::new(),
        headers: vec!["", ""],
        rows: vec![
            vec!["Selector".into(), report.selector.clone()],
            vec![
                "Started".into(),
                format!("{} by {}", when(report.created_unix_ms), report.created_by),
            ],
            vec!["Finished".into(), finished],
            vec![
                "Hosts".into(),
                format!("{} updated of {} targets", report.updated, report.targets),
            ],
            vec![
                "Failures".into(),
                format!("{} of budget {}", report.failures, report.failure_budget),
            ],
            vec![
                "Report".into(),
                if report.stored {
                    format!(
                        "stored when the rollout ended ({})",
                        when(report.generated_unix_ms)
                    )
                } else {
                    format!("computed {} (not final)", when(report.generated_unix_ms))
                },
            ],
        ],
    });
    out.push(Section {
        title: "Timeline".into(),
        note: "Planned against actual, per wave.".into(),
        headers: vec![
            "Wave",
            "Group",
            "Hosts",
            "Parallel",
            "Started",
            "Bake planned",
            "Bake actual",
            "Ended",
            "Succeeded",
            "Failed",
            "State",
        ],
        rows: report
            .waves
            .iter()
            .map(|w| {
                let bake_end = if w.ended_unix_ms > 0 {
                    w.ended_unix_ms
                } else {
                    report.finished_unix_ms
                };
                vec![
                    (w.index + 1).to_string(),
                    if w.group.is_empty() {
                        "-".into()
                    } else {
                        w.group.clone()
                    },
                    w.planned_hosts.to_string(),
                    w.parallel.to_string(),
                    when(w.started_unix_ms),
                    if w.planned_bake_ms > 0 {
                        duration(w.planned_bake_ms)
                    } else {
                        "-".to_string()
                    },
                    span(w.bake_started_unix_ms, bake_end),
                    when(w.ended_unix_ms),
                    w.succeeded.to_string(),
                    w.failed.to_string(),
                    w.state().name().to_string(),
                ]
            })
            .collect(),
    });
    if !report.pauses.is_empty() {
        out.push(Section {
            title: "Waits for an operator".into(),
            note: String::new(),
            headers: vec!["From", "To", "Took", "Cause"],
            rows: report
                .pauses
                .iter()
                .map(|p| {
                    vec![
                        when(p.from_unix_ms),
                        when(p.to_unix_ms),
                        span(p.from_unix_ms, p.to_unix_ms),
                        p.cause.clone(),
                    ]
                })
                .collect(),
        });
    }
    out.push(Section {
        title: "Who did what".into(),
        note: String::new(),
        headers: vec!["At", "By", "Action", "Result", "Detail"],
        rows: report
            .actions
            .iter()
            .map(|a| {
                vec![
                    when(a.at_unix_ms),
                    a.by.clone(),
                    a.action.clone(),
                    if a.ok { "ok".into() } else { "refused".into() },
                    a.detail.clone(),
                ]
            })
            .collect(),
    });
    out.push(Section {
        title: "Hosts".into(),
        note: String::new(),
        headers: vec![
            "Host",
            "Wave",
            "Outcome",
            "Deployed",
            "Rolled back",
            "Previous",
            "Reason",
        ],
        rows: report
            .hosts
            .iter()
            .map(|h| {
                vec![
                    h.host.clone(),
                    (h.wave + 1).to_string(),
                    h.state().name().to_string(),
                    when(h.deployed_unix_ms),
                    when(h.rolled_back_unix_ms),
                    if h.previous_version.is_empty() {
                        "-".into()
                    } else {
                        h.previous_version.clone()
                    },
                    h.reason.clone(),
                ]
            })
            .collect(),
    });
    if let Some(r) = &report.rollback {
        out.push(Section {
            title: "Rollback".into(),
            note: String::new(),
            headers: vec!["Started", "Finished", "Trigger", "Rolled back", "Failed"],
            rows: vec![vec![
                when(r.started_unix_ms),
                when(r.finished_unix_ms),
                r.trigger.clone(),
                r.rolled_back.to_string(),
                r.failed.to_string(),
            ]],
        });
    }
    let with_reason: Vec<&str> = report
        .hosts
        .iter()
        .filter(|h| !h.reason.is_empty())
        .map(|h| h.host.as_str())
        .collect();
    out.push(Section {
        title: "Metric deltas".into(),
        note: format!(
            "Medians of per-minute averages in the {} before each host's update against after it \
             (until its rollback or now); significant: two-sided Mann-Whitney U, alpha {}. \
             {} of {} deployed hosts compared.",
            duration(report.window_ms),
            report.alpha,
            report.compared_hosts,
            report.deployed_hosts
        ),
        headers: vec![
            "Series",
            "Host",
            "Before",
            "After",
            "Change",
            "p",
            "Significant",
            "Samples",
        ],
        rows: report
            .deltas
            .iter()
            .filter(|d| d.host.is_empty() || with_reason.contains(&d.host.as_str()))
            .map(delta_row)
            .collect(),
    });
    let verdicts: Vec<Vec<String>> = report
        .waves
        .iter()
        .flat_map(|w| {
            w.analysis.iter().map(move |a| {
                vec![
                    (w.index + 1).to_string(),
                    a.analysis.clone(),
                    a.verdict.clone(),
                    a.p_value.map_or("-".to_string(), |p| format!("{p:.4}")),
                    opt(a.canary_median),
                    opt(a.baseline_median),
                    format!("{}/{}", a.canary_samples, a.baseline_samples),
                ]
            })
        })
        .collect();
    if !verdicts.is_empty() {
        out.push(Section {
            title: "Canary analysis".into(),
            note: String::new(),
            headers: vec![
                "Wave",
                "Analysis",
                "Verdict",
                "p",
                "Canary median",
                "Baseline median",
                "Samples",
            ],
            rows: verdicts,
        });
    }
    out
}

/// A Markdown table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    flat.replace('\\', "\\\\").replace('|', "\\|")
}

/// Markdown for a pull-request comment.
pub fn markdown(report: &RolloutReport) -> String {
    let mut out = format!("## {}\n\n", cell(&title(report)));
    for line in report.summary.lines() {
        out.push_str(&format!("> {}\n", cell(line)));
    }
    for section in sections(report) {
        out.push_str(&format!("\n### {}\n\n", section.title));
        if !section.note.is_empty() {
            out.push_str(&format!("{}\n\n", cell(&section.note)));
        }
        if section.headers.iter().all(|h| h.is_empty()) {
            out.push_str("| | |\n|---|---|\n");
        } else {
            out.push_str(&format!("| {} |\n", section.headers.join(" | ")));
            out.push_str(&format!("|{}\n", "---|".repeat(section.headers.len())));
        }
        if section.rows.is_empty() {
            out.push_str(&format!(
                "| none |{}\n",
                " |".repeat(section.headers.len() - 1)
            ));
        }
        for row in &section.rows {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
    out
}

/// Tables for a terminal.
pub fn tables(report: &RolloutReport) -> String {
    let mut out = format!("{}\n{}\n", title(report), report.summary);
    for section in sections(report) {
        out.push_str(&format!("\n{}\n", section.title.to_uppercase()));
        if !section.note.is_empty() {
            out.push_str(&format!("{}\n", section.note));
        }
        let mut table = Table::new();
        table.load_preset(UTF8_BORDERS_ONLY);
        if section.headers.iter().any(|h| !h.is_empty()) {
            table.set_header(section.headers.clone());
        }
        if section.rows.is_empty() {
            table.add_row(vec!["none"]);
        }
        for row in &section.rows {
            table.add_row(row.clone());
        }
        out.push_str(&format!("{table}\n"));
    }
    out
}

mod json;

pub use json::to_json;

#[cfg(test)]
mod tests;
