//! Canary analysis: when a rollout's machine asks for a verdict
//! ([`Rollout::analysis_due`](crate::rollout::machine::Rollout::analysis_due)), read each
//! analysis signal of the canary and baseline hosts over the bake from the metrics history,
//! judge them (`analysis::verdict::judge`) and feed the results in as one logged
//! `Analysis` event. A replay reads the verdict from the log, never the history again.
//!
//! The history writes a minute's samples when that minute closes, so the verdict waits
//! until the minute holding the bake's end is written ([`SETTLE_MS`] after it closes).

use super::Driver;
use crate::analysis::verdict::{self, Analysis, Bound};
use crate::clock::now_unix_ms;
use crate::history::{HistoryConfig, MINUTE_MS, SeriesId, query_host};
use crate::rollout::machine::{AnalysisResult, AnalysisWindow, Event};
use crate::store::Store;

/// Samples needed on each side before a relative bound is judged (fewer: inconclusive).
pub const MIN_SAMPLES: usize = 8;
/// Significance level of the one-sided Mann–Whitney test.
pub const ALPHA: f64 = 0.05;
/// Hosts read per side at most (plan order), so one verdict is bounded work.
pub const MAX_HOSTS: usize = 64;
/// How long after a minute closes its samples are surely in the history (the writer
/// ticks every second).
pub const SETTLE_MS: i64 = 2_500;

impl Driver {
    /// Judges every analysis that is due and whose window the history already holds.
    pub(super) fn check_analyses(&mut self) {
        let Some(history) = self.history else { return };
        let now = now_unix_ms();
        let mut verdicts = Vec::new();
        for (id, loaded) in &self.active {
            let Some(window) = loaded.machine.analysis_due() else {
                continue;
            };
            let analyses = judged(&loaded.machine.settings().analyses, &window);
            // Nothing to read (only relative bounds and no baseline left): no wait.
            if !analyses.is_empty() && now < written_by(window.to) {
                continue;
            }
            let results = judge_window(&self.store, &history, &analyses, &window, now);
            verdicts.push((
                id.clone(),
                Event::Analysis {
                    wave: window.wave,
                    results,
                },
            ));
        }
        for (id, event) in verdicts {
            self.apply_event(&id, &event);
        }
    }
}

/// When the history holds every sample taken before `to`.
pub fn written_by(to: i64) -> i64 {
    let minute_end = to.div_euclid(MINUTE_MS) * MINUTE_MS
        + if to.rem_euclid(MINUTE_MS) == 0 {
            0
        } else {
            MINUTE_MS
        };
    minute_end + SETTLE_MS
}

/// The analyses that can be judged over `window`: a relative bound (`cpu<=1.2*baseline`)
/// needs hosts not yet updated, which the last wave no longer has; absolute ones always.
pub fn judged(analyses: &[Analysis], window: &AnalysisWindow) -> Vec<Analysis> {
    analyses
        .iter()
        .filter(|a| !window.baseline.is_empty() || matches!(a.bound, Bound::Absolute(_)))
        .cloned()
        .collect()
}

/// Each analysis judged over `window`.
fn judge_window(
    store: &Store,
    history: &HistoryConfig,
    analyses: &[Analysis],
    window: &AnalysisWindow,
    now: i64,
) -> Vec<AnalysisResult> {
    analyses
        .iter()
        .map(|analysis| {
            let read =
                |hosts: &[String]| samples(store, history, &analysis.signal, hosts, window, now);
            let (canary, baseline) = (read(&window.canary), read(&window.baseline));
            AnalysisResult {
                analysis: analysis.to_string(),
                judgement: verdict::judge(analysis, &canary, &baseline, MIN_SAMPLES, ALPHA),
                round: window.round,
            }
        })
        .collect()
}

/// Every sample of `signal` on `hosts` in the window, pooled (a failed read counts as no
/// samples: the verdict is then inconclusive, never a guess).
fn samples(
    store: &Store,
    history: &HistoryConfig,
    signal: &str,
    hosts: &[String],
    window: &AnalysisWindow,
    now: i64,
) -> Vec<f64> {
    let Ok(series) = SeriesId::parse(signal) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for host in hosts.iter().take(MAX_HOSTS) {
        // A step of 1 ms keeps every raw sample apart.
        match query_host(
            store,
            history,
            host,
            std::slice::from_ref(&series),
            (window.from, window.to, 1),
            now,
        ) {
            Ok(points) => out.extend(points.into_iter().flatten().map(|p| f64::from(p.stat.avg))),
            Err(err) => {
                tracing::warn!(host = %host, error = %err, "cannot read the metrics history");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_bounds_wait_for_a_baseline_absolute_ones_do_not() {
        let analyses: Vec<Analysis> = ["cpu<=1.2*baseline", "mem<90"]
            .iter()
            .map(|a| Analysis::parse(a).unwrap())
            .collect();
        let mut window = AnalysisWindow {
            wave: 1,
            from: 0,
            to: 1,
            round: 1,
            canary: vec!["a".into()],
            baseline: vec!["b".into()],
        };
        assert_eq!(judged(&analyses, &window).len(), 2);
        window.baseline.clear();
        let last: Vec<String> = judged(&analyses, &window)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(last, vec!["mem<90".to_string()]);
    }

    #[test]
    fn a_window_is_judged_once_its_last_minute_is_written() {
        assert_eq!(written_by(60_000), 60_000 + SETTLE_MS);
        assert_eq!(written_by(60_001), 120_000 + SETTLE_MS);
        assert_eq!(written_by(119_999), 120_000 + SETTLE_MS);
    }
}
