//! Bounds parse (and refuse) as documented; canaries that are worse fail, equal ones pass,
//! thin data is inconclusive.

use super::*;

#[test]
fn bounds_parse_and_print_back() {
    for (text, op, bound) in [
        ("latency_p99<=1.2*baseline", Op::Le, Bound::Scaled(1.2)),
        ("error_rate <= baseline+0.01", Op::Le, Bound::Offset(0.01)),
        ("cpu<baseline", Op::Lt, Bound::Scaled(1.0)),
        ("free_mem>=baseline-100", Op::Ge, Bound::Offset(-100.0)),
        ("error_rate<=0.05", Op::Le, Bound::Absolute(0.05)),
        ("rps>10", Op::Gt, Bound::Absolute(10.0)),
    ] {
        let parsed = Analysis::parse(text).unwrap();
        assert_eq!((parsed.op, parsed.bound), (op, bound), "{text}");
        assert_eq!(
            Analysis::parse(&parsed.to_string()).unwrap(),
            parsed,
            "{text}"
        );
    }
}

#[test]
fn bad_bounds_name_the_column() {
    for (text, column, why) in [
        ("latency", 1, "expected SIGNAL<=BOUND"),
        ("<=baseline", 1, "signal name"),
        ("a b<=1", 1, "signal name"),
        ("x<=2*base", 4, "not a number"),
        ("x<=0*baseline", 4, "greater than 0"),
        ("x<=baseline*2", 4, "expected baseline"),
        ("x<=inf", 4, "not a number"),
        ("x>", 3, "not a number"),
    ] {
        let err = Analysis::parse(text).unwrap_err();
        assert!(
            err.contains(&format!("column {column}")) && err.contains(why),
            "{text}: {err}"
        );
    }
}

fn latency() -> Analysis {
    Analysis::parse("latency_p99<=1.2*baseline").unwrap()
}

#[test]
fn a_canary_well_past_the_bound_fails() {
    let baseline = [100.0, 102.0, 98.0, 101.0, 99.0, 103.0, 100.0, 97.0];
    let canary = [150.0, 149.0, 155.0, 160.0, 151.0, 148.0];
    let judged = judge(&latency(), &canary, &baseline, 5, 0.05);
    assert_eq!(judged.verdict, Verdict::Fail, "{judged:?}");
    assert!(judged.p_value.unwrap() < 0.01);
    assert_eq!(judged.canary_median, Some(150.5));
    assert_eq!(judged.baseline_median, Some(100.0));
    assert_eq!((judged.canary_samples, judged.baseline_samples), (6, 8));
    assert!(
        judged.reason.contains("past limit 120"),
        "{}",
        judged.reason
    );
}

#[test]
fn an_equal_canary_passes_and_a_significant_but_small_shift_passes_too() {
    let baseline = [100.0, 102.0, 98.0, 101.0, 99.0, 103.0, 100.0, 97.0];
    let same = [101.0, 99.0, 100.0, 98.0, 102.0, 100.0];
    assert_eq!(
        judge(&latency(), &same, &baseline, 5, 0.05).verdict,
        Verdict::Pass
    );
    // 10 % slower, every sample: significant, but within 1.2 × baseline.
    let slower = [110.0, 111.0, 109.0, 112.0, 110.0, 111.0];
    let judged = judge(&latency(), &slower, &baseline, 5, 0.05);
    assert!(judged.p_value.unwrap() < 0.05);
    assert_eq!(judged.verdict, Verdict::Pass, "{judged:?}");
}

#[test]
fn a_noisy_median_past_the_bound_without_significance_passes() {
    // The medians differ, but the samples overlap too much to say the canary is worse.
    let baseline = [10.0, 200.0, 12.0, 180.0, 11.0, 190.0];
    let canary = [15.0, 185.0, 195.0, 14.0, 170.0];
    let judged = judge(&latency(), &canary, &baseline, 5, 0.05);
    assert!(judged.canary_median > Some(1.2 * judged.baseline_median.unwrap()));
    assert!(judged.p_value.unwrap() >= 0.05);
    assert_eq!(judged.verdict, Verdict::Pass, "{judged:?}");
}

#[test]
fn too_few_samples_is_inconclusive() {
    let judged = judge(&latency(), &[150.0, 160.0], &[100.0; 10], 5, 0.05);
    assert_eq!(judged.verdict, Verdict::Inconclusive);
    assert_eq!(judged.p_value, None);
    assert!(
        judged.reason.contains("too few samples"),
        "{}",
        judged.reason
    );
    // NaN samples do not count.
    let judged = judge(&latency(), &[f64::NAN; 9], &[100.0; 10], 5, 0.05);
    assert_eq!(judged.verdict, Verdict::Inconclusive);
}

#[test]
fn direction_and_absolute_bounds() {
    // >= forbids "lower": a canary serving fewer requests fails.
    let rps = Analysis::parse("rps>=0.9*baseline").unwrap();
    let baseline = [100.0, 101.0, 99.0, 100.0, 102.0, 98.0];
    let canary = [50.0, 52.0, 49.0, 51.0, 50.0];
    assert_eq!(
        judge(&rps, &canary, &baseline, 5, 0.05).verdict,
        Verdict::Fail
    );
    assert_eq!(
        judge(&rps, &baseline, &canary, 5, 0.05).verdict,
        Verdict::Pass
    );
    // An absolute bound needs no baseline: the median decides.
    let errors = Analysis::parse("error_rate<=0.05").unwrap();
    let high = [0.08, 0.09, 0.07, 0.08, 0.1];
    assert_eq!(judge(&errors, &high, &[], 5, 0.05).verdict, Verdict::Fail);
    let low = [0.01, 0.02, 0.01, 0.0, 0.03];
    assert_eq!(judge(&errors, &low, &[], 5, 0.05).verdict, Verdict::Pass);
}
