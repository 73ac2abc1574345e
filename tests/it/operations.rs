//! Everyday operations (issue 19): idempotency keys that refuse other parameters, work sent
//! only to the hosts that have its action, targeting by host id.

use std::collections::BTreeMap;
use std::time::Duration;

use convoy_agent::config::ActionConfig;
use convoy_proto::identity::Role;
use convoy_proto::v1::{Job, JobState, StartJobRequest};
use convoy_tests::{TestAgent, TestCoordinator, TestPki};
use tonic::Code;

use crate::support::{finished, fleet_online};

pub fn sh(script: &str) -> ActionConfig {
    ActionConfig {
        run: vec!["/bin/sh".into(), "-c".into(), script.into()],
        timeout: Duration::from_secs(10),
        env: BTreeMap::new(),
        working_dir: None,
        kill_grace: Duration::from_millis(300),
        params: BTreeMap::new(),
    }
}

fn actions(names: &[&str]) -> BTreeMap<String, ActionConfig> {
    names
        .iter()
        .map(|name| ((*name).to_string(), sh(&format!("echo {name}"))))
        .collect()
}

fn hosts(job: &Job) -> Vec<&str> {
    job.hosts.iter().map(|h| h.host.as_str()).collect()
}

#[tokio::test]
async fn a_reused_request_id_with_other_parameters_is_refused_with_the_difference() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let agent = TestAgent::start_with_actions(
        &pki,
        &coordinator.url(),
        "web-1",
        &[("role", "web")],
        actions(&["uptime", "restart"]),
    );
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 1).await;
    let request = StartJobRequest {
        action: "uptime".into(),
        selector: "role=web".into(),
        request_id: "deploy-42".into(),
        ..Default::default()
    };
    let first = admin.start_job(request.clone()).await.unwrap().into_inner();
    // The same request again: the same job.
    let again = admin.start_job(request.clone()).await.unwrap().into_inner();
    assert_eq!(again.id, first.id);
    // The same key with another action and concurrency: refused, naming the differences.
    let other = admin
        .start_job(StartJobRequest {
            action: "restart".into(),
            concurrency: "1".into(),
            ..request.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::AlreadyExists, "{other:?}");
    let message = other.message();
    assert!(message.contains(&first.id), "{message}");
    assert!(
        message.contains("action: \"uptime\" -> \"restart\""),
        "{message}"
    );
    assert!(message.contains("concurrency: \"\" -> \"1\""), "{message}");
    // Nothing new was started.
    let jobs = admin
        .list_jobs(convoy_proto::v1::ListJobsRequest {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    finished(&admin, &first.id).await;
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn exec_goes_only_to_hosts_that_have_the_action_and_says_who_was_left_out() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let agents = vec![
        TestAgent::start_with_actions(
            &pki,
            &coordinator.url(),
            "web-1",
            &[],
            actions(&["restart", "uptime"]),
        ),
        TestAgent::start_with_actions(&pki, &coordinator.url(), "web-2", &[], actions(&["uptime"])),
        TestAgent::start_with_actions(
            &pki,
            &coordinator.url(),
            "web-3",
            &[],
            actions(&["restart"]),
        ),
    ];
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 3).await;
    let job = admin
        .start_job(StartJobRequest {
            action: "restart".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hosts(&job), ["web-1", "web-3"]);
    assert_eq!(job.left_out, ["web-2"]);
    let job = finished(&admin, &job.id).await;
    // Before issue 19, web-2 was sent the command, rejected it and failed the job.
    assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
    assert_eq!(job.counts.unwrap().total, 2);
    // None has it: still refused, naming what they allow.
    let none = admin
        .start_job(StartJobRequest {
            action: "reboot".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::InvalidArgument);
    assert!(
        none.message()
            .contains("none of the 3 matching hosts allows it"),
        "{none:?}"
    );
    for agent in agents {
        agent.stop().await;
    }
    coordinator.stop().await;
}

#[tokio::test]
async fn hosts_are_targeted_by_id_in_the_selector() {
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let agents: Vec<TestAgent> = ["web-1", "web-2", "web-3"]
        .iter()
        .map(|id| {
            TestAgent::start_with_actions(
                &pki,
                &coordinator.url(),
                id,
                &[("role", "web")],
                actions(&["uptime"]),
            )
        })
        .collect();
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 3).await;
    // What `--host web-1,web-3 --selector role=web` sends.
    let job = admin
        .start_job(StartJobRequest {
            action: "uptime".into(),
            selector: "role=web,id in (web-1,web-3)".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hosts(&job), ["web-1", "web-3"]);
    let listed = crate::support::list(&mut admin, "id=web-2").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "web-2");
    finished(&admin, &job.id).await;
    for agent in agents {
        agent.stop().await;
    }
    coordinator.stop().await;
}

async fn list(
    admin: &mut convoy_proto::v1::admin_client::AdminClient<tonic::transport::Channel>,
    request: convoy_proto::v1::ListJobsRequest,
) -> (Vec<String>, String) {
    let page = admin.list_jobs(request).await.unwrap().into_inner();
    (
        page.jobs
            .iter()
            .map(|j| format!("{}@{}", j.action, j.counts.map_or(0, |c| c.total)))
            .collect(),
        page.next_page_token,
    )
}

#[tokio::test]
async fn jobs_are_listed_newest_first_filtered_and_paged() {
    use convoy_proto::v1::ListJobsRequest;
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut failing = actions(&["uptime"]);
    failing.insert("flaky".into(), sh("exit 1"));
    let agents = vec![
        TestAgent::start_with_actions(&pki, &coordinator.url(), "web-1", &[], failing),
        TestAgent::start_with_actions(&pki, &coordinator.url(), "web-2", &[], actions(&["uptime"])),
    ];
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 2).await;
    let mut started = Vec::new();
    for (action, selector) in [("uptime", ""), ("flaky", ""), ("uptime", "id=web-2")] {
        let job = admin
            .start_job(StartJobRequest {
                action: action.into(),
                selector: selector.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        finished(&admin, &job.id).await;
        started.push(job.id);
    }
    let all = |limit| ListJobsRequest {
        limit,
        ..Default::default()
    };
    let (jobs, next) = list(&mut admin, all(10)).await;
    assert_eq!(jobs, ["uptime@1", "flaky@1", "uptime@2"]);
    assert!(next.is_empty());
    // Paging: one at a time, in the same order, each page pointing at the next.
    let (first, token) = list(&mut admin, all(1)).await;
    assert_eq!(first, ["uptime@1"]);
    let (second, token) = list(
        &mut admin,
        ListJobsRequest {
            page_token: token,
            ..all(1)
        },
    )
    .await;
    assert_eq!(second, ["flaky@1"]);
    assert!(!token.is_empty());
    // Filters.
    let by = |state: &str, action: &str, host: &str| ListJobsRequest {
        state: state.into(),
        action: action.into(),
        host: host.into(),
        ..all(10)
    };
    assert_eq!(list(&mut admin, by("failed", "", "")).await.0, ["flaky@1"]);
    assert_eq!(
        list(&mut admin, by("", "uptime", "")).await.0,
        ["uptime@1", "uptime@2"]
    );
    assert_eq!(
        list(&mut admin, by("", "", "web-1")).await.0,
        ["flaky@1", "uptime@2"]
    );
    let future = ListJobsRequest {
        since_unix_ms: i64::MAX / 2,
        ..all(10)
    };
    assert!(list(&mut admin, future).await.0.is_empty());
    let bad = admin.list_jobs(by("exploded", "", "")).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let bad = admin
        .list_jobs(ListJobsRequest {
            page_token: "nonsense".into(),
            ..all(10)
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    for agent in agents {
        agent.stop().await;
    }
    coordinator.stop().await;
}

#[tokio::test]
async fn action_parameters_are_judged_by_the_agent_and_passed_as_one_argument() {
    use convoy_agent::params::ParamConfig;
    use convoy_proto::v1::CommandState;
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut list = BTreeMap::new();
    let mut restart = sh("unused");
    restart.run = vec!["printf".into(), "[%s]".into(), "{unit}".into()];
    restart.params.insert(
        "unit".into(),
        ParamConfig {
            allow: Some(vec!["nginx".into(), "app".into()]),
            pattern: None,
        },
    );
    let mut say = sh("unused");
    say.run = vec!["printf".into(), "[%s]".into(), "{msg}".into()];
    say.params.insert(
        "msg".into(),
        ParamConfig {
            allow: None,
            pattern: Some(".+".into()),
        },
    );
    list.insert("restart".to_string(), restart);
    list.insert("say".to_string(), say);
    let agent = TestAgent::start_with_actions(&pki, &coordinator.url(), "web-1", &[], list);
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 1).await;
    let run = |action: &str, params: &[(&str, &str)]| {
        let mut admin = admin.clone();
        let request = StartJobRequest {
            action: action.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        async move {
            let job = admin.start_job(request).await.unwrap().into_inner();
            let job = finished(&admin, &job.id).await;
            let host = job.hosts[0].clone();
            (
                CommandState::try_from(host.state).unwrap(),
                String::from_utf8_lossy(&host.output_tail).into_owned(),
                host.message,
            )
        }
    };
    let (state, output, _) = run("restart", &[("unit", "nginx")]).await;
    assert_eq!(
        (state, output.as_str()),
        (CommandState::Succeeded, "[nginx]")
    );
    // Shell syntax and spaces stay one argument: printf saw exactly one value.
    let (state, output, _) = run("say", &[("msg", "a b; echo pwned $(id)")]).await;
    assert_eq!(
        (state, output.as_str()),
        (CommandState::Succeeded, "[a b; echo pwned $(id)]")
    );
    // The coordinator passes values through; the agent's own allow-list refuses them.
    for (params, want) in [
        (
            &[("unit", "nginx; touch /tmp/pwned")][..],
            "is not allowed on this host (one of: nginx, app)",
        ),
        (&[("unit", "sshd")][..], "is not allowed on this host"),
        (&[][..], "missing parameter \"unit\""),
        (
            &[("unit", "app"), ("user", "root")][..],
            "unknown parameter \"user\"",
        ),
    ] {
        let (state, output, message) = run("restart", params).await;
        assert_eq!(state, CommandState::Rejected, "{params:?}: {message}");
        assert!(output.is_empty());
        assert!(message.contains(want), "{params:?}: {message}");
    }
    // Malformed names and too many parameters are refused up front, creating nothing.
    for params in [
        vec![("Unit".to_string(), "x".to_string())],
        (0..17)
            .map(|i| (format!("p{i}"), "x".to_string()))
            .collect(),
    ] {
        let refused = admin
            .start_job(StartJobRequest {
                action: "restart".into(),
                params: params.into_iter().collect(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    }
    agent.stop().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn cordon_drain_and_remove_a_host() {
    use convoy_proto::v1::{
        CordonAgentRequest, GetAgentRequest, ListAuditRequest, RemoveAgentRequest,
    };
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut list = actions(&["uptime"]);
    list.insert("slow".into(), sh("sleep 1"));
    let mut agents: Vec<TestAgent> = ["web-1", "web-2", "web-3"]
        .iter()
        .map(|id| TestAgent::start_with_actions(&pki, &coordinator.url(), id, &[], list.clone()))
        .collect();
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 3).await;
    let cordon = |id: &str, cordoned: bool| CordonAgentRequest {
        id: id.into(),
        cordoned,
    };
    let shown = admin
        .cordon_agent(cordon("web-2", true))
        .await
        .unwrap()
        .into_inner();
    assert!(shown.cordoned);
    let listed = crate::support::list(&mut admin, "").await;
    let cordoned: Vec<&str> = listed
        .iter()
        .filter(|a| a.cordoned)
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(cordoned, ["web-2"]);
    // No new job reaches it; the job says so.
    let job = admin
        .start_job(StartJobRequest {
            action: "slow".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hosts(&job), ["web-1", "web-3"]);
    assert_eq!(job.cordoned, ["web-2"]);
    // What `agent drain` waits for: commands still in flight on the host.
    let inflight = |id: &str| {
        let mut admin = admin.clone();
        let id = id.to_string();
        async move {
            admin
                .get_agent(GetAgentRequest { id })
                .await
                .unwrap()
                .into_inner()
                .inflight_commands
        }
    };
    convoy_tests::wait_for(
        "web-1 has the command in flight",
        Duration::from_secs(10),
        || {
            let check = inflight("web-1");
            async move { (check.await == 1).then_some(()) }
        },
    )
    .await;
    finished(&admin, &job.id).await;
    convoy_tests::wait_for("web-1 drained", Duration::from_secs(10), || {
        let check = inflight("web-1");
        async move { (check.await == 0).then_some(()) }
    })
    .await;
    // Every matching host cordoned: refused, nothing created.
    let refused = admin
        .start_job(StartJobRequest {
            action: "uptime".into(),
            selector: "id=web-2".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(refused.message().contains("cordoned"), "{refused:?}");
    admin.cordon_agent(cordon("web-2", false)).await.unwrap();
    assert!(!crate::support::list(&mut admin, "id=web-2").await[0].cordoned);
    // Remove: admin only; refused while online unless forced; audited.
    let remove = |id: &str, force: bool| RemoveAgentRequest {
        id: id.into(),
        force,
    };
    let denied = admin.remove_agent(remove("web-3", true)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let mut root = coordinator
        .admin(&pki, &pki.operator("root", Role::Admin))
        .await;
    let online = root.remove_agent(remove("web-3", false)).await.unwrap_err();
    assert_eq!(online.code(), Code::FailedPrecondition, "{online:?}");
    assert!(online.message().contains("--force"), "{online:?}");
    assert_eq!(
        crate::support::list(&mut admin, "").await.len(),
        3,
        "nothing changed"
    );
    // Offline: removed without force.
    agents.pop().unwrap().stop().await;
    convoy_tests::wait_for("web-3 offline", Duration::from_secs(10), || {
        let mut admin = admin.clone();
        async move {
            let agents = crate::support::list(&mut admin, "id=web-3").await;
            (!crate::support::online(&agents[0])).then_some(())
        }
    })
    .await;
    let removed = root
        .remove_agent(remove("web-3", false))
        .await
        .unwrap()
        .into_inner();
    assert!(!removed.was_online);
    // Online with --force: the session ends and the record goes.
    let forced = root
        .remove_agent(remove("web-1", true))
        .await
        .unwrap()
        .into_inner();
    assert!(forced.was_online);
    let left: Vec<String> = crate::support::list(&mut admin, "")
        .await
        .into_iter()
        .filter(|a| a.id != "web-1" || crate::support::online(a))
        .map(|a| a.id)
        .collect();
    assert!(!left.contains(&"web-3".to_string()), "{left:?}");
    let missing = root.remove_agent(remove("web-9", true)).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let audit = root
        .list_audit(ListAuditRequest::default())
        .await
        .unwrap()
        .into_inner();
    let calls: Vec<&str> = audit.entries.iter().map(|e| e.call.as_str()).collect();
    assert!(
        calls.contains(&"RemoveAgent") && calls.contains(&"CordonAgent"),
        "{calls:?}"
    );
    for agent in agents {
        agent.stop().await;
    }
    coordinator.stop().await;
}

/// Issue 19 point 1: an output of exactly the default 16 MiB cap used to fail with
/// OutOfRange (one message of 16,777,232 bytes); read in pages it always comes back whole.
#[tokio::test]
async fn output_at_the_cap_is_read_in_pages_and_a_longer_one_keeps_head_and_tail() {
    use convoy_proto::v1::GetCommandOutputRequest;
    let pki = TestPki::new();
    let coordinator = TestCoordinator::start(&pki).await;
    let mut list = BTreeMap::new();
    list.insert(
        "big".to_string(),
        sh("head -c 16777216 /dev/zero | tr '\\0' x"),
    );
    list.insert(
        "bigger".to_string(),
        sh("echo START; head -c 20000000 /dev/zero | tr '\\0' y; echo; echo THE-ERROR"),
    );
    let agent = TestAgent::start_with_actions(&pki, &coordinator.url(), "web-1", &[], list);
    let mut admin = coordinator
        .admin(&pki, &pki.operator("alice", Role::Operator))
        .await;
    fleet_online(&admin, 1).await;
    let reader = admin.clone();
    let read_all = |job_id: String| {
        let mut admin = reader.clone();
        async move {
            let mut data = Vec::new();
            let mut offset = 0;
            let mut pages = 0;
            loop {
                let page = admin
                    .get_command_output(GetCommandOutputRequest {
                        job_id: job_id.clone(),
                        host: "web-1".into(),
                        offset,
                        max_bytes: 0,
                    })
                    .await
                    .expect("every page fits the message cap")
                    .into_inner();
                assert!(page.data.len() <= 1024 * 1024);
                data.extend_from_slice(&page.data);
                offset = page.next_offset;
                pages += 1;
                if !page.more {
                    return (data, page, pages);
                }
            }
        }
    };
    for (action, _) in [("big", ()), ("bigger", ())] {
        let job = admin
            .start_job(StartJobRequest {
                action: action.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let job = crate::support::finished(&admin, &job.id).await;
        assert_eq!(job.state, JobState::Succeeded as i32, "{job:?}");
        let (data, last, pages) = read_all(job.id.clone()).await;
        if action == "big" {
            assert_eq!(data.len(), 16 * 1024 * 1024);
            assert!(data.iter().all(|b| *b == b'x'));
            assert!(!last.output_truncated);
            assert!(pages >= 16, "{pages} pages");
        } else {
            // Over the cap: the first 8 MiB and the last 8 MiB, the rest counted.
            assert!(last.output_truncated);
            assert_eq!(data.len(), 16 * 1024 * 1024);
            assert!(data.starts_with(b"START\n"));
            assert!(
                data.ends_with(b"\nTHE-ERROR\n"),
                "the end, where errors are, is kept"
            );
            assert_eq!(last.dropped_at, 8 * 1024 * 1024);
            assert_eq!(last.dropped_bytes, last.output_bytes - 16 * 1024 * 1024);
        }
    }
    agent.stop().await;
    coordinator.stop().await;
}
