//! Tests for the release manifest: both hook forms, each probe, defaults, every validation
//! error, `load`, embedding in a config, and the override merge.

use std::collections::BTreeMap;

use super::*;

const FULL: &str = r#"
[hooks]
stop = ["./bin/stop"]
before_activate = { run = ["./bin/migrate", "--all"], timeout = "5m" }
start = ["./bin/start"]
[health]
command = ["./bin/check"]
interval = "2s"
retries = 7
deadline = "90s"
monitor_interval = "30s"
"#;

fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn hook(args: &[&str], secs: u64) -> Option<Hook> {
    Some(Hook {
        run: argv(args),
        timeout: Duration::from_secs(secs),
    })
}

fn health(probe: Probe) -> HealthSpec {
    HealthSpec {
        probe,
        interval: Duration::from_secs(1),
        retries: 5,
        deadline: Duration::from_secs(60),
        monitor_interval: Duration::from_secs(10),
    }
}

fn error(text: &str) -> String {
    match Manifest::parse(text) {
        Ok(manifest) => panic!("expected an error for {text:?}, got {manifest:?}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn parses_the_documented_shape() {
    let manifest = Manifest::parse(FULL).unwrap();
    assert_eq!(
        manifest,
        Manifest {
            hooks: Hooks {
                stop: hook(&["./bin/stop"], 60),
                before_activate: hook(&["./bin/migrate", "--all"], 300),
                start: hook(&["./bin/start"], 60),
            },
            health: Some(HealthSpec {
                probe: Probe::Command(argv(&["./bin/check"])),
                interval: Duration::from_secs(2),
                retries: 7,
                deadline: Duration::from_secs(90),
                monitor_interval: Duration::from_secs(30),
            }),
        }
    );
}

#[test]
fn hook_table_without_timeout_gets_the_default() {
    let manifest = Manifest::parse("[hooks]\nstart = { run = [\"run\"] }").unwrap();
    assert_eq!(manifest.hooks.start, hook(&["run"], 60));
    assert_eq!(manifest.hooks.stop, None);
    assert_eq!(manifest.health, None);
}

#[test]
fn each_probe_form_with_defaults() {
    for (text, probe) in [
        ("tcp = 8080", Probe::Tcp(8080)),
        ("tcp = 65535", Probe::Tcp(65535)),
        ("command = [\"true\"]", Probe::Command(argv(&["true"]))),
        (
            "http = \"http://127.0.0.1:8080/healthz\"",
            Probe::Http("http://127.0.0.1:8080/healthz".into()),
        ),
        (
            "http = \"http://localhost\"",
            Probe::Http("http://localhost".into()),
        ),
        (
            "http = \"http://[::1]:9/x?y=1\"",
            Probe::Http("http://[::1]:9/x?y=1".into()),
        ),
    ] {
        let manifest = Manifest::parse(&format!("[health]\n{text}")).unwrap();
        assert_eq!(manifest.health, Some(health(probe)), "{text}");
        assert_eq!(manifest.hooks, Hooks::default());
    }
}

#[test]
fn empty_text_is_the_default_manifest() {
    assert_eq!(Manifest::parse("").unwrap(), Manifest::default());
    assert_eq!(Manifest::parse("[hooks]").unwrap(), Manifest::default());
}

#[test]
fn unknown_keys_are_named() {
    for (text, key) in [
        ("version = 2", "version"),
        ("[hooks]\nrestart = [\"x\"]", "hooks.restart"),
        (
            "[hooks]\nstop = { run = [\"x\"], timout = \"1s\" }",
            "hooks.stop.timout",
        ),
        ("[health]\ntcp = 1\nshell = true", "health.shell"),
    ] {
        let err = error(text);
        assert!(err.contains(&format!("{key}: unknown key")), "{err}");
    }
}

#[test]
fn invalid_values_name_the_key() {
    for (text, wanted) in [
        ("[hooks]\nstop = []", "hooks.stop: needs a program"),
        ("[hooks]\nstop = [\"\"]", "hooks.stop: needs a program"),
        (
            "[hooks]\nstop = \"./bin/stop\"",
            "hooks.stop: expected an argv array or a table",
        ),
        (
            "[hooks]\nstop = [\"a\", 1]",
            "hooks.stop[1]: expected a string, found integer",
        ),
        (
            "[hooks]\nstop = [\"a\\u0000\"]",
            "hooks.stop[0]: contains a nul byte",
        ),
        (
            "[hooks]\nstop = { timeout = \"1s\" }",
            "hooks.stop.run: missing",
        ),
        (
            "[hooks]\nstart = { run = [] }",
            "hooks.start.run: needs a program",
        ),
        (
            "[hooks]\nstart = { run = [\"x\"], timeout = \"0s\" }",
            "hooks.start.timeout: must be greater",
        ),
        (
            "[hooks]\nstart = { run = [\"x\"], timeout = \"soon\" }",
            "hooks.start.timeout: invalid duration",
        ),
        (
            "[hooks]\nstart = { run = [\"x\"], timeout = 30 }",
            "hooks.start.timeout: expected a string",
        ),
        ("hooks = 1", "hooks: expected a table, found integer"),
        ("health = \"yes\"", "health: expected a table, found string"),
        (
            "[health]\ninterval = \"1s\"",
            "health: needs one of command, tcp or http",
        ),
        (
            "[health]\ntcp = 1\nhttp = \"http://localhost\"",
            "found tcp and http",
        ),
        ("[health]\ncommand = []", "health.command: needs a program"),
        (
            "[health]\ntcp = 0",
            "health.tcp: port must be in 1..=65535, got 0",
        ),
        (
            "[health]\ntcp = 65536",
            "health.tcp: port must be in 1..=65535, got 65536",
        ),
        (
            "[health]\ntcp = -1",
            "health.tcp: port must be in 1..=65535, got -1",
        ),
        (
            "[health]\ntcp = \"80\"",
            "health.tcp: expected an integer, found string",
        ),
        (
            "[health]\ntcp = 1\nretries = 0",
            "health.retries: must be in 1..=4294967295, got 0",
        ),
        (
            "[health]\ntcp = 1\nretries = 5000000000",
            "health.retries: must be in 1..=4294967295, got 5000000000",
        ),
        (
            "[health]\ntcp = 1\nretries = \"5\"",
            "health.retries: expected an integer",
        ),
        (
            "[health]\ntcp = 1\ninterval = \"0ms\"",
            "health.interval: must be greater than zero",
        ),
        (
            "[health]\ntcp = 1\nmonitor_interval = \"0s\"",
            "health.monitor_interval: must be greater than zero",
        ),
        (
            "[health]\ntcp = 1\nmonitor_interval = \"often\"",
            "health.monitor_interval: invalid duration",
        ),
        (
            "[health]\ntcp = 1\ndeadline = \"0s\"",
            "health.deadline: must be greater than zero",
        ),
        (
            "[health]\ntcp = 1\ndeadline = \"1 fortnight\"",
            "health.deadline: invalid duration",
        ),
    ] {
        let err = error(text);
        assert!(err.contains(wanted), "{text:?}: {err}");
        assert!(err.starts_with("invalid convoy.toml: "), "{err}");
    }
}

#[test]
fn http_probe_must_be_local_plain_http() {
    for url in [
        "https://127.0.0.1/healthz",
        "http://10.0.0.1/healthz",
        "http://example.com/healthz",
        "http://127.0.0.1.example.com/",
        "http://user@127.0.0.1/",
        "http://127.0.0.2/",
        "ftp://localhost/",
        "127.0.0.1:8080/healthz",
    ] {
        let err = error(&format!("[health]\nhttp = {url:?}"));
        assert!(
            err.contains("health.http:") && err.contains("local only"),
            "{url}: {err}"
        );
    }
    for (url, wanted) in [
        ("http://127.0.0.1:0/", "invalid port"),
        ("http://127.0.0.1:/", "invalid port"),
        ("http://127.0.0.1:+80/", "invalid port"),
        ("http://127.0.0.1:70000/", "invalid port"),
        ("http://127.0.0.1/a b", "whitespace or control"),
        ("http://127.0.0.1/a\r\nX-Evil: 1", "whitespace or control"),
    ] {
        let err = error(&format!("[health]\nhttp = {url:?}"));
        assert!(
            err.contains("health.http:") && err.contains(wanted),
            "{url}: {err}"
        );
    }
}

#[test]
fn http_targets_are_taken_apart() {
    let target = |host: &str, port, path: &str| HttpTarget {
        host: host.into(),
        port,
        path: path.into(),
    };
    for (url, wanted) in [
        (
            "http://127.0.0.1:8080/healthz",
            target("127.0.0.1", 8080, "/healthz"),
        ),
        ("http://LOCALHOST", target("localhost", 80, "/")),
        ("HTTP://[::1]:81?ready", target("[::1]", 81, "/?ready")),
        (
            "http://localhost:9/a/b?c=d#frag",
            target("localhost", 9, "/a/b?c=d"),
        ),
    ] {
        assert_eq!(HttpTarget::parse(url).unwrap(), wanted, "{url}");
    }
    let localhost = HttpTarget::parse("http://localhost:8080").unwrap();
    assert_eq!(localhost.authority(), "localhost:8080");
    let addrs: Vec<String> = localhost.addrs().iter().map(|a| a.to_string()).collect();
    assert_eq!(addrs, ["127.0.0.1:8080", "[::1]:8080"]);
}

#[test]
fn syntax_errors_carry_the_line() {
    let err = error("[hooks]\n\nstop = [\"x\"\n");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn load_reads_convoy_toml_or_defaults() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Manifest::load(dir.path()).unwrap(), Manifest::default());

    std::fs::write(dir.path().join("convoy.toml"), FULL).unwrap();
    assert_eq!(
        Manifest::load(dir.path()).unwrap(),
        Manifest::parse(FULL).unwrap()
    );

    std::fs::write(dir.path().join("convoy.toml"), "[health]\ntcp = 0").unwrap();
    let err = Manifest::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("convoy.toml") && err.contains("health.tcp"),
        "{err}"
    );
}

