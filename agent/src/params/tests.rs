use super::*;

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn allow(values: &[&str]) -> ParamConfig {
    ParamConfig {
        allow: Some(argv(values)),
        pattern: None,
    }
}

fn pattern(p: &str) -> ParamConfig {
    ParamConfig {
        allow: None,
        pattern: Some(p.to_string()),
    }
}

fn declared(list: &[(&str, ParamConfig)]) -> BTreeMap<String, ParamConfig> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn given(list: &[(&str, &str)]) -> BTreeMap<String, String> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn values_are_checked_and_substituted_as_whole_elements() {
    let run = argv(&["systemctl", "restart", "{unit}"]);
    let params = declared(&[("unit", allow(&["nginx", "app"]))]);
    assert_eq!(
        bind(&run, &params, &given(&[("unit", "nginx")])).unwrap(),
        argv(&["systemctl", "restart", "nginx"])
    );
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("unit", "sshd")],
            "value \"sshd\" is not allowed on this host (one of: nginx, app)",
        ),
        (
            &[("unit", "nginx; rm -rf /")],
            "is not allowed on this host",
        ),
        (&[("unit", "nginx app")], "is not allowed on this host"),
        (&[], "missing parameter \"unit\""),
        (
            &[("unit", "nginx"), ("extra", "x")],
            "unknown parameter \"extra\": this action takes unit",
        ),
        (&[("unit", "ngin\0x")], "NUL"),
    ];
    for (values, want) in cases {
        let err = bind(&run, &params, &given(values)).unwrap_err().to_string();
        assert!(err.contains(want), "{values:?}: {err}");
    }
}

#[test]
fn patterns_match_the_whole_value_and_never_split_it() {
    let run = argv(&["printf", "[%s]", "{msg}", "{n}"]);
    let params = declared(&[("msg", pattern(".+")), ("n", pattern("[0-9]+"))]);
    // Spaces and shell syntax stay one argv element; nothing interprets them.
    assert_eq!(
        bind(
            &run,
            &params,
            &given(&[("msg", "a b; echo pwned $(id)"), ("n", "42")])
        )
        .unwrap(),
        argv(&["printf", "[%s]", "a b; echo pwned $(id)", "42"])
    );
    // Anchored: a matching prefix or suffix is not enough.
    for bad in ["42x", "x42", "4 2", ""] {
        let err = bind(&run, &params, &given(&[("msg", "m"), ("n", bad)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must match"), "{bad:?}: {err}");
    }
    // An alternation cannot escape the anchors.
    let params = declared(&[("msg", pattern("a|.*")), ("n", pattern("1|2"))]);
    assert!(bind(&run, &params, &given(&[("msg", "x"), ("n", "12")])).is_err());
}

#[test]
fn an_action_without_params_refuses_any() {
    let run = argv(&["uptime"]);
    let err = bind(&run, &BTreeMap::new(), &given(&[("x", "1")]))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "unknown parameter \"x\": this action takes none");
    assert_eq!(bind(&run, &BTreeMap::new(), &BTreeMap::new()).unwrap(), run);
}

#[test]
fn declarations_are_checked_at_load() {
    let ok = declared(&[("unit", allow(&["nginx"]))]);
    assert!(check_declared("restart", &argv(&["systemctl", "restart", "{unit}"]), &ok).is_ok());
    let cases: Vec<(Vec<String>, BTreeMap<String, ParamConfig>, &str)> = vec![
        (
            argv(&["x", "--unit={unit}", "{unit}"]),
            ok.clone(),
            "must be a whole argv element",
        ),
        (argv(&["x"]), ok.clone(), "not used"),
        (
            argv(&["x", "{other}"]),
            BTreeMap::new(),
            "names no declared parameter",
        ),
        (
            argv(&["x", "{unit}"]),
            declared(&[("unit", ParamConfig::default())]),
            "needs allow",
        ),
        (
            argv(&["x", "{unit}"]),
            declared(&[(
                "unit",
                ParamConfig {
                    allow: Some(argv(&["a"])),
                    pattern: Some("a".into()),
                },
            )]),
            "either allow or pattern",
        ),
        (
            argv(&["x", "{unit}"]),
            declared(&[("unit", pattern("(unclosed"))]),
            "pattern",
        ),
        (
            argv(&["x", "{unit}"]),
            declared(&[("unit", allow(&[]))]),
            "at least one value",
        ),
        (
            argv(&["x", "{Unit}"]),
            declared(&[("Unit", allow(&["a"]))]),
            "invalid parameter name",
        ),
    ];
    for (run, params, want) in cases {
        let err = check_declared("restart", &run, &params)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{run:?}: {err}");
    }
    // Braces that name no parameter (awk programs, JSON) are left alone.
    assert!(check_declared("a", &argv(&["awk", "{print $1}"]), &BTreeMap::new()).is_ok());
}
