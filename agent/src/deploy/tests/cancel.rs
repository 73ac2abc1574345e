//! A cancel (an operator's, or the agent stopping) in the middle of an activation: it stops
//! the running hook's process group and the health wait, and the revert that follows runs
//! with its own deadline, so what it stores about the old release is a real probe's result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

/// Lines of progress, shared with the test while the deploy runs.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
    fn any(&self, needle: &str) -> bool {
        self.0.lock().unwrap().iter().any(|l| l.contains(needle))
    }
    fn all(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

/// Deploys `release` and cancels once a progress line contains `when` (within 20 s),
/// returning the result and how long the deploy took after the cancel.
async fn deploy_and_cancel_when(
    deployer: &Deployer,
    release: &Release,
    source: &Bytes,
    when: impl Fn(&Lines) -> bool,
) -> (Result<String, String>, Duration, Lines) {
    let lines = Lines::default();
    let cancel = CancellationToken::new();
    let progress = {
        let lines = lines.clone();
        move |line: String| lines.push(line)
    };
    let deploy = deployer.deploy(release, source, &progress, &cancel);
    tokio::pin!(deploy);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::select! {
            result = &mut deploy => panic!("the deploy ended before the cancel: {result:?}\n{}", lines.all()),
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        if when(&lines) {
            break;
        }
        assert!(Instant::now() < deadline, "never reached: {}", lines.all());
    }
    cancel.cancel();
    let cancelled_at = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), deploy)
        .await
        .unwrap_or_else(|_| panic!("the deploy ignored the cancel: {}", lines.all()));
    let message = result.map_err(|err| err.to_string());
    (message, cancelled_at.elapsed(), lines)
}

/// A release whose start hook appends `start <version>` to `<log>` and whose health check
/// passes only when `healthy`.
fn release_text(log: &Path, healthy: bool, extra_hooks: &str) -> String {
    format!(
        "[hooks]\nstart = [\"/bin/sh\", \"-c\", \"echo start $CONVOY_VERSION >> {log}\"]\n{extra_hooks}\
         [health]\ncommand = [\"/bin/sh\", \"-c\", \"{}\"]\ninterval = \"50ms\"\nretries = 1000\ndeadline = \"60s\"\n",
        if healthy { "true" } else { "false" },
        log = log.display(),
    )
}

fn alive(pid: &str) -> bool {
    // A zombie (not reaped where PID 1 does not reap) has ended too.
    std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
        .is_ok_and(|stat| stat.split_whitespace().nth(2).is_none_or(|s| s != "Z"))
}

#[tokio::test]
async fn a_cancel_during_the_health_wait_reverts_and_stores_a_real_probe_of_the_old_release() {
    let world = World::new();
    let deployer = world.signed();
    let log = world.outside.join("log");
    let good = artifact_with(&release_text(&log, true, ""));
    let v1 = world.release("1.0", &good, true);
    deploy(&deployer, &v1, &source(&good)).await.unwrap();

    // 2.0 never passes its check: its health wait lasts until its 60 s deadline.
    let bad = artifact_with(&release_text(&log, false, ""));
    let v2 = world.release("2.0", &bad, true);
    let (result, took, lines) = deploy_and_cancel_when(&deployer, &v2, &source(&bad), |l| {
        l.any("start hook of 2.0 succeeded")
    })
    .await;
    let message = result.unwrap_err();
    assert!(message.contains("cancelled"), "{message}");
    assert!(
        message.contains("reverted to 1.0, which is healthy"),
        "the old release was probed for real: {message}\n{}",
        lines.all()
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(
        state::current_version(&world.app_dir()).as_deref(),
        Some("1.0")
    );
    assert!(AppState::load(&world.app_dir()).healthy);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "start 1.0\nstart 2.0\nstart 1.0\n"
    );
}

#[tokio::test]
async fn a_cancel_ends_the_running_hooks_process_group_and_starts_the_old_release_again() {
    let world = World::new();
    let deployer = world.signed();
    let log = world.outside.join("log");
    let good = artifact_with(&release_text(&log, true, ""));
    let v1 = world.release("1.0", &good, true);
    deploy(&deployer, &v1, &source(&good)).await.unwrap();

    // 2.0's before_activate runs a long child in its process group and records its pid.
    let child = world.outside.join("child.pid");
    let hook = format!(
        "before_activate = {{ run = [\"/bin/sh\", \"-c\", \"sleep 300 & echo $! > {}; wait\"], timeout = \"10m\" }}\n",
        child.display()
    );
    let slow = artifact_with(&release_text(&log, true, &hook));
    let v2 = world.release("2.0", &slow, true);
    let (result, took, lines) =
        deploy_and_cancel_when(&deployer, &v2, &source(&slow), |_| child.exists()).await;
    let message = result.unwrap_err();
    assert!(
        message.contains("before_activate hook of 2.0 was cancelled"),
        "{message}\n{}",
        lines.all()
    );
    assert!(message.contains("which is healthy"), "{message}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let pid = std::fs::read_to_string(&child).unwrap();
    assert!(!alive(&pid), "the hook's child {pid} outlived the cancel");
    // Never switched: 1.0 is current, was stopped by nothing and started again.
    assert_eq!(
        state::current_version(&world.app_dir()).as_deref(),
        Some("1.0")
    );
    assert!(AppState::load(&world.app_dir()).healthy);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "start 1.0\nstart 1.0\n"
    );
}

#[tokio::test]
async fn a_failed_before_activate_starts_the_stopped_old_release_again() {
    let world = World::new();
    let deployer = world.signed();
    let log = world.outside.join("log");
    let stop = format!(
        "stop = [\"/bin/sh\", \"-c\", \"echo stop $CONVOY_VERSION >> {}\"]\n",
        log.display()
    );
    let good = artifact_with(&release_text(&log, true, &stop));
    let v1 = world.release("1.0", &good, true);
    deploy(&deployer, &v1, &source(&good)).await.unwrap();

    let failing = format!("{stop}before_activate = [\"/bin/false\"]\n");
    let bad = artifact_with(&release_text(&log, true, &failing));
    let v2 = world.release("2.0", &bad, true);
    let message = deploy(&deployer, &v2, &source(&bad)).await.unwrap_err();
    assert!(
        message.contains("before_activate hook of 2.0 exited with status 1"),
        "{message}"
    );
    assert!(
        message.contains("reverted to 1.0, which is healthy"),
        "{message}"
    );
    assert_eq!(
        state::current_version(&world.app_dir()).as_deref(),
        Some("1.0")
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "start 1.0\nstop 1.0\nstart 1.0\n"
    );
}
