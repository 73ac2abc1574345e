//! The fleet under torture: a real `convoy serve` process on a fixed loopback port, real
//! `convoy-agent` processes that each reach it through their own [`FaultProxy`], the fleet's
//! certificates (a [`TestPki`]), and the `convoy` CLI to drive and inspect it. Every child
//! is killed when the fleet is dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use convoy_proto::identity::Role;
use convoy_tests::TestPki;
use convoy_tests::faultproxy::FaultProxy;

/// The label every torture agent carries (`role=torture`) and its own `name=aN`.
pub const ROLE: &str = "role=torture";

/// A child process, killed with SIGKILL on drop.
pub struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(program: &Path, dir: &Path, args: &[&str], log: PathBuf) -> anyhow::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("log {}", log.display()))?;
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .with_context(|| format!("spawn {}", program.display()))?;
        Ok(Self { child, log })
    }

    /// SIGKILL, and reap it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `timeout` for a clean exit; SIGKILL after that.
    pub fn stop(mut self, timeout: Duration) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                if status.success() {
                    return Ok(());
                }
                bail!(
                    "exited with {status} on SIGTERM; log: {}",
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        bail!(
            "did not exit within {timeout:?} of SIGTERM; log: {}",
            self.log.display()
        )
    }

    /// `Some(status)` once the process has exited by itself.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One agent: its process (when running), its proxy and paths.
pub struct Agent {
    pub id: String,
    pub proc: Option<Proc>,
    pub proxy: FaultProxy,
    pub data_dir: PathBuf,
    pub side_log: PathBuf,
    config: PathBuf,
}

pub struct Fleet {
    pub dir: PathBuf,
    pub pki: TestPki,
    pub addr: SocketAddr,
    pub coordinator: Option<Proc>,
    pub agents: Vec<Agent>,
    convoy: PathBuf,
    agent_bin: PathBuf,
}

