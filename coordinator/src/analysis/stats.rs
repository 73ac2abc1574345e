//! The Mann–Whitney U test and medians, on plain slices of samples.
//!
//! The p-values are those of `scipy.stats.mannwhitneyu(x, y, alternative=...,
//! method="asymptotic", use_continuity=True)`: average ranks for ties, the tie-corrected
//! standard deviation, a continuity correction of 0.5, and the normal survival function.
//! The table in `stats/tests.rs` holds scipy's answers for fixed samples.

/// Which difference the test looks for, as scipy's `alternative`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// The distributions differ, either way.
    TwoSided,
    /// `x` tends to be greater than `y`.
    Greater,
    /// `x` tends to be less than `y`.
    Less,
}

/// The outcome of one test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample (`x`): the number of pairs (a, b), a from `x` and b from `y`,
    /// with a > b, ties counting one half.
    pub u1: f64,
    /// The p-value under the chosen alternative, in [0, 1].
    pub p: f64,
}

/// The Mann–Whitney U test of `x` against `y`. None when either sample is empty or holds a
/// NaN (there is nothing to rank). When every value is the same the test cannot tell the
/// samples apart: p = 1.
pub fn mann_whitney_u(x: &[f64], y: &[f64], alternative: Alternative) -> Option<MannWhitney> {
    if x.is_empty() || y.is_empty() || x.iter().chain(y).any(|v| v.is_nan()) {
        return None;
    }
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let n = n1 + n2;
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Average ranks (1-based) for runs of equal values; the tie term sums t^3 - t.
    let (mut rank_sum_x, mut tie_term) = (0.0, 0.0);
    let mut start = 0;
    while start < all.len() {
        let mut end = start + 1;
        while end < all.len() && all[end].0 == all[start].0 {
            end += 1;
        }
        let t = (end - start) as f64;
        let rank = (start + end + 1) as f64 / 2.0;
        rank_sum_x += rank * all[start..end].iter().filter(|(_, in_x)| *in_x).count() as f64;
        tie_term += t * t * t - t;
        start = end;
    }
    let u1 = rank_sum_x - n1 * (n1 + 1.0) / 2.0;
    let u2 = n1 * n2 - u1;
    let mu = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if variance <= 0.0 || !variance.is_finite() {
        return Some(MannWhitney { u1, p: 1.0 });
    }
    let sd = variance.sqrt();
    let z = |u: f64| (u - mu - 0.5) / sd;
    let p = match alternative {
        Alternative::Greater => normal_sf(z(u1)),
        Alternative::Less => normal_sf(z(u2)),
        Alternative::TwoSided => 2.0 * normal_sf(z(u1.max(u2))),
    };
    Some(MannWhitney {
        u1,
        p: p.clamp(0.0, 1.0),
    })
}

/// The median of `values` (the mean of the two middle ones for an even count); None for
/// an empty slice or one holding a NaN.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 0 {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, to a relative error below 1.2e-7 everywhere
/// (the Chebyshev fit of Numerical Recipes' `erfcc`).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests;
