//! Scoped operator permissions (issue 14): a `[[policies]]` entry narrows an operator's
//! role by verb, target selector and action/app names; a call outside it is refused before
//! anything is created, and audited; `whoami` shows the effective permissions.

use std::collections::BTreeMap;
use std::time::Duration;

use convoy_agent::config::ActionConfig;
use convoy_coordinator::policy::PolicyConfig;
use convoy_proto::identity::Role;
use convoy_proto::v1::{
    DeploySpec, ListAuditRequest, ListJobsRequest, StartJobRequest, StartRolloutRequest,
    WhoAmIRequest,
};
use convoy_tests::{TestAgent, TestCoordinator, TestPki};
use tonic::Code;

use crate::support::{finished, fleet_online};

fn actions() -> BTreeMap<String, ActionConfig> {
    ["restart", "wipe"]
        .iter()
        .map(|name| {
            (
                (*name).to_string(),
                ActionConfig {
                    run: vec!["/bin/true".into()],
                    timeout: Duration::from_secs(10),
                    env: BTreeMap::new(),
                    working_dir: None,
                    kill_grace: Duration::from_millis(300),
                    params: BTreeMap::new(),
                },
            )
        })
        .collect()
}

fn exec(action: &str, selector: &str) -> StartJobRequest {
    StartJobRequest {
        action: action.into(),
        selector: selector.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_scoped_operator_is_refused_outside_its_policy_before_anything_is_created() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start_configured(&pki, |config| {
        config.policies = vec![PolicyConfig {
            operators: vec!["ci-*".into()],
            verbs: vec!["exec".into()],
            selector: "env=staging".into(),
            actions: vec!["restart".into()],
            apps: Vec::new(),
        }];
    })
    .await;
    let staging = TestAgent::start_with_actions(
        &pki,
        &coordinator.url(),
        "web-1",
        &[("env", "staging")],
        actions(),
    );
    let prod = TestAgent::start_with_actions(
        &pki,
        &coordinator.url(),
        "web-2",
        &[("env", "prod")],
        actions(),
    );
    let ci = pki.operator("ci-bot", Role::Operator);
    let alice = pki.operator("alice", Role::Operator);
    let mut as_ci = coordinator.admin(&pki, &ci).await;
    let mut as_alice = coordinator.admin(&pki, &alice).await;
    fleet_online(&as_alice, 2).await;

    // Inside the policy: fine.
    let job = as_ci
        .start_job(exec("restart", "env=staging"))
        .await
        .expect("in scope")
        .into_inner();
    finished(&as_ci, &job.id).await;

    // Outside it, each way: refused, nothing created.
    let jobs_before = as_alice
        .list_jobs(ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .jobs
        .len();
    for (request, why, words) in [
        (
            exec("restart", ""),
            "a target outside the selector",
            "web-2",
        ),
        (exec("restart", "env=prod"), "only targets outside", "web-2"),
        (exec("wipe", "env=staging"), "an action not allowed", "wipe"),
        (
            StartJobRequest {
                selector: "env=staging".into(),
                deploy: Some(DeploySpec {
                    app: "web".into(),
                    version: "1".into(),
                }),
                ..Default::default()
            },
            "a verb not allowed",
            "deploy",
        ),
    ] {
        let status = as_ci.start_job(request).await.expect_err(why);
        assert_eq!(status.code(), Code::PermissionDenied, "{why}: {status:?}");
        assert!(status.message().contains(words), "{why}: {status:?}");
    }
    let status = coordinator
        .rollouts(&pki, &ci)
        .await
        .start_rollout(StartRolloutRequest::default())
        .await
        .expect_err("rollout is not among its verbs");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let jobs_after = as_alice
        .list_jobs(ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .jobs
        .len();
    assert_eq!(
        jobs_before, jobs_after,
        "no job was created by a refused call"
    );

    // Refusals are audited under the operator's name.
    let audit = as_alice
        .list_audit(ListAuditRequest {
            operator: "ci-bot".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        audit.entries.iter().filter(|e| !e.ok).count() >= 4,
        "{:?}",
        audit.entries
    );

    // whoami shows the effective permissions; an operator no policy names is unscoped.
    let me = as_ci.who_am_i(WhoAmIRequest {}).await.unwrap().into_inner();
    assert!(
        me.scope.contains("verbs exec")
            && me.scope.contains("env=staging")
            && me.scope.contains("restart"),
        "{me:?}"
    );
    let alice_me = as_alice
        .who_am_i(WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(alice_me.scope.is_empty());
    let job = as_alice
        .start_job(exec("wipe", ""))
        .await
        .expect("unscoped")
        .into_inner();
    finished(&as_alice, &job.id).await;

    staging.stop().await;
    prod.stop().await;
    coordinator.stop().await;
}

#[test]
fn bad_policies_are_refused_at_load() {
    let base = std::path::Path::new("/tmp");
    let head = "data_dir = \"d\"\n[tls]\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\n";
    for (policy, words) in [
        (
            "[[policies]]\noperators = [\"x\"]\nverbs = [\"fly\"]\n",
            "unknown verb",
        ),
        (
            "[[policies]]\noperators = []\nverbs = [\"exec\"]\n",
            "operators",
        ),
        (
            "[[policies]]\noperators = [\"x\"]\nverbs = [\"exec\"]\nselector = \"a in (\"\n",
            "bad selector",
        ),
        (
            "[[policies]]\noperators = [\"x\"]\nverbs = [\"exec\"]\nnope = 1\n",
            "unknown field",
        ),
    ] {
        let err = convoy_coordinator::config::Config::parse(&format!("{head}{policy}"), base)
            .expect_err(words);
        assert!(err.contains(words), "{words}: {err}");
    }
}
