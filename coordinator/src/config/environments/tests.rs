use super::*;

fn parse(text: &str) -> Result<Vec<Environment>, String> {
    #[derive(Deserialize)]
    struct Doc {
        environments: Vec<EnvironmentConfig>,
    }
    let doc: Doc = toml::from_str(text).map_err(|e| e.to_string())?;
    validate(&doc.environments)
}

const MS_HOUR: i64 = 3_600_000;

#[test]
fn ordered_environments_parse() {
    let envs = parse(
        r#"
[[environments]]
name = "staging"
selector = "env=staging"

[[environments]]
name = "prod"
selector = "env=prod"
requires = "staging"
approvals = 2
approval_role = "admin"
approval_ttl = "4h"
window = "0 2 * * TUE-THU 3h"
timezone = "Europe/Berlin"
"#,
    )
    .unwrap();
    assert_eq!(envs.len(), 2);
    assert_eq!(envs[0].name, "staging");
    let prod = &envs[1];
    assert_eq!(prod.requires.as_deref(), Some("staging"));
    assert_eq!(prod.approvals, 2);
    assert_eq!(prod.approval_role, Some(Role::Admin));
    assert_eq!(prod.approval_ttl, Some(Duration::from_secs(4 * 3600)));
    let window = prod.window.as_ref().unwrap();
    assert_eq!(window.cron, "0 2 * * TUE-THU");
    assert_eq!(window.duration, Duration::from_secs(3 * 3600));
    assert_eq!(prod.timezone, chrono_tz::Europe::Berlin);
    assert_eq!(prod.narrow("role=web"), "env=prod,role=web");
    assert_eq!(prod.narrow(""), "env=prod");
}

#[test]
fn bad_entries_are_refused_with_the_reason() {
    let cases = [
        (
            "[[environments]]\nname = \"prod\"\nrequires = \"stagign\"\n",
            "requires \"stagign\", which is not an environment",
        ),
        (
            "[[environments]]\nname = \"a\"\nrequires = \"b\"\n[[environments]]\nname = \"b\"\nrequires = \"a\"\n",
            "cycle: a -> b -> a",
        ),
        (
            "[[environments]]\nname = \"a\"\nrequires = \"a\"\n",
            "requires itself",
        ),
        (
            "[[environments]]\nname = \"a\"\n[[environments]]\nname = \"a\"\n",
            "duplicate name \"a\"",
        ),
        (
            "[[environments]]\nname = \"a\"\nselector = \"env in (\"\n",
            "invalid selector",
        ),
        (
            "[[environments]]\nname = \"a\"\nwindow = \"0 2 * * TUE-THU\"\n",
            "invalid",
        ),
        (
            "[[environments]]\nname = \"a\"\nwindow = \"0 99 * * * 3h\"\n",
            "invalid cron",
        ),
        (
            "[[environments]]\nname = \"a\"\nwindow = \"0 2 * * * 3x\"\n",
            "invalid duration",
        ),
        (
            "[[environments]]\nname = \"a\"\ntimezone = \"Mars/Olympus\"\n",
            "unknown timezone",
        ),
        (
            "[[environments]]\nname = \"a\"\napproval_role = \"boss\"\n",
            "approval_role",
        ),
        ("[[environments]]\nname = \"Prod!\"\n", "invalid name"),
        (
            "[[environments]]\nname = \"a\"\nwindw = \"x\"\n",
            "unknown field",
        ),
    ];
    for (text, expected) in cases {
        let err = parse(text).expect_err(text);
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[test]
fn window_state_follows_the_cron_and_duration() {
    let window = Window::parse("0 2 * * * 3h").unwrap();
    // 2026-12-01 00:00 UTC.
    let midnight = 1_796_083_200_000_i64;
    assert_eq!(
        window.state_at(&chrono_tz::UTC, midnight),
        WindowState::Closed {
            next_open: Some(midnight + 2 * MS_HOUR)
        }
    );
    assert_eq!(
        window.state_at(&chrono_tz::UTC, midnight + 2 * MS_HOUR),
        WindowState::Open {
            closes: midnight + 5 * MS_HOUR
        }
    );
    assert_eq!(
        window.state_at(&chrono_tz::UTC, midnight + 5 * MS_HOUR),
        WindowState::Closed {
            next_open: Some(midnight + 26 * MS_HOUR)
        }
    );
    // The same window in Berlin (UTC+1 in December) opens an hour earlier in UTC.
    assert_eq!(
        window.state_at(&chrono_tz::Europe::Berlin, midnight),
        WindowState::Closed {
            next_open: Some(midnight + MS_HOUR)
        }
    );
}
