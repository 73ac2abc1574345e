use super::*;

fn spec(analysis: &[&str], bake_ms: u64, inconclusive: &str) -> RolloutSpec {
    RolloutSpec {
        app: "web".into(),
        version: "2".into(),
        bake_ms,
        analysis: analysis.iter().map(|a| (*a).to_string()).collect(),
        inconclusive: inconclusive.into(),
        ..Default::default()
    }
}

#[test]
fn analyses_and_the_inconclusive_policy_are_parsed() {
    let (_, settings) = parse_spec(&spec(&["cpu<=1.2*baseline", "load1<4"], 60_000, "")).unwrap();
    assert_eq!(settings.analyses.len(), 2);
    assert_eq!(settings.analyses[0].to_string(), "cpu<=1.2*baseline");
    assert_eq!(settings.inconclusive, Inconclusive::Fail, "the default");
    let (_, settings) = parse_spec(&spec(&["mem<90"], 1, "pass")).unwrap();
    assert_eq!(settings.inconclusive, Inconclusive::Pass);
}

#[test]
fn a_bad_analysis_is_refused_with_its_column() {
    let err = parse_spec(&spec(&["cpu<=1.2*basline"], 60_000, "")).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("invalid --analysis"), "{text}");
    assert!(text.contains("column 6"), "{text}");
    let err = parse_spec(&spec(&["latency_p99<=baseline"], 60_000, "")).unwrap_err();
    assert!(err.to_string().contains("unknown series"), "{err}");
    assert_eq!(
        parse_spec(&spec(&["cpu<baseline"], 0, "")).unwrap_err(),
        SpecError::AnalysisWithoutBake
    );
    assert_eq!(
        parse_spec(&spec(&[], 0, "maybe")).unwrap_err(),
        SpecError::Inconclusive("maybe".into())
    );
}
