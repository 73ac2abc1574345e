//! The `convoy-agent` binary refuses bad configuration with an error that names the file,
//! the line and the key, and exits non-zero without starting.

use std::process::Command;

fn run_agent(config: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_convoy-agent"))
        .args(["run", "--config"])
        .arg(config)
        .output()
        .expect("run convoy-agent")
}

#[test]
fn a_malformed_config_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        "coordinator = \"https://127.0.0.1:7443\"\ndata_dir = \"d\"\nheartbeat = \"1s\"\n[tls]\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n",
    )
    .unwrap();
    let out = run_agent(&path);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agent.toml") && err.contains("line 3") && err.contains("heartbeat"),
        "{err}"
    );
}

#[test]
fn missing_files_and_wrong_certificates_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let missing = run_agent(&dir.path().join("absent.toml"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read config"));

    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        "coordinator = \"https://127.0.0.1:7443\"\ndata_dir = \"d\"\n[tls]\nca = \"ca.pem\"\ncert = \"web-1.pem\"\nkey = \"web-1.key\"\n",
    )
    .unwrap();
    let out = run_agent(&path);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read CA certificate"));
}

/// A signal expression that does not parse stops `check` and `run` alike, naming the app,
/// the signal and the column.
#[test]
fn a_bad_signal_expression_fails_check_and_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        "coordinator = \"https://127.0.0.1:7443\"\ndata_dir = \"d\"\n[tls]\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n\
         [apps.web.signals]\nurl = \"http://127.0.0.1:8080/metrics\"\nerror_rate = \"rate(errors_total) /\"\n",
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_convoy-agent"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run convoy-agent check");
    for out in [check, run_agent(&path)] {
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("apps.web.signals.error_rate: column 21"),
            "{err}"
        );
    }
}
