//! Tests for the health monitor with a fake probe: the retries/recovery logic, timing under
//! paused tokio time, the deploy lock, version changes, what is not probed, and shutdown.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::*;
use crate::archive::Limits;
use crate::deploy::manifest::{Manifest, Probe};
use crate::deploy::{DeployConfig, state};

const SECOND: Duration = Duration::from_secs(1);

fn spec(retries: u32, monitor_interval: Duration) -> HealthSpec {
    HealthSpec {
        probe: Probe::Tcp(1),
        interval: SECOND,
        retries,
        deadline: Duration::from_secs(60),
        monitor_interval,
    }
}

/// A deployer over a temp dir with the given apps (name → the host's health override).
fn host(apps: &[(&str, Option<HealthSpec>)]) -> (tempfile::TempDir, Arc<Deployer>) {
    let dir = tempfile::tempdir().unwrap();
    let apps = apps
        .iter()
        .map(|(name, health)| {
            let manifest = Manifest {
                health: health.clone(),
                ..Manifest::default()
            };
            (name.to_string(), manifest)
        })
        .collect();
    let deployer = Deployer::new(DeployConfig {
        data_dir: dir.path().to_path_buf(),
        apps,
        trusted_keys: Vec::new(),
        allow_unsigned: true,
        keep_releases: 3,
        limits: Limits::default(),
    });
    (dir, Arc::new(deployer))
}

/// What a successful deploy of `version` leaves on disk.
fn deployed(deployer: &Deployer, app: &str, version: &str, manifest: Option<&str>) {
    let dir = deployer.app_dir(app);
    let release = dir.join("releases").join(version);
    std::fs::create_dir_all(&release).unwrap();
    if let Some(text) = manifest {
        std::fs::write(release.join("convoy.toml"), text).unwrap();
    }
    state::switch_current(&dir, version).unwrap();
    let state = AppState {
        previous: None,
        healthy: true,
    };
    state.save(&dir).unwrap();
}

fn healthy(deployer: &Deployer, app: &str) -> bool {
    let status = deployer.status();
    status.iter().find(|s| s.app == app).unwrap().healthy
}

/// Passes while `up`; counts probes and remembers where each ran.
#[derive(Clone, Default)]
struct Fake {
    up: Arc<AtomicBool>,
    hang: Arc<AtomicBool>,
    probes: Arc<AtomicU32>,
    seen: Arc<Mutex<Vec<(PathBuf, String)>>>,
}

