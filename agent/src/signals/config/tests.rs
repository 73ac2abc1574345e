use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::deploy::manifest::Manifest;

const BASE: &str = "coordinator = \"https://127.0.0.1:7443\"\ndata_dir = \"/var/lib/convoy\"\n[tls]\nca = \"ca.pem\"\ncert = \"a.pem\"\nkey = \"a.key\"\n";

fn parse(extra: &str) -> Result<Config, String> {
    Config::parse(&format!("{BASE}{extra}"), Path::new("/etc/convoy")).map_err(|e| e.to_string())
}

const SIGNALS: &str = r#"
[apps.web.health]
tcp = 8080
[apps.web.signals]
url = "http://127.0.0.1:8080/metrics"
error_rate = "rate(http_errors_total) / rate(http_requests_total)"
latency_p99 = "histogram_quantile(0.99, http_request_duration_seconds)"
"#;

#[test]
fn the_issue_s_signals_parse_beside_the_app_s_manifest() {
    let config = parse(SIGNALS).unwrap();
    let web = &config.app_signals["web"];
    assert_eq!(web.url, "http://127.0.0.1:8080/metrics");
    assert_eq!(web.timeout, Duration::from_secs(2));
    assert_eq!(
        web.signals.keys().collect::<Vec<_>>(),
        ["error_rate", "latency_p99"]
    );
    // The manifest part is unchanged by the signals table beside it.
    assert!(config.apps["web"].health.is_some());
    let timed = parse(&SIGNALS.replace("url =", "timeout = \"500ms\"\nurl =")).unwrap();
    assert_eq!(timed.app_signals["web"].timeout, Duration::from_millis(500));
    assert!(parse("[apps.web]\n").unwrap().app_signals.is_empty());
}

#[test]
fn a_bad_expression_names_the_app_the_signal_and_the_column() {
    let err = parse(&SIGNALS.replace(
        "rate(http_errors_total) / rate(http_requests_total)",
        "rate(http_errors_total) / rate(http_requests_total",
    ))
    .unwrap_err();
    assert!(
        err.contains("apps.web.signals.error_rate") && err.contains("column 51"),
        "{err}"
    );
    let err =
        parse(&SIGNALS.replace("histogram_quantile(0.99", "histogram_quantil(0.99")).unwrap_err();
    assert!(
        err.contains("apps.web.signals.latency_p99: column 1: unknown function"),
        "{err}"
    );
}

#[test]
fn bad_tables_are_refused() {
    for (from, to) in [
        ("url = \"http://127.0.0.1:8080/metrics\"", ""),
        ("http://127.0.0.1:8080", "https://127.0.0.1:8080"),
        ("http://127.0.0.1:8080", "http://10.0.0.7:8080"),
        ("url =", "timeout = \"0s\"\nurl ="),
        ("url =", "timeout = \"5m\"\nurl ="),
        ("url =", "timeout = 2\nurl ="),
        ("error_rate =", "Error_Rate! ="),
        ("error_rate = \"", "error_rate = 1\nx = \""),
        (
            "error_rate = \"rate(http_errors_total) / rate(http_requests_total)\"\nlatency_p99 = \"histogram_quantile(0.99, http_request_duration_seconds)\"",
            "",
        ),
    ] {
        let text = SIGNALS.replace(from, to);
        assert_ne!(text, SIGNALS, "{from}");
        assert!(parse(&text).is_err(), "{to:?} was accepted");
    }
    // Two apps whose signals would be reported under one key.
    let clash = "[apps.a.signals]\nurl = \"http://127.0.0.1:1/\"\n\"b.c\" = \"x\"\n[apps.\"a.b\".signals]\nurl = \"http://127.0.0.1:1/\"\nc = \"y\"\n";
    assert!(parse(clash).unwrap_err().contains("\"a.b.c\""));
    // More than the per-heartbeat bound.
    let many: String = (0..=super::MAX_SIGNALS)
        .map(|i| format!("s{i} = \"up\"\n"))
        .collect();
    let err = parse(&format!(
        "[apps.web.signals]\nurl = \"http://127.0.0.1:1/\"\n{many}"
    ))
    .unwrap_err();
    assert!(err.contains("at most 64"), "{err}");
}

/// A release cannot declare what its hosts scrape: `signals` is not a `convoy.toml` key.
#[test]
fn a_release_s_convoy_toml_cannot_declare_signals() {
    let err = Manifest::parse("[signals]\nurl = \"http://127.0.0.1:1/\"\nup = \"up\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("signals"), "{err}");
}
