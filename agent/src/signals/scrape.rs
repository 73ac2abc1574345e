//! An app's Prometheus text exposition → the flat samples signal expressions read.
//!
//! Parsing is `prometheus-parse`'s (types, comments, timestamps, histogram and summary
//! grouping); this module flattens its grouped values back into the series names an
//! operator writes in a signal: `NAME_bucket{le=...}` for histogram buckets, `NAME_sum` /
//! `NAME_count` as they were exposed, and `NAME{quantile=...}` for summaries. Known limit
//! of the parser: a label value holding a `,` or `=` is split wrongly (keep matchers off
//! such labels).

use super::{Sample, Scrape};

/// Samples a scrape may hold; an app exposing more is cut there (the signals it feeds
/// then see what was read), so one chatty app cannot make the agent hold a large scrape.
pub(crate) const MAX_SAMPLES: usize = 20_000;

/// Parses `text`, taken at `at_unix_ms`.
pub(crate) fn parse(text: &str, at_unix_ms: i64) -> Result<Scrape, std::io::Error> {
    let lines = text.lines().map(|line| Ok(line.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines)?;
    let mut samples = Vec::new();
    for sample in parsed.samples {
        let labels = || {
            sample
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        match &sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => samples.push(Sample {
                name: sample.metric.clone(),
                labels: labels(),
                value: *v,
            }),
            prometheus_parse::Value::Histogram(buckets) => {
                for bucket in buckets {
                    let mut labels = labels();
                    labels.insert("le".into(), bound(bucket.less_than));
                    samples.push(Sample {
                        name: format!("{}_bucket", sample.metric),
                        labels,
                        value: bucket.count,
                    });
                }
            }
            prometheus_parse::Value::Summary(quantiles) => {
                for quantile in quantiles {
                    let mut labels = labels();
                    labels.insert("quantile".into(), bound(quantile.quantile));
                    samples.push(Sample {
                        name: sample.metric.clone(),
                        labels,
                        value: quantile.count,
                    });
                }
            }
        }
        if samples.len() >= MAX_SAMPLES {
            samples.truncate(MAX_SAMPLES);
            break;
        }
    }
    Ok(Scrape {
        at_unix_ms,
        samples,
    })
}

/// A bucket bound or quantile as Prometheus writes it (`+Inf`, `0.5`).
fn bound(value: f64) -> String {
    if value == f64::INFINITY {
        "+Inf".into()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a Go or Python client library exposes for a counter, a gauge and a histogram.
    const APP: &str = r#"# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{code="200",method="GET"} 1027
http_requests_total{code="500",method="GET"} 3
# HELP queue_depth Jobs waiting.
# TYPE queue_depth gauge
queue_depth 7
# HELP http_request_duration_seconds Latency.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 10
http_request_duration_seconds_bucket{le="0.5"} 30
http_request_duration_seconds_bucket{le="1"} 40
http_request_duration_seconds_bucket{le="+Inf"} 40
http_request_duration_seconds_sum 9.5
http_request_duration_seconds_count 40
"#;

    #[test]
    fn a_client_library_s_exposition_feeds_the_issue_s_signals() {
        let scrape = parse(APP, 1_000).unwrap();
        let eval = |expr: &str| super::super::parse(expr).unwrap().eval(&scrape, None);
        assert_eq!(eval("queue_depth"), Some(7.0));
        assert_eq!(eval("http_requests_total"), Some(1030.0));
        assert_eq!(eval("http_requests_total{code=\"500\"}"), Some(3.0));
        let p50 = eval("histogram_quantile(0.5, http_request_duration_seconds)").unwrap();
        assert!((p50 - 0.3).abs() < 1e-9, "{p50}");
        assert_eq!(eval("http_request_duration_seconds_count"), Some(40.0));
    }

    #[test]
    fn a_page_that_is_not_an_exposition_yields_no_samples() {
        let scrape = parse("<html>not metrics</html>\n", 0).unwrap();
        assert!(scrape.samples.is_empty(), "{:?}", scrape.samples);
    }

    #[test]
    fn a_huge_exposition_is_cut_at_the_cap() {
        let text: String = (0..MAX_SAMPLES + 50)
            .map(|i| format!("series_{i} 1\n"))
            .collect();
        assert_eq!(parse(&text, 0).unwrap().samples.len(), MAX_SAMPLES);
    }
}
