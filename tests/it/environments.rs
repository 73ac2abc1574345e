//! Release coordination with real agents and a real coordinator: environments and the
//! promotion rule (`requires`, `--force` for admins, audited), what runs where, which
//! environments a release reached, and approvals by certificate identity.

use std::collections::BTreeMap;
use std::time::Duration;

use convoy_coordinator::config::environments::{self, EnvironmentConfig};
use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::monitor_client::MonitorClient;
use convoy_proto::v1::rollouts_client::RolloutsClient;
use convoy_proto::v1::{
    AddFreezeRequest, ApproveRolloutRequest, ControlRolloutRequest, GetRolloutRequest,
    ListAuditRequest, ListEnvironmentsRequest, ListEventsRequest, ListFreezesRequest,
    ListReleasesRequest, ListRolloutsRequest, RemoveFreezeRequest, RolloutControl, RolloutSpec,
    StartRolloutRequest,
};
use convoy_tests::{CertFiles, TestAgent, TestCoordinator, TestPki, channel, wait_for};
use tonic::Code;
use tonic::transport::Channel;

use crate::deploy::{artifact, push};
use crate::rollout::reaches_within;
use crate::support::fleet_online;

const WAIT: Duration = Duration::from_secs(60);

pub(crate) struct EnvFleet {
    pub(crate) pki: TestPki,
    pub(crate) coordinator: TestCoordinator,
    pub(crate) _agents: Vec<TestAgent>,
    pub(crate) admin: AdminClient<Channel>,
    /// alice, an operator.
    pub(crate) alice: RolloutsClient<Channel>,
    pub(crate) alice_certs: CertFiles,
}

pub(crate) fn env(name: &str, requires: Option<&str>) -> EnvironmentConfig {
    EnvironmentConfig {
        name: name.into(),
        selector: format!("env={name}"),
        requires: requires.map(str::to_string),
        approvals: 0,
        approval_role: None,
        approval_ttl: None,
        window: None,
        timezone: None,
    }
}

/// One web agent per environment (`web-staging`, `web-prod`, labelled env=NAME), with
/// 2.0 and 3.0 (healthy) pushed.
pub(crate) async fn env_fleet(envs: Vec<EnvironmentConfig>) -> EnvFleet {
    env_fleet_of(envs, 1).await
}

/// [`env_fleet`] with `per_env` agents per environment (`web-staging-2`, ...).
pub(crate) async fn env_fleet_of(envs: Vec<EnvironmentConfig>, per_env: usize) -> EnvFleet {
    let pki = TestPki::new();
    let validated = environments::validate(&envs).expect("valid environments");
    let coordinator = TestCoordinator::start_configured(&pki, move |config| {
        config.environments = validated;
    })
    .await;
    let mut agents = Vec::new();
    for env in ["staging", "prod"] {
        for n in 1..=per_env {
            let id = if n == 1 {
                format!("web-{env}")
            } else {
                format!("web-{env}-{n}")
            };
            let mut config = TestAgent::config(
                &pki,
                &coordinator.url(),
                &id,
                &[("role", "web"), ("env", env)],
            );
            config.apps = BTreeMap::from([("web".to_string(), Default::default())]);
            agents.push(TestAgent::start_with(config));
        }
    }
    let alice_certs = pki.operator("alice", Role::Operator);
    let mut admin = coordinator.admin(&pki, &alice_certs).await;
    let alice = coordinator.rollouts(&pki, &alice_certs).await;
    fleet_online(&admin, 2 * per_env).await;
    for version in ["2.0", "3.0"] {
        push(
            &mut admin,
            version,
            &artifact(version, true),
            Some(pki.signer()),
        )
        .await
        .expect("push");
    }
    EnvFleet {
        pki,
        coordinator,
        _agents: agents,
        admin,
        alice,
        alice_certs,
    }
}

pub(crate) fn env_spec(version: &str, env: &str) -> RolloutSpec {
    RolloutSpec {
        app: "web".into(),
        version: version.into(),
        env: env.into(),
        ..Default::default()
    }
}