/// A workspace binary next to this executable (`target/<profile>/`), else where the test
/// harness looks.
pub fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|path| path.exists())
        .unwrap_or_else(|| convoy_tests::binary(name))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Fleet {
    /// Certificates, configs and proxies for `agents` agents in `dir`; nothing runs yet.
    pub async fn new(dir: &Path, agents: usize) -> anyhow::Result<Self> {
        let pki = TestPki::new();
        pki.operator("torturer", Role::Admin);
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let p = pki.dir().display().to_string();
        std::fs::write(
            dir.join("coordinator.toml"),
            format!(
                "listen = \"{addr}\"\ndata_dir = \"data\"\nrelease_public_keys = [\"{p}/release.pub\"]\n\
                 [tls]\nca = \"{p}/ca.pem\"\ncert = \"{p}/coordinator.pem\"\nkey = \"{p}/coordinator.key\"\n\
                 [agents]\nheartbeat_interval = \"300ms\"\noffline_after = \"2s\"\n"
            ),
        )?;
        let mut fleet = Self {
            dir: dir.to_path_buf(),
            addr,
            coordinator: None,
            agents: Vec::new(),
            convoy: sibling("convoy"),
            agent_bin: sibling("convoy-agent"),
            pki,
        };
        for n in 0..agents {
            let id = format!("a{n}");
            fleet.pki.agent(&id);
            let proxy = FaultProxy::start(addr).await?;
            let data_dir = dir.join(format!("{id}-data"));
            let side_log = dir.join(format!("{id}.side"));
            let config = dir.join(format!("{id}.toml"));
            let side = side_log.display();
            // Each action appends its command id to the side log (O_APPEND, before it prints
            // anything), then prints `ok ID`: the checker compares the three records.
            std::fs::write(
                &config,
                format!(
                    "coordinator = \"https://{proxy}\"\ndata_dir = \"{data}\"\nrelease_public_keys = [\"{p}/release.pub\"]\n\
                     [tls]\nca = \"{p}/ca.pem\"\ncert = \"{p}/{id}.pem\"\nkey = \"{p}/{id}.key\"\n\
                     [labels]\nrole = \"torture\"\nname = \"{id}\"\n\
                     [actions.mark]\nrun = [\"/bin/sh\", \"-c\", \"echo $CONVOY_COMMAND_ID >> {side}; echo ok $CONVOY_COMMAND_ID\"]\ntimeout = \"20s\"\n\
                     [actions.slow]\nrun = [\"/bin/sh\", \"-c\", \"echo $CONVOY_COMMAND_ID >> {side}; echo ok $CONVOY_COMMAND_ID; sleep 2\"]\ntimeout = \"20s\"\nkill_grace = \"1s\"\n",
                    proxy = proxy.addr(),
                    data = data_dir.display(),
                ),
            )?;
            fleet.agents.push(Agent {
                id,
                proc: None,
                proxy,
                data_dir,
                side_log,
                config,
            });
        }
        Ok(fleet)
    }

    pub fn start_coordinator(&mut self) -> anyhow::Result<()> {
        let log = self.dir.join("convoy.log");
        self.coordinator = Some(Proc::spawn(
            &self.convoy,
            &self.dir,
            &["serve", "--config", "coordinator.toml"],
            log,
        )?);
        Ok(())
    }

    pub fn start_agent(&mut self, n: usize) -> anyhow::Result<()> {
        let agent = &mut self.agents[n];
        let log = self.dir.join(format!("{}.log", agent.id));
        let config = agent.config.display().to_string();
        agent.proc = Some(Proc::spawn(
            &self.agent_bin,
            &self.dir,
            &["run", "--config", &config],
            log,
        )?);
        Ok(())
    }

    /// The CLI, as the admin operator, straight to the coordinator (not through a proxy).
    pub fn cli(&self) -> Cli {
        Cli {
            convoy: self.convoy.clone(),
            dir: self.dir.clone(),
            addr: self.addr,
            pki: self.pki.dir().to_path_buf(),
        }
    }

    pub async fn convoy(&self, args: &[&str]) -> anyhow::Result<String> {
        self.cli().run(args).await
    }

    /// How many agents the coordinator shows online (an error while it does not answer).
    pub async fn online(&self) -> anyhow::Result<usize> {
        let text = self
            .convoy(&["agents", "--selector", ROLE, "-o", "json"])
            .await?;
        let agents: serde_json::Value = serde_json::from_str(&text)?;
        Ok(agents
            .as_array()
            .map(|list| list.iter().filter(|a| a["state"] == "online").count())
            .unwrap_or(0))
    }

    /// Waits (up to `timeout`) until the coordinator answers and every agent is online;
    /// returns how long that took. Fails early if a process died by itself (a store or
    /// journal that would not reopen ends up here).
    pub async fn wait_recovered(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            self.check_alive()?;
            if let Ok(n) = self.online().await {
                if n == self.agents.len() {
                    return Ok(started.elapsed());
                }
            }
            if started.elapsed() > timeout {
                bail!("the fleet did not recover within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An error naming any process that exited without being told to.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.coordinator.as_mut().and_then(Proc::exited) {
            bail!(
                "the coordinator exited by itself ({status}); see {}/convoy.log",
                self.dir.display()
            );
        }
        for agent in &mut self.agents {
            if let Some(status) = agent.proc.as_mut().and_then(Proc::exited) {
                bail!(
                    "agent {} exited by itself ({status}); see {}/{}.log",
                    agent.id,
                    self.dir.display(),
                    agent.id
                );
            }
        }
        Ok(())
    }

    pub fn heal_all(&self) {
        for agent in &self.agents {
            agent.proxy.heal();
        }
    }
}

/// The `convoy` CLI as the fleet's admin operator; cheap to clone into a workload task.
#[derive(Clone)]
pub struct Cli {
    convoy: PathBuf,
    dir: PathBuf,
    addr: SocketAddr,
    pki: PathBuf,
}

impl Cli {
    /// `Ok(stdout)` only for exit status 0.
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let p = &self.pki;
        let out = tokio::process::Command::new(&self.convoy)
            .args(args)
            .current_dir(&self.dir)
            .env("CONVOY_ADDR", format!("https://{}", self.addr))
            .env("CONVOY_CA", p.join("ca.pem"))
            .env("CONVOY_CERT", p.join("torturer.pem"))
            .env("CONVOY_KEY", p.join("torturer.key"))
            .env("CONVOY_TIMEOUT", "5s")
            .kill_on_drop(true)
            .output()
            .await?;
        if !out.status.success() {
            bail!(
                "convoy {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
