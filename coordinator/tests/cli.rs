//! The `convoy` binary's local commands (the fleet CA), run as a user would.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn convoy(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(args)
        .current_dir(dir)
        .env_remove("CONVOY_ADDR")
        .output()
        .expect("run convoy")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn ca_and_certificates_as_in_the_quick_start() {
    let dir = tempfile::tempdir().unwrap();
    let steps: [&[&str]; 4] = [
        &["ca", "init", "--dir", "pki"],
        &[
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
        ],
        &[
            "cert", "issue", "agent", "web-1", "--ca-dir", "pki", "--out", "pki",
        ],
        &[
            "cert", "issue", "operator", "alice", "--role", "admin", "--ca-dir", "pki", "--out",
            "pki", "--days", "30",
        ],
    ];
    for step in steps {
        let out = convoy(dir.path(), step);
        assert!(out.status.success(), "{step:?}: {}", stderr(&out));
    }
    for name in ["ca", "coordinator", "web-1", "alice"] {
        let key = dir.path().join(format!("pki/{name}.key"));
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}.key");
        let pem = std::fs::read_to_string(dir.path().join(format!("pki/{name}.pem"))).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!pem.contains("PRIVATE"));
    }
    let alice = std::fs::read(dir.path().join("pki/alice.pem")).unwrap();
    assert_eq!(
        convoy_proto::identity::Identity::from_cert_pem(&alice)
            .unwrap()
            .uri(),
        "convoy://operator/admin/alice"
    );
}

