//! A [`RolloutSpec`] as the operator wrote it, checked into a plan strategy and the
//! machine's settings.

use std::time::Duration;

use convoy_proto::v1::RolloutSpec;

use crate::analysis::verdict::Analysis;
use crate::rate::{Rate, RateError};
use crate::rollout::gate::{Gate, GateError};
use crate::rollout::machine::{Inconclusive, Offline, OnFailure, Settings};
use crate::rollout::plan::{PlanError, Strategy};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Rate(#[from] RateError),
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error("invalid --on-failure {0:?}: expected pause or rollback")]
    OnFailure(String),
    #[error("invalid --offline {0:?}: expected wait or skip")]
    Offline(String),
    /// `--analysis`: the grammar's error names the column.
    #[error("invalid --analysis: {0}")]
    Analysis(String),
    #[error("invalid --inconclusive {0:?}: expected pass or fail")]
    Inconclusive(String),
    #[error("--analysis needs --bake: the canary is judged over each wave's bake")]
    AnalysisWithoutBake,
}

/// The spec's knobs, checked: how to cut waves and how the machine behaves.
pub(crate) fn parse_spec(spec: &RolloutSpec) -> Result<(Strategy, Settings), SpecError> {
    let optional = |text: &str| (!text.trim().is_empty()).then(|| text.to_string());
    let strategy = Strategy::parse(
        optional(&spec.canary).as_deref(),
        optional(&spec.batch).as_deref(),
        optional(&spec.steps).as_deref(),
        optional(&spec.group_by).as_deref(),
    )?;
    let defaults = Settings::default();
    let max_failures = match optional(&spec.max_failures) {
        Some(text) => Rate::parse(&text, "--max-failures", true)?,
        None => defaults.max_failures,
    };
    let gates = spec
        .gates
        .iter()
        .map(|g| Gate::parse(g))
        .collect::<Result<Vec<_>, _>>()?;
    let on_failure = match spec.on_failure.trim() {
        "" | "pause" => OnFailure::Pause,
        "rollback" => OnFailure::Rollback,
        other => return Err(SpecError::OnFailure(other.to_string())),
    };
    let offline = match spec.offline.trim() {
        "" | "wait" => Offline::Wait,
        "skip" => Offline::Skip,
        other => return Err(SpecError::Offline(other.to_string())),
    };
    let analyses = spec
        .analysis
        .iter()
        .map(|text| parse_analysis(text))
        .collect::<Result<Vec<_>, _>>()?;
    let inconclusive = match spec.inconclusive.trim() {
        "" | "fail" => Inconclusive::Fail,
        "pass" => Inconclusive::Pass,
        other => return Err(SpecError::Inconclusive(other.to_string())),
    };
    if !analyses.is_empty() && spec.bake_ms == 0 {
        return Err(SpecError::AnalysisWithoutBake);
    }
    let ms = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    let settings = Settings {
        max_failures,
        bake_ms: ms(spec.bake_ms),
        gates,
        auto_promote: spec.auto_promote,
        on_failure,
        pause_timeout_ms: (spec.pause_timeout_ms > 0).then(|| ms(spec.pause_timeout_ms)),
        offline,
        offline_timeout_ms: match spec.offline_timeout_ms {
            0 => defaults.offline_timeout_ms,
            value => ms(value),
        },
        late_window_ms: match spec.late_window_ms {
            0 => defaults.late_window_ms,
            value => ms(value),
        },
        analyses,
        inconclusive,
        approvals: spec.approvals,
        approval_ttl_ms: (spec.approval_ttl_ms > 0).then(|| ms(spec.approval_ttl_ms)),
        approval_role: Some(spec.approval_role.clone()).filter(|r| !r.is_empty()),
        // Set by the driver from the record (`created_by`).
        starter: String::new(),
        start_at: (spec.start_at_unix_ms > 0).then_some(spec.start_at_unix_ms),
    };
    Ok((strategy, settings))
}

/// One `--analysis` expression: the grammar of `analysis::verdict`, on a signal the
/// metrics history keeps (the samples are read from it).
fn parse_analysis(text: &str) -> Result<Analysis, SpecError> {
    let analysis = Analysis::parse(text).map_err(SpecError::Analysis)?;
    crate::history::SeriesId::parse(&analysis.signal)
        .map_err(|why| SpecError::Analysis(format!("analysis {text:?}: {why}")))?;
    Ok(analysis)
}

/// How long the commands of a rollout wait for an offline host: as long as the rollout
/// itself waits for one.
pub(crate) fn delivery_timeout(settings: &Settings) -> Duration {
    Duration::from_millis(u64::try_from(settings.offline_timeout_ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
