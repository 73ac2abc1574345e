//! Analysis (issue 16): the statistics that judge a canary against its baseline. Pure: no
//! I/O, no clock; the rollout driver and the reports will feed it samples from the metrics
//! history.
//!
//! - [`stats`]: the Mann–Whitney U rank test (two-sided and one-sided, normal approximation
//!   with tie and continuity corrections, as `scipy.stats.mannwhitneyu(method="asymptotic")`)
//!   and medians.
//! - [`capacity`]: percentiles (numpy's linear interpolation), hosts sustained hot or idle,
//!   a least-squares trend with the days left until a threshold, and the hosts a group needs
//!   to keep its p95 under a target.
//! - [`report`]: the post-deployment report assembled from a rollout's replayed log, its
//!   hosts' outcomes and their metrics before and after their update (deltas tested with
//!   the two-sided Mann–Whitney U), and its one- or two-line summary.
//! - [`scaling`]: target tracking for `[[scaling]]` policies: the size that brings a
//!   group's metric to its target within min/max, and one action per cooldown.
//! - [`verdict`]: a canary's samples against the baseline's, under a bound such as
//!   `<= 1.2*baseline`: pass, fail or inconclusive, with the p-value, medians and counts.

pub mod capacity;
pub mod report;
pub mod scaling;
pub mod stats;
pub mod verdict;
