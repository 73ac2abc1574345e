use std::collections::BTreeMap;

use super::*;

fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        name: name.to_string(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        value,
    }
}

fn scrape(at_unix_ms: i64, samples: Vec<Sample>) -> Scrape {
    Scrape {
        at_unix_ms,
        samples,
    }
}

fn eval(expr: &str, now: &Scrape, prev: Option<&Scrape>) -> Option<f64> {
    parse(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .eval(now, prev)
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn the_issue_s_examples_parse() {
    for expr in [
        "rate(http_errors_total) / rate(http_requests_total)",
        "histogram_quantile(0.99, http_request_duration_seconds)",
        "queue_depth",
        "rate(http_requests_total{code=\"500\", method=\"GET\"}) * 100",
        "-(a - b) + 2.5e-3",
        "increase(jobs_total)",
    ] {
        parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    }
}

#[test]
fn bad_expressions_say_where() {
    let cases = [
        ("rate(", 6, "expected a metric name"),
        ("rate(x", 7, "expected ')'"),
        ("sum(x)", 1, "unknown function \"sum\""),
        ("x{code=500}", 8, "expected '\"'"),
        ("x{code=\"500}", 13, "unterminated label value"),
        ("histogram_quantile(2, h)", 21, "between 0 and 1"),
        ("x y", 3, "unexpected text"),
        ("", 1, "expected a number"),
        ("1..2", 1, "is not a number"),
    ];
    for (expr, column, message) in cases {
        let err = parse(expr).expect_err(expr);
        assert_eq!(err.column, column, "{expr}: {err}");
        assert!(err.message.contains(message), "{expr}: {err}");
    }
}

#[test]
fn a_gauge_sums_its_matching_series() {
    let now = scrape(
        0,
        vec![
            sample("queue_depth", &[("queue", "a")], 3.0),
            sample("queue_depth", &[("queue", "b")], 4.0),
            sample("other", &[], 100.0),
        ],
    );
    assert!(close(eval("queue_depth", &now, None), 7.0));
    assert!(close(eval("queue_depth{queue=\"b\"}", &now, None), 4.0));
    assert_eq!(eval("queue_depth{queue=\"c\"}", &now, None), None);
    assert_eq!(eval("missing", &now, None), None);
    assert!(close(eval("2 + 3 * 4 - (1 - 2)", &now, None), 15.0));
    assert!(close(eval("-queue_depth / 2", &now, None), -3.5));
}

#[test]
fn rate_is_the_increase_per_second_with_resets_handled_per_series() {
    let prev = scrape(
        0,
        vec![
            sample("req_total", &[("code", "200")], 100.0),
            sample("req_total", &[("code", "500")], 10.0),
        ],
    );
    let now = scrape(
        30_000,
        vec![
            sample("req_total", &[("code", "200")], 160.0),
            // Reset (the app restarted): counts from zero again.
            sample("req_total", &[("code", "500")], 3.0),
            // New since the last scrape: from zero.
            sample("req_total", &[("code", "503")], 3.0),
        ],
    );
    // (60 + 3 + 3) / 30 s
    assert!(close(eval("rate(req_total)", &now, Some(&prev)), 2.2));
    assert!(close(eval("increase(req_total)", &now, Some(&prev)), 66.0));
    assert!(close(
        eval(
            "rate(req_total{code=\"500\"}) / rate(req_total)",
            &now,
            Some(&prev)
        ),
        3.0 / 66.0
    ));
    // No previous scrape, or no time between them: no value, not a made-up one.
    assert_eq!(eval("rate(req_total)", &now, None), None);
    assert_eq!(eval("rate(req_total)", &now, Some(&now)), None);
}

#[test]
fn division_by_zero_has_no_value() {
    let prev = scrape(0, vec![sample("err", &[], 5.0), sample("req", &[], 9.0)]);
    let now = scrape(
        10_000,
        vec![sample("err", &[], 5.0), sample("req", &[], 9.0)],
    );
    assert_eq!(eval("rate(err) / rate(req)", &now, Some(&prev)), None);
}

fn histogram(at: i64, counts: [f64; 4]) -> Scrape {
    let les = ["0.1", "0.5", "1", "+Inf"];
    let mut samples: Vec<Sample> = les
        .iter()
        .zip(counts)
        .map(|(le, c)| sample("lat_bucket", &[("le", le), ("path", "/")], c))
        .collect();
    samples.push(sample("lat_count", &[("path", "/")], counts[3]));
    scrape(at, samples)
}

#[test]
fn histogram_quantile_interpolates_as_prometheus_does() {
    // Buckets 0.1:10 0.5:30 1:40 +Inf:40.
    let now = histogram(0, [10.0, 30.0, 40.0, 40.0]);
    // rank 20 → in (0.1, 0.5]: 0.1 + 0.4 * (20 - 10) / (30 - 10)
    assert!(close(eval("histogram_quantile(0.5, lat)", &now, None), 0.3));
    // rank 39.6 → in (0.5, 1]: 0.5 + 0.5 * 9.6 / 10
    assert!(close(
        eval("histogram_quantile(0.99, lat)", &now, None),
        0.98
    ));
    // rank 5 → in (0, 0.1]
    assert!(close(
        eval("histogram_quantile(0.125, lat)", &now, None),
        0.05
    ));
}

#[test]
fn histogram_quantile_over_the_increase_since_the_last_scrape() {
    let prev = histogram(0, [10.0, 30.0, 40.0, 40.0]);
    // Since then: 0 fast, 0 medium, 10 slow (0.5..1], 10 beyond 1 s.
    let now = histogram(15_000, [10.0, 30.0, 50.0, 60.0]);
    // Increases 0, 0, 10, 20: rank 10 (q=0.5) → (0.5, 1] all of it → 1.0
    assert!(close(
        eval("histogram_quantile(0.5, lat)", &now, Some(&prev)),
        1.0
    ));
    // rank 19.8 → the +Inf bucket → the highest finite bound.
    assert!(close(
        eval("histogram_quantile(0.99, lat)", &now, Some(&prev)),
        1.0
    ));
    // Nothing observed since: no value.
    assert_eq!(
        eval("histogram_quantile(0.5, lat)", &prev, Some(&prev)),
        None
    );
}

#[test]
fn a_histogram_without_its_inf_bucket_has_no_quantile() {
    let now = scrape(0, vec![sample("lat_bucket", &[("le", "0.1")], 3.0)]);
    assert_eq!(eval("histogram_quantile(0.5, lat)", &now, None), None);
}
