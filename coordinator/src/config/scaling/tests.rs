//! `[[scaling]]` through the whole config parser: defaults, both command forms, and every
//! refusal naming the policy and what is wrong.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::Config;

const BASE: &str = "data_dir = \"/var/lib/convoy\"\n[tls]\nca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"c.key\"\n\
[[notify]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"https://hooks.example/x\"\n";

const POLICY: &str = "[[scaling]]\nname = \"web\"\nselector = \"role=web\"\nmetric = \"cpu\"\n\
target = 60\nmin = 2\nmax = 10\ncooldown = \"10m\"\n";

fn parse(extra: &str) -> Result<Config, String> {
    Config::parse(&format!("{BASE}{extra}"), Path::new("/etc/convoy"))
}

#[test]
fn a_policy_parses_with_its_defaults() {
    let config = parse(POLICY).unwrap();
    let [policy] = config.scaling.as_slice() else {
        panic!("one policy: {:?}", config.scaling);
    };
    let c = &policy.config;
    assert_eq!(
        (c.name.as_str(), c.min, c.max, c.target),
        ("web", 2, 10, 60.0)
    );
    assert!(c.dry_run, "dry-run by default");
    assert_eq!(c.interval, Duration::from_secs(60));
    assert_eq!(c.window, Duration::from_secs(300));
    assert_eq!(c.timeout, Duration::from_secs(300));
    assert_eq!(c.cooldown, Duration::from_secs(600));
    assert_eq!(policy.metric, SeriesId::Base(0));
    assert_eq!(policy.bounds().cooldown_ms, 600_000);
    assert!(parse("").unwrap().scaling.is_empty());
}

#[test]
fn both_command_forms_and_the_webhook_alias_parse() {
    let shell = parse(&format!(
        "{POLICY}command = \"scale-web --to $CONVOY_SCALE_DESIRED\"\ndry_run = false\n"
    ))
    .unwrap();
    let command = shell.scaling[0].config.command.clone().unwrap();
    assert_eq!(
        command.argv(),
        ["/bin/sh", "-c", "scale-web --to $CONVOY_SCALE_DESIRED"]
    );
    assert!(!shell.scaling[0].config.dry_run);
    let argv = parse(
        &format!(
            "{POLICY}command = [\"/usr/local/bin/scale\", \"web\"]\nwebhook = \"ops\"\n\
         interval = \"5s\"\nwindow = \"2m\"\ntimeout = \"30s\"\ntolerance = 0.1\n\
         metric = \"disk:/\"\n"
        )
        .replace("metric = \"cpu\"\n", ""),
    );
    let argv = argv.unwrap();
    let c = &argv.scaling[0].config;
    assert_eq!(
        c.command.clone().unwrap().argv(),
        ["/usr/local/bin/scale", "web"]
    );
    assert_eq!(c.notify.as_deref(), Some("ops"));
    assert_eq!(argv.scaling[0].metric, SeriesId::Disk("/".into()));
    assert_eq!((c.interval, c.tolerance), (Duration::from_secs(5), 0.1));
}

#[test]
fn bad_policies_refuse_to_load_with_a_clear_message() {
    let second = POLICY.replace("\"web\"\nselector", "\"api\"\nselector");
    for (change, expected) in [
        (
            POLICY.replace("min = 2", "min = 12"),
            "min (12) must not be above max (10)",
        ),
        (
            POLICY.replace("\"cpu\"", "\"cpu%\""),
            "metric: unknown series \"cpu%\"",
        ),
        (
            POLICY.replace("\"cpu\"", "\"p95(cpu)\""),
            "metric: unknown series",
        ),
        (POLICY.replace("role=web", "role=="), "selector:"),
        (
            POLICY.replace("target = 60", "target = 0"),
            "target must be a number above zero",
        ),
        (
            POLICY.replace("max = 10", "max = 0"),
            "min (2) must not be above max (0)",
        ),
        (
            POLICY.replace("\"web\"\nselector", "\"we b\"\nselector"),
            "name must be",
        ),
        (
            format!("{POLICY}{POLICY}"),
            "a policy of that name is already defined",
        ),
        (
            format!("{POLICY}interval = \"100ms\"\n"),
            "interval must be at least 1s",
        ),
        (
            format!("{POLICY}window = \"10s\"\n"),
            "window must be at least 1m",
        ),
        (format!("{POLICY}tolerance = 1.5\n"), "tolerance must be"),
        (
            format!("{POLICY}notify = \"pager\"\n"),
            "no [[notify]] sink named \"pager\"",
        ),
        (
            format!("{POLICY}dry_run = false\n"),
            "needs a command or a notify sink",
        ),
        (format!("{POLICY}command = \"  \"\n"), "command is empty"),
        (format!("{POLICY}command = []\n"), "command is empty"),
        (format!("{POLICY}command = [\"scale\"]\n"), "absolute path"),
        (
            format!("{POLICY}cooldown_s = 5\n"),
            "unknown field `cooldown_s`",
        ),
        (
            POLICY.replace("cooldown = \"10m\"\n", ""),
            "missing field `cooldown`",
        ),
    ] {
        let text = format!("{second}{change}");
        let err = parse(&text).expect_err(&change);
        assert!(err.contains(expected), "{change}\n=> {err}");
        if !expected.contains("unknown field") && !expected.contains("missing field") {
            assert!(err.starts_with("scaling["), "{err}");
        }
    }
}

/// The packaged coordinator.toml's commented `[[scaling]]` example parses when switched on
/// (with the `[[notify]]` sink it names), and stays a dry run.
#[test]
fn the_packaged_example_parses_and_is_a_dry_run() {
    let shipped = include_str!("../../../../packaging/config/coordinator.toml");
    let switched_on: String = shipped
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest.starts_with('[')
                    || rest.split_once(" = ").is_some_and(|(key, _)| {
                        key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
            {
                rest
            }
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let config = Config::parse(&switched_on, Path::new("/etc/convoy")).expect("example parses");
    let [policy] = config.scaling.as_slice() else {
        panic!("one example policy: {:?}", config.scaling);
    };
    assert!(policy.config.dry_run);
    assert_eq!(policy.config.notify.as_deref(), Some("ops-hook"));
}