#[test]
fn refuses_to_overwrite_and_explains() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        convoy(dir.path(), &["ca", "init", "--dir", "pki"])
            .status
            .success()
    );
    let key_before = std::fs::read(dir.path().join("pki/ca.key")).unwrap();
    let out = convoy(dir.path(), &["ca", "init", "--dir", "pki"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("already exists (pass --force to overwrite)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        key_before,
        std::fs::read(dir.path().join("pki/ca.key")).unwrap()
    );

    assert!(
        convoy(
            dir.path(),
            &[
                "cert", "issue", "agent", "web-1", "--ca-dir", "pki", "--out", "pki"
            ]
        )
        .status
        .success()
    );
    let again = convoy(
        dir.path(),
        &[
            "cert", "issue", "agent", "web-1", "--ca-dir", "pki", "--out", "pki",
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    let forced = convoy(
        dir.path(),
        &[
            "cert", "issue", "agent", "web-1", "--ca-dir", "pki", "--out", "pki", "--force",
        ],
    );
    assert!(forced.status.success(), "{}", stderr(&forced));
}

#[test]
fn bad_requests_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        convoy(dir.path(), &["ca", "init", "--dir", "pki"])
            .status
            .success()
    );
    // Mistakes in how `cert issue` is called are usage errors (exit 2, issue 19); a CA
    // that cannot be loaded is a failure (exit 1).
    let cases: [(&[&str], i32, &str); 8] = [
        (
            &["cert", "issue", "agent", "Web_1", "--ca-dir", "pki"],
            2,
            "invalid agent id",
        ),
        (
            &["cert", "issue", "operator", "bob", "--ca-dir", "pki"],
            2,
            "needs --role",
        ),
        (
            &[
                "cert", "issue", "operator", "bob", "--role", "root", "--ca-dir", "pki",
            ],
            2,
            "invalid role",
        ),
        (
            &[
                "cert", "issue", "agent", "web-2", "--san", "x", "--ca-dir", "pki",
            ],
            2,
            "--san applies to server",
        ),
        (
            &["cert", "issue", "agent", "web-2", "--ca-dir", "nowhere"],
            1,
            "cannot load the CA",
        ),
        (&["cert", "issue", "robot", "x"], 2, "invalid value 'robot'"),
        (&["agents", "--selector", "zone in (a"], 2, "position 10"),
        (&["release", "delete", "Web", "1.0"], 2, "invalid app name"),
    ];
    for (args, code, message) in cases {
        let out = convoy(dir.path(), args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    assert!(!dir.path().join("pki/web-2.pem").exists());
}

/// A temp dir with a CA and a viewer certificate for alice under `pki/`.
fn viewer_pki() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        convoy(dir.path(), &["ca", "init", "--dir", "pki"])
            .status
            .success()
    );
    assert!(
        convoy(
            dir.path(),
            &[
                "cert", "issue", "operator", "alice", "--role", "viewer", "--ca-dir", "pki",
                "--out", "pki"
            ]
        )
        .status
        .success()
    );
    dir
}

#[test]
fn an_unreachable_coordinator_is_one_clear_line() {
    let dir = viewer_pki();
    // Port 1 on loopback: nothing listens there.
    let out = convoy(
        dir.path(),
        &[
            "agents",
            "--addr",
            "https://127.0.0.1:1",
            "--ca",
            "pki/ca.pem",
            "--cert",
            "pki/alice.pem",
            "--key",
            "pki/alice.key",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(
        text.contains("cannot reach coordinator at https://127.0.0.1:1"),
        "{text}"
    );
    let missing = convoy(dir.path(), &["agents", "--addr", "https://127.0.0.1:1"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("pass --ca or set CONVOY_CA"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_port_that_never_finishes_tls_is_a_bounded_wait_and_one_line() {
    let dir = viewer_pki();
    // Accepts TCP, then says nothing: connections are held open by the backlog.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("https://{}", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let out = convoy(
        dir.path(),
        &[
            "agents",
            "--addr",
            &addr,
            "--ca",
            "pki/ca.pem",
            "--cert",
            "pki/alice.pem",
            "--key",
            "pki/alice.key",
            "--timeout",
            "1s",
        ],
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(text.contains("within 1s"), "{text}");
    assert!(took < std::time::Duration::from_secs(8), "took {took:?}");
    drop(silent);
}

#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(["ca", "init", "--dir", "pki"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before the program writes: like `convoy ... | head -0`.
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status:?}: {stderr}");
}

/// `convoy report capacity` and `convoy scale status` refuse bad flags before connecting
/// (exit 2, the flag named); a `[[scaling]]` policy that does not check stops `convoy
/// serve` with the policy and the reason.
#[test]
fn capacity_and_scaling_mistakes_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["report", "capacity", "--selector", "zone in (a"],
            "--selector",
        ),
        (
            &["report", "capacity", "--group-by", "Not A Label"],
            "not a label key",
        ),
        (&["report", "capacity", "--since", "soon"], "--since"),
        (&["report", "capacity", "--since", "10s"], "at least 1m"),
        (&["report", "capacity", "--target", "1.5"], "out of range"),
        (
            &["report", "capacity", "-o", "csv"],
            "-o table, json or markdown",
        ),
        (
            &["scale", "status", "-o", "markdown"],
            "only for convoy rollout report and convoy report",
        ),
    ];
    for (args, message) in cases {
        let out = convoy(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    let base = "data_dir = \"data\"\n[tls]\nca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"c.key\"\n";
    let policy = "[[scaling]]\nname = \"web\"\nselector = \"role=web\"\nmetric = \"cpu\"\n\
                  target = 60\nmin = 2\nmax = 10\ncooldown = \"10m\"\n";
    for (from, to, message) in [
        (
            "min = 2",
            "min = 12",
            "scaling[0] (\"web\"): min (12) must not be above max (10)",
        ),
        (
            "\"cpu\"",
            "\"cpu%\"",
            "scaling[0] (\"web\"): metric: unknown series \"cpu%\"",
        ),
        ("role=web", "role in (a", "scaling[0] (\"web\"): selector:"),
    ] {
        let path = dir.path().join("coordinator.toml");
        std::fs::write(&path, format!("{base}{}", policy.replace(from, to))).unwrap();
        let out = convoy(dir.path(), &["serve", "--config", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{to}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{to}: {}", stderr(&out));
        assert!(!dir.path().join("data").exists(), "nothing was created");
    }
}
