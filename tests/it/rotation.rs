//! CA rotation in phases (issue 14): 20 real agents and an operator running jobs
//! throughout; the agents get the new bundle and renew onto the new CA over their live
//! sessions, nobody touches the hosts, no job is lost, no agent is away for longer than
//! one heartbeat, and after `finish` only the new CA is trusted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use convoy_agent::config::ActionConfig;
use convoy_coordinator::config::{AgentsConfig, IssuingCa};
use convoy_proto::identity::{Identity, Role};
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::certs_client::CertsClient;
use convoy_proto::v1::{
    CommandState, GetAgentRequest, RotateCaRequest, RotationStatus, StartJobRequest,
};
use convoy_tests::{CertFiles, TestAgent, TestCoordinator, TestPki, channel, wait_for};

use crate::support::{finished, list, online};

mod offline_root;

const AGENTS: usize = 20;
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The operator's identity and CA bundle, changed during the test as a runbook says.
#[derive(Clone)]
struct Operator {
    ca: std::path::PathBuf,
    certs: CertFiles,
}

async fn admin(
    url: &str,
    op: &Arc<Mutex<Operator>>,
) -> Option<AdminClient<tonic::transport::Channel>> {
    let op = op.lock().unwrap().clone();
    channel(url, &op.ca, Some(&op.certs))
        .await
        .ok()
        .map(AdminClient::new)
}

