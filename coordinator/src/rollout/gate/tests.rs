use super::*;

fn view() -> MetricsView {
    MetricsView {
        cpu_percent: 50.0,
        mem_percent: 60.0,
        load1: 2.0,
        disks: vec![("/".to_string(), 70.0), ("/var".to_string(), 95.0)],
        healthy: true,
        signals: vec![("web.error_rate".to_string(), 0.05)],
    }
}

#[test]
fn parses_and_renders() {
    for (input, rendered) in [
        ("cpu<90", "cpu<90"),
        (" mem < 95 ", "mem<95"),
        ("load1<8", "load1<8"),
        ("disk</:90", "disk</:90"),
        ("disk</var/lib:80.5", "disk</var/lib:80.5"),
        ("health=ok", "health=ok"),
        ("cpu<1.5*baseline", "cpu<1.5*baseline"),
        ("load1<2*baseline", "load1<2*baseline"),
        ("web.error_rate<0.01", "web.error_rate<0.01"),
        ("web.latency_p99 < 250", "web.latency_p99<250"),
        ("web.error_rate<2*baseline", "web.error_rate<2*baseline"),
    ] {
        let gate = Gate::parse(input).unwrap();
        assert_eq!(gate.to_string(), rendered, "{input}");
        assert_eq!(Gate::parse(rendered).unwrap(), gate);
    }
}

#[test]
fn refuses_bad_gates_with_the_reason() {
    for (input, why) in [
        ("cpux<90", "unknown metric \"cpux\""),
        ("error_rate<0.01", "app signal APP.NAME"),
        ("Web!.x<1", "unknown metric"),
        ("<90", "missing metric"),
        ("cpu>90", "expected METRIC<LIMIT"),
        ("cpu<", "missing limit"),
        ("cpu<abc", "expected a number, found \"abc\""),
        ("cpu<120", "not a percentage"),
        ("cpu<-1", "0 or more"),
        ("cpu<1.5*base", "FACTOR*baseline"),
        ("disk<90", "disk<MOUNT:PERCENT"),
        ("disk<var:90", "absolute path"),
        ("health=bad", "health=ok"),
        ("cpu=90", "only health takes '='"),
        ("health<1", "expected health=ok"),
    ] {
        let err = Gate::parse(input).unwrap_err();
        assert!(err.to_string().contains(why), "{input}: {err}");
        assert!(err.to_string().starts_with("invalid gate"), "{err}");
    }
}

#[test]
fn evaluates_against_a_view() {
    let none = Baseline::default();
    let base = Baseline {
        cpu_percent: Some(40.0),
        disks: vec![("/".to_string(), 50.0)],
        signals: vec![("web.error_rate".to_string(), 0.02)],
        ..Baseline::default()
    };
    for (gate, baseline, expected) in [
        ("cpu<90", &none, "pass"),
        ("cpu<50", &none, "fail"),
        ("mem<95", &none, "pass"),
        ("load1<1", &none, "fail"),
        ("disk</:90", &none, "pass"),
        ("disk</var:90", &none, "fail"),
        ("disk</home:90", &none, "nodata"),
        ("health=ok", &none, "pass"),
        ("cpu<1.5*baseline", &base, "pass"),
        ("cpu<1.2*baseline", &base, "fail"),
        ("cpu<1.5*baseline", &none, "nodata"),
        ("disk</:1.2*baseline", &base, "fail"),
        ("web.error_rate<0.1", &none, "pass"),
        ("web.error_rate<0.01", &none, "fail"),
        ("api.error_rate<0.01", &none, "nodata"),
        ("web.error_rate<3*baseline", &base, "pass"),
        ("web.error_rate<2*baseline", &base, "fail"),
        ("web.error_rate<2*baseline", &none, "nodata"),
    ] {
        let verdict = Gate::parse(gate).unwrap().evaluate(&view(), baseline);
        let got = match verdict {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "fail",
            Verdict::NoData => "nodata",
        };
        assert_eq!(got, expected, "{gate}");
    }
    let sick = MetricsView {
        healthy: false,
        ..view()
    };
    assert!(matches!(
        Gate::HealthOk.evaluate(&sick, &none),
        Verdict::Fail(_)
    ));
}

#[test]
fn check_all_reports_the_first_failure() {
    let gates: Vec<Gate> = ["cpu<90", "mem<50", "load1<1"]
        .iter()
        .map(|g| Gate::parse(g).unwrap())
        .collect();
    let reason = check_all(&gates, &view(), &Baseline::default()).unwrap();
    assert!(
        reason.contains("mem<50") && reason.contains("60.0"),
        "{reason}"
    );
    assert_eq!(check_all(&gates[..1], &view(), &Baseline::default()), None);
    let sick = MetricsView {
        healthy: false,
        ..view()
    };
    assert_eq!(
        check_all(&[], &sick, &Baseline::default()).as_deref(),
        Some("health check failing")
    );
}