pub(crate) async fn start_env(
    rollouts: &mut RolloutsClient<Channel>,
    spec: RolloutSpec,
    force: bool,
    reason: &str,
) -> Result<String, tonic::Status> {
    rollouts
        .start_rollout(StartRolloutRequest {
            spec: Some(spec),
            force,
            reason: reason.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().id)
}

#[tokio::test]
async fn promotion_is_refused_until_the_required_environment_succeeded() {
    let mut f = env_fleet(vec![env("staging", None), env("prod", Some("staging"))]).await;
    // Not yet in staging: refused, naming the environment it needs.
    let err = start_env(&mut f.alice, env_spec("2.0", "prod"), false, "")
        .await
        .expect_err("prod before staging");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("\"staging\""), "{}", err.message());
    // An unknown environment is a clear error too.
    let err = start_env(&mut f.alice, env_spec("2.0", "qa"), false, "")
        .await
        .expect_err("unknown env");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("staging, prod"), "{}", err.message());

    let id = start_env(&mut f.alice, env_spec("2.0", "staging"), false, "")
        .await
        .expect("staging");
    let view = reaches_within(&f.alice, &id, "succeeded", WAIT).await;
    // The environment's selector chose the hosts: only web-staging.
    let hosts: Vec<&str> = view
        .waves
        .iter()
        .flat_map(|w| w.hosts.iter().map(|h| h.host.as_str()))
        .collect();
    assert_eq!(hosts, ["web-staging"]);
    assert_eq!(view.spec.as_ref().unwrap().env, "staging");

    // What runs where, and which environments 2.0 reached.
    let envs = f
        .alice
        .list_environments(ListEnvironmentsRequest {})
        .await
        .unwrap()
        .into_inner()
        .environments;
    let names: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["staging", "prod"]);
    assert_eq!(envs[1].requires, "staging");
    assert_eq!(envs[0].hosts, 1);
    assert_eq!(envs[0].apps[0].versions.get("2.0"), Some(&1));
    assert!(!envs[1].apps[0].versions.contains_key("2.0"), "{envs:?}");
    let releases = f
        .admin
        .list_releases(ListReleasesRequest { app: "web".into() })
        .await
        .unwrap()
        .into_inner()
        .releases;
    let reached = |version: &str| -> Vec<String> {
        releases
            .iter()
            .find(|r| r.version == version)
            .map(|r| r.environments.iter().map(|e| e.env.clone()).collect())
            .unwrap_or_default()
    };
    assert_eq!(reached("2.0"), ["staging"]);
    assert!(reached("3.0").is_empty());

    // Now prod is allowed.
    let id = start_env(&mut f.alice, env_spec("2.0", "prod"), false, "")
        .await
        .expect("prod after staging");
    reaches_within(&f.alice, &id, "succeeded", WAIT).await;
    f.coordinator.stop().await;
}

