//! `convoy snapshot drill` (and the drill after a scheduled snapshot): restore a snapshot
//! into a temp dir, count what the restored store holds, re-hash every restored blob, then
//! open the restored dir with a scratch coordinator (the real `server::serve`, in this
//! process, on `127.0.0.1:0`, with a throwaway CA and certificates, no notification sinks
//! and no metrics listener) and ask it, over mTLS as an admin, for its agents, jobs,
//! releases, rollouts and backups. Every figure is compared with the snapshot's header;
//! the temp dir is deleted at the end, whatever happened.
//!
//! In-process rather than a spawned `convoy serve`: the drill then needs no binary beside
//! it and can run inside a coordinator (scheduled drills); it is the same server code.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use convoy_proto::identity::{Identity, Role};
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::backups_client::BackupsClient;
use convoy_proto::v1::rollouts_client::RolloutsClient;
use convoy_proto::v1::{
    ListAgentsRequest, ListBackupsRequest, ListJobsRequest, ListReleasesRequest,
    ListRolloutsRequest,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::config::{AgentsConfig, Config, TlsFiles};
use crate::pki::{self, Ca, Validity};
use crate::snapshot::{Header, SnapshotError};

/// One comparison.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    pub check: String,
    pub expected: String,
    pub found: String,
    pub ok: bool,
}

/// What a drill found.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub file: String,
    pub format: u32,
    pub created_unix_ms: i64,
    pub blobs_included: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn ok(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }

    pub fn failures(&self) -> usize {
        self.checks.iter().filter(|c| !c.ok).count()
    }

    fn compare(&mut self, check: impl Into<String>, expected: u64, found: u64) {
        self.checks.push(Check {
            check: check.into(),
            expected: expected.to_string(),
            found: found.to_string(),
            ok: expected == found,
        });
    }

    fn fail(
        &mut self,
        check: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) {
        self.checks.push(Check {
            check: check.into(),
            expected: expected.into(),
            found: found.into(),
            ok: false,
        });
    }
}

/// Drills `file`; never fails itself: every problem is a failed check in the report.
pub async fn drill(file: &Path) -> Report {
    let mut report = Report {
        file: file.display().to_string(),
        ..Default::default()
    };
    let temp = match tempfile::Builder::new().prefix("convoy-drill-").tempdir() {
        Ok(temp) => temp,
        Err(err) => {
            report.fail("temp dir", "created", err.to_string());
            return report;
        }
    };
    let data = temp.path().join("data");
    let unpacked = tokio::task::spawn_blocking({
        let (file, data) = (file.to_path_buf(), data.clone());
        move || -> Result<_, SnapshotError> {
            let input = std::fs::File::open(&file).map_err(crate::snapshot::io(format!(
                "cannot open {}",
                file.display()
            )))?;
            crate::snapshot::restore::unpack_checked(std::io::BufReader::new(input), &data)
        }
    })
    .await;
    let (restored, problems) = match unpacked {
        Ok(Ok(unpacked)) => unpacked,
        Ok(Err(err)) => {
            report.fail("restore", "a whole snapshot", err.to_string());
            return report;
        }
        Err(err) => {
            report.fail("restore", "a whole snapshot", err.to_string());
            return report;
        }
    };
    let header = restored.header;
    report.format = header.format;
    report.created_unix_ms = header.created_unix_ms;
    report.blobs_included = header.blobs_included;
    for problem in problems {
        report.fail("snapshot part", "as in the header", problem);
    }
    let local = tokio::task::spawn_blocking({
        let (header, data) = (header.clone(), data.clone());
        move || local_checks(&header, &data)
    })
    .await
    .unwrap_or_else(|err| vec![failed("store", err.to_string())]);
    report.checks.extend(local);
    match scratch(&header, temp.path(), &data).await {
        Ok(checks) => report.checks.extend(checks),
        Err(err) => report.fail(
            "scratch coordinator",
            "serves the restored dir",
            format!("{err:#}"),
        ),
    }
    report
}

fn failed(check: &str, why: String) -> Check {
    Check {
        check: check.to_string(),
        expected: "readable".into(),
        found: why,
        ok: false,
    }
}

/// Records per tree in the restored store, and every restored blob re-hashed.
fn local_checks(header: &Header, data: &Path) -> Vec<Check> {
    let mut report = Report::default();
    match crate::store::Store::open(data)
        .and_then(|store| crate::store::snapshot::count_trees(&store))
    {
        Ok(counts) => {
            // A derived tree is rebuilt on open, not restored (`store::snapshot::DERIVED`).
            for (tree, expected) in header
                .trees
                .iter()
                .filter(|(tree, _)| !crate::store::snapshot::DERIVED.contains(&tree.as_str()))
            {
                let found = counts
                    .iter()
                    .find(|(name, _)| name == tree)
                    .map_or(0, |(_, n)| *n);
                report.compare(format!("tree {tree}"), *expected, found);
            }
        }
        Err(err) => report.fail("store", "opens", err.to_string()),
    }
    if header.blobs_included {
        let mut matching = 0u64;
        for blob in &header.blobs {
            match hash_file(&data.join(&blob.path)) {
                Ok((sha, size)) if sha == blob.sha256 && size == blob.size => matching += 1,
                Ok((sha, size)) => report.fail(
                    format!("blob {}", blob.path),
                    format!("{} bytes, sha256 {}", blob.size, blob.sha256),
                    format!("{size} bytes, sha256 {sha}"),
                ),
                Err(err) => report.fail(format!("blob {}", blob.path), "present", err.to_string()),
            }
        }
        report.compare(
            "blobs matching their sha256",
            header.blobs.len() as u64,
            matching,
        );
    }
    report.checks
}

fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), size))
}

/// Starts a coordinator on the restored dir and compares what its API lists.
async fn scratch(header: &Header, temp: &Path, data: &Path) -> anyhow::Result<Vec<Check>> {
    let pki_dir = temp.join("pki");
    std::fs::create_dir_all(&pki_dir).context("cannot create the drill's pki dir")?;
    let validity = Validity::days(1)?;
    let (ca, ca_files) = Ca::generate("Convoy drill CA", validity)?;
    let write = |name: &str, pem: &str, private: bool| -> anyhow::Result<PathBuf> {
        let path = pki_dir.join(name);
        pki::write_file(&path, pem, private, false)?;
        Ok(path)
    };
    let ca_pem = write("ca.pem", &ca_files.cert_pem, false)?;
    let server = ca.issue(
        &Identity::Server("drill".into()),
        &["127.0.0.1".into()],
        validity,
    )?;
    let operator = ca.issue(
        &Identity::Operator {
            name: "drill".into(),
            role: Role::Admin,
        },
        &[],
        validity,
    )?;
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: data.to_path_buf(),
        tls: TlsFiles {
            ca: ca_pem.clone(),
            cert: write("server.pem", &server.cert_pem, false)?,
            key: write("server.key", &server.key_pem, true)?,
        },
        agents: AgentsConfig::default(),
        jobs: Default::default(),
        release_public_keys: Vec::new(),
        backups: Default::default(),
        handshakes: Default::default(),
        monitor: Default::default(),
        ca: None,
        policies: Vec::new(),
        snapshots: Default::default(),
        environments: Vec::new(),
        scaling: Vec::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    // The scratch coordinator runs on a runtime of its own, on its own thread: a drill
    // may run inside a coordinator (scheduled drills), and this keeps the two apart.
    let listener = listener.into_std()?;
    let server_stop = stop.clone();
    let server_thread = std::thread::Builder::new()
        .name("convoy-drill".into())
        .spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("cannot start the scratch coordinator's runtime")?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                super::serve(config, listener, server_stop).await
            })
        })
        .context("cannot start the scratch coordinator's thread")?;
    let server_task = tokio::task::spawn_blocking(move || {
        server_thread
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the scratch coordinator panicked")))
    });
    let checks = async {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca_files.cert_pem.clone()))
            .identity(tonic::transport::Identity::from_pem(
                operator.cert_pem.clone(),
                operator.key_pem.clone(),
            ))
            .domain_name("127.0.0.1");
        let endpoint = Endpoint::from_shared(format!("https://{addr}"))?
            .tls_config(tls)?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60));
        let channel = connect(&endpoint).await?;
        compare_api(header, channel).await
    }
    .await;
    stop.cancel();
    match tokio::time::timeout(Duration::from_secs(30), server_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(err))) => {
            return Err(err.context("the scratch coordinator failed"));
        }
        Ok(Err(err)) => anyhow::bail!("the scratch coordinator panicked: {err}"),
        Err(_) => anyhow::bail!("the scratch coordinator did not stop within 30 s"),
    }
    checks
}

/// The scratch server is starting (its store opening): retries for up to 30 s.
async fn connect(endpoint: &Endpoint) -> anyhow::Result<Channel> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(err) if tokio::time::Instant::now() >= deadline => {
                return Err(anyhow::anyhow!(
                    "cannot reach the scratch coordinator: {err}"
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn compare_api(header: &Header, channel: Channel) -> anyhow::Result<Vec<Check>> {
    let mut report = Report::default();
    let mut admin = AdminClient::new(channel.clone());
    let agents = admin
        .list_agents(ListAgentsRequest::default())
        .await?
        .into_inner()
        .agents
        .len();
    report.compare("agents served", header.records("agents"), agents as u64);
    let mut jobs = 0u64;
    let mut page_token = String::new();
    loop {
        let page = admin
            .list_jobs(ListJobsRequest {
                limit: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await?
            .into_inner();
        jobs += page.jobs.len() as u64;
        if page.next_page_token.is_empty() || page.jobs.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    report.compare("jobs served", header.records("jobs"), jobs);
    let releases = admin
        .list_releases(ListReleasesRequest::default())
        .await?
        .into_inner()
        .releases
        .len();
    report.compare(
        "releases served",
        header.records("releases"),
        releases as u64,
    );
    let rollouts = RolloutsClient::new(channel.clone())
        .list_rollouts(ListRolloutsRequest {
            limit: 10_000,
            ..Default::default()
        })
        .await?
        .into_inner()
        .rollouts
        .len() as u64;
    report.compare(
        "rollouts served",
        header.records("rollouts").min(10_000),
        rollouts,
    );
    let backups = BackupsClient::new(channel)
        .list_backups(ListBackupsRequest {
            all: true,
            ..Default::default()
        })
        .await?
        .into_inner()
        .backups
        .len() as u64;
    report.compare("backups served", header.records("backups"), backups);
    Ok(report.checks)
}
