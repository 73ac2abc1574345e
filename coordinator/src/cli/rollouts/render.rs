//! How rollouts are shown: stable JSON (a contract with scripts: add fields, never rename
//! or remove them) and tables.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::{
    AnalysisVerdict, RolloutHost, RolloutHostState, RolloutSummary, RolloutView,
};
use serde::Serialize;

use crate::cli::output::{duration, rfc3339};
use crate::cli::{OutputFormat, out};

#[derive(Debug, Serialize)]
pub struct HostJson {
    pub host: String,
    pub state: String,
    pub reason: String,
    pub previous_version: Option<String>,
}

impl From<&RolloutHost> for HostJson {
    fn from(h: &RolloutHost) -> Self {
        Self {
            host: h.host.clone(),
            state: h.state().name().to_string(),
            reason: h.reason.clone(),
            previous_version: (!h.previous_version.is_empty()).then(|| h.previous_version.clone()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct WaveJson {
    pub index: u32,
    pub group: Option<String>,
    pub state: String,
    pub parallel: u32,
    pub hosts: Vec<HostJson>,
    /// Canary analysis verdicts of the wave (latest round); empty if not judged.
    pub analysis: Vec<AnalysisJson>,
}

/// One `--analysis` judged over a wave's bake.
#[derive(Debug, Serialize)]
pub struct AnalysisJson {
    pub analysis: String,
    /// `pass`, `fail` or `inconclusive`.
    pub verdict: String,
    pub p_value: Option<f64>,
    pub canary_median: Option<f64>,
    pub baseline_median: Option<f64>,
    pub canary_samples: u32,
    pub baseline_samples: u32,
    /// 1 at the bake's end, 2 after the extension of an inconclusive bake.
    pub round: u32,
    pub reason: String,
}

impl From<&AnalysisVerdict> for AnalysisJson {
    fn from(a: &AnalysisVerdict) -> Self {
        Self {
            analysis: a.analysis.clone(),
            verdict: a.verdict.clone(),
            p_value: a.p_value,
            canary_median: a.canary_median,
            baseline_median: a.baseline_median,
            canary_samples: a.canary_samples,
            baseline_samples: a.baseline_samples,
            round: a.round,
            reason: a.reason.clone(),
        }
    }
}

/// The analysis rows of a wave, as a table (None when it was not judged).
pub fn analysis_table(analysis: &[AnalysisVerdict]) -> Option<Table> {
    if analysis.is_empty() {
        return None;
    }
    let number = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header(vec![
        "ANALYSIS", "VERDICT", "P", "CANARY", "BASELINE", "SAMPLES", "ROUND",
    ]);
    for a in analysis {
        table.add_row(vec![
            a.analysis.clone(),
            a.verdict.clone(),
            a.p_value.map_or("-".to_string(), |p| format!("{p:.4}")),
            number(a.canary_median),
            number(a.baseline_median),
            format!("{}/{}", a.canary_samples, a.baseline_samples),
            a.round.to_string(),
        ]);
    }
    Some(table)
}

#[derive(Debug, Serialize)]
pub struct RolloutJson {
    pub id: String,
    pub app: String,
    pub version: String,
    pub selector: String,
    pub state: String,
    pub created_by: String,
    pub created_at: Option<String>,
    pub finished_at: Option<String>,
    pub failures: u32,
    pub failure_budget: u32,
    /// 0-based, like `waves[].index`.
    pub current_wave: u32,
    pub waiting_for: String,
    pub bake_until: Option<String>,
    pub matched: u32,
    pub targets: u32,
    pub already_current: Vec<String>,
    pub waves: Vec<WaveJson>,
    pub late: Vec<HostJson>,
    /// `--env` (null without).
    pub env: Option<String>,
    pub approvals: Vec<ApprovalJson>,
    pub approvals_needed: u32,
    /// waiting_for_window: the next opening; frozen: the freeze's end.
    pub held_until: Option<String>,
    pub freeze_reason: Option<String>,
    /// `--at`.
    pub start_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ApprovalJson {
    pub by: String,
    pub at: Option<String>,
    pub comment: String,
    pub expired: bool,
}

impl From<&RolloutView> for RolloutJson {
    fn from(v: &RolloutView) -> Self {
        Self {
            id: v.id.clone(),
            app: v.app.clone(),
            version: v.version.clone(),
            selector: v.selector.clone(),
            state: v.state().name().to_string(),
            created_by: v.created_by.clone(),
            created_at: rfc3339(v.created_unix_ms),
            finished_at: rfc3339(v.finished_unix_ms),
            failures: v.failures,
            failure_budget: v.failure_budget,
            current_wave: v.current_wave,
            waiting_for: v.waiting_for.clone(),
            bake_until: rfc3339(v.bake_until_unix_ms),
            matched: v.matched,
            targets: v.targets,
            already_current: v.already_current.clone(),
            waves: v
                .waves
                .iter()
                .map(|w| WaveJson {
                    index: w.index,
                    group: (!w.group.is_empty()).then(|| w.group.clone()),
                    state: w.state().name().to_string(),
                    parallel: w.parallel,
                    hosts: w.hosts.iter().map(HostJson::from).collect(),
                    analysis: w.analysis.iter().map(AnalysisJson::from).collect(),
                })
                .collect(),
            late: v.late.iter().map(HostJson::from).collect(),
            env: v
                .spec
                .as_ref()
                .map(|s| s.env.clone())
                .filter(|e| !e.is_empty()),
            approvals: v
                .approvals
                .iter()
                .map(|a| ApprovalJson {
                    by: a.by.clone(),
                    at: rfc3339(a.at_unix_ms),
                    comment: a.comment.clone(),
                    expired: a.expired,
                })
                .collect(),
            approvals_needed: v.approvals_needed,
            held_until: rfc3339(v.hold_until_unix_ms),
            freeze_reason: Some(v.freeze_reason.clone()).filter(|r| !r.is_empty()),
            start_at: v.spec.as_ref().and_then(|s| rfc3339(s.start_at_unix_ms)),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SummaryJson {
    pub id: String,
    pub app: String,
    pub version: String,
    pub state: String,
    pub created_by: String,
    pub created_at: Option<String>,
    pub finished_at: Option<String>,
    pub targets: u32,
    pub succeeded: u32,
    pub failures: u32,
    pub current_wave: u32,
    pub waves: u32,
    /// `--env` (null without).
    pub env: Option<String>,
}

impl From<&RolloutSummary> for SummaryJson {
    fn from(s: &RolloutSummary) -> Self {
        Self {
            id: s.id.clone(),
            app: s.app.clone(),
            version: s.version.clone(),
            state: s.state().name().to_string(),
            created_by: s.created_by.clone(),
            created_at: rfc3339(s.created_unix_ms),
            finished_at: rfc3339(s.finished_unix_ms),
            targets: s.targets,
            succeeded: s.succeeded,
            failures: s.failures,
            current_wave: s.current_wave,
            waves: s.waves,
            env: Some(s.env.clone()).filter(|e| !e.is_empty()),
        }
    }
}

pub fn print_plan(plan: &[String], format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => out!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "dry_run": true, "plan": plan }))?
        ),
        OutputFormat::Table => {
            for line in plan {
                out!("{line}");
            }
        }
    }
    Ok(())
}

pub fn print_view(view: &RolloutView, format: OutputFormat) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        out!(
            "{}",
            serde_json::to_string_pretty(&RolloutJson::from(view))?
        );
        return Ok(());
    }
    out!(
        "rollout {}: {} {} on {:?}, by {}",
        view.id,
        view.app,
        view.version,
        view.selector,
        view.created_by
    );
    out!("state:    {}", view.state().name());
    out!(
        "failures: {} of {} allowed",
        view.failures,
        view.failure_budget
    );
    out!("waiting:  {}", view.waiting_for);
    super::approve::print_release_lines(view);
    if !view.already_current.is_empty() {
        out!(
            "skipped:  {} already on {} and healthy",
            crate::cli::output::count(view.already_current.len(), "host"),
            view.version
        );
    }
    for wave in &view.waves {
        let done = wave
            .hosts
            .iter()
            .filter(|h| {
                !matches!(
                    h.state(),
                    RolloutHostState::Pending
                        | RolloutHostState::Deploying
                        | RolloutHostState::Waiting
                )
            })
            .count();
        let kind = if wave.index == 0 { " (canary)" } else { "" };
        let group = if wave.group.is_empty() {
            String::new()
        } else {
            format!(" [{}]", wave.group)
        };
        out!(
            "\nwave {}{kind}{group}: {} — {done}/{} done",
            wave.index + 1,
            wave.state().name(),
            wave.hosts.len()
        );
        let mut table = Table::new();
        table.load_preset(UTF8_BORDERS_ONLY);
        table.set_header(vec!["HOST", "STATE", "FROM", "REASON"]);
        for host in &wave.hosts {
            table.add_row(vec![
                host.host.clone(),
                host.state().name().to_string(),
                host.previous_version.clone(),
                host.reason.clone(),
            ]);
        }
        out!("{table}");
        if let Some(table) = analysis_table(&wave.analysis) {
            out!("canary analysis of wave {}:\n{table}", wave.index + 1);
        }
    }
    if !view.late.is_empty() {
        out!("\nlate convergence (came back after the rollout):");
        for host in &view.late {
            out!("  {}: {} {}", host.host, host.state().name(), host.reason);
        }
    }
    Ok(())
}

pub fn print_list(
    rollouts: &[RolloutSummary],
    one_app: bool,
    format: OutputFormat,
) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        let list: Vec<SummaryJson> = rollouts.iter().map(SummaryJson::from).collect();
        out!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    let mut header = vec!["ID"];
    if !one_app {
        header.push("APP");
    }
    header.extend([
        "VERSION", "STATE", "WAVE", "HOSTS", "FAILED", "STARTED", "TOOK",
    ]);
    table.set_header(header);
    for r in rollouts {
        let mut row = vec![r.id.clone()];
        if !one_app {
            row.push(r.app.clone());
        }
        row.extend([
            r.version.clone(),
            r.state().name().to_string(),
            format!("{}/{}", (r.current_wave + 1).min(r.waves), r.waves),
            format!("{}/{}", r.succeeded, r.targets),
            r.failures.to_string(),
            rfc3339(r.created_unix_ms).unwrap_or_default(),
            if r.finished_unix_ms > 0 {
                duration(r.created_unix_ms, r.finished_unix_ms)
            } else {
                String::new()
            },
        ]);
        table.add_row(row);
    }
    out!("{table}");
    Ok(())
}
