use super::*;

fn job() -> JobRecord {
    JobRecord {
        id: "j-1".into(),
        action: "uptime".into(),
        selector: "role=web".into(),
        concurrency: String::new(),
        max_errors: "0".into(),
        delivery_timeout_ms: 600_000,
        ..Default::default()
    }
}

fn asked<'a>(action: &'a str, selector: &'a str) -> Asked<'a> {
    Asked {
        action,
        selector,
        concurrency: "",
        max_errors: "0",
        delivery_timeout_ms: 600_000,
    }
}

#[test]
fn the_same_request_has_no_differences() {
    assert!(differences(&job(), &asked("uptime", "role=web")).is_empty());
}

#[test]
fn every_changed_parameter_is_named_with_old_and_new_values() {
    let mut other = asked("restart", "role=db");
    other.concurrency = "1";
    other.max_errors = "10%";
    other.delivery_timeout_ms = 60_000;
    assert_eq!(
        differences(&job(), &other),
        vec![
            "action: \"uptime\" -> \"restart\"",
            "selector: \"role=web\" -> \"role=db\"",
            "concurrency: \"\" -> \"1\"",
            "max_errors: \"0\" -> \"10%\"",
            "delivery_timeout: \"10m\" -> \"1m\"",
        ]
    );
}

fn agent(id: &str, actions: &[&str]) -> AgentSummary {
    AgentSummary {
        id: id.into(),
        actions: actions.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn only_hosts_with_the_action_are_kept_and_the_rest_are_named() {
    let targets = vec![
        agent("web-1", &["uptime", "restart"]),
        agent("web-2", &["uptime"]),
        agent("web-3", &["restart"]),
    ];
    let (kept, left) = eligible(targets.clone(), Some("restart"));
    let kept: Vec<&str> = kept.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(kept, ["web-1", "web-3"]);
    assert_eq!(left, ["web-2"]);
    let (kept, left) = eligible(targets, None);
    assert_eq!(kept.len(), 3);
    assert!(left.is_empty());
}
