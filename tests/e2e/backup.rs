//! Backups through the real binaries and the CLI as the README shows them: run, list, verify,
//! restore, drill and schedules, with their exit codes (0 on success, 1 on failure, 2 on a
//! usage error) and `-o json` shapes; a corrupted stored archive is named by verify and drill;
//! a non-empty restore target is refused and left as it was.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use super::{Fleet, json, wait_until};

/// A live tree with binary, empty and nested files and several modes; `*.tmp` is excluded.
fn live_tree(root: &Path) {
    std::fs::create_dir_all(root.join("nested/deeper")).unwrap();
    let binary: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(root.join("data.bin"), binary).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("nested/deeper/conf"), b"key = 1\n").unwrap();
    std::fs::write(root.join("nested/run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    for (path, mode) in [("nested/deeper/conf", 0o600), ("nested/run.sh", 0o755)] {
        std::fs::set_permissions(root.join(path), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::write(root.join("scratch.tmp"), b"excluded").unwrap();
}

/// Every regular file under `root` (relative path → bytes and mode), `*.tmp` left out.
fn files(root: &Path) -> Vec<(PathBuf, Vec<u8>, u32)> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        for entry in std::fs::read_dir(root.join(&relative)).unwrap() {
            let entry = entry.unwrap();
            let path = relative.join(entry.file_name());
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if !path.to_string_lossy().ends_with(".tmp") {
                let bytes = std::fs::read(root.join(&path)).unwrap();
                found.push((path, bytes, meta.permissions().mode() & 0o7777));
            }
        }
    }
    found.sort();
    found
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn backups_run_list_verify_restore_drill_and_schedule_through_the_cli() {
    let fleet = Fleet::new(&[("db-1", "role=db")]);
    let live = fleet.path().join("live");
    live_tree(&live);
    let config_path = fleet.path().join("db-1.toml");
    let mut config = std::fs::read_to_string(&config_path).unwrap();
    config.push_str(&format!(
        "\n[backup]\nrestore_roots = [\"{}\"]\n[backup.sets.pgdata]\npaths = [\"{}\"]\nexclude = [\"*.tmp\"]\n",
        fleet.path().display(),
        live.display()
    ));
    std::fs::write(&config_path, config).unwrap();
    let coordinator = fleet.serve();
    let agent = fleet.agent("db-1");
    fleet.wait_online("role=db", 1);

    // Run and wait: exit 0, the finished job as JSON.
    let run = fleet.convoy(&[
        "backup",
        "run",
        "pgdata",
        "--selector",
        "role=db",
        "--wait",
        "-o",
        "json",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let job = json(&stdout(&run));
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["hosts"][0]["host"], "db-1", "{job}");

    // The catalog's contract fields.
    let list = json(&fleet.ok(&["backup", "list", "-o", "json"]));
    let backups = list.as_array().unwrap();
    assert_eq!(backups.len(), 1, "{list}");
    let backup = &backups[0];
    let id = backup["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("b-") && id.ends_with("-db-1"), "{backup}");
    assert_eq!(backup["host"], "db-1");
    assert_eq!(backup["set"], "pgdata");
    assert_eq!(backup["state"], "complete");
    assert!(
        backup["created_at"].as_str().unwrap().ends_with('Z'),
        "{backup}"
    );
    assert!(backup["size"].as_u64().unwrap() > 0);
    // Four files and the two nested directories at least; the excluded file is not counted.
    assert!(backup["files"].as_u64().unwrap() >= 6, "{backup}");
    let sha256 = backup["sha256"].as_str().unwrap();
    assert!(
        sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()),
        "{backup}"
    );
    assert!(backup["last_drill"].is_null(), "{backup}");
    let filtered = json(&fleet.ok(&[
        "backup", "list", "--host", "db-1", "--set", "pgdata", "-o", "json",
    ]));
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let table = fleet.ok(&["backup", "list"]);
    assert!(table.contains(&id) && table.contains("complete"), "{table}");

    let verified = fleet.convoy(&["backup", "verify", &id]);
    assert_eq!(verified.status.code(), Some(0), "{}", stderr(&verified));
    assert!(
        stdout(&verified).contains("verified"),
        "{}",
        stdout(&verified)
    );

    // Restore under a fresh directory: same bytes and modes, absolute layout kept.
    let target = fleet.path().join("restored");
    let target_arg = target.to_str().unwrap();
    let restored = fleet.convoy(&[
        "backup", "restore", &id, "--host", "db-1", "--to", target_arg, "--wait",
    ]);
    assert_eq!(restored.status.code(), Some(0), "{}", stderr(&restored));
    let placed = target.join(live.strip_prefix("/").unwrap());
    let expected = files(&live);
    assert_eq!(expected.len(), 4);
    assert_eq!(files(&placed), expected);
    assert!(!placed.join("scratch.tmp").exists());

    // A non-empty target without --force: exit 1, nothing in it changed.
    let occupied = fleet.path().join("occupied");
    std::fs::create_dir_all(&occupied).unwrap();
    std::fs::write(occupied.join("keep-me"), b"precious").unwrap();
    let refused = fleet.convoy(&[
        "backup",
        "restore",
        &id,
        "--host",
        "db-1",
        "--to",
        occupied.to_str().unwrap(),
        "--wait",
        "-o",
        "json",
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let refused_job = json(&stdout(&refused));
    assert!(
        refused_job["hosts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not empty"),
        "{refused_job}"
    );
    assert_eq!(
        files(&occupied),
        [(PathBuf::from("keep-me"), b"precious".to_vec(), 0o644)]
    );

    // A drill passes and is recorded on the backup.
    // Without --wait it returns at once with the job id, like every job command.
    let queued = fleet.ok(&["backup", "drill", "pgdata", "--selector", "role=db"]);
    assert!(queued.contains("started"), "{queued}");
    let queued_id = queued.split_whitespace().nth(1).unwrap().to_string();
    wait_until("the first drill ends", Duration::from_secs(30), || {
        json(&fleet.ok(&["job", "show", &queued_id, "-o", "json"]))["state"] != "running"
    });
    let drilled = fleet.convoy(&[
        "backup",
        "drill",
        "pgdata",
        "--selector",
        "role=db",
        "--wait",
    ]);
    assert_eq!(drilled.status.code(), Some(0), "{}", stderr(&drilled));
    let list = json(&fleet.ok(&["backup", "list", "-o", "json"]));
    let drill = &list[0]["last_drill"];
    assert_eq!(drill["ok"], true, "{list}");
    assert_eq!(drill["host"], "db-1");
    assert!(drill["at"].as_str().unwrap().ends_with('Z'), "{list}");
    assert!(drill["files"].as_u64().unwrap() >= 4, "{list}");
    // The drill never touched the live tree.
    assert_eq!(files(&live), expected);

    // Schedules.
    fleet.ok(&[
        "backup",
        "schedule",
        "add",
        "pgdata",
        "--selector",
        "role=db",
        "--cron",
        "0 3 * * *",
        "--drill",
        "weekly",
    ]);
    let schedules = json(&fleet.ok(&["backup", "schedule", "list", "-o", "json"]));
    let schedule = &schedules.as_array().unwrap()[0];
    assert_eq!(schedules.as_array().unwrap().len(), 1, "{schedules}");
    assert_eq!(schedule["set"], "pgdata");
    assert_eq!(schedule["selector"], "role=db");
    assert_eq!(schedule["cron"], "0 3 * * *");
    assert_eq!(schedule["drill_cron"], "30 4 * * 0");
    assert!(schedule["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(schedule["next_run_at"].as_str().is_some(), "{schedule}");

    // Bad input: an unknown set exits 1 and says so; usage errors exit 2; none changes the
    // catalog or the schedules.
    let unknown = fleet.convoy(&["backup", "run", "nope", "--selector", "role=db", "--wait"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("backup set \"nope\""),
        "{}",
        stderr(&unknown)
    );
    for usage in [
        &["backup", "run", "Bad Name"][..],
        &["backup", "run", "pgdata", "--selector", "role=="],
        &["backup", "restore", &id],
        &["backup", "restore", &id, "--to", "relative/dir"],
        &["backup", "restore", &id, "--to", target_arg, "--in-place"],
        &["backup", "schedule", "add", "pgdata", "--cron", "not cron"],
        &[
            "backup",
            "schedule",
            "add",
            "pgdata",
            "--cron",
            "0 3 * * *",
            "--drill",
            "sometimes",
        ],
        &["backup", "nothing"],
    ] {
        let out = fleet.convoy(usage);
        assert_eq!(out.status.code(), Some(2), "{usage:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{usage:?} printed no error");
    }
    let missing = fleet.convoy(&["backup", "verify", "b-nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("b-nope"), "{}", stderr(&missing));
    assert_eq!(
        json(&fleet.ok(&["backup", "list", "--all", "-o", "json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        json(&fleet.ok(&["backup", "schedule", "list", "-o", "json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Corrupt the stored archive on disk: verify and drill fail with exit 1, naming it.
    let archive = fleet
        .data()
        .join("backups/db-1")
        .join(format!("{id}.tar.zst"));
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let corrupt = fleet.convoy(&["backup", "verify", &id]);
    assert_eq!(corrupt.status.code(), Some(1), "{}", stdout(&corrupt));
    assert!(
        stderr(&corrupt).contains(&id) && stderr(&corrupt).contains("corrupt"),
        "{}",
        stderr(&corrupt)
    );
    let corrupt_json = fleet.convoy(&["backup", "verify", &id, "-o", "json"]);
    assert_eq!(corrupt_json.status.code(), Some(1));
    assert_eq!(json(&stdout(&corrupt_json))["verified_ok"], false);
    let failed_drill = fleet.convoy(&[
        "backup",
        "drill",
        "pgdata",
        "--selector",
        "role=db",
        "--wait",
        "-o",
        "json",
    ]);
    assert_eq!(
        failed_drill.status.code(),
        Some(1),
        "{}",
        stderr(&failed_drill)
    );
    let failed_job = json(&stdout(&failed_drill));
    assert!(
        failed_job["hosts"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&id),
        "{failed_job}"
    );
    let list = json(&fleet.ok(&["backup", "list", "-o", "json"]));
    assert_eq!(list[0]["last_drill"]["ok"], false, "{list}");
    assert_eq!(files(&live), expected);

    agent.signal("-TERM");
    assert!(agent.wait(Duration::from_secs(20)).success());
    coordinator.signal("-TERM");
    assert!(coordinator.wait(Duration::from_secs(20)).success());
}