async fn rotate(url: &str, op: &Arc<Mutex<Operator>>, action: &str) -> RotationStatus {
    let op = op.lock().unwrap().clone();
    let mut certs = CertsClient::new(
        channel(url, &op.ca, Some(&op.certs))
            .await
            .expect("channel"),
    );
    certs
        .rotate_ca(RotateCaRequest {
            action: action.into(),
            force: false,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("rotate {action}: {status:?}"))
        .into_inner()
}

/// The operator's bundle is read by the job loop at any moment: replace it whole.
fn write_atomically(path: &std::path::Path, text: &str) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

fn certificates(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .matches("BEGIN CERTIFICATE")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_agents_rotate_to_a_new_ca_without_losing_a_job_or_a_heartbeat() {
    let pki = TestPki::new();
    let (cert, key) = (
        pki.ca_cert(),
        pki.dir().join(convoy_coordinator::pki::CA_KEY_FILE),
    );
    let coordinator = TestCoordinator::start_configured(&pki, move |config| {
        config.agents = AgentsConfig {
            heartbeat_interval: HEARTBEAT,
            offline_after: HEARTBEAT * 3,
        };
        config.ca = Some(IssuingCa {
            cert,
            key,
            agent_cert_days: 30,
            agent_cert_lifetime: None,
            enrolls_per_ip_per_minute: convoy_coordinator::enroll::ENROLLS_PER_IP,
        });
    })
    .await;
    let url = coordinator.url();
    let ok = ActionConfig {
        run: vec!["/bin/true".into()],
        timeout: Duration::from_secs(30),
        env: BTreeMap::new(),
        working_dir: None,
        kill_grace: Duration::from_millis(300),
        params: BTreeMap::new(),
    };
    let mut agents = Vec::new();
    let mut trust_files = Vec::new();
    let mut configs = Vec::new();
    for i in 0..AGENTS {
        let id = format!("rot-{i}");
        let mut config = TestAgent::config(&pki, &url, &id, &[("fleet", "rot")]);
        // Each host has its own copy of the CA bundle (the agent rewrites it).
        let trust = pki.dir().join(format!("trust-{id}.pem"));
        std::fs::copy(pki.ca_cert(), &trust).unwrap();
        config.tls.ca = trust.clone();
        config.actions = [("ok".to_string(), ok.clone())].into();
        trust_files.push(trust);
        configs.push(config.clone());
        agents.push(TestAgent::start_with(config));
    }
    let op_ca = pki.dir().join("operator-ca.pem");
    std::fs::copy(pki.ca_cert(), &op_ca).unwrap();
    let op = Arc::new(Mutex::new(Operator {
        ca: op_ca.clone(),
        certs: pki.operator("root", Role::Admin),
    }));
    let mut watch = admin(&url, &op).await.expect("admin");
    wait_for("all agents online", Duration::from_secs(30), || {
        let mut watch = watch.clone();
        async move {
            (list(&mut watch, "")
                .await
                .iter()
                .filter(|a| online(a))
                .count()
                == AGENTS)
                .then_some(())
        }
    })
    .await;

    // The operator runs jobs on every agent throughout (bounded in count and time).
    let stop = Arc::new(AtomicBool::new(false));
    let jobs = tokio::spawn({
        let (url, op, stop) = (url.clone(), op.clone(), stop.clone());
        async move {
            let mut results = Vec::new();
            for _ in 0..400 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Some(mut admin) = admin(&url, &op).await else {
                    results.push(Err("cannot connect".to_string()));
                    continue;
                };
                let job = match admin
                    .start_job(StartJobRequest {
                        action: "ok".into(),
                        selector: "fleet=rot".into(),
                        ..Default::default()
                    })
                    .await
                {
                    Ok(job) => job.into_inner(),
                    Err(status) => {
                        results.push(Err(status.to_string()));
                        continue;
                    }
                };
                let job = finished(&admin, &job.id).await;
                let succeeded = job
                    .hosts
                    .iter()
                    .filter(|h| h.state == CommandState::Succeeded as i32)
                    .count();
                results.push(Ok((job.id, job.hosts.len(), succeeded)));
            }
            results
        }
    });

    // 1. init: both CAs trusted; every agent gets the bundle over its session.
    let status = rotate(&url, &op, "start").await;
    assert_eq!(status.phase, "init");
    assert_ne!(status.from_fingerprint, status.to_fingerprint);
    // Runbook: operators take the bundle for their --ca.
    write_atomically(&op_ca, &status.bundle_pem);
    wait_for(
        "every agent holds the two-CA bundle",
        Duration::from_secs(20),
        || {
            let all = trust_files.iter().all(|path| certificates(path) == 2);
            async move { all.then_some(()) }
        },
    )
    .await;

    // 2. update_clients: the new CA issues; every agent renews onto it at once.
    assert_eq!(rotate(&url, &op, "advance").await.phase, "update_clients");
    wait_for(
        "every agent on a new-CA certificate",
        Duration::from_secs(30),
        || {
            let (url, op) = (url.clone(), op.clone());
            async move {
                let status = rotate(&url, &op, "status").await;
                (status.old_ca_agents.is_empty() && status.online_agents as usize == AGENTS)
                    .then_some(())
            }
        },
    )
    .await;

    // 3. update_servers: the coordinator presents a certificate of the new CA.
    let status = rotate(&url, &op, "advance").await;
    assert_eq!(status.phase, "update_servers");

    // Finish is refused while a live agent still holds an old-CA certificate (a hand-
    // driven session that ignores the push to renew).
    let stale = pki.agent("stale-0");
    let channel_old = channel(&url, &op_ca, Some(&stale))
        .await
        .expect("both CAs trusted");
    let (stale_tx, stale_session) =
        crate::support::raw_session(channel_old, crate::support::hello("stale-0")).await;
    let _stale_session = stale_session.expect("old-CA agent admitted during the overlap");
    let refusal = {
        let op = op.lock().unwrap().clone();
        CertsClient::new(
            channel(&url, &op.ca, Some(&op.certs))
                .await
                .expect("channel"),
        )
        .rotate_ca(RotateCaRequest {
            action: "finish".into(),
            force: false,
            ..Default::default()
        })
        .await
        .expect_err("finish with an old-CA agent online")
    };
    assert_eq!(refusal.code(), tonic::Code::FailedPrecondition);
    assert!(
        refusal.message().contains("stale-0"),
        "{}",
        refusal.message()
    );
    drop(stale_tx);
    drop(_stale_session);
    wait_for("the old-CA agent gone", Duration::from_secs(20), || {
        let (url, op) = (url.clone(), op.clone());
        async move {
            rotate(&url, &op, "status")
                .await
                .old_ca_agents
                .is_empty()
                .then_some(())
        }
    })
    .await;
    // The operator still calls with its old-CA certificate: named in status, and finish
    // refused until it calls with one of the new CA.
    let status = rotate(&url, &op, "status").await;
    let names: Vec<&str> = status
        .old_ca_operators
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(names, ["root"], "{status:?}");
    assert_eq!(status.operator_window_ms, 24 * 3600 * 1000);
    let refusal = finish_refused(&url, &op).await;
    assert!(refusal.contains("root"), "{refusal}");
    // Runbook: operators get certificates of the new CA before finish.
    op.lock().unwrap().certs = new_operator_cert(&pki, &status.new_ca_dir, "root");

    // 4. done: only the new CA is trusted.
    let status = rotate(&url, &op, "finish").await;
    assert_eq!(status.phase, "done");
    assert!(status.old_ca_agents.is_empty());
    assert_eq!(certificates(&op_ca), 2);
    write_atomically(&op_ca, &status.bundle_pem);
    assert_eq!(certificates(&op_ca), 1, "the bundle is the new CA alone");
    wait_for(
        "every agent trusts the new CA alone",
        Duration::from_secs(20),
        || {
            let all = trust_files.iter().all(|path| certificates(path) == 1);
            async move { all.then_some(()) }
        },
    )
    .await;

    // New hosts enroll against the new CA: the token names its fingerprint, the host
    // pins it and gets the new bundle.
    let op_now = op.lock().unwrap().clone();
    let created = CertsClient::new(
        channel(&url, &op_now.ca, Some(&op_now.certs))
            .await
            .unwrap(),
    )
    .create_token(convoy_proto::v1::CreateTokenRequest {
        ttl_ms: 60_000,
        uses: 1,
        ..Default::default()
    })
    .await
    .expect("token")
    .into_inner();
    assert_eq!(created.ca_fingerprint, status.to_fingerprint);
    let host = pki.dir().join("host-late");
    convoy_agent::enroll::enroll(convoy_agent::enroll::EnrollOptions {
        coordinator: url.clone(),
        ca_fingerprint: created.ca_fingerprint,
        token: created.token,
        id: convoy_proto::identity::AgentId::new("late-1").unwrap(),
        tls: convoy_agent::config::TlsFiles {
            ca: host.join("ca.pem"),
            cert: host.join("agent.pem"),
            key: host.join("agent.key"),
        },
    })
    .await
    .expect("enroll after the rotation");
    assert_eq!(
        std::fs::read_to_string(host.join("ca.pem")).unwrap().trim(),
        status.bundle_pem.trim()
    );

    // An old-CA certificate is refused now.
    let stale = pki.agent("stale-1");
    let refused = match channel(&url, &op_ca, Some(&stale)).await {
        Err(_) => true,
        Ok(channel) => {
            let (_tx, response) =
                crate::support::raw_session(channel, crate::support::hello("stale-1")).await;
            match response {
                Err(_) => true,
                Ok(mut inbound) => inbound.message().await.is_err(),
            }
        }
    };
    assert!(
        refused,
        "an old-CA certificate must be refused after finish"
    );

    // A restarted agent comes back with what it wrote: no operator touched the host.
    let restarted = agents.remove(0);
    restarted.stop().await;
    agents.insert(0, TestAgent::start_with(configs[0].clone()));

    watch = admin(&url, &op).await.expect("admin with the new CA");
    wait_for(
        "all agents online after finish",
        Duration::from_secs(30),
        || {
            let mut watch = watch.clone();
            async move {
                (list(&mut watch, "")
                    .await
                    .iter()
                    .filter(|a| online(a))
                    .count()
                    == AGENTS)
                    .then_some(())
            }
        },
    )
    .await;

    stop.store(true, Ordering::Relaxed);
    let results = tokio::time::timeout(Duration::from_secs(60), jobs)
        .await
        .expect("job loop ends")
        .expect("job loop");
    assert!(results.len() >= 3, "jobs ran throughout: {results:?}");
    for result in &results {
        let (id, hosts, succeeded) = result
            .as_ref()
            .unwrap_or_else(|err| panic!("operator call failed: {err}"));
        assert_eq!(
            (*hosts, *succeeded),
            (AGENTS, AGENTS),
            "job {id} lost a host"
        );
    }

    // Away for at most one heartbeat: between a session's end and the next one.
    let mut worst = 0;
    for i in 1..AGENTS {
        let detail = watch
            .get_agent(GetAgentRequest {
                id: format!("rot-{i}"),
            })
            .await
            .expect("agent")
            .into_inner();
        for pair in detail.connections.windows(2) {
            let gap = pair[1].connected_unix_ms - pair[0].disconnected_unix_ms;
            worst = worst.max(gap);
        }
        assert!(
            detail.connections.len() >= 2,
            "rot-{i} reconnected with its renewed certificate"
        );
    }
    println!(
        "worst reconnect gap: {worst} ms over {} jobs",
        results.len()
    );
    assert!(
        worst <= i64::try_from(HEARTBEAT.as_millis()).unwrap(),
        "an agent was away {worst} ms"
    );
    for agent in agents {
        agent.stop().await;
    }
    coordinator.stop().await;
}

/// Issues `name` an admin certificate of the CA in `new_ca_dir` (on the coordinator's
/// host), as the runbook's `convoy cert issue operator NAME --ca-dir DIR` does.
fn new_operator_cert(pki: &TestPki, new_ca_dir: &str, name: &str) -> CertFiles {
    let new_ca = convoy_coordinator::pki::Ca::load(std::path::Path::new(new_ca_dir))
        .expect("the new CA's files");
    let (cert, key) = convoy_coordinator::pki::issue_to_dir(
        &new_ca,
        &Identity::Operator {
            name: name.into(),
            role: Role::Admin,
        },
        &format!("{name}-new"),
        &[],
        30,
        pki.dir(),
        false,
    )
    .unwrap();
    CertFiles { cert, key }
}

/// `finish` as `op`, expected refused: the refusal's message.
async fn finish_refused(url: &str, op: &Arc<Mutex<Operator>>) -> String {
    let op = op.lock().unwrap().clone();
    let refusal = CertsClient::new(
        channel(url, &op.ca, Some(&op.certs))
            .await
            .expect("channel"),
    )
    .rotate_ca(RotateCaRequest {
        action: "finish".into(),
        ..Default::default()
    })
    .await
    .expect_err("finish refused");
    assert_eq!(refusal.code(), tonic::Code::FailedPrecondition);
    refusal.message().to_string()
}

/// `abort` after the agents moved to the new CA: the old CA issues again, the agents
/// renew back onto it over their sessions, and `finish` then drops the new one.
#[tokio::test]
async fn abort_returns_the_fleet_to_the_old_ca() {
    let pki = TestPki::new();
    let coordinator = crate::renewal::issuing(&pki, Duration::from_secs(3600)).await;
    let url = coordinator.url();
    let mut agents = Vec::new();
    let mut trust_files = Vec::new();
    for i in 0..3 {
        let id = format!("ab-{i}");
        let mut config = TestAgent::config(&pki, &url, &id, &[]);
        let trust = pki.dir().join(format!("trust-{id}.pem"));
        std::fs::copy(pki.ca_cert(), &trust).unwrap();
        config.tls.ca = trust.clone();
        trust_files.push(trust);
        agents.push(TestAgent::start_with(config));
    }
    let op_ca = pki.dir().join("operator-ca.pem");
    std::fs::copy(pki.ca_cert(), &op_ca).unwrap();
    let op = Arc::new(Mutex::new(Operator {
        ca: op_ca.clone(),
        certs: pki.operator("root", Role::Admin),
    }));
    let original = rotate(&url, &op, "status").await;
    assert_eq!(original.phase, "none");
    let on_current_ca = |url: String, op: Arc<Mutex<Operator>>| async move {
        let status = rotate(&url, &op, "status").await;
        (status.old_ca_agents.is_empty() && status.online_agents == 3).then_some(status)
    };
    wait_for("three agents", Duration::from_secs(15), || {
        on_current_ca(url.clone(), op.clone())
    })
    .await;
    let started = rotate(&url, &op, "start").await;
    write_atomically(&op_ca, &started.bundle_pem);
    rotate(&url, &op, "advance").await;
    wait_for("agents on the new CA", Duration::from_secs(15), || {
        on_current_ca(url.clone(), op.clone())
    })
    .await;

    let aborted = rotate(&url, &op, "abort").await;
    assert_eq!(aborted.phase, "update_servers");
    assert_eq!(
        aborted.to_fingerprint, started.from_fingerprint,
        "back to the old CA"
    );
    wait_for("agents back on the old CA", Duration::from_secs(15), || {
        on_current_ca(url.clone(), op.clone())
    })
    .await;
    let done = rotate(&url, &op, "finish").await;
    assert_eq!(done.phase, "done");
    assert_eq!(done.to_fingerprint, started.from_fingerprint);
    // The bundle is the original CA alone, on every host, and the old operator bundle works.
    let original_pem = std::fs::read_to_string(pki.ca_cert()).unwrap();
    assert_eq!(done.bundle_pem.trim(), original_pem.trim());
    wait_for(
        "hosts trust the original CA alone",
        Duration::from_secs(15),
        || {
            let all = trust_files.iter().all(|path| certificates(path) == 1);
            async move { all.then_some(()) }
        },
    )
    .await;
    std::fs::copy(pki.ca_cert(), &op_ca).unwrap();
    // Refused in phase done: nothing to abort.
    let op_now = op.lock().unwrap().clone();
    let refused = CertsClient::new(
        channel(&url, &op_now.ca, Some(&op_now.certs))
            .await
            .unwrap(),
    )
    .rotate_ca(RotateCaRequest {
        action: "abort".into(),
        force: false,
        ..Default::default()
    })
    .await
    .expect_err("abort after finish");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    for agent in agents {
        agent.stop().await;
    }
    coordinator.stop().await;
}

fn issuing_ca(pki: &TestPki) -> IssuingCa {
    IssuingCa {
        cert: pki.ca_cert(),
        key: pki.dir().join(convoy_coordinator::pki::CA_KEY_FILE),
        agent_cert_days: 30,
        agent_cert_lifetime: None,
        enrolls_per_ip_per_minute: convoy_coordinator::enroll::ENROLLS_PER_IP,
    }
}

/// The rotation's phase survives a coordinator restart: after `update_servers` the
/// restarted coordinator still presents the new CA's certificate (an operator trusting the
/// old CA alone is refused, one with the bundle is served) and `finish` goes on from there.
#[tokio::test]
async fn a_rotation_in_progress_survives_a_restart() {
    let pki = TestPki::new();
    let ca = issuing_ca(&pki);
    let coordinator = TestCoordinator::start_configured(&pki, {
        let ca = ca.clone();
        move |config| config.ca = Some(ca)
    })
    .await;
    let url = coordinator.url();
    let op_ca = pki.dir().join("operator-ca.pem");
    std::fs::copy(pki.ca_cert(), &op_ca).unwrap();
    let op = Arc::new(Mutex::new(Operator {
        ca: op_ca.clone(),
        certs: pki.operator("root", Role::Admin),
    }));
    let started = rotate(&url, &op, "start").await;
    write_atomically(&op_ca, &started.bundle_pem);
    rotate(&url, &op, "advance").await;
    assert_eq!(rotate(&url, &op, "advance").await.phase, "update_servers");
    let (data_dir, listen) = (coordinator.data_dir.clone(), coordinator.addr);
    coordinator.stop().await;

    let coordinator =
        TestCoordinator::start_in_configured(&pki, &data_dir, listen, move |config| {
            config.ca = Some(ca)
        })
        .await;
    assert_eq!(coordinator.url(), url);
    let old_only = channel(
        &url,
        &pki.ca_cert(),
        Some(&pki.operator("root", Role::Admin)),
    )
    .await;
    let refused = match old_only {
        Err(_) => true,
        Ok(channel) => AdminClient::new(channel)
            .who_am_i(convoy_proto::v1::WhoAmIRequest {})
            .await
            .is_err(),
    };
    assert!(
        refused,
        "the restarted coordinator presents the new CA's certificate"
    );
    let status = rotate(&url, &op, "status").await;
    assert_eq!(status.phase, "update_servers");
    assert_eq!(status.to_fingerprint, started.to_fingerprint);
    // The operator's use of its old-CA certificate survived the restart too.
    assert!(finish_refused(&url, &op).await.contains("root"));
    op.lock().unwrap().certs = new_operator_cert(&pki, &status.new_ca_dir, "root");
    assert_eq!(rotate(&url, &op, "finish").await.phase, "done");
    coordinator.stop().await;
}