#[tokio::test]
async fn force_past_the_promotion_rule_needs_an_admin_and_a_reason_and_is_audited() {
    let mut f = env_fleet(vec![env("staging", None), env("prod", Some("staging"))]).await;
    let err = start_env(&mut f.alice, env_spec("3.0", "prod"), true, "hotfix")
        .await
        .expect_err("operator may not force");
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let root_certs = f.pki.operator("root", Role::Admin);
    let mut root = f.coordinator.rollouts(&f.pki, &root_certs).await;
    let err = start_env(&mut root, env_spec("3.0", "prod"), true, "  ")
        .await
        .expect_err("force without a reason");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let id = start_env(
        &mut root,
        env_spec("3.0", "prod"),
        true,
        "CVE-2026-1 hotfix",
    )
    .await
    .expect("admin forces");
    let view = reaches_within(&root, &id, "succeeded", WAIT).await;
    assert_eq!(
        view.spec.as_ref().unwrap().forced_reason,
        "CVE-2026-1 hotfix"
    );
    let audit = f
        .admin
        .list_audit(ListAuditRequest {
            operator: "root".into(),
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let forced = audit
        .iter()
        .find(|e| e.call == "StartRollout" && e.ok)
        .expect("audited start");
    assert!(forced.request.contains("CVE-2026-1 hotfix"), "{forced:?}");
    assert!(
        forced.outcome.contains("promotion rule forced"),
        "{forced:?}"
    );
    // The refusals are audited too.
    let alice_audit = f
        .admin
        .list_audit(ListAuditRequest {
            operator: "alice".into(),
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(
        alice_audit
            .iter()
            .any(|e| e.call == "StartRollout" && !e.ok && e.outcome.contains("admin")),
        "{alice_audit:?}"
    );
    let _ = &f.alice_certs;
    f.coordinator.stop().await;
}

async fn approve(
    rollouts: &mut RolloutsClient<Channel>,
    id: &str,
    comment: &str,
    withdraw: bool,
) -> Result<convoy_proto::v1::RolloutView, tonic::Status> {
    rollouts
        .approve_rollout(ApproveRolloutRequest {
            id: id.into(),
            comment: comment.into(),
            withdraw,
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn a_rollout_awaits_an_approval_from_another_operator() {
    let mut prod = env("prod", None);
    prod.approvals = 1;
    let mut f = env_fleet(vec![env("staging", None), prod]).await;
    let id = start_env(&mut f.alice, env_spec("2.0", "prod"), false, "")
        .await
        .expect("start");
    let view = reaches_within(&f.alice, &id, "awaiting_approval", WAIT).await;
    assert_eq!(view.approvals_needed, 1);
    assert!(
        view.waves
            .iter()
            .all(|w| w.hosts.iter().all(|h| h.state().name() == "pending"))
    );
    // The starter cannot approve their own rollout.
    let err = approve(&mut f.alice, &id, "me", false)
        .await
        .expect_err("self");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("cannot approve"),
        "{}",
        err.message()
    );
    // A viewer cannot approve at all.
    let vera = f.pki.operator("vera", Role::Viewer);
    let mut vera_client = f.coordinator.rollouts(&f.pki, &vera).await;
    let err = approve(&mut vera_client, &id, "", false)
        .await
        .expect_err("viewer");
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // A second operator (their own certificate) approves: it runs.
    let bob = f.pki.operator("bob", Role::Operator);
    let mut bob_client = f.coordinator.rollouts(&f.pki, &bob).await;
    let view = approve(&mut bob_client, &id, "looks good", false)
        .await
        .expect("bob approves");
    assert_eq!(view.approvals.len(), 1);
    assert_eq!(view.approvals[0].by, "bob");
    assert_eq!(view.approvals[0].comment, "looks good");
    reaches_within(&f.alice, &id, "succeeded", WAIT).await;
    // Audited, and announced on the event log.
    let audit = f
        .admin
        .list_audit(ListAuditRequest {
            operator: "bob".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(
        audit.iter().any(|e| e.call == "ApproveRollout" && e.ok),
        "{audit:?}"
    );
    let mut monitor = MonitorClient::new(
        channel(&f.coordinator.url(), &f.pki.ca_cert(), Some(&vera))
            .await
            .unwrap(),
    );
    let events = monitor
        .list_events(ListEventsRequest {
            kind: "rollout.approval_*".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"rollout.approval_given"), "{kinds:?}");
    assert!(kinds.contains(&"rollout.approval_required"), "{kinds:?}");
    f.coordinator.stop().await;
}

#[tokio::test]
async fn a_rollout_awaiting_approval_stays_so_across_a_restart_and_can_be_withdrawn() {
    let mut prod = env("prod", None);
    prod.approvals = 2;
    let envs = vec![env("staging", None), prod];
    let mut f = env_fleet(envs.clone()).await;
    let id = start_env(&mut f.alice, env_spec("2.0", "prod"), false, "")
        .await
        .expect("start");
    let bob = f.pki.operator("bob", Role::Operator);
    let mut bob_client = f.coordinator.rollouts(&f.pki, &bob).await;
    approve(&mut bob_client, &id, "", false).await.expect("bob");
    let err = approve(&mut f.alice, &id, "", true)
        .await
        .expect_err("alice never approved");
    assert!(err.message().contains("not approved"), "{}", err.message());
    // Restart on the same data dir: still awaiting, bob's approval kept.
    let (addr, data_dir) = (f.coordinator.addr, f.coordinator.data_dir.clone());
    f.coordinator.stop().await;
    let validated = environments::validate(&envs).unwrap();
    let coordinator = TestCoordinator::start_in_configured(&f.pki, &data_dir, addr, move |c| {
        c.environments = validated;
    })
    .await;
    let mut alice = coordinator.rollouts(&f.pki, &f.alice_certs).await;
    let view = wait_for("restarted coordinator", WAIT, || {
        let mut alice = alice.clone();
        let id = id.clone();
        async move {
            alice
                .get_rollout(GetRolloutRequest { id })
                .await
                .ok()
                .map(|r| r.into_inner())
        }
    })
    .await;
    assert_eq!(view.state().name(), "awaiting_approval");
    assert_eq!(view.approvals_needed, 1);
    assert_eq!(view.approvals[0].by, "bob");
    // Bob withdraws; carol alone is not enough; bob again is.
    let mut bob_client = coordinator.rollouts(&f.pki, &bob).await;
    let view = approve(&mut bob_client, &id, "", true)
        .await
        .expect("withdraw");
    assert_eq!(view.approvals_needed, 2);
    let carol = f.pki.operator("carol", Role::Operator);
    let mut carol_client = coordinator.rollouts(&f.pki, &carol).await;
    let view = approve(&mut carol_client, &id, "", false)
        .await
        .expect("carol");
    assert_eq!(view.state().name(), "awaiting_approval");
    approve(&mut bob_client, &id, "", false)
        .await
        .expect("bob again");
    reaches_within(&alice, &id, "succeeded", WAIT).await;
    let _ = &mut alice;
    coordinator.stop().await;
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

#[tokio::test]
async fn a_freeze_blocks_a_start_but_not_a_rollback() {
    let mut f = env_fleet(vec![env("staging", None)]).await;
    for version in ["2.0", "3.0"] {
        let id = start_env(&mut f.alice, env_spec(version, "staging"), false, "")
            .await
            .expect("start");
        reaches_within(&f.alice, &id, "succeeded", WAIT).await;
    }
    let id = f
        .alice
        .list_rollouts(ListRolloutsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .rollouts[0]
        .id
        .clone();
    let freeze = f
        .alice
        .add_freeze(AddFreezeRequest {
            env: "staging".into(),
            from_unix_ms: 0,
            until_unix_ms: unix_ms() + 3_600_000,
            reason: "year-end".into(),
        })
        .await
        .expect("freeze")
        .into_inner();
    // A bad freeze is refused and changes nothing.
    let err = f
        .alice
        .add_freeze(AddFreezeRequest {
            env: "nowhere".into(),
            until_unix_ms: unix_ms() + 1_000,
            reason: "x".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown env");
    assert_eq!(err.code(), Code::InvalidArgument);
    let listed = f
        .alice
        .list_freezes(ListFreezesRequest {})
        .await
        .unwrap()
        .into_inner()
        .freezes;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].created_by, "alice");
    let err = start_env(&mut f.alice, env_spec("2.0", "staging"), false, "")
        .await
        .expect_err("frozen");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("frozen"), "{}", err.message());
    assert!(err.message().contains("year-end"), "{}", err.message());
    // A rollback (of 3.0, back to 2.0) is never frozen.
    f.alice
        .control_rollout(ControlRolloutRequest {
            id: id.clone(),
            control: RolloutControl::Rollback.into(),
            force: false,
        })
        .await
        .expect("rollback while frozen");
    reaches_within(&f.alice, &id, "rolled_back", WAIT).await;
    // Lifted: a start works again.
    f.alice
        .remove_freeze(RemoveFreezeRequest { id: freeze.id })
        .await
        .expect("remove");
    let id = start_env(&mut f.alice, env_spec("3.0", "staging"), false, "")
        .await
        .expect("start after the freeze");
    reaches_within(&f.alice, &id, "succeeded", WAIT).await;
    f.coordinator.stop().await;
}

#[tokio::test]
async fn a_window_that_closes_mid_rollout_stops_new_hosts_until_it_opens_again() {
    // Two openings 10 s apart, each 3 s long, the first 4 s from now.
    let first = unix_ms() / 1000 + 4;
    let mut staging = env("staging", None);
    staging.window = Some(format!("{},{} * * * * * 3s", first % 60, (first + 10) % 60));
    let mut f = env_fleet_of(vec![staging], 2).await;
    let first_ms = first * 1000;
    let now = unix_ms();
    assert!(now < first_ms, "the fleet took too long to start");
    let spec = RolloutSpec {
        canary: "1".into(),
        batch: "1".into(),
        auto_promote: true,
        bake_ms: 5_000,
        ..env_spec("2.0", "staging")
    };
    let id = start_env(&mut f.alice, spec, false, "")
        .await
        .expect("start");
    let view = reaches_within(&f.alice, &id, "waiting_for_window", WAIT).await;
    assert!(
        view.waves
            .iter()
            .all(|w| w.hosts.iter().all(|h| h.state().name() == "pending")),
        "{view:?}"
    );
    // The window opens: the canary runs, bakes past the window's end, and the next wave
    // waits for the second opening.
    let view = wait_for("the canary done, the window closed", WAIT, || {
        let mut alice = f.alice.clone();
        let id = id.clone();
        async move {
            let view = alice
                .get_rollout(GetRolloutRequest { id })
                .await
                .ok()?
                .into_inner();
            let canary_done = view.waves[0].hosts[0].state().name() == "succeeded";
            (canary_done && view.state().name() == "waiting_for_window").then_some(view)
        }
    })
    .await;
    assert!(
        unix_ms() >= first_ms,
        "the canary started before the window opened"
    );
    assert_eq!(view.waves[1].hosts[0].state().name(), "pending", "{view:?}");
    assert!(
        view.waiting_for.contains("maintenance window"),
        "{}",
        view.waiting_for
    );
    let view = reaches_within(&f.alice, &id, "succeeded", WAIT).await;
    assert!(
        view.finished_unix_ms >= first_ms + 10_000,
        "the last host started before the second opening: {view:?}"
    );
    f.coordinator.stop().await;
}

#[tokio::test]
async fn a_scheduled_rollout_is_listed_survives_a_restart_and_starts_at_its_time() {
    let envs = vec![env("staging", None)];
    let mut f = env_fleet(envs.clone()).await;
    let at_ms = (unix_ms() / 1000 + 8) * 1000;
    let at = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(at_ms).unwrap()),
    )
    .to_string();
    let started = f
        .alice
        .start_rollout(StartRolloutRequest {
            spec: Some(env_spec("2.0", "staging")),
            at: at.clone(),
            ..Default::default()
        })
        .await
        .expect("scheduled start")
        .into_inner();
    let id = started.id;
    assert_eq!(started.rollout.unwrap().state().name(), "scheduled");
    // A time in the past is refused.
    let err = f
        .alice
        .start_rollout(StartRolloutRequest {
            spec: Some(env_spec("3.0", "staging")),
            at: "2020-01-01 00:00".into(),
            ..Default::default()
        })
        .await
        .expect_err("past");
    assert_eq!(err.code(), Code::InvalidArgument);
    let (addr, data_dir) = (f.coordinator.addr, f.coordinator.data_dir.clone());
    f.coordinator.stop().await;
    let validated = environments::validate(&envs).unwrap();
    let coordinator = TestCoordinator::start_in_configured(&f.pki, &data_dir, addr, move |c| {
        c.environments = validated;
    })
    .await;
    let alice = coordinator.rollouts(&f.pki, &f.alice_certs).await;
    let listed = wait_for("restarted coordinator", WAIT, || {
        let mut alice = alice.clone();
        async move {
            alice
                .list_rollouts(ListRolloutsRequest::default())
                .await
                .ok()
                .map(|r| r.into_inner().rollouts)
        }
    })
    .await;
    let this = listed.iter().find(|r| r.id == id).expect("listed");
    if unix_ms() < at_ms {
        assert_eq!(this.state().name(), "scheduled");
    }
    let view = reaches_within(&alice, &id, "succeeded", WAIT).await;
    assert!(view.waves[0].hosts[0].state().name() == "succeeded");
    assert!(unix_ms() >= at_ms);
    coordinator.stop().await;
}
