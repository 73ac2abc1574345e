//! scipy's answers on fixed samples, and the test's false-alarm rate on identical
//! distributions.

use rand::{Rng as _, SeedableRng as _};

use super::*;

/// `scipy.stats.mannwhitneyu(x, y, alternative=..., method="asymptotic",
/// use_continuity=True)` with scipy 1.17.1: (x, y, U1, [two-sided, greater, less]).
#[allow(clippy::type_complexity)]
const SCIPY: &[(&[f64], &[f64], f64, [f64; 3])] = &[
    (
        &[1.0, 2.0, 3.0, 4.0, 5.0],
        &[6.0, 7.0, 8.0, 9.0, 10.0],
        0.0,
        [
            0.012185780355344813,
            0.9966923245172357,
            0.006092890177672406,
        ],
    ),
    (
        &[1.1, 2.2, 3.3, 4.4],
        &[1.1, 2.2, 3.3, 4.4],
        8.0,
        [1.0, 0.5587899429622483, 0.5587899429622483],
    ),
    (
        &[19.0, 22.0, 16.0, 29.0, 24.0],
        &[20.0, 11.0, 17.0, 12.0],
        17.0,
        [
            0.11134688653314041,
            0.055673443266570206,
            0.9669037101389033,
        ],
    ),
    (
        &[0.01, 0.012, 0.011, 0.013, 0.012, 0.011, 0.014, 0.012],
        &[0.02, 0.021, 0.019, 0.022, 0.02, 0.023, 0.018, 0.021],
        0.0,
        [
            0.0008831659948526897,
            0.9996991948287826,
            0.00044158299742634485,
        ],
    ),
    (
        &[1.0, 1.0, 1.0, 2.0, 2.0, 3.0],
        &[1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0],
        10.0,
        [0.11736806757775355, 0.95683214106771, 0.05868403378887677],
    ),
    (
        &[5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0],
        &[5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 6.0],
        50.0,
        [0.3908282308519907, 0.8528669478475186, 0.19541411542599535],
    ),
];

#[test]
fn u_and_p_values_match_scipy() {
    for (x, y, u1, ps) in SCIPY {
        for (alternative, want) in [
            Alternative::TwoSided,
            Alternative::Greater,
            Alternative::Less,
        ]
        .into_iter()
        .zip(ps)
        {
            let got = mann_whitney_u(x, y, alternative).unwrap();
            assert_eq!(got.u1, *u1, "U1 of {x:?} vs {y:?}");
            let error = (got.p - want).abs() / want.max(1e-12);
            assert!(
                error < 1e-6,
                "{alternative:?} p of {x:?} vs {y:?}: {} (scipy {want})",
                got.p
            );
        }
    }
}

#[test]
fn nothing_to_rank_is_none_and_all_equal_is_p_one() {
    assert_eq!(mann_whitney_u(&[], &[1.0], Alternative::TwoSided), None);
    assert_eq!(mann_whitney_u(&[1.0], &[], Alternative::Greater), None);
    assert_eq!(
        mann_whitney_u(&[1.0, f64::NAN], &[1.0], Alternative::Less),
        None
    );
    let same = mann_whitney_u(&[3.0; 5], &[3.0; 7], Alternative::Greater).unwrap();
    assert_eq!(same.p, 1.0);
    // One value each: no variance to speak of, but a rank all the same.
    let one = mann_whitney_u(&[2.0], &[1.0], Alternative::Greater).unwrap();
    assert_eq!(one.u1, 1.0);
    assert!((0.0..=1.0).contains(&one.p));
}

#[test]
fn medians() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[f64::NAN, 1.0]), None);
    assert_eq!(median(&[3.0]), Some(3.0));
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(median(&[5.0, -1.0, 2.0]), Some(2.0));
}

#[test]
fn the_normal_tail_is_accurate() {
    // (z, P(Z > z)) from scipy.stats.norm.sf.
    for (z, want) in [
        (0.0, 0.5),
        (1.0, 0.15865525393145707),
        (1.959963984540054, 0.025),
        (-2.0, 0.9772498680518208),
        (4.0, 3.167124183311986e-05),
    ] {
        let got = normal_sf(z);
        assert!(
            (got - want).abs() / want < 1e-6,
            "sf({z}) = {got}, want {want}"
        );
    }
}

/// Two samples of the same distribution are judged different (two-sided p < 0.05) about
/// 5 % of the time, as a test at that level should: over 2,000 seeded trials, between 2 %
/// and 8 %.
#[test]
fn identical_distributions_are_rarely_judged_different() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(20_261_203);
    let trials = 2_000;
    let mut alarms = 0;
    for _ in 0..trials {
        let (n1, n2) = (rng.random_range(8..40), rng.random_range(8..40));
        // Coarse values (0.0, 0.5, ... 10.0), so ties are common, as in real metrics.
        let mut draw = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|_| f64::from(rng.random_range(0..=20u8)) / 2.0)
                .collect()
        };
        let (x, y) = (draw(n1), draw(n2));
        if mann_whitney_u(&x, &y, Alternative::TwoSided).unwrap().p < 0.05 {
            alarms += 1;
        }
    }
    let rate = f64::from(alarms) / f64::from(trials);
    assert!((0.02..=0.08).contains(&rate), "false alarms: {rate}");
}
