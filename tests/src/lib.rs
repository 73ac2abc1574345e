//! Test harness for whole-fleet tests: a per-test CA ([`TestPki`]), a real coordinator
//! serving on `127.0.0.1:0` ([`TestCoordinator`]), real agents ([`TestAgent`]), raw mTLS
//! channels for hostile clients ([`channel`]), waiting on conditions with deadlines
//! ([`wait_for`]), and finding the real binaries for process tests ([`binary`]). The
//! [`swarm`] of simulated agents drives the benchmarks (`convoy-swarm`, `convoy-bench`).
//!
//! The [`faultproxy`] sits between agents and a coordinator to inject network faults
//! (`convoy-torture` and the HA tests use it); [`fuzz`] feeds every outside-input parser
//! generated and mutated inputs.
//!
//! Everything stays on loopback and in temp dirs.

pub mod cdp;
pub mod faultproxy;
pub mod fuzz;
pub mod hostile;
pub mod swarm;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use convoy_coordinator::config::{
    AgentsConfig, BackupsConfig, Config, HandshakeLimits, JobsConfig, TlsFiles,
};
use convoy_coordinator::pki::{self, Ca, Validity};
use convoy_proto::identity::{AgentId, Identity, Role};
use convoy_proto::v1::admin_client::AdminClient;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// A certificate and key on disk.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A fresh fleet CA in a temp dir, minting certificates on demand, and a release signing
/// key pair made for this test (`release.key` / `release.pub`) that [`TestAgent::config`]
/// trusts by default.
pub struct TestPki {
    dir: TempDir,
    ca: Ca,
    release_key: PathBuf,
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPki {
    pub fn new() -> Self {
        convoy_proto::tls::install_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        pki::init_ca(dir.path(), 30, false).expect("ca init");
        let ca = Ca::load(dir.path()).expect("ca load");
        // A seed no other test shares: the temp dir's name and the time, hashed.
        let seed: [u8; 32] = {
            use sha2::Digest;
            let mut hasher = sha2::Sha256::new();
            hasher.update(dir.path().display().to_string());
            hasher.update(format!("{:?}", std::time::SystemTime::now()));
            hasher.finalize().into()
        };
        let (private, public) = convoy_proto::signing::generate(seed).expect("release key");
        let release_key = dir.path().join("release.key");
        pki::write_file(&release_key, &private, true, true).expect("write release key");
        pki::write_file(&dir.path().join("release.pub"), &public, false, true)
            .expect("write release public key");
        let pki = Self {
            dir,
            ca,
            release_key,
        };
        pki.server();
        pki
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The test's release signing key (private, PKCS#8 PEM).
    pub fn release_key(&self) -> &Path {
        &self.release_key
    }

    /// The public half, which agents from [`TestAgent::config`] trust.
    pub fn release_public_key(&self) -> PathBuf {
        self.dir.path().join("release.pub")
    }

    /// The key and signer name to sign a push with (`convoy release push --sign-key`).
    pub fn signer(&self) -> (&Path, &'static str) {
        (&self.release_key, "release")
    }

    /// A signature of `app` `version` with digest `sha256` by the test's release key.
    pub fn sign_release(&self, app: &str, version: &str, sha256: &str) -> Vec<u8> {
        let key = convoy_proto::signing::load_private(&self.release_key).expect("release key");
        convoy_proto::signing::sign(&key, app, version, sha256)
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join(pki::CA_CERT_FILE)
    }

    /// Issues a certificate valid over `validity`, stored under `file_stem`.
    pub fn issue_with(
        &self,
        identity: &Identity,
        file_stem: &str,
        validity: Validity,
    ) -> CertFiles {
        let sans = match identity {
            Identity::Server(_) => vec!["127.0.0.1".to_string(), "localhost".to_string()],
            _ => Vec::new(),
        };
        let issued = self.ca.issue(identity, &sans, validity).expect("issue");
        let files = CertFiles {
            cert: self.dir.path().join(format!("{file_stem}.pem")),
            key: self.dir.path().join(format!("{file_stem}.key")),
        };
        pki::write_file(&files.cert, &issued.cert_pem, false, true).expect("write cert");
        pki::write_file(&files.key, &issued.key_pem, true, true).expect("write key");
        files
    }

    pub fn issue(&self, identity: &Identity, file_stem: &str) -> CertFiles {
        self.issue_with(identity, file_stem, Validity::days(1).expect("validity"))
    }

    pub fn server(&self) -> CertFiles {
        self.issue(&Identity::Server("coordinator".into()), "coordinator")
    }

    pub fn agent(&self, id: &str) -> CertFiles {
        self.issue(&Identity::Agent(AgentId::new(id).expect("agent id")), id)
    }

    pub fn operator(&self, name: &str, role: Role) -> CertFiles {
        self.issue(
            &Identity::Operator {
                name: name.into(),
                role,
            },
            name,
        )
    }
}

/// Agent timing for tests: fast heartbeats and a short offline window.
pub fn fast_agents() -> AgentsConfig {
    AgentsConfig {
        heartbeat_interval: Duration::from_millis(200),
        offline_after: Duration::from_millis(1500),
    }
}

/// A coordinator running in this process on a loopback port.
pub struct TestCoordinator {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestCoordinator {
    /// Starts on `127.0.0.1:0` with a data dir under the PKI's temp dir.
    pub async fn start(pki: &TestPki) -> Self {
        let data_dir = pki.dir().join(format!("data-{}", rand_suffix()));
        Self::start_in(
            pki,
            &data_dir,
            "127.0.0.1:0".parse().expect("addr"),
            fast_agents(),
        )
        .await
    }

    /// Starts with the given agent and job settings.
    pub async fn start_with(pki: &TestPki, agents: AgentsConfig, jobs: JobsConfig) -> Self {
        let data_dir = pki.dir().join(format!("data-{}", rand_suffix()));
        Self::start_full(
            pki,
            &data_dir,
            "127.0.0.1:0".parse().expect("addr"),
            agents,
            jobs,
            BackupsConfig::default(),
        )
        .await
    }

    /// Starts with the given `[backups]` settings (retention, minimum age, quota).
    pub async fn start_with_backups(pki: &TestPki, backups: BackupsConfig) -> Self {
        let data_dir = pki.dir().join(format!("data-{}", rand_suffix()));
        Self::start_full(
            pki,
            &data_dir,
            "127.0.0.1:0".parse().expect("addr"),
            fast_agents(),
            JobsConfig::default(),
            backups,
        )
        .await
    }

    /// Starts on a given data dir and address (to restart where a stopped one stood).
    pub async fn start_in(
        pki: &TestPki,
        data_dir: &Path,
        listen: SocketAddr,
        agents: AgentsConfig,
    ) -> Self {
        Self::start_full(
            pki,
            data_dir,
            listen,
            agents,
            JobsConfig::default(),
            BackupsConfig::default(),
        )
        .await
    }

    /// Starts with the default test settings changed by `change` (any config key).
    pub async fn start_configured(pki: &TestPki, change: impl FnOnce(&mut Config)) -> Self {
        let data_dir = pki.dir().join(format!("data-{}", rand_suffix()));
        Self::start_changed(
            pki,
            &data_dir,
            "127.0.0.1:0".parse().expect("addr"),
            fast_agents(),
            JobsConfig::default(),
            change,
        )
        .await
    }

    /// [`TestCoordinator::start_configured`] on a given data dir and address (to restart
    /// where a stopped one stood).
    pub async fn start_in_configured(
        pki: &TestPki,
        data_dir: &Path,
        listen: SocketAddr,
        change: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_changed(
            pki,
            data_dir,
            listen,
            fast_agents(),
            JobsConfig::default(),
            change,
        )
        .await
    }

    async fn start_full(
        pki: &TestPki,
        data_dir: &Path,
        listen: SocketAddr,
        agents: AgentsConfig,
        jobs: JobsConfig,
        backups: BackupsConfig,
    ) -> Self {
        Self::start_changed(pki, data_dir, listen, agents, jobs, move |config| {
            config.backups = backups;
        })
        .await
    }

    async fn start_changed(
        pki: &TestPki,
        data_dir: &Path,
        listen: SocketAddr,
        agents: AgentsConfig,
        jobs: JobsConfig,
        change: impl FnOnce(&mut Config),
    ) -> Self {
        let listener = bind_retrying(listen).await;
        let addr = listener.local_addr().expect("local addr");
        let config = Config {
            listen: addr,
            data_dir: data_dir.to_path_buf(),
            tls: TlsFiles {
                ca: pki.ca_cert(),
                cert: pki.dir().join("coordinator.pem"),
                key: pki.dir().join("coordinator.key"),
            },
            agents,
            jobs,
            release_public_keys: Vec::new(),
            backups: BackupsConfig::default(),
            handshakes: HandshakeLimits::default(),
            monitor: Default::default(),
            ca: None,
            policies: Vec::new(),
            environments: Vec::new(),
            snapshots: Default::default(),
            scaling: Vec::new(),
        };
        let mut config = config;
        change(&mut config);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(convoy_coordinator::server::serve(
            config,
            listener,
            shutdown.clone(),
        ));
        Self {
            addr,
            data_dir: data_dir.to_path_buf(),
            shutdown,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Shuts down cleanly and checks it exited without error.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("coordinator stops within 20s")
            .expect("coordinator task");
        result.expect("coordinator exits cleanly");
    }

    /// An admin client authenticated as `certs`.
    pub async fn admin(&self, pki: &TestPki, certs: &CertFiles) -> AdminClient<Channel> {
        let channel = channel(&self.url(), &pki.ca_cert(), Some(certs))
            .await
            .expect("admin channel");
        AdminClient::new(channel)
    }

    /// A rollouts client authenticated as `certs`.
    pub async fn rollouts(
        &self,
        pki: &TestPki,
        certs: &CertFiles,
    ) -> convoy_proto::v1::rollouts_client::RolloutsClient<Channel> {
        let channel = channel(&self.url(), &pki.ca_cert(), Some(certs))
            .await
            .expect("rollouts channel");
        convoy_proto::v1::rollouts_client::RolloutsClient::new(channel)
    }
}

async fn bind_retrying(addr: SocketAddr) -> TcpListener {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(err) if tokio::time::Instant::now() < deadline => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("cannot bind {addr}: {err}"),
        }
    }
}

fn rand_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{nanos:x}")
}

/// A real agent running in this process.
pub struct TestAgent {
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestAgent {
    pub fn start(pki: &TestPki, coordinator_url: &str, id: &str, labels: &[(&str, &str)]) -> Self {
        Self::start_with_actions(pki, coordinator_url, id, labels, BTreeMap::new())
    }

    /// An agent whose config allows `actions`.
    pub fn start_with_actions(
        pki: &TestPki,
        coordinator_url: &str,
        id: &str,
        labels: &[(&str, &str)],
        actions: BTreeMap<String, convoy_agent::config::ActionConfig>,
    ) -> Self {
        let mut config = Self::config(pki, coordinator_url, id, labels);
        config.actions = actions;
        Self::start_with(config)
    }

    /// A default agent config for `id` (its certificate minted), to adjust and pass to
    /// [`TestAgent::start_with`].
    pub fn config(
        pki: &TestPki,
        coordinator_url: &str,
        id: &str,
        labels: &[(&str, &str)],
    ) -> convoy_agent::Config {
        let certs = pki.agent(id);
        convoy_agent::Config {
            coordinator: coordinator_url.to_string(),
            data_dir: pki.dir().join(format!("agent-{id}")),
            tls: convoy_agent::config::TlsFiles {
                ca: pki.ca_cert(),
                cert: certs.cert,
                key: certs.key,
            },
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect::<BTreeMap<_, _>>(),
            metrics_interval: None,
            actions: BTreeMap::new(),
            apps: BTreeMap::new(),
            app_signals: BTreeMap::new(),
            // Signatures are required by default; tests sign with the PKI's key.
            release_public_keys: vec![pki.release_public_key()],
            allow_unsigned_releases: false,
            keep_releases: 3,
            max_release_bytes: 1 << 30,
            backup_sets: BTreeMap::new(),
            backup_restore_roots: None,
            backup_accept_restores_from: Vec::new(),
        }
    }

    pub fn start_with(config: convoy_agent::Config) -> Self {
        let shutdown = CancellationToken::new();
        let tuning = convoy_agent::Tuning {
            backoff_base: Duration::from_millis(50),
            backoff_cap: Duration::from_millis(500),
            healthy_after: Duration::from_secs(1),
            // Short, so a stalled download is seen quickly; long for a loopback stream.
            transfer_stall: Duration::from_secs(4),
        };
        let task = tokio::spawn(convoy_agent::run_tuned(config, shutdown.clone(), tuning));
        Self { shutdown, task }
    }

    /// Shuts the agent down cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("agent stops within 10s")
            .expect("agent task")
            .expect("agent exits cleanly");
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// A raw mTLS channel to `url`; `client` None connects without a client certificate.
pub async fn channel(
    url: &str,
    ca: &Path,
    client: Option<&CertFiles>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(ca).expect("read ca")));
    if let Some(client) = client {
        tls = tls.identity(tonic::transport::Identity::from_pem(
            std::fs::read(&client.cert).expect("read cert"),
            std::fs::read(&client.key).expect("read key"),
        ));
    }
    Endpoint::from_shared(url.to_string())?
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
}

/// Polls `check` every 25 ms until it returns Some, or panics after `timeout` naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Path of a workspace binary (`convoy`, `convoy-agent`) next to the test executable's
/// target directory. `cargo test --workspace` builds them (the coordinator and agent
/// crates have integration tests of their own binaries).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` (or `cargo test --workspace`) first",
        path.display()
    );
    path
}

/// A `web` release artifact (tar.gz) holding `convoy.toml` = `manifest` and `VERSION`, written
/// to `dir/web-VERSION.tar.gz`.
pub fn web_release_with(dir: &Path, version: &str, manifest: &str) -> PathBuf {
    let path = dir.join(format!("web-{version}.tar.gz"));
    let file = std::fs::File::create(&path).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::fast(),
    ));
    for (name, contents) in [
        ("convoy.toml", manifest.to_string()),
        ("VERSION", format!("{version}\n")),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, contents.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
    path
}
