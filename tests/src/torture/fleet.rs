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
    fn spawn(
        program: &Path,
        dir: &Path,
        args: &[&str],
        log: PathBuf,
        env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("log {}", log.display()))?;
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
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
    /// Seconds this agent's wall clock is off (through libfaketime), if any.
    pub skew: Option<i64>,
}

pub struct Fleet {
    pub dir: PathBuf,
    pub pki: TestPki,
    pub addr: SocketAddr,
    pub coordinator: Option<Proc>,
    pub agents: Vec<Agent>,
    convoy: PathBuf,
    agent_bin: PathBuf,
    /// Small tmpfs mounts (the coordinator's and a0's data dirs) for disk-full faults.
    pub mounts: Vec<PathBuf>,
}

/// libfaketime, which shifts an agent's wall clock (not its monotonic clock).
pub const FAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/// Size of each tmpfs that `--disk` mounts.
const TMPFS_SIZE: &str = "size=48m";

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
    /// With `skew`, agent a1's clock runs that many seconds ahead and a2's behind. With
    /// `disk`, the coordinator's and a0's data dirs are small tmpfs mounts (needs root).
    pub async fn new(
        dir: &Path,
        agents: usize,
        skew: Option<i64>,
        disk: bool,
    ) -> anyhow::Result<Self> {
        if skew.is_some() && !Path::new(FAKETIME).exists() {
            bail!("--skew needs libfaketime ({FAKETIME}); install the libfaketime package");
        }
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
            mounts: Vec::new(),
        };
        if disk {
            for data in [dir.join("data"), dir.join("a0-data")] {
                std::fs::create_dir_all(&data)?;
                let status = Command::new("mount")
                    .args(["-t", "tmpfs", "-o", TMPFS_SIZE, "tmpfs"])
                    .arg(&data)
                    .status()?;
                if !status.success() {
                    bail!("--disk needs root to mount a tmpfs at {}", data.display());
                }
                // The agent wants its data dir private.
                std::fs::set_permissions(
                    &data,
                    std::os::unix::fs::PermissionsExt::from_mode(0o700),
                )?;
                fleet.mounts.push(data);
            }
        }
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
                     [actions.slow]\nrun = [\"/bin/sh\", \"-c\", \"echo $CONVOY_COMMAND_ID >> {side}; echo ok $CONVOY_COMMAND_ID; sleep 2\"]\ntimeout = \"20s\"\nkill_grace = \"1s\"\n{deploys}",
                    proxy = proxy.addr(),
                    data = data_dir.display(),
                    deploys = super::deploys::agent_config(dir, &id)?,
                ),
            )?;
            let skew = match (skew, n) {
                (Some(seconds), 1) => Some(seconds),
                (Some(seconds), 2) => Some(-seconds),
                _ => None,
            };
            fleet.agents.push(Agent {
                skew,
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
            &[],
        )?);
        Ok(())
    }

    pub fn start_agent(&mut self, n: usize) -> anyhow::Result<()> {
        let agent = &mut self.agents[n];
        let log = self.dir.join(format!("{}.log", agent.id));
        let config = agent.config.display().to_string();
        let env: Vec<(String, String)> = match agent.skew {
            Some(seconds) => vec![
                ("LD_PRELOAD".into(), FAKETIME.into()),
                ("FAKETIME".into(), format!("{seconds:+}")),
                ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
            ],
            None => Vec::new(),
        };
        agent.proc = Some(Proc::spawn(
            &self.agent_bin,
            &self.dir,
            &["run", "--config", &config],
            log,
            &env,
        )?);
        Ok(())
    }

    /// The release signing key the agents trust.
    pub fn release_key(&self) -> PathBuf {
        self.pki.release_key().to_path_buf()
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

    /// Restarts every process that exited by itself; returns their names.
    pub fn restart_exited(&mut self) -> anyhow::Result<Vec<String>> {
        let mut restarted = Vec::new();
        if self.coordinator.as_mut().and_then(Proc::exited).is_some() {
            self.coordinator = None;
            self.start_coordinator()?;
            restarted.push("coordinator".to_owned());
        }
        for n in 0..self.agents.len() {
            if self.agents[n]
                .proc
                .as_mut()
                .and_then(Proc::exited)
                .is_some()
            {
                self.agents[n].proc = None;
                self.start_agent(n)?;
                restarted.push(self.agents[n].id.clone());
            }
        }
        Ok(restarted)
    }

    pub fn heal_all(&self) {
        for agent in &self.agents {
            agent.proxy.heal();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // Processes first (they hold files on the mounts), then the mounts.
        self.coordinator = None;
        for agent in &mut self.agents {
            agent.proc = None;
        }
        for mount in &self.mounts {
            // What was on the tmpfs is kept beside it (`data.kept`, `a0-data.kept`), so a
            // failing run's store and journal can be inspected.
            let mut kept = mount.as_os_str().to_owned();
            kept.push(".kept");
            let _ = Command::new("cp").arg("-a").arg(mount).arg(&kept).status();
            let _ = Command::new("umount").arg("-l").arg(mount).status();
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
