//! The demo's story, step by step, each step checked: deploy v1 everywhere, roll out a good
//! v2 in canary waves zone by zone, roll out a broken v3 that fails its health check at the
//! canary and is rolled back by itself, back up one host and drill the backup.

use std::collections::BTreeMap;
use std::time::Instant;

use convoy_proto::v1::{
    BackupState, DeploySpec, DrillBackupsRequest, HostRelease, JobOptions, JobState,
    ListBackupsRequest, RolloutHostState, RolloutState, RolloutView, RunBackupRequest,
    StartJobRequest,
};

use super::Mode;
use super::app::build_release;
use super::fleet::{APP, BACKUP_SET, Fleet, HOSTS};
use super::ops::{
    job_problems, rollout, rollout_command, rollout_spec, settled_versions, wait_job, wait_online,
};
use crate::cli::connect::{admin, backups, rpc_error};

/// The host whose backup set the demo backs up and drills.
pub const BACKUP_HOST: &str = "web-b1";

/// One expectation and whether it held.
#[derive(Debug)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// The story's record: the checks, and what the epilogue mentions.
#[derive(Debug, Default)]
pub struct Story {
    pub checks: Vec<Check>,
    pub bad_rollout: String,
    pub backup_id: String,
}

impl Story {
    fn check(&mut self, name: &str, passed: bool, detail: String) {
        say!(
            "    {} {name}{}",
            if passed { "ok:    " } else { "FAILED:" },
            if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            }
        );
        self.checks.push(Check {
            name: name.to_string(),
            passed,
            detail,
        });
    }
}

fn step(started: Instant, title: &str) {
    say!("");
    say!("[{:>5.1}s] {title}", started.elapsed().as_secs_f64());
}

