use super::*;

fn host(id: &str, zone: Option<&str>) -> Host {
    let mut labels = BTreeMap::new();
    labels.insert("role".to_string(), "web".to_string());
    if let Some(zone) = zone {
        labels.insert("zone".to_string(), zone.to_string());
    }
    Host {
        id: id.to_string(),
        labels,
        version: Some("1.0".to_string()),
        healthy: true,
        online: true,
    }
}

fn fleet(n: usize) -> Vec<Host> {
    (0..n).map(|i| host(&format!("h{i:02}"), None)).collect()
}

fn shape(plan: &Plan) -> Vec<usize> {
    plan.waves.iter().map(|w| w.hosts.len()).collect()
}

fn strategy(
    canary: Option<&str>,
    batch: Option<&str>,
    steps: Option<&str>,
    group: Option<&str>,
) -> Strategy {
    Strategy::parse(canary, batch, steps, group).unwrap()
}

#[test]
fn canary_then_batches() {
    let all = Selector::default();
    for (n, canary, batch, expected) in [
        (10, None, Some("3"), vec![1, 3, 3, 3]),
        (10, Some("2"), Some("50%"), vec![2, 5, 3]),
        (10, Some("10%"), None, vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
        (1, Some("5"), Some("5"), vec![1]),
        (0, None, None, vec![]),
    ] {
        let plan = build("2.0", &all, &fleet(n), &strategy(canary, batch, None, None)).unwrap();
        assert_eq!(shape(&plan), expected, "{n} {canary:?} {batch:?}");
        assert_eq!(plan.targets() as usize, n);
    }
}

#[test]
fn steps_are_cumulative() {
    let all = Selector::default();
    let plan = build(
        "2.0",
        &all,
        &fleet(20),
        &strategy(None, None, Some("1,10%,50%,100%"), None),
    )
    .unwrap();
    assert_eq!(shape(&plan), vec![1, 1, 8, 10]);
    assert!(
        plan.waves
            .iter()
            .all(|w| w.parallel as usize == w.hosts.len())
    );
    let capped = plan_with_batch();
    assert_eq!(capped.waves[2].parallel, 2);
    assert_eq!(capped.waves[0].parallel, 1);
}

fn plan_with_batch() -> Plan {
    build(
        "2.0",
        &Selector::default(),
        &fleet(20),
        &strategy(None, Some("2"), Some("1,10%,50%,100%"), None),
    )
    .unwrap()
}

#[test]
fn steps_errors() {
    for (steps, why) in [
        ("1,50%,10%", "below the step before"),
        ("5,2", "below the step before"),
        ("1,x", "step 2"),
        ("1,0%", "at least 1"),
    ] {
        let err = Strategy::parse(None, None, Some(steps), None).unwrap_err();
        assert!(err.to_string().contains(why), "{steps}: {err}");
    }
    let err = build(
        "2",
        &Selector::default(),
        &fleet(10),
        &strategy(None, None, Some("1,50%"), None),
    )
    .unwrap_err();
    assert!(err.to_string().contains("last step must be 100%"), "{err}");
    let err = Strategy::parse(Some("1"), None, Some("1,100%"), None).unwrap_err();
    assert_eq!(err, PlanError::StepsWithCanary);
    assert!(Strategy::parse(None, None, None, Some(" ")).is_err());
    assert!(Strategy::parse(Some("0"), None, None, None).is_err());
}

#[test]
fn group_by_never_mixes_and_sorts_groups() {
    let hosts = vec![
        host("c1", Some("b")),
        host("a1", Some("a")),
        host("a2", Some("a")),
        host("n1", None),
        host("b2", Some("b")),
        host("a3", Some("a")),
        host("b1", Some("b")),
    ];
    let plan = build(
        "2",
        &Selector::default(),
        &hosts,
        &strategy(None, Some("2"), None, Some("zone")),
    )
    .unwrap();
    let waves: Vec<(String, Vec<&str>)> = plan
        .waves
        .iter()
        .map(|w| {
            (
                w.group.clone().unwrap(),
                w.hosts.iter().map(|h| h.id.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        waves,
        vec![
            ("".to_string(), vec!["n1"]),
            ("a".to_string(), vec!["a1", "a2"]),
            ("a".to_string(), vec!["a3"]),
            ("b".to_string(), vec!["b1", "b2"]),
            ("b".to_string(), vec!["c1"]),
        ]
    );
    // Steps are cut at group boundaries too.
    let stepped = build(
        "2",
        &Selector::default(),
        &hosts,
        &strategy(None, None, Some("50%,100%"), Some("zone")),
    )
    .unwrap();
    for wave in &stepped.waves {
        let group = wave.group.clone().unwrap();
        assert!(wave.hosts.iter().all(|h| {
            hosts
                .iter()
                .any(|x| x.id == h.id && x.labels.get("zone").cloned().unwrap_or_default() == group)
        }));
    }
    assert_eq!(shape(&stepped), vec![1, 3, 3]);
}

#[test]
fn selector_and_already_current() {
    let mut hosts = fleet(4);
    hosts[0].version = Some("2".to_string());
    hosts[1].version = Some("2".to_string());
    hosts[1].healthy = false;
    hosts[2].labels.insert("role".to_string(), "db".to_string());
    hosts[3].online = false;
    let web = Selector::parse("role=web").unwrap();
    let plan = build("2", &web, &hosts, &Strategy::default()).unwrap();
    assert_eq!(plan.matched, 3);
    assert_eq!(plan.already_current, vec!["h00".to_string()]);
    let ids: Vec<&str> = plan
        .waves
        .iter()
        .flat_map(|w| w.hosts.iter().map(|h| h.id.as_str()))
        .collect();
    assert_eq!(ids, vec!["h01", "h03"]);
    assert!(!plan.waves[1].hosts[0].online);
    assert_eq!(
        plan.waves[0].hosts[0].previous_version.as_deref(),
        Some("2")
    );
}

#[test]
fn describe_for_dry_run() {
    let plan = build(
        "2.0",
        &Selector::default(),
        &fleet(3),
        &strategy(None, Some("2"), None, None),
    )
    .unwrap();
    assert_eq!(
        plan.describe(),
        vec![
            "version 2.0: 3 hosts matched, 0 already current, 3 to update in 2 waves",
            "wave 1 (canary): 1 hosts, 1 at once: h00",
            "wave 2: 2 hosts, 2 at once: h01, h02",
        ]
    );
    assert_eq!(plan.to_string().lines().count(), 3);
}
