//! `enroll`: N hosts enrolling at once against `convoy serve` (its own process, `[ca]`
//! configured): each host its own TLS connection without a client certificate, one token
//! with N uses, CSRs made beforehand (the key generation is the host's cost, not the
//! coordinator's). Wall time until the last certificate, latency per enrollment, and the
//! coordinator's CPU per enrollment.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use convoy_proto::identity::{AgentId, Identity};
use convoy_proto::v1::certs_client::CertsClient;
use convoy_proto::v1::enrollment_client::EnrollmentClient;
use convoy_proto::v1::{CreateTokenRequest, EnrollRequest};
use tokio::time::Instant;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::fleet::{Fleet, Target};
use crate::procfs::{CLK_TCK, cpu_ticks, median};

#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    #[arg(long, default_value_t = 1000)]
    hosts: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

struct Run {
    wall: Duration,
    p50: Duration,
    p99: Duration,
    cpu_ms_per_enrollment: f64,
    retries: usize,
}

pub async fn enroll_bench(args: &EnrollArgs) -> anyhow::Result<()> {
    println!(
        "enroll: {} hosts enrolling at once, {} runs",
        args.hosts, args.runs
    );
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let result = enroll_run(args.hosts)
            .await
            .with_context(|| format!("run {run}"))?;
        println!(
            "run {run}: all {} enrolled in {:.2} s; latency p50 {:.2} s, p99 {:.2} s; \
             coordinator CPU {:.2} ms per enrollment; {} connection retries",
            args.hosts,
            result.wall.as_secs_f64(),
            result.p50.as_secs_f64(),
            result.p99.as_secs_f64(),
            result.cpu_ms_per_enrollment,
            result.retries
        );
        runs.push(result);
    }
    let pick = |f: fn(&Run) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    println!(
        "median: wall {:.2} s, latency p50 {:.2} s, p99 {:.2} s, coordinator CPU {:.2} ms per enrollment",
        pick(|r| r.wall.as_secs_f64()),
        pick(|r| r.p50.as_secs_f64()),
        pick(|r| r.p99.as_secs_f64()),
        pick(|r| r.cpu_ms_per_enrollment)
    );
    Ok(())
}

fn csr(id: &str) -> anyhow::Result<Vec<u8>> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::default();
    let uri = Identity::Agent(AgentId::new(id)?).uri();
    params.subject_alt_names = vec![rcgen::SanType::URI(uri.try_into().context("SAN")?)];
    Ok(params.serialize_request(&key)?.der().to_vec())
}

async fn enroll_run(hosts: usize) -> anyhow::Result<Run> {
    let fleet = Fleet::new(&[])?;
    let config = fleet.dir().join("coordinator.toml");
    let mut text = std::fs::read_to_string(&config)?;
    text.push_str(
        "[ca]\ncert = \"pki/ca.pem\"\nkey = \"pki/ca.key\"\nenrolls_per_ip_per_minute = 1000000\n\
         [limits]\npending_handshakes = 4096\npending_handshakes_per_ip = 4096\n",
    );
    std::fs::write(&config, text)?;
    let mut coordinator = fleet.spawn_coordinator()?;
    fleet
        .wait_ready(&mut coordinator, Target::Coordinator)
        .await?;
    let ca = fleet.ca_dir().join("ca.pem");
    let operator = convoy_tests::channel(&fleet.url(), &ca, Some(fleet.operator())).await?;
    let token = CertsClient::new(operator)
        .create_token(CreateTokenRequest {
            ttl_ms: 30 * 60 * 1000,
            uses: u32::try_from(hosts)?,
            ..Default::default()
        })
        .await?
        .into_inner()
        .token;
    let csrs = (0..hosts)
        .map(|i| csr(&format!("bench-{i}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(std::fs::read(&ca)?));
    let endpoint = Endpoint::from_shared(fleet.url())?
        .connect_timeout(Duration::from_secs(30))
        .tls_config(tls)?;

    let ticks_before = cpu_ticks(coordinator.pid())?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, csr_der) in csrs.into_iter().enumerate() {
        let (endpoint, token) = (endpoint.clone(), token.clone());
        tasks.spawn(async move {
            let mut retries = 0;
            // Each host its own connection; a shed handshake is retried (bounded).
            loop {
                let attempt = async {
                    let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
                    EnrollmentClient::new(channel)
                        .enroll(EnrollRequest {
                            token: token.clone(),
                            agent_id: format!("bench-{i}"),
                            csr_der: csr_der.clone(),
                        })
                        .await
                        .map_err(|s| s.to_string())
                };
                match attempt.await {
                    Ok(_) => return Ok((started.elapsed(), retries)),
                    Err(err) if retries < 5 && !err.contains("status:") => {
                        retries += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(err) => return Err(err),
                }
            }
        });
    }
    let mut latencies = Vec::new();
    let mut retries = 0;
    while let Some(done) = tasks.join_next().await {
        let (latency, tries) =
            done?.map_err(|err| anyhow::anyhow!("an enrollment failed: {err}"))?;
        latencies.push(latency);
        retries += tries;
    }
    let wall = started.elapsed();
    let ticks = cpu_ticks(coordinator.pid())? - ticks_before;
    ensure!(latencies.len() == hosts, "not every host enrolled");
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let cpu_ms = ticks as f64 * 1000.0 / *CLK_TCK as f64;
    coordinator.terminate(Duration::from_secs(10)).await?;
    Ok(Run {
        wall,
        p50: at(0.5),
        p99: at(0.99),
        cpu_ms_per_enrollment: cpu_ms / hosts as f64,
        retries,
    })
}
