//! A canary's samples of one signal against the baseline's, under a bound an operator
//! wrote (`--analysis 'latency_p99<=1.2*baseline'`): pass, fail or inconclusive.
//!
//! The rule: a wave fails a signal only when the canary's median breaks the bound **and**
//! the rank test says the canary is worse than the baseline (one-sided Mann–Whitney U at
//! `alpha`), so neither a noisy median nor a significant but harmless shift fails a wave.
//! An absolute bound (`error_rate<=0.05`) is judged on the median alone. Too few samples
//! on either side is inconclusive (the caller extends the bake once, then applies
//! `--inconclusive pass|fail`).

use super::stats::{Alternative, mann_whitney_u, median};

/// The comparison of an analysis bound; "worse" is the direction it forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Le,
    Lt,
    Ge,
    Gt,
}

impl Op {
    fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Le => value <= limit,
            Op::Lt => value < limit,
            Op::Ge => value >= limit,
            Op::Gt => value > limit,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }
}

/// The right-hand side: a number, or the baseline's median scaled or offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Absolute(f64),
    /// `F*baseline` (`baseline` alone is `1*baseline`).
    Scaled(f64),
    /// `baseline+D` or `baseline-D`.
    Offset(f64),
}

/// One `--analysis` expression: `SIGNAL OP BOUND`.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub signal: String,
    pub op: Op,
    pub bound: Bound,
}

impl Analysis {
    /// Parses `latency_p99<=1.2*baseline`, `error_rate<=baseline+0.01`, `cpu<baseline`,
    /// `error_rate<=0.05`; the error names the column.
    pub fn parse(text: &str) -> Result<Self, String> {
        let err = |column: usize, why: &str| format!("analysis {text:?}, column {column}: {why}");
        let at = text
            .find(['<', '>'])
            .ok_or_else(|| err(1, "expected SIGNAL<=BOUND (or <, >=, >)"))?;
        let signal = text[..at].trim();
        if signal.is_empty()
            || !signal
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '/' | '.'))
        {
            return Err(err(1, "expected a signal name (letters, digits, _ : / .)"));
        }
        let rest = &text[at..];
        let (op, width) = match rest.as_bytes() {
            [b'<', b'=', ..] => (Op::Le, 2),
            [b'>', b'=', ..] => (Op::Ge, 2),
            [b'<', ..] => (Op::Lt, 1),
            _ => (Op::Gt, 1),
        };
        let column = at + width + 1;
        let rhs: String = rest[width..]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let number = |s: &str| -> Result<f64, String> {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| err(column, &format!("{s:?} is not a number")))
        };
        let bound = if rhs == "baseline" {
            Bound::Scaled(1.0)
        } else if let Some(factor) = rhs.strip_suffix("*baseline") {
            let factor = number(factor)?;
            if factor <= 0.0 {
                return Err(err(column, "the factor must be greater than 0"));
            }
            Bound::Scaled(factor)
        } else if let Some(delta) = rhs.strip_prefix("baseline+") {
            Bound::Offset(number(delta)?)
        } else if let Some(delta) = rhs.strip_prefix("baseline-") {
            Bound::Offset(-number(delta)?)
        } else if rhs.contains("baseline") {
            return Err(err(
                column,
                "expected baseline, F*baseline, baseline+D, baseline-D or a number",
            ));
        } else {
            Bound::Absolute(number(&rhs)?)
        };
        Ok(Self {
            signal: signal.to_string(),
            op,
            bound,
        })
    }

    /// The limit the canary's median is held to, given the baseline's median.
    pub fn limit(&self, baseline_median: f64) -> f64 {
        match self.bound {
            Bound::Absolute(v) => v,
            Bound::Scaled(f) => f * baseline_median,
            Bound::Offset(d) => baseline_median + d,
        }
    }
}

impl std::fmt::Display for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bound = match self.bound {
            Bound::Absolute(v) => format!("{v}"),
            Bound::Scaled(1.0) => "baseline".to_string(),
            Bound::Scaled(s) => format!("{s}*baseline"),
            Bound::Offset(d) if d < 0.0 => format!("baseline-{}", -d),
            Bound::Offset(d) => format!("baseline+{d}"),
        };
        write!(f, "{}{}{bound}", self.signal, self.op.text())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
}

/// What the judgement saw, for `rollout status` and the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub verdict: Verdict,
    /// One-sided p-value that the canary is worse than the baseline (None: not computed,
    /// too few samples).
    pub p_value: Option<f64>,
    pub canary_median: Option<f64>,
    pub baseline_median: Option<f64>,
    pub canary_samples: usize,
    pub baseline_samples: usize,
    /// One line: why.
    pub reason: String,
}

/// Judges `canary` against `baseline` (NaN samples are dropped first).
pub fn judge(
    analysis: &Analysis,
    canary: &[f64],
    baseline: &[f64],
    min_samples: usize,
    alpha: f64,
) -> Judgement {
    let clean = |v: &[f64]| -> Vec<f64> { v.iter().copied().filter(|x| !x.is_nan()).collect() };
    let (canary, baseline) = (clean(canary), clean(baseline));
    let absolute = matches!(analysis.bound, Bound::Absolute(_));
    let mut judgement = Judgement {
        verdict: Verdict::Inconclusive,
        p_value: None,
        canary_median: median(&canary),
        baseline_median: median(&baseline),
        canary_samples: canary.len(),
        baseline_samples: baseline.len(),
        reason: String::new(),
    };
    let needed_baseline = if absolute { 0 } else { min_samples.max(1) };
    if canary.len() < min_samples.max(1) || baseline.len() < needed_baseline {
        judgement.reason = format!(
            "{analysis}: too few samples ({} canary, {} baseline; {} needed each)",
            canary.len(),
            baseline.len(),
            min_samples.max(1)
        );
        return judgement;
    }
    // "Worse" is the direction the bound forbids: above it for < and <=.
    let worse = match analysis.op {
        Op::Le | Op::Lt => Alternative::Greater,
        Op::Ge | Op::Gt => Alternative::Less,
    };
    judgement.p_value = mann_whitney_u(&canary, &baseline, worse).map(|t| t.p);
    let Some(canary_median) = judgement.canary_median else {
        return judgement;
    };
    let limit = analysis.limit(judgement.baseline_median.unwrap_or(0.0));
    let within = analysis.op.holds(canary_median, limit);
    let significant = judgement.p_value.is_some_and(|p| p < alpha);
    let shown = |p: Option<f64>| p.map_or("-".to_string(), |p| format!("{p:.4}"));
    judgement.verdict = if within || (!absolute && !significant) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    judgement.reason = format!(
        "{analysis}: canary median {canary_median} {} limit {limit}; p={} (alpha {alpha})",
        if within { "within" } else { "past" },
        shown(judgement.p_value),
    );
    judgement
}

#[cfg(test)]
mod tests;
