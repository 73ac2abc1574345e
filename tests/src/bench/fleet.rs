//! A fleet in a temp dir (CA, certificates, configs) and the child processes the benches
//! run in it: the real release binaries next to `convoy-bench`, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use convoy_coordinator::pki::{self, Ca};
use convoy_proto::identity::{AgentId, Identity, Role};
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{AgentState, AgentSummary, ListAgentsRequest, WhoAmIRequest};
use convoy_tests::CertFiles;
use tempfile::TempDir;
use tokio::time::Instant;

/// What a memory bench measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `convoy serve`.
    Coordinator,
    /// The bare tonic `floor-server`.
    Floor,
}

/// A fleet in a temp dir: CA, server and operator certificates, agent certificates and
/// configs, and the coordinator's config on a free loopback port.
pub struct Fleet {
    dir: TempDir,
    port: u16,
    operator: CertFiles,
}

impl Fleet {
    pub fn new(agents: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("cannot create a temp dir")?;
        let pki_dir = dir.path().join("pki");
        pki::init_ca(&pki_dir, 30, false)?;
        let ca = Ca::load(&pki_dir)?;
        let sans = ["127.0.0.1".to_string(), "localhost".to_string()];
        let server = Identity::Server("coordinator".into());
        pki::issue_to_dir(&ca, &server, "coordinator", &sans, 30, &pki_dir, false)?;
        // Starts jobs (fan-out), reads everything, and pushes unsigned releases to the
        // swarm (whose agents allow them), which needs admin.
        let operator = Identity::Operator {
            name: "bench".into(),
            role: Role::Admin,
        };
        let (cert, key) = pki::issue_to_dir(&ca, &operator, "bench", &[], 30, &pki_dir, false)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("cannot find a free port")?
            .port();
        let fleet = Self {
            dir,
            port,
            operator: CertFiles { cert, key },
        };
        fleet.write(
            "coordinator.toml",
            &format!(
                "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n\
                 [tls]\nca = \"pki/ca.pem\"\ncert = \"pki/coordinator.pem\"\nkey = \"pki/coordinator.key\"\n\
                 [agents]\nheartbeat_interval = \"1s\"\noffline_after = \"10s\"\n"
            ),
        )?;
        for id in agents {
            let identity = Identity::Agent(AgentId::new(*id)?);
            pki::issue_to_dir(&ca, &identity, id, &[], 30, &pki_dir, false)?;
            fleet.write_agent_config(id, Duration::from_secs(1))?;
        }
        Ok(fleet)
    }

    /// (Re)writes agent `id`'s config with this heartbeat (`metrics_interval`).
    pub fn write_agent_config(&self, id: &str, metrics_interval: Duration) -> anyhow::Result<()> {
        self.write(
            &format!("{id}.toml"),
            &format!(
                "coordinator = \"{}\"\ndata_dir = \"{id}-data\"\nmetrics_interval = \"{}\"\n\
                 [tls]\nca = \"pki/ca.pem\"\ncert = \"pki/{id}.pem\"\nkey = \"pki/{id}.key\"\n\
                 [labels]\nrole = \"bench\"\n",
                self.url(),
                humantime::format_duration(metrics_interval)
            ),
        )
    }

    /// Appends to the coordinator's config (before it starts).
    pub fn append_config(&self, text: &str) -> anyhow::Result<()> {
        let path = self.dir.path().join("coordinator.toml");
        let mut config = std::fs::read_to_string(&path)?;
        config.push_str(text);
        self.write("coordinator.toml", &config)
    }

    fn write(&self, name: &str, text: &str) -> anyhow::Result<()> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The fleet's temp dir: configs, logs and the processes' working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The operator certificate the benches call the coordinator with.
    pub fn operator(&self) -> &CertFiles {
        &self.operator
    }

    /// Rewrites the coordinator's config with these agent timings (before it starts).
    pub fn set_agent_timing(
        &self,
        heartbeat: Duration,
        offline_after: Duration,
    ) -> anyhow::Result<()> {
        let port = self.port;
        self.write(
            "coordinator.toml",
            &format!(
                "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n\
                 [tls]\nca = \"pki/ca.pem\"\ncert = \"pki/coordinator.pem\"\nkey = \"pki/coordinator.key\"\n\
                 [agents]\nheartbeat_interval = \"{}\"\noffline_after = \"{}\"\n",
                humantime::format_duration(heartbeat),
                humantime::format_duration(offline_after)
            ),
        )
    }