#[test]
fn unreadable_manifest_is_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("convoy.toml")).unwrap();
    let err = Manifest::load(dir.path()).unwrap_err();
    assert!(matches!(err, ManifestError::Read { .. }), "{err}");
    assert!(err.to_string().starts_with("cannot read "), "{err}");
}

#[test]
fn embeds_in_an_agent_config() {
    let config = r#"
[apps.web.hooks]
start = { run = ["./bin/start"], timeout = "10s" }
[apps.web.health]
tcp = 9000
retries = 2
[apps.api]
"#;
    // As a toml::Value ...
    let table: toml::Table = toml::from_str(config).unwrap();
    let web = table["apps"]["web"].clone();
    let manifest = Manifest::from_toml_value(web).unwrap();
    assert_eq!(manifest.hooks.start, hook(&["./bin/start"], 10));
    assert_eq!(
        manifest.health,
        Some(HealthSpec {
            retries: 2,
            ..health(Probe::Tcp(9000))
        })
    );

    // ... or straight through serde, with the same checks.
    #[derive(Deserialize)]
    struct Config {
        apps: BTreeMap<String, Manifest>,
    }
    let parsed: Config = toml::from_str(config).unwrap();
    assert_eq!(parsed.apps["web"], manifest);
    assert_eq!(parsed.apps["api"], Manifest::default());

    let bad = config.replace("retries = 2", "retries = 0");
    let err = toml::from_str::<Config>(&bad).err().unwrap().to_string();
    assert!(err.contains("health.retries: must be in 1..="), "{err}");
    let err = Manifest::from_toml_value(toml::Value::Integer(1))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid manifest: manifest: expected a table, found integer"
    );
}