fn versions_line(hosts: &BTreeMap<String, HostRelease>) -> String {
    hosts
        .values()
        .map(|h| {
            format!(
                "{} {}{}",
                h.host,
                if h.version.is_empty() {
                    "-"
                } else {
                    &h.version
                },
                if h.healthy { "" } else { " (unhealthy)" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn all_on(hosts: &BTreeMap<String, HostRelease>, version: &str) -> bool {
    hosts.len() == HOSTS.len() && hosts.values().all(|h| h.version == version && h.healthy)
}

fn zone_of(host: &str) -> &'static str {
    HOSTS
        .iter()
        .find(|(id, _)| *id == host)
        .map_or("?", |(_, zone)| zone)
}

/// Runs the story on a started fleet. A step that cannot run at all (an RPC refused, a
/// deadline passed) ends it with an error; a step that ran but behaved unexpectedly is a
/// failed check and the story goes on.
pub async fn tell(fleet: &Fleet, mode: Mode, story: &mut Story) -> anyhow::Result<()> {
    let started = Instant::now();
    let connect = &fleet.connect;

    step(
        started,
        "Starting 5 agents (role=web; zone=a: 3, zone=b: 2)",
    );
    wait_online(connect, "role=web", HOSTS.len()).await?;
    story.check("5 agents online in 2 zones", true, String::new());

    step(
        started,
        "Building and pushing three releases of the sample app",
    );
    for (version, broken) in [("1.0", false), ("2.0", false), ("3.0", true)] {
        let artifact = build_release(&fleet.dir, version, broken)?;
        if broken {
            say!("    {APP} {version} is broken on purpose: its /health answers 500");
        }
        let (release, size) = crate::cli::releases::upload(
            APP.into(),
            version.into(),
            artifact,
            Some(fleet.release_key()),
            connect,
        )
        .await?;
        say!(
            "    pushed {APP} {version}: {size} bytes, sha256 {}, signed by {}",
            release.sha256,
            release.signer
        );
    }

    step(
        started,
        "Deploying web 1.0 to every host (convoy deploy web 1.0 --selector role=web --wait)",
    );
    let mut client = admin(connect).await?;
    let job = client
        .start_job(StartJobRequest {
            deploy: Some(DeploySpec {
                app: APP.into(),
                version: "1.0".into(),
            }),
            selector: "role=web".into(),
            max_errors: "0".into(),
            delivery_timeout_ms: 60_000,
            ..Default::default()
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let job = wait_job(&mut client, connect, job, "deploy web 1.0", mode).await?;
    let versions = settled_versions(connect, "1.0").await?;
    say!("    {}", versions_line(&versions));
    story.check(
        "web 1.0 deployed and healthy on every host",
        job.state == JobState::Succeeded as i32 && all_on(&versions, "1.0"),
        job_problems(&job).join("; "),
    );

    step(
        started,
        "Rolling out web 2.0 in canary waves, zone by zone, gated on health",
    );
    say!("    {}", rollout_command("2.0", "pause"));
    let good = rollout(connect, rollout_spec("2.0", "pause"), mode).await?;
    let versions = settled_versions(connect, "2.0").await?;
    say!("    {}", versions_line(&versions));
    story.check(
        "web 2.0 rolled out: rollout succeeded",
        good.state() == RolloutState::Succeeded,
        format!("{} is {}", good.id, good.state().name()),
    );
    let zones_kept_apart = good.waves.iter().all(|wave| {
        wave.hosts
            .windows(2)
            .all(|pair| zone_of(&pair[0].host) == zone_of(&pair[1].host))
    });
    story.check(
        "waves never mixed zones; the canary wave was one host",
        zones_kept_apart && good.waves.first().is_some_and(|w| w.hosts.len() == 1),
        format!("{} waves", good.waves.len()),
    );
    story.check(
        "web 2.0 running and healthy on every host",
        all_on(&versions, "2.0"),
        String::new(),
    );

    step(
        started,
        "Rolling out web 3.0, which fails its health check, with --on-failure rollback",
    );
    say!("    {}", rollout_command("3.0", "rollback"));
    let bad = rollout(connect, rollout_spec("3.0", "rollback"), mode).await?;
    story.bad_rollout = bad.id.clone();
    check_rolled_back(fleet, &bad, story, connect).await?;

    step(
        started,
        &format!("Backing up {BACKUP_HOST}'s {BACKUP_SET} set and drilling the backup"),
    );
    backup_and_drill(connect, mode, story).await?;

    say!("");
    say!(
        "[{:>5.1}s] Story told: {} of {} checks passed",
        started.elapsed().as_secs_f64(),
        story.checks.iter().filter(|c| c.passed).count(),
        story.checks.len()
    );
    Ok(())
}

async fn check_rolled_back(
    fleet: &Fleet,
    bad: &RolloutView,
    story: &mut Story,
    connect: &crate::cli::ConnectArgs,
) -> anyhow::Result<()> {
    let canary = bad
        .waves
        .first()
        .and_then(|w| w.hosts.first())
        .map(|h| (h.host.clone(), h.state(), h.reason.clone()))
        .unwrap_or_default();
    say!(
        "    canary {}: {} ({})",
        canary.0,
        canary.1.name(),
        canary.2
    );
    story.check(
        "web 3.0 stopped at the canary and rolled back by itself",
        bad.state() == RolloutState::RolledBack && canary.1 == RolloutHostState::RolledBack,
        format!("{} is {}", bad.id, bad.state().name()),
    );
    let others_untouched = bad
        .waves
        .iter()
        .flat_map(|w| &w.hosts)
        .filter(|h| h.host != canary.0)
        .all(|h| h.state() == RolloutHostState::Pending);
    let never_fetched = fleet
        .hosts
        .iter()
        .filter(|h| h.id != canary.0)
        .all(|h| !h.data_dir().join("apps/web/releases/3.0").exists());
    story.check(
        "no other host was touched (never deployed, never downloaded 3.0)",
        others_untouched && never_fetched,
        String::new(),
    );
    let versions = settled_versions(connect, "2.0").await?;
    say!("    {}", versions_line(&versions));
    story.check(
        "every host, the canary too, is back on web 2.0 and healthy",
        all_on(&versions, "2.0"),
        String::new(),
    );
    Ok(())
}

async fn backup_and_drill(
    connect: &crate::cli::ConnectArgs,
    mode: Mode,
    story: &mut Story,
) -> anyhow::Result<()> {
    let options = JobOptions {
        selector: format!("host={BACKUP_HOST}"),
        max_errors: "0".into(),
        delivery_timeout_ms: 60_000,
        ..Default::default()
    };
    say!("    convoy backup run {BACKUP_SET} --selector host={BACKUP_HOST} --wait");
    let mut client = backups(connect).await?;
    let job = client
        .run_backup(RunBackupRequest {
            set: BACKUP_SET.into(),
            options: Some(options.clone()),
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let mut admin_client = admin(connect).await?;
    let job = wait_job(&mut admin_client, connect, job, "backup", mode).await?;
    let list = || async {
        let mut client = backups(connect).await?;
        anyhow::Ok(
            client
                .list_backups(ListBackupsRequest {
                    host: BACKUP_HOST.into(),
                    set: BACKUP_SET.into(),
                    all: false,
                })
                .await
                .map_err(|status| rpc_error(&connect.addr, status))?
                .into_inner()
                .backups,
        )
    };
    let listed = list().await?;
    let backup = listed.iter().max_by_key(|b| b.created_unix_ms).cloned();
    let complete = backup
        .as_ref()
        .is_some_and(|b| b.state == BackupState::Complete as i32 && b.files > 0);
    if let Some(b) = &backup {
        say!(
            "    backup {}: {} files, {} bytes stored",
            b.id,
            b.files,
            b.size
        );
        story.backup_id = b.id.clone();
    }
    story.check(
        "backup complete and listed by the coordinator",
        job.state == JobState::Succeeded as i32 && complete,
        job_problems(&job).join("; "),
    );

    say!("    convoy backup drill {BACKUP_SET} --selector host={BACKUP_HOST}");
    let drill = client
        .drill_backups(DrillBackupsRequest {
            set: BACKUP_SET.into(),
            options: Some(options),
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let drill = wait_job(&mut admin_client, connect, drill, "drill", mode).await?;
    let drilled = list()
        .await?
        .into_iter()
        .find(|b| b.id == story.backup_id)
        .and_then(|b| b.last_drill);
    if let Some(d) = &drilled {
        say!(
            "    drill on {}: {} ({} files, {} bytes checked in {} ms)",
            d.host,
            if d.ok { "passed" } else { "FAILED" },
            d.files,
            d.bytes,
            d.duration_ms
        );
    }
    story.check(
        "recovery drill restored the backup and every file matched",
        drill.state == JobState::Succeeded as i32 && drilled.is_some_and(|d| d.ok),
        job_problems(&drill).join("; "),
    );
    Ok(())
}
