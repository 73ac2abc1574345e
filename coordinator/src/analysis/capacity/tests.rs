//! Percentiles and fits against numpy's numbers; hot, idle and the recommendation on a
//! made-up group.

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

#[test]
fn percentiles_match_numpy() {
    // numpy.percentile(v, q), linear interpolation.
    let v = [12.0, 3.5, 7.25, 100.0, 42.0, 0.0, 18.0];
    for (q, want) in [
        (0.0, 0.0),
        (50.0, 12.0),
        (95.0, 82.59999999999997),
        (99.0, 96.51999999999997),
        (100.0, 100.0),
    ] {
        let got = percentile(&v, q).unwrap();
        assert!(close(got, want), "p{q}: {got}, numpy {want}");
    }
    assert_eq!(percentile(&[], 50.0), None);
    assert_eq!(percentile(&[f64::NAN], 50.0), None);
    assert_eq!(percentile(&[1.0], 101.0), None);
    assert_eq!(percentile(&[4.0, f64::NAN], 95.0), Some(4.0));
}

#[test]
fn the_trend_matches_numpy_and_says_when_a_threshold_is_reached() {
    // numpy.polyfit(x, y, 1) = [1.4999999999999956, 50.03333333333334]
    let points = [
        (0.0, 50.0),
        (1.0, 51.5),
        (2.0, 53.2),
        (3.0, 54.4),
        (4.0, 56.1),
        (5.0, 57.5),
    ];
    let trend = linear_fit(&points).unwrap();
    assert!(close(trend.slope_per_day, 1.4999999999999956));
    assert!(close(trend.intercept, 50.03333333333334));
    // At day 5 the line is at 57.53; 90 % is (90 - 57.53) / 1.5 days away.
    let days = trend.days_until(5.0, 90.0).unwrap();
    assert!(
        close(days, (90.0 - 57.533333333333324) / 1.4999999999999956),
        "{days}"
    );
    assert_eq!(trend.days_until(5.0, 10.0), Some(0.0));
    let falling = linear_fit(&[(0.0, 5.0), (1.0, 4.0)]).unwrap();
    assert_eq!(falling.days_until(1.0, 90.0), None);
    assert_eq!(linear_fit(&[(1.0, 5.0)]), None);
    assert_eq!(linear_fit(&[(1.0, 5.0), (1.0, 6.0)]), None, "one day only");
}

#[test]
fn hosts_needed_keeps_p95_under_the_target() {
    assert_eq!(hosts_needed(10, 91.0, 70.0), Some(13));
    assert_eq!(hosts_needed(10, 35.0, 70.0), Some(5));
    assert_eq!(hosts_needed(3, 0.0, 70.0), Some(1));
    assert_eq!(hosts_needed(0, 50.0, 70.0), None);
    assert_eq!(hosts_needed(4, f64::NAN, 70.0), None);
    assert_eq!(hosts_needed(4, 50.0, 0.0), None);
}

fn host(id: &str, cpu: f64, mem: f64, disk_start: f64, disk_per_day: f64) -> HostSamples {
    let days = 0..14;
    HostSamples {
        id: id.into(),
        cpu: days.clone().map(|d| (f64::from(d), cpu)).collect(),
        mem: days.clone().map(|d| (f64::from(d), mem)).collect(),
        disk: days
            .clone()
            .map(|d| (f64::from(d), disk_start + disk_per_day * f64::from(d)))
            .collect(),
        load_per_core: days.map(|d| (f64::from(d), cpu / 100.0)).collect(),
    }
}

#[test]
fn a_group_report_names_hot_and_idle_hosts_and_sizes_the_group() {
    let hosts = [
        host("web-3", 95.0, 40.0, 50.0, 1.0),
        host("web-1", 50.0, 85.0, 50.0, 1.0),
        host("web-2", 5.0, 6.0, 50.0, 1.0),
        host("web-4", 40.0, 40.0, 50.0, 1.0),
    ];
    let report = group_report(&hosts, Thresholds::default(), 13.0);
    assert_eq!(report.hosts, 4);
    assert_eq!(report.hot, ["web-1", "web-3"]);
    assert_eq!(report.idle, ["web-2"]);
    let cpu = report.cpu.unwrap();
    assert!(close(cpu.p95, 95.0) && close(cpu.p50, 45.0), "{cpu:?}");
    // Busier of cpu (95) and mem (85) p95: 4 × 95 / 60 → 7 hosts (the default target).
    assert_eq!(report.recommended_hosts, Some(7));
    assert_eq!((report.sized_by, report.hosts_with_data), (Some("cpu"), 4));
    let disk = report.disk_trend.unwrap();
    assert!(close(disk.slope_per_day, 1.0), "{disk:?}");
    // Day 13 at 63 %: 27 days to 90 %.
    assert!(close(disk.days_until(13.0, 90.0).unwrap(), 27.0));
    let empty = group_report(&[], Thresholds::default(), 0.0);
    assert_eq!((empty.cpu, empty.recommended_hosts), (None, None));
    assert_eq!(empty.sized_by, None);
}

#[test]
fn the_recommendation_follows_the_target() {
    let hosts = [
        host("a", 50.0, 30.0, 10.0, 0.0),
        host("b", 50.0, 30.0, 10.0, 0.0),
    ];
    // (target %, hosts needed for a p95 of 50 % on 2 hosts)
    for (target, expected) in [(60.0, 2), (50.0, 2), (40.0, 3), (25.0, 4), (100.0, 1)] {
        let thresholds = Thresholds {
            target,
            ..Thresholds::default()
        };
        let report = group_report(&hosts, thresholds, 13.0);
        assert_eq!(report.recommended_hosts, Some(expected), "target {target}");
    }
    // Memory busier than cpu sizes the group.
    let hosts = [host("a", 20.0, 75.0, 10.0, 0.0)];
    let report = group_report(&hosts, Thresholds::default(), 13.0);
    assert_eq!(report.sized_by, Some("mem"));
    assert_eq!(report.recommended_hosts, Some(2));
    assert_eq!(Thresholds::default().target, 60.0);
}

#[test]
fn the_host_that_fills_first_is_named_with_its_days() {
    let hosts = [
        host("slow", 40.0, 40.0, 50.0, 1.0), // day 13 at 63 %: 27 days to 90 %
        host("fast", 40.0, 40.0, 20.0, 4.0), // day 13 at 72 %: 4.5 days
        host("flat", 40.0, 40.0, 85.0, 0.0), // never
        host("none", 40.0, 40.0, 0.0, 0.0),
    ];
    let report = group_report(&hosts[..3], Thresholds::default(), 13.0);
    let (id, days) = report.disk_full_first.clone().unwrap();
    assert_eq!(id, "fast");
    assert!(close(days, 4.5), "{days}");
    assert_eq!(report.mem_full_first, None, "flat memory never fills");
    let full = [host("full", 40.0, 40.0, 95.0, 0.0)];
    let report = group_report(&full, Thresholds::default(), 13.0);
    assert_eq!(report.disk_full_first, Some(("full".to_string(), 0.0)));
    // A host without samples counts for nothing.
    let mut empty = host("empty", 0.0, 0.0, 0.0, 0.0);
    empty.cpu.clear();
    empty.mem.clear();
    empty.disk.clear();
    empty.load_per_core.clear();
    let report = group_report(&[hosts[0].clone(), empty], Thresholds::default(), 13.0);
    assert_eq!((report.hosts, report.hosts_with_data), (2, 1));
    assert_eq!(report.recommended_hosts, Some(1));
}
