//! Clock skew (issue 14): a real `convoy-agent` process whose clock runs 5 minutes ahead
//! of, or behind, the coordinator's (libfaketime) enrolls, renews a short-lived
//! certificate at the time the coordinator says, and reconnects with it. Skipped (with a
//! note) where libfaketime is not installed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use convoy_coordinator::config::IssuingCa;
use convoy_proto::identity::Role;
use convoy_proto::v1::CreateTokenRequest;
use convoy_proto::v1::certs_client::CertsClient;
use convoy_tests::{TestCoordinator, TestPki, binary, channel, wait_for};

fn faketime() -> Option<PathBuf> {
    ["x86_64-linux-gnu", "aarch64-linux-gnu"]
        .iter()
        .map(|arch| PathBuf::from(format!("/usr/lib/{arch}/faketime/libfaketimeMT.so.1")))
        .find(|path| path.exists())
}

fn serial(path: &Path) -> Option<String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let pem = std::fs::read(path).ok()?;
    let der = CertificateDer::pem_slice_iter(&pem).next()?.ok()?;
    convoy_coordinator::revocation::cert_facts(&der)
        .ok()
        .map(|facts| facts.serial)
}

async fn skewed(offset: &str) {
    let Some(lib) = faketime() else {
        eprintln!("libfaketime not installed: clock skew test skipped");
        return;
    };
    let pki = TestPki::new();
    let (cert, key) = (
        pki.ca_cert(),
        pki.dir().join(convoy_coordinator::pki::CA_KEY_FILE),
    );
    let coordinator = TestCoordinator::start_configured(&pki, move |config| {
        config.ca = Some(IssuingCa {
            cert,
            key,
            agent_cert_days: 30,
            agent_cert_lifetime: Some(Duration::from_secs(12)),
            enrolls_per_ip_per_minute: convoy_coordinator::enroll::ENROLLS_PER_IP,
        });
    })
    .await;
    let root = pki.operator("root", Role::Admin);
    let created = CertsClient::new(
        channel(&coordinator.url(), &pki.ca_cert(), Some(&root))
            .await
            .expect("channel"),
    )
    .create_token(CreateTokenRequest {
        ttl_ms: 60_000,
        uses: 1,
        ..Default::default()
    })
    .await
    .expect("token")
    .into_inner();

    let host = pki.dir().join("host");
    std::fs::create_dir_all(&host).unwrap();
    let config = host.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "coordinator = \"{}\"\ndata_dir = \"{}\"\nallow_unsigned_releases = true\n\n[tls]\nca = \"ca.pem\"\ncert = \"agent.pem\"\nkey = \"agent.key\"\n",
            coordinator.url(),
            host.join("data").display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        tokio::process::Command::new(binary("convoy-agent"))
            .args(args)
            .env("LD_PRELOAD", &lib)
            .env("FAKETIME", offset)
            .env("FAKETIME_DONT_RESET", "1")
            .current_dir(&host)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(host.join(format!("{}.log", args[0]))).unwrap())
            .spawn()
            .expect("spawn convoy-agent")
    };
    let status = run(&[
        "enroll",
        "--ca-fingerprint",
        &created.ca_fingerprint,
        "--token",
        &created.token,
        "--id",
        "skewed-1",
        "--config",
        config.to_str().unwrap(),
    ])
    .wait()
    .await
    .unwrap();
    assert!(
        status.success(),
        "enroll with the clock at {offset}: {}",
        std::fs::read_to_string(host.join("enroll.log")).unwrap_or_default()
    );
    let first = serial(&host.join("agent.pem")).expect("enrolled certificate");
    let mut agent = run(&["run", "--config", config.to_str().unwrap()]);
    let mut admin = coordinator.admin(&pki, &root).await;
    let log = || std::fs::read_to_string(host.join("run.log")).unwrap_or_default();
    wait_for(
        "renewed with a skewed clock",
        Duration::from_secs(25),
        || {
            let changed = serial(&host.join("agent.pem")).is_some_and(|s| s != first);
            async move { changed.then_some(()) }
        },
    )
    .await;
    let online = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let agents = admin
                .list_agents(convoy_proto::v1::ListAgentsRequest::default())
                .await
                .expect("list")
                .into_inner()
                .agents;
            if agents.iter().any(|a| {
                a.id == "skewed-1"
                    && a.state == convoy_proto::v1::AgentState::Online as i32
                    && a.cert_not_after_unix_ms > convoy_coordinator::clock::now_unix_ms() + 6_000
            }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        online.is_ok(),
        "online with the renewed certificate; agent log:\n{}",
        log()
    );
    // The agent's clock really was off: its log lines carry its own time.
    let text = log();
    let stamp = text
        .split_whitespace()
        .find_map(|word| {
            time::OffsetDateTime::parse(word, &time::format_description::well_known::Rfc3339).ok()
        })
        .unwrap_or_else(|| panic!("a timestamp in the agent log:\n{text}"));
    let skew = (stamp - time::OffsetDateTime::now_utc()).whole_seconds();
    let expected = if offset.starts_with('-') { -300 } else { 300 };
    assert!(
        (skew - expected).abs() < 60,
        "agent clock off by {skew}s, expected {expected}s"
    );
    let _ = &mut admin;
    let _ = agent.kill().await;
    coordinator.stop().await;
}

#[tokio::test]
async fn an_agent_five_minutes_ahead_enrolls_and_renews() {
    skewed("+5m").await;
}

#[tokio::test]
async fn an_agent_five_minutes_behind_enrolls_and_renews() {
    skewed("-5m").await;
}
