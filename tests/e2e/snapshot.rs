//! The coordinator's disaster recovery with the real binaries: `convoy snapshot save` while
//! jobs run and agents heartbeat, `drill`, `restore` into an empty dir (a non-empty one
//! refused), a new `convoy serve` on the restored dir showing the same agents, jobs,
//! rollouts, releases and backups, and the agents reconnecting to it; scheduled snapshots
//! kept, drilled and exported as metrics.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Fleet, add_actions, free_port, json, wait_until, web_release};

fn ids(value: &serde_json::Value, key: &str) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_snapshot_saved_under_load_restores_into_a_coordinator_that_agents_reconnect_to() {
    let fleet = Fleet::new(&[
        ("web-1", "role=web"),
        ("web-2", "role=web"),
        ("db-1", "role=db"),
    ]);
    let marks = tempfile::tempdir().unwrap();
    for id in ["web-1", "web-2"] {
        add_actions(&fleet, id, marks.path());
        let path = fleet.path().join(format!("{id}.toml"));
        let config = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{config}\n[apps.web]\n")).unwrap();
    }
    let live = fleet.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(live.join("data"), vec![5u8; 200_000]).unwrap();
    let db = fleet.path().join("db-1.toml");
    let config = std::fs::read_to_string(&db).unwrap();
    std::fs::write(
        &db,
        format!(
            "{config}\n[backup.sets.pgdata]\npaths = [\"{}\"]\n",
            live.display()
        ),
    )
    .unwrap();
    let mut coordinator = fleet.serve();
    let _agents: Vec<_> = ["web-1", "web-2", "db-1"]
        .iter()
        .map(|id| fleet.agent(id))
        .collect();
    fleet.wait_online("", 3);

    // A release with notes and metadata, a rollout of it, a backup.
    std::fs::write(
        fleet.path().join("CHANGES.md"),
        "# Faster login\n\ndetails\n",
    )
    .unwrap();
    let artifact = web_release(fleet.path(), "1.0");
    let pushed = json(&fleet.ok(&[
        "release",
        "push",
        "web",
        "1.0",
        artifact.to_str().unwrap(),
        "--sign-key",
        "release.key",
        "--notes-file",
        "CHANGES.md",
        "--meta",
        "commit=abc123",
        "-o",
        "json",
    ]));
    assert_eq!(pushed["metadata"]["commit"], "abc123", "{pushed}");
    let started = json(&fleet.ok(&[
        "rollout",
        "start",
        "web",
        "1.0",
        "--selector",
        "role=web",
        "--auto-promote",
        "-o",
        "json",
    ]));
    let rollout = started["id"].as_str().unwrap().to_string();
    wait_until("the rollout succeeds", Duration::from_secs(60), || {
        json(&fleet.ok(&["rollout", "status", &rollout, "-o", "json"]))["state"] == "succeeded"
    });
    let backup = json(&fleet.ok(&[
        "backup",
        "run",
        "pgdata",
        "--selector",
        "role=db",
        "--wait",
        "-o",
        "json",
    ]));
    assert_eq!(backup["state"], "succeeded", "{backup}");
    let shown = fleet.ok(&["release", "show", "web", "1.0"]);
    assert!(
        shown.contains("Faster login")
            && shown.contains("commit=abc123")
            && shown.contains(&rollout),
        "{shown}"
    );

    // Load: a long job running on both web hosts, and short jobs started one after the
    // other (bounded in count and time) while the snapshot is taken.
    let slow = json(&fleet.ok(&["exec", "slow", "--selector", "role=web", "-o", "json"]));
    let stop = Arc::new(AtomicBool::new(false));
    let load = std::thread::spawn({
        let stop = stop.clone();
        let dir = fleet.path().to_path_buf();
        let addr = fleet.addr.clone();
        move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut started = 0;
            while !stop.load(Ordering::Relaxed) && started < 40 && Instant::now() < deadline {
                let out = std::process::Command::new(convoy_tests::binary("convoy"))
                    .args(["exec", "hello", "--selector", "role=web"])
                    .current_dir(&dir)
                    .env("CONVOY_ADDR", &addr)
                    .env("CONVOY_CA", "pki/ca.pem")
                    .env("CONVOY_CERT", "pki/alice.pem")
                    .env("CONVOY_KEY", "pki/alice.key")
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                started += 1;
            }
            started
        }
    });
    // Let a few load jobs exist before the save begins.
    wait_until("load jobs", Duration::from_secs(30), || {
        json(&fleet.ok(&["jobs", "-o", "json"]))
            .as_array()
            .unwrap()
            .len()
            >= 5
    });
    let jobs_before = ids(
        &json(&fleet.ok(&["jobs", "--limit", "1000", "-o", "json"])),
        "id",
    );
    let saved = fleet.convoy(&["snapshot", "save", "coord.snap"]);
    stop.store(true, Ordering::Relaxed);
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    assert!(load.join().unwrap() >= 5);
    assert!(jobs_before.contains(slow["id"].as_str().unwrap()));

    let agents = ids(&json(&fleet.ok(&["agents", "-o", "json"])), "id");
    let releases = json(&fleet.ok(&["release", "list", "-o", "json"]));
    let backups = ids(&json(&fleet.ok(&["backup", "list", "-o", "json"])), "id");
    assert_eq!(backups.len(), 1);

    // The drill passes; a restore into the live data dir is refused.
    let drill = fleet.convoy(&["snapshot", "drill", "coord.snap", "-o", "json"]);
    let report = json(&String::from_utf8_lossy(&drill.stdout));
    assert!(drill.status.success(), "{report}");
    let checks: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for want in [
        "tree agents",
        "agents served",
        "jobs served",
        "rollouts served",
        "backups served",
        "blobs matching their sha256",
    ] {
        assert!(checks.contains(&want), "{want} in {report}");
    }
    let refused = fleet.convoy(&["snapshot", "restore", "coord.snap", "--data-dir", "data"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    fleet.ok(&[
        "snapshot",
        "restore",
        "coord.snap",
        "--data-dir",
        "restored",
    ]);

    // The old coordinator goes; a new one on the restored dir, same address and PKI.
    coordinator.signal("-TERM");
    assert!(coordinator.wait(Duration::from_secs(20)).success());
    let toml = fleet.path().join("coordinator.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace("data_dir = \"data\"", "data_dir = \"restored\""),
    )
    .unwrap();
    coordinator = fleet.serve();
    // The agents reconnect on their own.
    fleet.wait_online("", 3);
    assert_eq!(
        ids(&json(&fleet.ok(&["agents", "-o", "json"])), "id"),
        agents
    );
    let restored_jobs = ids(
        &json(&fleet.ok(&["jobs", "--limit", "1000", "-o", "json"])),
        "id",
    );
    assert!(
        jobs_before.is_subset(&restored_jobs),
        "missing jobs: {:?}",
        jobs_before.difference(&restored_jobs).collect::<Vec<_>>()
    );
    assert_eq!(
        json(&fleet.ok(&["release", "list", "-o", "json"])),
        releases
    );
    let status = json(&fleet.ok(&["rollout", "status", &rollout, "-o", "json"]));
    assert_eq!(status["state"], "succeeded", "{status}");
    assert_eq!(
        ids(&json(&fleet.ok(&["backup", "list", "-o", "json"])), "id"),
        backups
    );
    // The restored coordinator works: a new job reaches the reconnected agents.
    let done = json(&fleet.ok(&[
        "exec",
        "hello",
        "--selector",
        "role=web",
        "--wait",
        "-o",
        "json",
    ]));
    assert_eq!(done["state"], "succeeded", "{done}");
    coordinator.signal("-TERM");
    assert!(coordinator.wait(Duration::from_secs(20)).success());
}