#[test]
fn sections_deserialize_on_their_own() {
    #[derive(Deserialize)]
    struct App {
        #[serde(default)]
        hooks: Hooks,
        health: Option<HealthSpec>,
        pre: Option<Hook>,
    }
    let app: App = toml::from_str("pre = [\"x\"]\n[hooks]\nstop = [\"s\"]").unwrap();
    assert_eq!(app.hooks.stop, hook(&["s"], 60));
    assert_eq!(app.health, None);
    assert_eq!(app.pre, hook(&["x"], 60));
    let err = toml::from_str::<App>("[health]\ntcp = 1\nbogus = 1")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("health.bogus: unknown key"), "{err}");
    let err = toml::from_str::<App>("pre = []").err().unwrap().to_string();
    assert!(err.contains("hook: needs a program"), "{err}");
}

#[test]
fn overrides_replace_per_field() {
    let shipped = Manifest::parse(FULL).unwrap();
    let overrides =
        Manifest::parse("[hooks]\nstart = [\"./custom-start\"]\n[health]\ntcp = 81").unwrap();
    let merged = shipped.clone().overridden_by(&overrides);
    assert_eq!(merged.hooks.stop, shipped.hooks.stop);
    assert_eq!(merged.hooks.before_activate, shipped.hooks.before_activate);
    assert_eq!(merged.hooks.start, hook(&["./custom-start"], 60));
    assert_eq!(merged.health, Some(health(Probe::Tcp(81))));

    assert_eq!(shipped.clone().overridden_by(&Manifest::default()), shipped);
    assert_eq!(Manifest::default().overridden_by(&shipped), shipped);
}