impl Fake {
    fn probes(&self) -> u32 {
        self.probes.load(Ordering::SeqCst)
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

impl Prober for Fake {
    fn probe(
        &self,
        _spec: &HealthSpec,
        working_dir: &Path,
        env: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), crate::deploy::health::ProbeError>> + Send {
        self.probes.fetch_add(1, Ordering::SeqCst);
        let version = env.get("CONVOY_VERSION").cloned().unwrap_or_default();
        self.seen
            .lock()
            .unwrap()
            .push((working_dir.to_path_buf(), version));
        let (up, hang) = (
            self.up.load(Ordering::SeqCst),
            self.hang.load(Ordering::SeqCst),
        );
        async move {
            if hang {
                std::future::pending::<()>().await;
            }
            if up {
                Ok(())
            } else {
                Err(crate::deploy::health::ProbeError::Exited(1))
            }
        }
    }
}

#[test]
fn unhealthy_after_retries_failures_in_a_row_and_healthy_after_one_pass() {
    let mut watch = Watch::new(Instant::now());
    // (probe passed, health on disk) → what to store
    let steps = [
        (false, true, None),
        (false, true, None),
        (false, true, Some(false)),
        (false, false, None),
        (true, false, Some(true)),
        (true, true, None),
        // A pass in between starts the count again.
        (false, true, None),
        (false, true, None),
        (true, true, None),
        (false, true, None),
        (false, true, None),
        (false, true, Some(false)),
        // A stored unhealthy that passes recovers at once.
        (true, false, Some(true)),
    ];
    for (i, (passed, stored, expected)) in steps.into_iter().enumerate() {
        assert_eq!(
            watch.observe(passed, 3, stored),
            expected,
            "step {i}: passed={passed} stored={stored}"
        );
    }
    let mut once = Watch::new(Instant::now());
    assert_eq!(once.observe(false, 1, true), Some(false));
}

#[tokio::test(start_paused = true)]
async fn a_dying_release_turns_unhealthy_on_time_and_recovers_after_one_pass() {
    let (_dir, deployer) = host(&[("web", Some(spec(3, SECOND)))]);
    deployed(&deployer, "web", "1.0", None);
    let fake = Fake::default();
    let changes = Arc::new(Notify::new());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let (deployer, fake, changes, shutdown) = (
            deployer.clone(),
            fake.clone(),
            changes.clone(),
            shutdown.clone(),
        );
        async move {
            let on_change = || changes.notify_one();
            Monitor::new(&deployer, fake, Instant::now())
                .run(&on_change, &shutdown)
                .await;
        }
    });
    let start = Instant::now();
    // Probes at 0s, 1s and 2s fail: the third one turns the app unhealthy.
    changes.notified().await;
    assert_eq!(start.elapsed(), 2 * SECOND);
    assert_eq!(fake.probes(), 3);
    assert!(!healthy(&deployer, "web"));
    fake.set_up(true);
    changes.notified().await;
    assert_eq!(start.elapsed(), 3 * SECOND);
    assert_eq!(fake.probes(), 4);
    assert!(healthy(&deployer, "web"));
    // Healthy and staying so: probes go on every interval, no further change.
    tokio::time::sleep(10 * SECOND + SECOND / 2).await;
    assert_eq!(fake.probes(), 14);
    let seen = fake.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .all(|(dir, version)| { dir.ends_with("apps/web/releases/1.0") && version == "1.0" })
    );
    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_deploy_holding_the_lock_pauses_probes_and_restarts_the_count() {
    let (_dir, deployer) = host(&[("web", Some(spec(3, SECOND)))]);
    deployed(&deployer, "web", "1.0", None);
    let fake = Fake::default();
    let changes = AtomicU32::new(0);
    let on_change = || {
        changes.fetch_add(1, Ordering::SeqCst);
    };
    let mut monitor = Monitor::new(&deployer, fake.clone(), Instant::now());
    let mut now = Instant::now();
    let mut round = async |monitor: &mut Monitor<'_, Fake>| {
        monitor.round(now, &on_change).await;
        now += SECOND;
    };
    round(&mut monitor).await;
    round(&mut monitor).await;
    assert_eq!(fake.probes(), 2);
    {
        let _deploying = deployer.lock_app("web").await;
        round(&mut monitor).await;
        round(&mut monitor).await;
        assert_eq!(fake.probes(), 2, "never probed during a deploy");
    }
    // Two more failures after the deploy are not yet three in a row.
    round(&mut monitor).await;
    round(&mut monitor).await;
    assert_eq!(changes.load(Ordering::SeqCst), 0);
    assert!(healthy(&deployer, "web"));
    round(&mut monitor).await;
    assert_eq!(changes.load(Ordering::SeqCst), 1);
    assert!(!healthy(&deployer, "web"));
    assert_eq!(fake.probes(), 5);

    // A new current version (however it came) starts the count again, and is what is probed.
    deployed(&deployer, "web", "2.0", None);
    round(&mut monitor).await;
    round(&mut monitor).await;
    assert!(healthy(&deployer, "web"));
    assert_eq!(
        fake.seen.lock().unwrap().last().unwrap().1,
        "2.0".to_string()
    );
}

#[tokio::test]
async fn only_apps_with_a_current_release_and_a_health_check_are_probed() {
    let (_dir, deployer) = host(&[("web", Some(spec(1, SECOND))), ("api", None), ("db", None)]);
    // api's health check comes from its release's convoy.toml, with its own interval.
    let manifest = "[health]\ntcp = 9\nretries = 1\nmonitor_interval = \"3s\"\n";
    deployed(&deployer, "api", "7", Some(manifest));
    deployed(&deployer, "db", "1", None);
    let fake = Fake::default();
    let on_change = || {};
    let mut monitor = Monitor::new(&deployer, fake.clone(), Instant::now());
    let start = Instant::now();
    let next = monitor.round(start, &on_change).await;
    assert_eq!(
        fake.probes(),
        1,
        "api only: web has no release, db no check"
    );
    assert_eq!(next, start + SECOND, "web is looked at again soonest");
    assert!(!healthy(&deployer, "api"));
    assert!(healthy(&deployer, "db"));

    deployed(&deployer, "web", "1.0", None);
    let next = monitor.round(start + SECOND, &on_change).await;
    assert_eq!(fake.probes(), 2, "web now runs a release");
    assert_eq!(next, start + 2 * SECOND);
    monitor.round(start + 2 * SECOND, &on_change).await;
    assert_eq!(fake.probes(), 3, "api not due before 3s");
    monitor.round(start + 3 * SECOND, &on_change).await;
    assert_eq!(fake.probes(), 5, "both due");
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_the_monitor_even_mid_probe() {
    let (_dir, deployer) = host(&[("web", Some(spec(3, SECOND)))]);
    deployed(&deployer, "web", "1.0", None);
    let fake = Fake::default();
    fake.hang.store(true, Ordering::SeqCst);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let (deployer, fake, shutdown) = (deployer.clone(), fake.clone(), shutdown.clone());
        async move {
            Monitor::new(&deployer, fake, Instant::now())
                .run(&|| {}, &shutdown)
                .await;
        }
    });
    tokio::time::sleep(5 * SECOND).await;
    assert_eq!(fake.probes(), 1);
    shutdown.cancel();
    task.await.unwrap();

    // With no apps at all it only waits for shutdown.
    let (_dir, empty) = host(&[]);
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    run(&empty, || {}, &shutdown).await;
}