#[test]
fn a_drill_reports_a_tampered_blob_and_exits_non_zero() {
    let fleet = Fleet::new(&[]);
    let coordinator = fleet.serve();
    wait_until("the coordinator answers", Duration::from_secs(20), || {
        fleet.convoy(&["whoami"]).status.success()
    });
    let artifact = web_release(fleet.path(), "1.0");
    fleet.ok(&[
        "release",
        "push",
        "web",
        "1.0",
        artifact.to_str().unwrap(),
        "--sign-key",
        "release.key",
    ]);
    fleet.ok(&["snapshot", "save", "coord.snap"]);
    let ok = fleet.convoy(&["snapshot", "drill", "coord.snap"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    // Flip one byte of the artifact inside the snapshot (re-packed: the archive stays
    // well formed, only the blob differs from the header).
    let path = fleet.path().join("coord.snap");
    let input = std::fs::File::open(&path).unwrap();
    let mut archive = tar::Archive::new(zstd::Decoder::new(input).unwrap());
    let mut out = tar::Builder::new(zstd::Encoder::new(Vec::new(), 1).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        if name.starts_with("blobs/artifacts/") {
            bytes[100] ^= 0xff;
        }
        out.append(&header, bytes.as_slice()).unwrap();
    }
    std::fs::write(&path, out.into_inner().unwrap().finish().unwrap()).unwrap();

    let drill = fleet.convoy(&["snapshot", "drill", "coord.snap", "-o", "json"]);
    assert_eq!(drill.status.code(), Some(1));
    let report = json(&String::from_utf8_lossy(&drill.stdout));
    let failed: Vec<String> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| format!("{} {}", c["check"], c["found"]))
        .collect();
    assert!(
        failed
            .iter()
            .any(|f| f.contains("blobs/artifacts/") && f.contains("sha256")),
        "{report}"
    );
    // A restore of the same file is refused and writes nothing.
    let refused = fleet.convoy(&[
        "snapshot",
        "restore",
        "coord.snap",
        "--data-dir",
        "restored",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(!fleet.path().join("restored").exists());
    drop(coordinator);
}

#[test]
fn scheduled_snapshots_are_kept_drilled_and_exported() {
    let fleet = Fleet::new(&[]);
    let metrics_port = free_port();
    let toml = fleet.path().join("coordinator.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(&format!(
        "[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n[snapshots]\nschedule = \"*/2 * * * * *\"\nkeep = 2\ndir = \"snaps\"\n"
    ));
    std::fs::write(&toml, text).unwrap();
    let coordinator = fleet.serve();
    let snaps = fleet.path().join("snaps");
    let count = || {
        std::fs::read_dir(&snaps)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".tar.zst"))
                    .count()
            })
            .unwrap_or(0)
    };
    // Four firings at least; never more than `keep` kept.
    let start = Instant::now();
    let mut metrics = String::new();
    wait_until(
        "drilled snapshots in the metrics",
        Duration::from_secs(40),
        || {
            assert!(count() <= 2, "{} snapshots kept", count());
            metrics = super::monitor::http_get(metrics_port, "/metrics").unwrap_or_default();
            metrics.contains("convoy_snapshot_last_drill_timestamp_seconds")
                && start.elapsed() > Duration::from_secs(8)
        },
    );
    assert_eq!(count(), 2);
    assert!(
        metrics.contains("convoy_snapshot_last_success_timestamp_seconds "),
        "{metrics}"
    );
    // Each kept file is a good snapshot.
    for entry in std::fs::read_dir(&snaps).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "zst") {
            let drill = fleet.convoy(&["snapshot", "drill", path.to_str().unwrap()]);
            assert!(
                drill.status.success(),
                "{}",
                String::from_utf8_lossy(&drill.stdout)
            );
        }
    }
    drop(coordinator);
}
