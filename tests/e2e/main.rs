//! Process end-to-end tests: the real `convoy` and `convoy-agent` binaries, driven through
//! the CLI as the README tells a new user, killed with SIGKILL and stopped with SIGTERM.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use convoy_tests::binary;

mod backup;
mod demo;
mod deploy_stop;
mod journal;
mod monitor;
mod ops;
mod packaging;
mod reload;
mod rollout;
mod skew;
mod snapshot;
mod store_failure;
mod ui;

/// A child process that is killed if the test ends early.
struct Proc {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, dir: &Path, args: &[&str]) -> Self {
        Self::spawn_env(name, dir, args, &[])
    }

    fn spawn_env(name: &'static str, dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Self {
        let log_path = dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(binary(name))
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn");
        Self {
            child,
            name,
            log: log_path,
        }
    }

    /// Spawns a program found on PATH (Prometheus, Alertmanager).
    fn spawn_path(name: &'static str, dir: &Path, args: &[&str]) -> Self {
        let log_path = dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(name)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn");
        Self {
            child,
            name,
            log: log_path,
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit within `timeout`.
    fn wait(mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?}; its log:\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Fleet {
    dir: tempfile::TempDir,
    addr: String,
}

impl Fleet {
    /// The README's set-up: a CA, a server, an agent and an operator certificate, and
    /// the two config files.
    fn new(agents: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let fleet = Self {
            addr: format!("https://127.0.0.1:{port}"),
            dir,
        };
        fleet.ok(&["ca", "init", "--dir", "pki"]);
        fleet.ok(&[
            "cert",
            "issue",
            "server",
            "coordinator",
            "--san",
            "127.0.0.1",
            "--san",
            "localhost",
            "--ca-dir",
            "pki",
            "--out",
            "pki",
        ]);
        fleet.ok(&[
            "cert", "issue", "operator", "alice", "--role", "admin", "--ca-dir", "pki", "--out",
            "pki",
        ]);
        std::fs::write(
            fleet.path().join("coordinator.toml"),
            format!(
                "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nrelease_public_keys = [\"release.pub\"]\n[tls]\nca = \"pki/ca.pem\"\ncert = \"pki/coordinator.pem\"\nkey = \"pki/coordinator.key\"\n[agents]\nheartbeat_interval = \"300ms\"\noffline_after = \"2s\"\n"
            ),
        )
        .unwrap();
        // Agents require signed releases: every fleet has a key they trust
        // (`release.key`; push with `--sign-key release.key`).
        fleet.ok(&["release", "keygen", "--out", "release"]);
        for (id, labels) in agents {
            fleet.ok(&[
                "cert", "issue", "agent", id, "--ca-dir", "pki", "--out", "pki",
            ]);
            let labels: String = labels
                .split(',')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap();
                    format!("{k} = \"{v}\"\n")
                })
                .collect();
            std::fs::write(
                fleet.path().join(format!("{id}.toml")),
                format!(
                    "coordinator = \"{}\"\ndata_dir = \"{id}-data\"\nrelease_public_keys = [\"release.pub\"]\n[tls]\nca = \"pki/ca.pem\"\ncert = \"pki/{id}.pem\"\nkey = \"pki/{id}.key\"\n[labels]\n{labels}",
                    fleet.addr
                ),
            )
            .unwrap();
        }
        fleet
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn convoy(&self, args: &[&str]) -> Output {
        Command::new(binary("convoy"))
            .args(args)
            .current_dir(self.path())
            .env("CONVOY_ADDR", &self.addr)
            .env("CONVOY_CA", "pki/ca.pem")
            .env("CONVOY_CERT", "pki/alice.pem")
            .env("CONVOY_KEY", "pki/alice.key")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.convoy(args);
        assert!(
            out.status.success(),
            "convoy {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn serve(&self) -> Proc {
        Proc::spawn(
            "convoy",
            self.path(),
            &["serve", "--config", "coordinator.toml"],
        )
    }

    fn agent(&self, id: &str) -> Proc {
        let config = format!("{id}.toml");
        Proc::spawn("convoy-agent", self.path(), &["run", "--config", &config])
    }

    fn agents_json(&self, selector: &str) -> Vec<serde_like::Agent> {
        let out = self.convoy(&["agents", "--selector", selector, "-o", "json"]);
        if !out.status.success() {
            return Vec::new();
        }
        serde_like::parse(&String::from_utf8_lossy(&out.stdout))
    }

    fn wait_online(&self, selector: &str, count: usize) -> Vec<serde_like::Agent> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let agents = self.agents_json(selector);
            // Online, and past the first heartbeat (metrics present).
            let ready = agents
                .iter()
                .filter(|a| a.state == "online" && a.raw.contains("\"cpu_percent\""))
                .count();
            if ready == count && agents.iter().filter(|a| a.state == "online").count() == count {
                return agents;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {count} online agents matching {selector:?}; log:\n{}",
                self.log("convoy")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.path().join("data")
    }
}

/// Just enough JSON reading for these tests, through the CLI's stable field names.
mod serde_like {
    #[derive(Debug)]
    pub struct Agent {
        pub id: String,
        pub state: String,
        pub raw: String,
    }

    pub fn parse(text: &str) -> Vec<Agent> {
        // Objects of the top-level array start with `  {` at two spaces of indent.
        let mut agents = Vec::new();
        for chunk in text.split("\n  {").skip(1) {
            let field = |name: &str| {
                let key = format!("\n    \"{name}\": \"");
                chunk
                    .find(&key)
                    .map(|at| {
                        let rest = &chunk[at + key.len()..];
                        rest[..rest.find('"').unwrap_or(0)].to_string()
                    })
                    .unwrap_or_default()
            };
            agents.push(Agent {
                id: field("id"),
                state: field("state"),
                raw: chunk.to_string(),
            });
        }
        agents
    }
}

#[test]
fn quick_start_kill_restart_and_clean_shutdown() {
    let fleet = Fleet::new(&[
        ("web-1", "role=web,zone=a"),
        ("web-2", "role=web,zone=c"),
        ("db-1", "role=db,zone=b"),
    ]);
    // db-1 opts out of release signatures (it trusts no key): the CLI shows and counts it.
    let db = fleet.path().join("db-1.toml");
    let config = std::fs::read_to_string(&db)
        .unwrap()
        .replace("release_public_keys = [\"release.pub\"]\n", "");
    std::fs::write(&db, format!("allow_unsigned_releases = true\n{config}")).unwrap();
    let coordinator = fleet.serve();
    let agents: Vec<Proc> = ["web-1", "web-2", "db-1"]
        .iter()
        .map(|id| fleet.agent(id))
        .collect();
    let all = fleet.wait_online("", 3);
    assert_eq!(
        all.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["db-1", "web-1", "web-2"]
    );
    for field in [
        "\"labels\"",
        "\"version\"",
        "\"last_seen\"",
        "\"cpu_percent\"",
        "\"mem_used_bytes\"",
        "\"mem_total_bytes\"",
    ] {
        assert!(
            all[1].raw.contains(field),
            "missing {field} in {}",
            all[1].raw
        );
    }

    // Selector filtering through the CLI, table output, and one agent's details.
    let selected = fleet.agents_json("role=web,zone in (a,b)");
    assert_eq!(
        selected.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["web-1"]
    );
    let table = fleet.ok(&["agents"]);
    assert!(
        table.contains("LAST SEEN")
            && table.contains("web-2")
            && table.contains("agents: 3, online: 3")
            && table.contains("allow unsigned releases: 1"),
        "{table}"
    );
    assert!(
        all[0].raw.contains("\"allow_unsigned_releases\": true"),
        "{}",
        all[0].raw
    );
    assert!(
        all[1].raw.contains("\"allow_unsigned_releases\": false"),
        "{}",
        all[1].raw
    );
    let show = fleet.ok(&["agents", "show", "web-1"]);
    assert!(
        show.contains("kernel") && show.contains("connections") && show.contains("signed only"),
        "{show}"
    );
    let show = fleet.ok(&["agents", "show", "db-1"]);
    assert!(show.contains("UNSIGNED ALLOWED"), "{show}");
    let show_json = fleet.ok(&["agents", "show", "web-1", "-o", "json"]);
    assert!(
        show_json.contains("\"facts\"") && show_json.contains("\"connections\""),
        "{show_json}"
    );

    // SIGKILL the coordinator: agents keep retrying, and come back when it restarts on
    // the same data dir, with the inventory intact.
    coordinator.signal("-KILL");
    coordinator.wait(Duration::from_secs(10));
    assert!(fleet.data().exists());
    let coordinator = fleet.serve();
    let back = fleet.wait_online("", 3);
    assert_eq!(back.len(), 3);
    let show_json = fleet.ok(&["agents", "show", "web-1", "-o", "json"]);
    assert!(
        show_json.matches("\"connected_at\"").count() >= 2,
        "{show_json}"
    );

    // SIGTERM: the agent leaves cleanly and is shown offline, then the coordinator
    // stops cleanly.
    let mut agents = agents.into_iter();
    let web1 = agents.next().unwrap();
    web1.signal("-TERM");
    assert!(
        web1.wait(Duration::from_secs(10)).success(),
        "agent exits 0 on SIGTERM"
    );
    fleet.wait_online("", 2);
    coordinator.signal("-TERM");
    let status = coordinator.wait(Duration::from_secs(20));
    assert!(
        status.success(),
        "coordinator exits 0 on SIGTERM: {status:?}\n{}",
        fleet.log("convoy")
    );
    for agent in agents {
        agent.signal("-INT");
        assert!(
            agent.wait(Duration::from_secs(10)).success(),
            "agent exits 0 on SIGINT"
        );
    }
}

#[test]
fn a_malformed_coordinator_config_names_file_line_and_key() {
    let fleet = Fleet::new(&[]);
    std::fs::write(
        fleet.path().join("bad.toml"),
        "listen = \"127.0.0.1:1\"\ndata_dir = \"data\"\n[tls]\nca = \"pki/ca.pem\"\ncert = \"pki/coordinator.pem\"\nkey = \"pki/coordinator.key\"\nshiny = true\n",
    )
    .unwrap();
    let out = fleet.convoy(&["serve", "--config", "bad.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("line 7") && err.contains("shiny"),
        "{err}"
    );
    assert!(!fleet.data().exists(), "a refused config creates nothing");
}

#[test]
fn an_agent_with_a_foreign_certificate_logs_an_identity_problem_and_backs_off() {
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    // Replace web-1's certificate with one from another CA.
    let other = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(binary("convoy"))
            .args(args)
            .current_dir(other.path())
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    run(&["ca", "init", "--dir", "pki"]);
    run(&[
        "cert", "issue", "agent", "web-1", "--ca-dir", "pki", "--out", "pki",
    ]);
    for ext in ["pem", "key"] {
        std::fs::copy(
            other.path().join(format!("pki/web-1.{ext}")),
            fleet.path().join(format!("pki/web-1.{ext}")),
        )
        .unwrap();
    }
    let coordinator = fleet.serve();
    let agent = fleet.agent("web-1");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fleet
        .log("convoy-agent")
        .contains("refused this agent's identity")
    {
        assert!(
            Instant::now() < deadline,
            "agent log:\n{}",
            fleet.log("convoy-agent")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // It backs off (at least half the 60s cap) instead of hammering: one attempt only so far.
    std::thread::sleep(Duration::from_secs(2));
    let refusals = fleet.log("convoy").matches("tls handshake refused").count();
    assert_eq!(refusals, 1, "coordinator log:\n{}", fleet.log("convoy"));
    assert!(fleet.agents_json("").is_empty());
    agent.signal("-TERM");
    assert!(agent.wait(Duration::from_secs(10)).success());
    coordinator.signal("-TERM");
    assert!(coordinator.wait(Duration::from_secs(20)).success());
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

fn add_actions(fleet: &Fleet, id: &str, marks: &Path) {
    let path = fleet.path().join(format!("{id}.toml"));
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(&format!(
        r#"
[actions.hello]
run = ["/bin/sh", "-c", "echo hello from {id}"]
timeout = "10s"

[actions.slow]
run = ["/bin/sh", "-c", "echo run >> \"$MARK\"; exec sleep 30"]
timeout = "60s"
kill_grace = "1s"
env = {{ MARK = "{mark}" }}
"#,
        mark = marks.join(format!("{id}.runs")).display()
    ));
    std::fs::write(path, config).unwrap();
}

fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn jobs_through_the_cli_and_an_agent_killed_mid_command() {
    let fleet = Fleet::new(&[("web-1", "role=web"), ("web-2", "role=web")]);
    let marks = tempfile::tempdir().unwrap();
    for id in ["web-1", "web-2"] {
        add_actions(&fleet, id, marks.path());
    }
    let coordinator = fleet.serve();
    let mut web1 = fleet.agent("web-1");
    let web2 = fleet.agent("web-2");
    fleet.wait_online("role=web", 2);

    // exec --wait -o json: blocks, exits 0, prints the job object.
    let done = json(&fleet.ok(&[
        "exec",
        "hello",
        "--selector",
        "role=web",
        "--wait",
        "-o",
        "json",
    ]));
    assert_eq!(done["action"], "hello");
    assert_eq!(done["state"], "succeeded");
    let hosts = done["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2);
    for host in hosts {
        assert_eq!(host["state"], "succeeded");
        assert_eq!(host["exit_code"], 0);
        assert_eq!(
            host["output"],
            format!("hello from {}\n", host["host"].as_str().unwrap())
        );
    }
    let follow = fleet.ok(&["exec", "hello", "--selector", "role=web", "--follow"]);
    assert!(
        follow.contains("web-1 | hello from web-1") && follow.contains("web-2 | hello from web-2"),
        "{follow}"
    );

    // A long command; kill web-1's agent with SIGKILL while it runs.
    let started = json(&fleet.ok(&["exec", "slow", "--selector", "role=web", "-o", "json"]));
    let job_id = started["id"].as_str().unwrap().to_string();
    let runs = |id: &str| {
        std::fs::read_to_string(marks.path().join(format!("{id}.runs"))).unwrap_or_default()
    };
    wait_until(
        "slow running on both hosts",
        Duration::from_secs(20),
        || runs("web-1") == "run\n" && runs("web-2") == "run\n",
    );
    web1.signal("-KILL");
    web1.wait(Duration::from_secs(10));
    web1 = fleet.agent("web-1");
    let show = |fleet: &Fleet| json(&fleet.ok(&["job", "show", &job_id, "-o", "json"]));
    let host_state = |job: &serde_json::Value, host: &str| {
        job["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["host"] == host)
            .unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    wait_until(
        "web-1 reported interrupted",
        Duration::from_secs(20),
        || host_state(&show(&fleet), "web-1") == "interrupted",
    );
    assert_eq!(host_state(&show(&fleet), "web-2"), "running");

    // Cancel stops the rest; the job exits non-zero for --wait style callers.
    let cancelled = fleet.convoy(&["job", "cancel", &job_id]);
    assert!(
        cancelled.status.success(),
        "{}",
        String::from_utf8_lossy(&cancelled.stderr)
    );
    wait_until("web-2 cancelled", Duration::from_secs(20), || {
        host_state(&show(&fleet), "web-2") == "cancelled"
    });
    assert_eq!(show(&fleet)["state"], "cancelled");
    // The killed command was never run again.
    fleet.wait_online("role=web", 2);
    assert_eq!(runs("web-1"), "run\n");

    // Bad input: clear errors, nothing created.
    let before = json(&fleet.ok(&["jobs", "-o", "json"]))
        .as_array()
        .unwrap()
        .len();
    let unknown = fleet.convoy(&["exec", "nope", "--selector", "role=web"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown action \"nope\""));
    let zero = fleet.convoy(&["exec", "hello", "--concurrency", "0"]);
    assert_eq!(zero.status.code(), Some(2));
    let nobody = fleet.convoy(&["exec", "hello", "--selector", "role=db"]);
    assert_eq!(nobody.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no agents match"));
    let missing = fleet.convoy(&["job", "show", "j-nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        json(&fleet.ok(&["jobs", "-o", "json"]))
            .as_array()
            .unwrap()
            .len(),
        before
    );

    // Everything above is in the audit log, refusals included.
    let audit = json(&fleet.ok(&[
        "audit",
        "--since",
        "1h",
        "--operator",
        "alice",
        "-o",
        "json",
    ]));
    let calls: Vec<(&str, bool)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["call"].as_str().unwrap(), e["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        calls,
        [
            ("StartJob", true),
            ("StartJob", true),
            ("StartJob", true),
            ("CancelJob", true),
            ("StartJob", false),
            ("StartJob", false)
        ],
        "{audit}"
    );

    for agent in [web1, web2] {
        agent.signal("-TERM");
        assert!(agent.wait(Duration::from_secs(20)).success());
    }
    coordinator.signal("-TERM");
    assert!(coordinator.wait(Duration::from_secs(20)).success());
}

#[test]
fn a_coordinator_killed_mid_job_resumes_it_and_loses_no_output() {
    let fleet = Fleet::new(&[("db-1", "role=db")]);
    let path = fleet.path().join("db-1.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(
        r#"
[actions.count]
run = ["/bin/sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line $i; i=$((i+1)); sleep 0.005; done"]
timeout = "60s"
"#,
    );
    std::fs::write(&path, config).unwrap();
    let coordinator = fleet.serve();
    let agent = fleet.agent("db-1");
    fleet.wait_online("role=db", 1);
    let job = json(&fleet.ok(&["exec", "count", "--selector", "role=db", "-o", "json"]));
    let job_id = job["id"].as_str().unwrap().to_string();
    let stored = |fleet: &Fleet| {
        let out = fleet.convoy(&["job", "show", &job_id, "-o", "json"]);
        if !out.status.success() {
            return 0;
        }
        json(&String::from_utf8_lossy(&out.stdout))["hosts"][0]["output_stored_bytes"]
            .as_u64()
            .unwrap_or(0)
    };
    wait_until("output flowing", Duration::from_secs(20), || {
        stored(&fleet) > 0
    });
    coordinator.signal("-KILL");
    coordinator.wait(Duration::from_secs(10));
    let coordinator = fleet.serve();
    wait_until("the killed job completed", Duration::from_secs(30), || {
        let out = fleet.convoy(&["job", "show", &job_id, "-o", "json"]);
        out.status.success() && json(&String::from_utf8_lossy(&out.stdout))["state"] == "succeeded"
    });
    let output = fleet.ok(&["job", "output", &job_id, "--host", "db-1"]);
    let expected: String = (0..400).map(|i| format!("line {i}\n")).collect();
    assert_eq!(output, expected);
    agent.signal("-TERM");
    assert!(agent.wait(Duration::from_secs(20)).success());
    coordinator.signal("-TERM");
    assert!(coordinator.wait(Duration::from_secs(20)).success());
}

/// A tar.gz release of `web` with a start hook and a health check.
fn web_release(dir: &Path, version: &str) -> std::path::PathBuf {
    let manifest = "[hooks]\nstart = [\"/bin/sh\", \"-c\", \"echo $CONVOY_VERSION > ../../running\"]\n[health]\ncommand = [\"/bin/sh\", \"-c\", \"test -f VERSION\"]\ninterval = \"50ms\"\nretries = 3\ndeadline = \"5s\"\n";
    web_release_with(dir, version, manifest)
}

/// A tar.gz release of `web`: `convoy.toml` (the manifest given) and a `VERSION` file.
use convoy_tests::web_release_with;

#[test]
fn releases_are_signed_pushed_deployed_and_rolled_back_through_the_cli() {
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    fleet.ok(&["release", "keygen", "--out", "signing"]);
    let mode = std::fs::metadata(fleet.path().join("signing.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let path = fleet.path().join("web-1.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    // This host trusts only the key made above.
    config = format!(
        "{}\n[apps.web]\n",
        config.replace("\"release.pub\"", "\"signing.pub\"")
    );
    std::fs::write(&path, config).unwrap();
    // And the coordinator verifies pushes against it.
    let coordinator_toml = fleet.path().join("coordinator.toml");
    let text = std::fs::read_to_string(&coordinator_toml).unwrap();
    std::fs::write(
        &coordinator_toml,
        text.replace("\"release.pub\"", "\"signing.pub\""),
    )
    .unwrap();
    let coordinator = fleet.serve();
    let agent = fleet.agent("web-1");
    fleet.wait_online("role=web", 1);

    for version in ["1.0", "2.0"] {
        let artifact = web_release(fleet.path(), version);
        let pushed = json(&fleet.ok(&[
            "release",
            "push",
            "web",
            version,
            artifact.to_str().unwrap(),
            "--sign-key",
            "signing.key",
            "-o",
            "json",
        ]));
        assert_eq!(pushed["signed"], true);
        assert_eq!(pushed["signer"], "signing");
        assert_eq!(pushed["signature_verified"], true);
    }
    // A push signed by a key the coordinator does not trust is refused.
    let rogue = web_release(fleet.path(), "9.0");
    let refused = fleet.convoy(&[
        "release",
        "push",
        "web",
        "9.0",
        rogue.to_str().unwrap(),
        "--sign-key",
        "release.key",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("does not verify"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let unsigned = web_release(fleet.path(), "3.0");
    fleet.ok(&["release", "push", "web", "3.0", unsigned.to_str().unwrap()]);
    let conflict = fleet.convoy(&["release", "push", "web", "1.0", unsigned.to_str().unwrap()]);
    assert_eq!(conflict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&conflict.stderr).contains("already pushed with other bytes"));
    let listed = json(&fleet.ok(&["release", "list", "web", "-o", "json"]));
    assert_eq!(listed.as_array().unwrap().len(), 3);

    let done = json(&fleet.ok(&[
        "deploy",
        "web",
        "1.0",
        "--selector",
        "role=web",
        "--wait",
        "-o",
        "json",
    ]));
    assert_eq!(done["state"], "succeeded", "{done}");
    fleet.ok(&["deploy", "web", "2.0", "--selector", "role=web", "--wait"]);
    let running =
        || std::fs::read_to_string(fleet.path().join("web-1-data/apps/web/running")).unwrap();
    assert_eq!(running(), "2.0\n");
    // Reported with the deploy's result, not a heartbeat later.
    let status = json(&fleet.ok(&["release", "status", "web", "-o", "json"]));
    assert_eq!(status[0]["version"], "2.0", "{status}");
    assert_eq!(status[0]["previous"], "1.0");
    assert_eq!(status[0]["healthy"], true);

    // The unsigned release is refused by the host: --wait exits 1.
    let refused = fleet.convoy(&[
        "deploy",
        "web",
        "3.0",
        "--selector",
        "role=web",
        "--wait",
        "-o",
        "json",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let refused = json(&String::from_utf8_lossy(&refused.stdout));
    assert!(
        refused["hosts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not signed"),
        "{refused}"
    );
    assert_eq!(running(), "2.0\n");

    fleet.ok(&["rollback", "web", "--selector", "role=web", "--wait"]);
    assert_eq!(running(), "1.0\n");
    let agents = json(&fleet.ok(&["agents", "-o", "json"]));
    wait_until("agents report web 1.0", Duration::from_secs(10), || {
        json(&fleet.ok(&["agents", "-o", "json"]))[0]["apps"][0]["version"] == "1.0"
    });
    assert!(agents[0]["apps"].is_array());
    let unknown = fleet.convoy(&["deploy", "web", "9.9"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no release web 9.9"));
    let audit = fleet.ok(&["audit", "-o", "json"]);
    assert!(
        audit.contains("PushRelease") && audit.contains("deploy=web 2.0"),
        "{audit}"
    );

    agent.signal("-TERM");
    assert!(agent.wait(Duration::from_secs(20)).success());
    coordinator.signal("-TERM");
    assert!(coordinator.wait(Duration::from_secs(20)).success());
}

/// A plain tar of one large file of pseudo-random bytes (incompressible, cheap to make).
fn big_release(dir: &Path, megabytes: usize) -> std::path::PathBuf {
    let mut data = vec![0u8; megabytes << 20];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for chunk in data.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let bytes = state.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    let path = dir.join("big.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&path).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "blob", &data[..]).unwrap();
    builder.into_inner().unwrap();
    path
}

#[test]
fn a_download_cut_by_a_coordinator_kill_resumes_and_completes() {
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    let path = fleet.path().join("web-1.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{config}\n[apps.web]\n")).unwrap();
    let coordinator = fleet.serve();
    let agent = fleet.agent("web-1");
    fleet.wait_online("role=web", 1);
    let artifact = big_release(fleet.path(), 96);
    let release = json(&fleet.ok(&[
        "release",
        "push",
        "web",
        "1.0",
        artifact.to_str().unwrap(),
        "--sign-key",
        "release.key",
        "-o",
        "json",
    ]));
    let sha = release["sha256"].as_str().unwrap().to_string();
    let size = release["size"].as_u64().unwrap();
    let job = json(&fleet.ok(&["deploy", "web", "1.0", "-o", "json"]));
    let job_id = job["id"].as_str().unwrap().to_string();
    let part = fleet
        .path()
        .join(format!("web-1-data/downloads/{sha}.part"));
    // Kill the coordinator while the download is under way.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        if have > 0 && have < size {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "download never observed in flight"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    coordinator.signal("-KILL");
    coordinator.wait(Duration::from_secs(10));
    let cut_at = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    assert!(cut_at < size, "the download finished before the kill");
    let coordinator = fleet.serve();
    wait_until(
        "the deploy completed after the restart",
        Duration::from_secs(60),
        || {
            let out = fleet.convoy(&["job", "show", &job_id, "-o", "json"]);
            out.status.success()
                && json(&String::from_utf8_lossy(&out.stdout))["state"] == "succeeded"
        },
    );
    let blob = std::fs::metadata(fleet.path().join("web-1-data/apps/web/current/blob")).unwrap();
    assert_eq!(blob.len(), 96 << 20);
    assert!(
        fleet.log("convoy-agent").contains("resuming"),
        "{}",
        fleet.log("convoy-agent")
    );
    agent.signal("-TERM");
    assert!(agent.wait(Duration::from_secs(20)).success());
    coordinator.signal("-TERM");
    assert!(coordinator.wait(Duration::from_secs(20)).success());
}

/// Reads service-manager notifications until one equals `want`.
fn expect_notification(socket: &std::os::unix::net::UnixDatagram, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buffer = [0u8; 4096];
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let Ok(read) = socket.recv(&mut buffer) else {
            continue;
        };
        let message = String::from_utf8_lossy(&buffer[..read]).into_owned();
        if message.lines().any(|line| line == want) {
            return;
        }
        seen.push(message);
    }
    panic!("no {want} within 20s; got {seen:?}");
}

#[test]
fn both_programs_tell_the_service_manager_when_ready_and_when_stopping() {
    let fleet = Fleet::new(&[("web-1", "role=web")]);
    let socket_path = fleet.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let env = [("NOTIFY_SOCKET", socket_path.as_path())];
    let coordinator = Proc::spawn_env(
        "convoy",
        fleet.path(),
        &["serve", "--config", "coordinator.toml"],
        &env,
    );
    expect_notification(&socket, "READY=1");
    let agent = Proc::spawn_env(
        "convoy-agent",
        fleet.path(),
        &["run", "--config", "web-1.toml"],
        &env,
    );
    expect_notification(&socket, "READY=1");
    fleet.wait_online("", 1);
    agent.signal("-TERM");
    expect_notification(&socket, "STOPPING=1");
    assert!(agent.wait(Duration::from_secs(20)).success());
    coordinator.signal("-TERM");
    expect_notification(&socket, "STOPPING=1");
    assert!(coordinator.wait(Duration::from_secs(20)).success());
}

#[test]
fn the_systemd_units_verify() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
    assert!(version.status.success());
    let dir = tempfile::tempdir().unwrap();
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/systemd");
    let mut paths = Vec::new();
    for unit in ["convoy-agent.service", "convoy-coordinator.service"] {
        // Point ExecStart at the binaries just built: verify checks they exist.
        let text = std::fs::read_to_string(units.join(unit))
            .unwrap()
            .replace(
                "/usr/bin/convoy-agent",
                binary("convoy-agent").to_str().unwrap(),
            )
            .replace(
                "/usr/bin/convoy ",
                &format!("{} ", binary("convoy").display()),
            );
        let path = dir.path().join(unit);
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
