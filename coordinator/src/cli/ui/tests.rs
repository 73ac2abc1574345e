//! The dashboard's guards (token, cookie, origin, host, listen address) and its rendering
//! helpers, without a coordinator.

use std::net::SocketAddr;

use hyper::{HeaderMap, Method, StatusCode, header};

use super::auth::{Access, Auth, COOKIE, TOKEN_HEADER};
use super::html::{Query, decode, encode, esc};

const TOKEN: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn auth() -> Auth {
    Auth::with_token("127.0.0.1:8470".parse().unwrap(), TOKEN.to_string())
}

fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(header::HOST, "127.0.0.1:8470".parse().unwrap());
    for (name, value) in pairs {
        map.insert(name.clone(), value.parse().unwrap());
    }
    map
}

fn cookie() -> (header::HeaderName, &'static str) {
    (
        header::COOKIE,
        "other=1; convoy_ui_8470=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    )
}

#[test]
fn a_fresh_token_is_32_random_bytes_in_hex() {
    let local: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let (a, b) = (Auth::new(local), Auth::new(local));
    assert_eq!(a.token().len(), 64);
    assert!(a.token().bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a.token(), b.token());
}

#[test]
fn without_cookie_or_token_every_request_is_refused() {
    let auth = auth();
    for path in ["/", "/fleet", "/assets/app.js", "/api/rollouts/r1/events"] {
        let access = auth.check(&Method::GET, path, "", &headers(&[]));
        assert!(
            matches!(access, Access::Refused(StatusCode::UNAUTHORIZED, _)),
            "{path}: {access:?}"
        );
    }
    let wrong = auth.check(&Method::GET, "/fleet", "token=abc", &headers(&[]));
    assert!(matches!(
        wrong,
        Access::Refused(StatusCode::UNAUTHORIZED, _)
    ));
    let bad_cookie = auth.check(
        &Method::GET,
        "/fleet",
        "",
        &headers(&[(header::COOKIE, "convoy_ui_8470=0011")]),
    );
    assert!(matches!(
        bad_cookie,
        Access::Refused(StatusCode::UNAUTHORIZED, _)
    ));
    // The right token under another dashboard's cookie name (another port): refused.
    let other_port = auth.check(
        &Method::GET,
        "/fleet",
        "",
        &headers(&[(header::COOKIE, format!("convoy_ui_8471={TOKEN}").as_str())]),
    );
    assert!(matches!(
        other_port,
        Access::Refused(StatusCode::UNAUTHORIZED, _)
    ));
}

#[test]
fn the_token_in_the_url_sets_the_cookie_and_is_dropped_from_the_url() {
    let auth = auth();
    let access = auth.check(
        &Method::GET,
        "/fleet",
        &format!("selector=role%3Dweb&token={TOKEN}&page=2"),
        &headers(&[]),
    );
    assert_eq!(
        access,
        Access::SetCookie {
            location: "/fleet?selector=role%3Dweb&page=2".into()
        }
    );
    let response = auth.set_cookie("/fleet");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with(&format!("{COOKIE}8470={TOKEN}")), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert_eq!(response.headers()[header::LOCATION], "/fleet");
    // With the cookie, pages are served.
    assert_eq!(
        auth.check(&Method::GET, "/fleet", "", &headers(&[cookie()])),
        Access::Allowed
    );
}

#[test]
fn a_post_needs_the_cookie_the_token_header_and_the_same_origin() {
    let auth = auth();
    let origin = (header::ORIGIN, "http://127.0.0.1:8470");
    let token = (header::HeaderName::from_static(TOKEN_HEADER), TOKEN);
    let post = |pairs: &[(header::HeaderName, &str)]| {
        auth.check(&Method::POST, "/api/rollouts/r1/pause", "", &headers(pairs))
    };
    assert_eq!(
        post(&[cookie(), token.clone(), origin.clone()]),
        Access::Allowed
    );
    // Cookie alone (what a cross-site form would send): refused.
    assert!(matches!(
        post(&[cookie(), origin.clone()]),
        Access::Refused(StatusCode::FORBIDDEN, _)
    ));
    // Another site's origin, even with the token: refused.
    assert!(matches!(
        post(&[
            cookie(),
            token.clone(),
            (header::ORIGIN, "http://evil.example")
        ]),
        Access::Refused(StatusCode::FORBIDDEN, _)
    ));
    // No origin at all: refused.
    assert!(matches!(
        post(&[cookie(), token.clone()]),
        Access::Refused(StatusCode::FORBIDDEN, _)
    ));
    // The token header without the cookie: no session.
    assert!(matches!(
        post(&[token.clone(), origin.clone()]),
        Access::Refused(StatusCode::UNAUTHORIZED, _)
    ));
    // A token in the query does not stand in for the header on a POST.
    let query = auth.check(
        &Method::POST,
        "/api/rollouts/r1/pause",
        &format!("token={TOKEN}"),
        &headers(&[origin]),
    );
    assert!(matches!(
        query,
        Access::Refused(StatusCode::UNAUTHORIZED, _)
    ));
}

#[test]
fn a_foreign_host_header_is_refused_on_loopback() {
    let auth = auth();
    let mut map = headers(&[cookie()]);
    map.insert(header::HOST, "attacker.example:8470".parse().unwrap());
    assert!(matches!(
        auth.check(&Method::GET, "/fleet", "", &map),
        Access::Refused(StatusCode::FORBIDDEN, _)
    ));
    map.insert(header::HOST, "localhost:8470".parse().unwrap());
    assert_eq!(
        auth.check(&Method::GET, "/fleet", "", &map),
        Access::Allowed
    );
}

#[test]
fn a_non_loopback_listen_address_needs_allow_remote() {
    let remote: SocketAddr = "0.0.0.0:8470".parse().unwrap();
    let why = super::listen_refusal(remote, false).unwrap();
    assert!(why.contains("--allow-remote"), "{why}");
    assert!(super::listen_refusal(remote, true).is_none());
    assert!(super::listen_refusal("127.0.0.1:8470".parse().unwrap(), false).is_none());
    assert!(super::listen_refusal("[::1]:8470".parse().unwrap(), false).is_none());
}

#[test]
fn what_hosts_report_is_escaped_and_queries_round_trip() {
    assert_eq!(
        esc("<script>\"x\"&'y'</script>"),
        "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
    );
    let selector = "role=web,zone in (a,b)";
    assert_eq!(decode(&encode(selector)), selector);
    assert_eq!(
        Query::parse("selector=a%3Db+c&x=%zz").get("selector"),
        "a=b c"
    );
    assert_eq!(Query::parse("x=%zz%4").get("x"), "%zz%4");
}

#[test]
fn controls_are_disabled_with_the_reason_the_coordinator_would_give() {
    use super::rollouts::refusal;
    let view = |state: &str, wave: u32| convoy_proto::v1::RolloutView {
        state: convoy_proto::v1::RolloutState::from_name(state)
            .expect("a rollout state")
            .into(),
        current_wave: wave,
        ..Default::default()
    };
    let running = view("running", 1);
    assert!(
        refusal(&running, "viewer", "pause")
            .unwrap()
            .contains("viewer")
    );
    assert_eq!(refusal(&running, "operator", "pause"), None);
    assert_eq!(
        refusal(&running, "operator", "resume").unwrap(),
        "it is not paused"
    );
    assert!(refusal(&running, "operator", "promote").is_some());
    assert_eq!(refusal(&view("running", 0), "admin", "promote"), None);
    assert_eq!(refusal(&view("paused", 1), "admin", "resume"), None);
    assert!(
        refusal(&view("succeeded", 2), "admin", "abort")
            .unwrap()
            .contains("over")
    );
    assert_eq!(refusal(&view("succeeded", 2), "admin", "rollback"), None);
}

#[test]
fn a_plot_has_axes_units_and_a_hover_value_per_point() {
    use convoy_proto::v1::{Series, SeriesPoint};
    let series = Series {
        host: "web-1".into(),
        name: "cpu".into(),
        points: (0..3)
            .map(|i| SeriesPoint {
                at_unix_ms: 1_000_000 + i * 60_000,
                min: 10.0,
                max: 30.0,
                avg: 20.0 + i as f64,
                count: 6,
            })
            .collect(),
    };
    let svg = super::plot::svg(&series, 1_000_000, 1_180_000);
    assert_eq!(svg.matches("<circle").count(), 3);
    assert!(svg.contains("<title>") && svg.contains("22.0 %"), "{svg}");
    assert!(
        svg.contains("100.0 %"),
        "the y axis of a percentage ends at 100 %"
    );
    assert_eq!(super::plot::nice_ceiling(3.2), 5.0);
    assert_eq!(super::plot::nice_ceiling(0.0), 1.0);
    let empty = Series {
        name: "net_rx".into(),
        ..Default::default()
    };
    assert!(super::plot::svg(&empty, 0, 60_000).contains("no samples"));
}

#[test]
fn an_sse_message_prefixes_every_line() {
    assert_eq!(
        super::live::message("view", "<p>\na</p>"),
        "event: view\ndata: <p>\ndata: a</p>\n\n"
    );
}

#[test]
fn the_host_page_plots_each_app_signal_after_the_host_series_with_three_digits() {
    use convoy_proto::v1::{AgentDetail, AgentSummary, DiskUsage, MetricsSample};
    let detail = AgentDetail {
        agent: Some(AgentSummary {
            metrics: Some(MetricsSample {
                disks: vec![DiskUsage {
                    mount: "/".into(),
                    ..Default::default()
                }],
                signals: [("web.rps".into(), 3.0), ("web.error_rate".into(), 0.01)]
                    .into_iter()
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        super::host::series_for(&detail),
        [
            "cpu",
            "mem",
            "load1",
            "net_rx",
            "net_tx",
            "disk:/",
            "web.error_rate",
            "web.rps"
        ]
    );
    assert_eq!(
        super::plot::title_of("web.error_rate"),
        "error_rate (web, app signal)"
    );
    assert_eq!(super::plot::title_of("disk:/var"), "Disk used /var");
    let format = super::plot::unit_of("web.error_rate").format;
    assert_eq!(format(0.0042), "0.00420");
    assert_eq!(format(0.5), "0.500");
    assert_eq!(format(1234.4), "1234");
    assert_eq!(format(0.0), "0");
    assert_eq!(format(2.5e-7), "2.50e-7");
}

#[test]
fn a_waves_gates_and_analysis_show_a_glyph_and_a_word_beside_the_figures() {
    use convoy_proto::v1::{
        AnalysisVerdict, RolloutHost, RolloutSpec, RolloutView, RolloutWave, RolloutWaveState,
    };
    let view = RolloutView {
        failures: 1,
        failure_budget: 1,
        spec: Some(RolloutSpec {
            gates: vec!["web.error_rate<0.05".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let judged = RolloutWave {
        state: RolloutWaveState::Done.into(),
        analysis: vec![AnalysisVerdict {
            analysis: "web.error_rate<=baseline+0.01".into(),
            verdict: "fail".into(),
            p_value: Some(0.00123),
            canary_median: Some(0.2),
            baseline_median: None,
            canary_samples: 12,
            baseline_samples: 0,
            reason: "<worse>".into(),
            round: 1,
        }],
        hosts: vec![RolloutHost {
            host: "web-1".into(),
            reason: "gate web.error_rate<0.05 failed: 0.2 is not below 0.05".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let html = super::verdicts::wave(&view, &judged);
    assert!(html.contains("data-gates=\"broken\""), "{html}");
    assert!(html.contains("✗ gates broken"), "{html}");
    assert!(
        html.contains("web-1: gate web.error_rate&lt;0.05 failed"),
        "{html}"
    );
    assert!(html.contains("<tr data-verdict=\"fail\">"), "{html}");
    assert!(
        html.contains("✗ fail</span><br><small>&lt;worse&gt;</small>"),
        "{html}"
    );
    assert!(html.contains(">0.0012<") && html.contains(">0.200<") && html.contains(">–<"));
    assert!(html.contains(">12/0<"), "{html}");
    let pending = RolloutWave::default();
    assert!(super::verdicts::wave(&view, &pending).contains("· gates not yet checked"));
    assert!(super::verdicts::budget(&view).contains("△ budget spent"));
    let none = RolloutView::default();
    assert!(super::verdicts::wave(&none, &pending).is_empty());
    assert!(
        super::verdicts::budget(&none)
            .contains("✓ within budget</span>: failures <b id=\"failures\">0</b> of budget 0")
    );
}
