//! Canary analysis (`--analysis`): when a wave's bake ends the machine asks the driver for
//! a verdict ([`Rollout::analysis_due`]) and waits; the driver judges the wave's updated
//! hosts against the hosts not yet updated over the bake (from the metrics history) and
//! feeds the results back as [`Event::Analysis`](super::Event::Analysis), which is logged
//! like any event, so a replay reaches the same verdict without reading the history again.
//!
//! A failed analysis fails the wave like a failed gate: its updated hosts fail with the
//! reason, and the rollout pauses or rolls back per `--on-failure` whatever the budget.
//! An inconclusive one (too few samples) extends the bake once by one bake length; still
//! inconclusive after that, it counts as `--inconclusive pass|fail`.

use crate::analysis::verdict::Verdict;

use super::{Action, AnalysisResult, HostState, Inconclusive, Rollout, State};

/// One wave's analysis state.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct WaveAnalysis {
    /// When the wave's bake began (unix ms).
    pub(super) bake_started: Option<i64>,
    /// The bake ended and a verdict is awaited.
    pub(super) due: bool,
    /// The end of the judged window: when the bake ended, plus one bake length after the
    /// extension.
    pub(super) bake_ended: Option<i64>,
    /// The bake was extended once for an inconclusive analysis.
    pub(super) extended: bool,
    /// A verdict was reached: the bake's end moves on.
    pub(super) decided: bool,
    /// The latest round's results.
    pub(super) results: Vec<AnalysisResult>,
}

/// What the driver judges: the canary hosts against the baseline hosts over
/// `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisWindow {
    /// 0-based wave.
    pub wave: usize,
    pub from: i64,
    pub to: i64,
    /// 1 at the bake's end, 2 after the extension.
    pub round: u32,
    /// The wave's hosts whose deploy succeeded.
    pub canary: Vec<String>,
    /// Hosts not yet updated (pending).
    pub baseline: Vec<String>,
}

impl Rollout {
    /// The analysis the driver must judge now, if a wave's bake ended and waits for it.
    pub fn analysis_due(&self) -> Option<AnalysisWindow> {
        let analysis = self.analysis.get(self.wave)?;
        if !analysis.due || self.phase != State::Baking {
            return None;
        }
        let from = analysis.bake_started?;
        let wave = &self.waves[self.wave];
        let canary = wave
            .hosts
            .iter()
            .filter(|&&i| self.hosts[i].state == HostState::Succeeded)
            .map(|&i| self.hosts[i].id.clone())
            .collect();
        let baseline = self
            .hosts
            .iter()
            .filter(|h| h.state == HostState::Pending)
            .map(|h| h.id.clone())
            .collect();
        let round = if analysis.extended { 2 } else { 1 };
        Some(AnalysisWindow {
            wave: self.wave,
            from,
            to: analysis.bake_ended.unwrap_or(from),
            round,
            canary,
            baseline,
        })
    }

    /// The results of wave `wave`'s analysis (latest round), empty if it was not judged.
    pub fn wave_analysis(&self, wave: usize) -> &[AnalysisResult] {
        self.analysis
            .get(wave)
            .map_or(&[], |a| a.results.as_slice())
    }

    /// The current wave's bake is over: with analyses it asks for a verdict first, and
    /// the wave moves on only once one let it.
    pub(super) fn bake_over(&mut self, now: i64, out: &mut Vec<Action>) {
        if !self.bake_ended(now) {
            self.wave_baked(now, out);
        }
    }

    /// The current wave's bake ended: true when the machine now waits for a verdict
    /// (the wave must not move on yet).
    pub(super) fn bake_ended(&mut self, now: i64) -> bool {
        if self.settings.analyses.is_empty() {
            return false;
        }
        let analysis = &mut self.analysis[self.wave];
        if analysis.decided {
            return false;
        }
        analysis.due = true;
        // After the extension the window is exactly two bake lengths (the wait for the
        // first verdict is not part of it).
        if !analysis.extended {
            analysis.bake_ended = Some(now);
        }
        self.bake_until = None;
        true
    }

    /// The driver's verdicts for wave `wave`.
    pub(super) fn analysed(&mut self, now: i64, wave: usize, results: Vec<AnalysisResult>) {
        if wave != self.wave || self.phase != State::Baking {
            return;
        }
        let Some(analysis) = self.analysis.get_mut(wave) else {
            return;
        };
        if !analysis.due {
            return;
        }
        analysis.due = false;
        let verdict = |r: &AnalysisResult| r.judgement.verdict;
        let failed: Vec<&AnalysisResult> = results
            .iter()
            .filter(|r| verdict(r) == Verdict::Fail)
            .collect();
        let inconclusive: Vec<&AnalysisResult> = results
            .iter()
            .filter(|r| verdict(r) == Verdict::Inconclusive)
            .collect();
        let reason = if !failed.is_empty() {
            Some(format!("canary analysis failed: {}", reasons(&failed)))
        } else if inconclusive.is_empty() {
            None
        } else if !analysis.extended {
            // Too few samples: bake once more for one bake length, then judge again.
            analysis.extended = true;
            analysis.results = results;
            analysis.bake_ended = analysis
                .bake_ended
                .map(|end| end.saturating_add(self.settings.bake_ms));
            self.bake_until = Some(now.saturating_add(self.settings.bake_ms));
            return;
        } else if self.settings.inconclusive == Inconclusive::Fail {
            Some(format!(
                "canary analysis inconclusive after the extended bake (--inconclusive \
                 fail): {}",
                reasons(&inconclusive)
            ))
        } else {
            None
        };
        analysis.decided = true;
        analysis.results = results;
        // The bake is over: a resume after a failure pause moves on from here.
        self.bake_until = Some(now);
        if let Some(reason) = reason {
            self.fail_wave(&reason);
        }
    }

    /// Every updated host of the current wave fails with `reason`, and the rollout stops
    /// moving forward (a pause or a rollback, per `--on-failure`).
    fn fail_wave(&mut self, reason: &str) {
        for position in 0..self.waves[self.wave].hosts.len() {
            let i = self.waves[self.wave].hosts[position];
            if self.hosts[i].state == HostState::Succeeded {
                self.waves[self.wave].succeeded -= 1;
                self.hosts[i].state = HostState::Failed;
                self.hosts[i].reason = Some(reason.to_string());
                self.count_failure();
            }
        }
        self.halted = true;
    }
}

fn reasons(results: &[&AnalysisResult]) -> String {
    results
        .iter()
        .map(|r| r.judgement.reason.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}
