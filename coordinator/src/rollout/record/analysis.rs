//! Canary analysis results between the machine ([`AnalysisResult`]) and the wire
//! (`AnalysisVerdict`, in the log and in `RolloutWave.analysis`).

use convoy_proto::v1::AnalysisVerdict;

use crate::analysis::verdict::{Judgement, Verdict};
use crate::rollout::machine::AnalysisResult;

/// The operator's word for a verdict (`pass`, `fail`, `inconclusive`).
pub(crate) fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Inconclusive => "inconclusive",
    }
}

pub(crate) fn to_proto(result: &AnalysisResult) -> AnalysisVerdict {
    let j = &result.judgement;
    AnalysisVerdict {
        analysis: result.analysis.clone(),
        verdict: verdict_name(j.verdict).to_string(),
        p_value: j.p_value,
        canary_median: j.canary_median,
        baseline_median: j.baseline_median,
        canary_samples: u32::try_from(j.canary_samples).unwrap_or(u32::MAX),
        baseline_samples: u32::try_from(j.baseline_samples).unwrap_or(u32::MAX),
        reason: j.reason.clone(),
        round: result.round,
    }
}

/// Back from the log. An unknown verdict word (a newer build's) is inconclusive.
pub(crate) fn from_proto(verdict: &AnalysisVerdict) -> AnalysisResult {
    AnalysisResult {
        analysis: verdict.analysis.clone(),
        judgement: Judgement {
            verdict: match verdict.verdict.as_str() {
                "pass" => Verdict::Pass,
                "fail" => Verdict::Fail,
                _ => Verdict::Inconclusive,
            },
            p_value: verdict.p_value,
            canary_median: verdict.canary_median,
            baseline_median: verdict.baseline_median,
            canary_samples: verdict.canary_samples as usize,
            baseline_samples: verdict.baseline_samples as usize,
            reason: verdict.reason.clone(),
        },
        round: verdict.round,
    }
}
