use convoy_proto::v1::{
    AnalysisVerdict, ReportHost, ReportRollback, ReportWave, RolloutHostState, RolloutState,
};

use super::*;
use crate::analysis::report::delta;

fn report() -> RolloutReport {
    let mut failed = ReportHost {
        host: "web-1".into(),
        wave: 0,
        reason: "deploy failed: health check | exit 1\u{1b}[31m".into(),
        previous_version: "1.0".into(),
        deployed_unix_ms: 1_764_756_060_000,
        rolled_back_unix_ms: 1_764_756_070_000,
        ..Default::default()
    };
    failed.set_state(RolloutHostState::RolledBack);
    let mut wave = ReportWave {
        index: 0,
        planned_hosts: 1,
        parallel: 1,
        started_unix_ms: 1_764_756_000_000,
        failed: 1,
        analysis: vec![AnalysisVerdict {
            analysis: "mem<0.001".into(),
            verdict: "fail".into(),
            canary_samples: 9,
            ..Default::default()
        }],
        ..Default::default()
    };
    wave.set_state(convoy_proto::v1::RolloutWaveState::Running);
    let before: Vec<f64> = (10..20).map(f64::from).collect();
    let after: Vec<f64> = (40..50).map(f64::from).collect();
    let mut report = RolloutReport {
        id: "r-1".into(),
        app: "web".into(),
        version: "2.0".into(),
        selector: "role=web".into(),
        created_by: "alice".into(),
        created_unix_ms: 1_764_756_000_000,
        finished_unix_ms: 1_764_756_080_000,
        generated_unix_ms: 1_764_756_140_000,
        stored: true,
        summary: "web 2.0: rolled back — 0/2 hosts updated, 1 failed (budget 0), 1m20s\n\
                  worst significant change: cpu 14.5 → 44.5 (+206.9%, p=0.0002)"
            .into(),
        targets: 2,
        failures: 1,
        waves: vec![wave],
        hosts: vec![failed],
        rollback: Some(ReportRollback {
            started_unix_ms: 1_764_756_060_000,
            finished_unix_ms: 1_764_756_070_000,
            trigger: "failures past the budget (--on-failure rollback)".into(),
            rolled_back: 1,
            failed: 0,
        }),
        deltas: vec![
            delta("cpu", "", &before, &after, 0.05),
            delta("cpu", "web-1", &before, &after, 0.05),
            delta("cpu", "web-9", &before, &after, 0.05),
        ],
        alpha: 0.05,
        window_ms: 3_600_000,
        compared_hosts: 1,
        deployed_hosts: 1,
        ..Default::default()
    };
    report.set_state(RolloutState::RolledBack);
    report
}

#[test]
fn markdown_has_a_heading_a_table_per_section_and_the_failed_host() {
    let md = markdown(&report());
    assert!(
        md.starts_with("## Rollout r-1: web 2.0 — rolled back\n\n> web 2.0: rolled back"),
        "{md}"
    );
    for heading in [
        "### Overview",
        "### Timeline",
        "### Who did what",
        "### Hosts",
        "### Rollback",
        "### Metric deltas",
        "### Canary analysis",
    ] {
        assert!(
            md.contains(&format!("\n{heading}\n\n")),
            "{heading} missing:\n{md}"
        );
    }
    assert!(md.contains("| Host | Wave | Outcome |"), "{md}");
    let host_row = md
        .lines()
        .find(|l| l.starts_with("| web-1 |"))
        .expect("the failed host's row");
    assert!(host_row.contains("rolled_back"), "{host_row}");
    assert!(
        host_row.contains("deploy failed: health check \\| exit 1"),
        "{host_row}"
    );
    // The failed host's own deltas are shown, other hosts' only in JSON.
    assert!(
        md.contains("| cpu | web-1 | 14.5 | 44.5 | +30 (+206.9%) | 0.0002 | yes | 10/10 |"),
        "{md}"
    );
    assert!(md.contains("| cpu | all compared |"), "{md}");
    assert!(!md.contains("web-9"), "{md}");
    assert!(!md.contains('\u{1b}'), "no ANSI");
    // Every row of a table has as many cells as its header.
    for table in md.split("\n\n").filter(|b| b.starts_with('|')) {
        let widths: Vec<usize> = table
            .lines()
            .map(|l| l.replace("\\|", "").matches('|').count())
            .collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{table}");
    }
}

#[test]
fn the_json_shape_names_every_part() {
    let json = to_json(&report());
    assert_eq!(json["state"], "rolled_back");
    assert_eq!(json["stored"], true);
    assert_eq!(json["hosts"][0]["host"], "web-1");
    assert_eq!(json["hosts"][0]["state"], "rolled_back");
    assert_eq!(json["hosts"][0]["deployed"], "2025-12-03T10:01:00.000Z");
    assert_eq!(json["rollback"]["rolled_back"], 1);
    assert_eq!(json["waves"][0]["analysis"][0]["verdict"], "fail");
    assert_eq!(json["deltas"]["alpha"], 0.05);
    assert_eq!(json["deltas"]["series"][0]["series"], "cpu");
    assert_eq!(json["deltas"]["series"][0]["host"], serde_json::Value::Null);
    assert_eq!(json["deltas"]["series"][1]["host"], "web-1");
    assert_eq!(json["deltas"]["series"][0]["significant"], true);
    assert!(json["summary"].as_str().unwrap().contains("rolled back"));
}

#[test]
fn tables_show_the_title_summary_and_sections() {
    let text = tables(&report());
    assert!(
        text.starts_with("Rollout r-1: web 2.0 — rolled back\nweb 2.0"),
        "{text}"
    );
    assert!(text.contains("\nHOSTS\n"), "{text}");
    assert!(text.contains("\nMETRIC DELTAS\n"), "{text}");
}
