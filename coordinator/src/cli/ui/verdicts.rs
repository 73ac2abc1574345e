//! What judges a rollout, on its page: the failures against the budget (a meter with the
//! numbers in words), and per wave its health gates (held, being watched, or which host
//! broke which gate) and its canary analysis verdicts with the figures behind them (the
//! same fields as `convoy rollout status -o json`: verdict, p-value, medians, sample counts,
//! round). Every verdict carries a glyph and a word beside its colour.

use std::fmt::Write as _;

use convoy_proto::v1::{AnalysisVerdict, RolloutView, RolloutWave};

use super::html::esc;

/// "failures N of budget B" with a `<meter>` (the words are the signal; the bar helps).
pub(crate) fn budget(view: &RolloutView) -> String {
    let (glyph, class, words) = if view.failures > view.failure_budget {
        ("✗", "bad", "over budget")
    } else if view.failures == view.failure_budget && view.failures > 0 {
        ("△", "warn", "budget spent")
    } else {
        ("✓", "ok", "within budget")
    };
    format!(
        "<p class=\"budget\" id=\"budget\" data-failures=\"{f}\" data-budget=\"{b}\">\
         <span class=\"v-{class}\">{glyph} {words}</span>: failures <b id=\"failures\">{f}</b> of budget {b} \
         <meter min=\"0\" max=\"{max}\" low=\"{low}\" high=\"{high}\" optimum=\"0\" value=\"{f}\" \
         aria-label=\"failures against the budget\">{f} of {b}</meter></p>",
        f = view.failures,
        b = view.failure_budget,
        // The scale runs one past the budget, so a spent budget is not a full bar; the
        // meter's regions match the words: under the budget, at it, over it.
        max = view.failure_budget + 1,
        low = (f64::from(view.failure_budget) - 0.5).max(0.0),
        high = f64::from(view.failure_budget) + 0.5,
    )
}

/// A verdict word's glyph and class.
fn mark(verdict: &str) -> (&'static str, &'static str) {
    match verdict {
        "pass" => ("✓", "ok"),
        "fail" => ("✗", "bad"),
        "inconclusive" => ("?", "warn"),
        _ => ("·", "muted"),
    }
}

fn number(v: Option<f64>) -> String {
    v.map_or("–".to_string(), super::plot::significant)
}

/// The gates and the analysis of one wave (empty when the rollout has neither).
pub(crate) fn wave(view: &RolloutView, wave: &RolloutWave) -> String {
    let mut out = String::new();
    let gates = view.spec.as_ref().map_or(&[][..], |s| &s.gates[..]);
    if !gates.is_empty() {
        let broken: Vec<_> = wave
            .hosts
            .iter()
            .filter(|h| h.reason.contains("gate "))
            .collect();
        let (glyph, class, words) = if !broken.is_empty() {
            ("✗", "bad", "broken")
        } else {
            match wave.state().name() {
                "done" => ("✓", "ok", "held"),
                "running" | "baking" => ("◔", "run", "watching"),
                _ => ("·", "muted", "not yet checked"),
            }
        };
        let _ = write!(
            out,
            "<div class=\"gates\" data-gates=\"{words}\"><span class=\"v-{class}\">{glyph} gates {words}</span>: <code>{}</code>",
            esc(&gates.join(", "))
        );
        for host in broken {
            let _ = write!(
                out,
                "<br><small>{}: {}</small>",
                esc(&host.host),
                esc(&host.reason)
            );
        }
        out.push_str("</div>");
    }
    if !wave.analysis.is_empty() {
        out.push_str(&analysis(&wave.analysis));
    }
    out
}

/// The analysis table of a wave.
pub(crate) fn analysis(verdicts: &[AnalysisVerdict]) -> String {
    let mut out = String::from(
        "<div class=\"scroll\"><table class=\"analysis\"><caption>Canary analysis</caption><thead><tr>\
         <th scope=\"col\">Analysis</th><th scope=\"col\">Verdict</th><th scope=\"col\">p</th>\
         <th scope=\"col\">Canary median</th><th scope=\"col\">Baseline median</th>\
         <th scope=\"col\">Samples (canary/baseline)</th><th scope=\"col\">Round</th></tr></thead><tbody>",
    );
    for a in verdicts {
        let (glyph, class) = mark(&a.verdict);
        let reason = if a.reason.is_empty() {
            String::new()
        } else {
            format!("<br><small>{}</small>", esc(&a.reason))
        };
        let _ = write!(
            out,
            "<tr data-verdict=\"{verdict}\"><th scope=\"row\"><code>{}</code></th>\
             <td><span class=\"v-{class}\">{glyph} {verdict}</span>{reason}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}/{}</td><td class=\"num\">{}</td></tr>",
            esc(&a.analysis),
            a.p_value.map_or("–".to_string(), |p| format!("{p:.4}")),
            number(a.canary_median),
            number(a.baseline_median),
            a.canary_samples,
            a.baseline_samples,
            a.round,
            verdict = esc(&a.verdict),
        );
    }
    out.push_str("</tbody></table></div>");
    out
}