    pub fn ca_dir(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// `convoy serve`. With `CONVOY_BENCH_COORDINATOR_WRAPPER` set (e.g. to
    /// `valgrind --tool=massif --massif-out-file=/tmp/massif.out`), it runs under that
    /// command, for profiles; the figures of such a run measure the wrapper.
    pub fn spawn_coordinator(&self) -> anyhow::Result<Proc> {
        let binary = sibling_binary("convoy")?;
        let binary = binary.to_string_lossy();
        let wrapper = std::env::var("CONVOY_BENCH_COORDINATOR_WRAPPER").unwrap_or_default();
        let mut words: Vec<&str> = wrapper.split_whitespace().collect();
        words.extend([binary.as_ref(), "serve", "--config", "coordinator.toml"]);
        let (program, args) = words.split_first().context("no coordinator command")?;
        Proc::spawn("convoy", Path::new(program), self.dir.path(), args)
    }

    pub fn spawn_agent(&self, id: &str) -> anyhow::Result<Proc> {
        let config = format!("{id}.toml");
        Proc::spawn(
            "convoy-agent",
            &sibling_binary("convoy-agent")?,
            self.dir.path(),
            &["run", "--config", &config],
        )
    }

    /// The bare `floor-server`; with `echo`, it answers each heartbeat.
    pub fn spawn_floor(&self, echo: bool) -> anyhow::Result<Proc> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let listen = format!("127.0.0.1:{}", self.port);
        let mut args = vec![
            "floor-server",
            "--listen",
            &listen,
            "--ca",
            "pki/ca.pem",
            "--cert",
            "pki/coordinator.pem",
            "--key",
            "pki/coordinator.key",
        ];
        if echo {
            args.push("--echo");
        }
        Proc::spawn("floor-server", &exe, self.dir.path(), &args)
    }

    pub async fn admin(&self) -> anyhow::Result<AdminClient<tonic::transport::Channel>> {
        let ca = self.ca_dir().join(pki::CA_CERT_FILE);
        let channel = convoy_tests::channel(&self.url(), &ca, Some(&self.operator)).await?;
        // ListAgents of 10,000 agents with their metrics is a few MiB.
        Ok(AdminClient::new(channel).max_decoding_message_size(64 << 20))
    }

    /// Waits until `server` completes an mTLS handshake (and, for the coordinator, answers
    /// an admin call). This also warms up its TLS before the baseline reading.
    pub async fn wait_ready(&self, server: &mut Proc, target: Target) -> anyhow::Result<()> {
        // Generous, for a coordinator started under a profiler.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            server.ensure_running()?;
            let ready = match target {
                Target::Coordinator => match self.admin().await {
                    Ok(mut admin) => admin.who_am_i(WhoAmIRequest {}).await.is_ok(),
                    Err(_) => false,
                },
                Target::Floor => {
                    let ca = self.ca_dir().join(pki::CA_CERT_FILE);
                    convoy_tests::channel(&self.url(), &ca, Some(&self.operator))
                        .await
                        .is_ok()
                }
            };
            if ready {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "{} did not get ready within 120s\n{}",
                server.name,
                server.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the coordinator lists `count` online agents that sent metrics.
    pub async fn wait_online(&self, count: usize, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut admin = self.admin().await?;
        loop {
            let agents: Vec<AgentSummary> = admin
                .list_agents(ListAgentsRequest::default())
                .await
                .map(|response| response.into_inner().agents)
                .unwrap_or_default();
            let online = agents
                .iter()
                .filter(|a| a.state == i32::from(AgentState::Online) && a.metrics.is_some())
                .count();
            if online == count {
                return Ok(());
            }
            if Instant::now() >= deadline {
                // Say which, so a run that misses one can be looked into.
                let missing: Vec<String> = agents
                    .iter()
                    .filter(|a| a.state != i32::from(AgentState::Online) || a.metrics.is_none())
                    .take(5)
                    .map(|a| {
                        let state =
                            AgentState::try_from(a.state).map_or("unknown", |s| s.as_str_name());
                        format!("{} ({state}, metrics: {})", a.id, a.metrics.is_some())
                    })
                    .collect();
                bail!(
                    "the coordinator lists {online} of {count} agents online after {timeout:?} \
                     ({} listed; not counted, first 5: {})",
                    agents.len(),
                    missing.join(", ")
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// A release binary next to this one (target/release/).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let path = exe
        .parent()
        .context("this executable has no directory")?
        .join(name);
    ensure!(
        path.exists(),
        "{} is missing: run `cargo build --release --workspace` first",
        path.display()
    );
    Ok(path)
}

/// A child process, killed when dropped unless it was terminated cleanly.
pub struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(
        name: &'static str,
        program: &Path,
        dir: &Path,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).context("cannot create a log file")?;
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        Ok(Self { name, child, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("last lines of {}'s log:\n{tail}", self.name)
    }

    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited early: {status}\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    /// Resolves when the process has exited (polling).
    pub async fn exited(&mut self) {
        while matches!(self.child.try_wait(), Ok(None)) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.kill().context("cannot kill")?;
        self.child
            .wait()
            .context("cannot wait for the killed process")?;
        Ok(())
    }

    /// SIGTERM, then checks it exits 0 within `timeout`.
    pub async fn terminate(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let signalled = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("cannot run kill")?;
        ensure!(signalled.success(), "kill -TERM {} failed", self.pid());
        let exited = tokio::time::timeout(timeout, self.exited()).await;
        ensure!(
            exited.is_ok(),
            "{} did not exit within {timeout:?} of SIGTERM",
            self.name
        );
        let status = self.child.wait()?;
        ensure!(
            status.success(),
            "{} exited with {status} after SIGTERM\n{}",
            self.name,
            self.log_tail()
        );
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
