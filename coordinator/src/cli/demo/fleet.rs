//! The demo's throwaway fleet: a temp dir with a fresh CA and certificates, an embedded
//! coordinator (its store in the temp dir, on an ephemeral loopback port, fast heartbeats)
//! and five real `convoy-agent` processes, each with its own config, data dir, app port and
//! backup set. [`Fleet::shutdown`] stops every agent and every app they started and deletes
//! the directory; dropping a `Fleet` without it still kills the agents and deletes it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use convoy_proto::identity::{AgentId, Identity, Role};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::app::terminate;
use super::procs;
use crate::cli::ConnectArgs;
use crate::config::{AgentsConfig, Config, JobsConfig, TlsFiles};
use crate::pki::{self, Ca, Validity};

/// The demo hosts: id and zone. All have `role=web`.
pub const HOSTS: [(&str, &str); 5] = [
    ("web-a1", "a"),
    ("web-a2", "a"),
    ("web-a3", "a"),
    ("web-b1", "b"),
    ("web-b2", "b"),
];
/// The app every host may deploy, and the backup set every host has.
pub const APP: &str = "web";
pub const BACKUP_SET: &str = "appdata";
/// The operator certificate's name.
const OPERATOR: &str = "demo";
const AGENT_STOP_GRACE: Duration = Duration::from_secs(10);
const SERVER_STOP_GRACE: Duration = Duration::from_secs(15);

/// One demo host: an agent process and where it keeps things.
#[derive(Debug)]
pub struct Host {
    pub id: &'static str,
    pub zone: &'static str,
    /// The local port its copy of the app serves on.
    pub port: u16,
    /// `<fleet dir>/<id>`: config, logs, app pid file, seeded data.
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Host {
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("web.pid")
    }

    /// The agent's data dir (`apps/web/current` and the kept releases live here).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn agent_pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }
}

/// What [`Fleet::shutdown`] did.
#[derive(Debug, Default)]
pub struct Cleanup {
    pub agents_stopped: usize,
    pub apps_stopped: usize,
    /// Processes still alive after everything (pid, command line): should be none.
    pub leftovers: Vec<(i32, String)>,
    pub removed_dir: bool,
}

pub struct Fleet {
    pub dir: PathBuf,
    temp: Option<tempfile::TempDir>,
    pub connect: ConnectArgs,
    pub hosts: Vec<Host>,
    agent_binary: PathBuf,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    server_shutdown: CancellationToken,
}

/// `convoy-agent` beside this executable, or an error saying how to build it.
pub fn find_agent() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the convoy executable")?;
    let dir = exe
        .parent()
        .context("the convoy executable has no directory")?;
    let agent = dir.join("convoy-agent");
    if !agent.is_file() {
        bail!(
            "convoy-agent not found at {}: the demo runs the agent binary that sits beside \
             convoy; build both with `cargo build --release -p convoy-coordinator -p convoy-agent` and run \
             target/release/convoy demo",
            agent.display()
        );
    }
    Ok(agent)
}

fn free_port() -> anyhow::Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free local port")?;
    Ok(listener.local_addr()?.port())
}

fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))
}

impl Fleet {
    /// Creates the directory, the CA and every certificate and config; starts nothing.
    pub fn create(agent_binary: PathBuf) -> anyhow::Result<Self> {
        let temp = tempfile::Builder::new()
            .prefix("convoy-demo-")
            .tempdir()
            .context("cannot create a temp dir")?;
        let dir = temp.path().to_path_buf();
        let pki_dir = dir.join("pki");
        std::fs::create_dir_all(&pki_dir).context("cannot create the pki dir")?;
        let validity = Validity::days(1)?;
        let (ca, ca_files) = Ca::generate("Convoy demo CA", validity)?;
        pki::write_file(&pki_dir.join("ca.pem"), &ca_files.cert_pem, false, false)?;
        pki::write_file(&pki_dir.join("ca.key"), &ca_files.key_pem, true, false)?;
        // A throwaway release signing key: the demo's agents trust only it, and the story
        // signs every release it pushes, as a real fleet should.
        let (signing_private, signing_public) = convoy_proto::signing::generate(rand::random())?;
        pki::write_file(&pki_dir.join("release.key"), &signing_private, true, false)?;
        pki::write_file(&pki_dir.join("release.pub"), &signing_public, false, false)?;
        let issue = |identity: &Identity, stem: &str, sans: &[String]| -> anyhow::Result<()> {
            let issued = ca.issue(identity, sans, validity)?;
            pki::write_file(
                &pki_dir.join(format!("{stem}.pem")),
                &issued.cert_pem,
                false,
                false,
            )?;
            pki::write_file(
                &pki_dir.join(format!("{stem}.key")),
                &issued.key_pem,
                true,
                false,
            )?;
            Ok(())
        };
        issue(
            &Identity::Server("coordinator".into()),
            "coordinator",
            &["127.0.0.1".into(), "localhost".into()],
        )?;
        issue(
            &Identity::Operator {
                name: OPERATOR.into(),
                role: Role::Admin,
            },
            OPERATOR,
            &[],
        )?;
        let mut hosts = Vec::new();
        for (id, zone) in HOSTS {
            let agent_id = AgentId::new(id).context("demo host id")?;
            issue(&Identity::Agent(agent_id), id, &[])?;
            let host = Host {
                id,
                zone,
                port: free_port()?,
                dir: dir.join(id),
                child: None,
            };
            seed(&host)?;
            hosts.push(host);
        }
        let connect = ConnectArgs {
            addr: String::new(),
            ca: Some(pki_dir.join("ca.pem")),
            cert: Some(pki_dir.join(format!("{OPERATOR}.pem"))),
            key: Some(pki_dir.join(format!("{OPERATOR}.key"))),
            timeout: std::time::Duration::from_secs(10),
        };
        Ok(Self {
            dir,
            temp: Some(temp),
            connect,
            hosts,
            agent_binary,
            server: None,
            server_shutdown: CancellationToken::new(),
        })
    }

    /// The release signing key (private) the story signs its pushes with.
    pub fn release_key(&self) -> PathBuf {
        self.dir.join("pki").join("release.key")
    }

    /// Starts the embedded coordinator and the agents.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on 127.0.0.1")?;
        let addr: SocketAddr = listener.local_addr()?;
        self.connect.addr = format!("https://{addr}");
        let pki_dir = self.dir.join("pki");
        let config = Config {
            listen: addr,
            data_dir: self.dir.join("coordinator"),
            tls: TlsFiles {
                ca: pki_dir.join("ca.pem"),
                cert: pki_dir.join("coordinator.pem"),
                key: pki_dir.join("coordinator.key"),
            },
            agents: AgentsConfig {
                heartbeat_interval: Duration::from_millis(500),
                offline_after: Duration::from_secs(3),
            },
            jobs: JobsConfig::default(),
            // The coordinator verifies the story's signed pushes against the same key.
            release_public_keys: vec![pki_dir.join("release.pub")],
            backups: crate::config::BackupsConfig::default(),
            handshakes: crate::config::HandshakeLimits::default(),
            monitor: Default::default(),
            ca: None,
            policies: Vec::new(),
            environments: Vec::new(),
            snapshots: Default::default(),
            scaling: Vec::new(),
        };
        self.server = Some(tokio::spawn(crate::server::serve(
            config,
            listener,
            self.server_shutdown.clone(),
        )));
        for host in &mut self.hosts {
            write(
                &host.dir.join("agent.toml"),
                &agent_config(host, &self.connect.addr),
            )?;
            let log = std::fs::File::create(host.dir.join("agent.log"))
                .context("cannot create an agent log")?;
            let child = Command::new(&self.agent_binary)
                .arg("run")
                .arg("--config")
                .arg(host.dir.join("agent.toml"))
                .current_dir(&host.dir)
                .env("CONVOY_DEMO_PORT", host.port.to_string())
                .env("CONVOY_DEMO_PIDFILE", host.pidfile())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                // Its own group: a Ctrl-C on the terminal reaches the demo only, which stops
                // the agents itself, in order.
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("cannot start {}", self.agent_binary.display()))?;
            host.child = Some(child);
        }
        Ok(())
    }

    /// Stops every agent (SIGTERM, then SIGKILL), every app they started, anything else
    /// still running from the directory, then the coordinator, and deletes the directory.
    pub async fn shutdown(&mut self) -> Cleanup {
        let mut cleanup = Cleanup::default();
        let agents: Vec<i32> = self
            .hosts
            .iter()
            .filter_map(Host::agent_pid)
            .filter_map(|pid| i32::try_from(pid).ok())
            .collect();
        for pid in &agents {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGTERM);
        }
        for host in &mut self.hosts {
            if let Some(mut child) = host.child.take() {
                if tokio::time::timeout(AGENT_STOP_GRACE, child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.kill().await;
                }
                cleanup.agents_stopped += 1;
            }
        }
        for host in &self.hosts {
            let pid = std::fs::read_to_string(host.pidfile())
                .ok()
                .and_then(|text| text.trim().parse::<i32>().ok());
            if let Some(pid) = pid.filter(|pid| procs::alive(*pid)) {
                terminate(pid, Duration::from_secs(5)).await;
                cleanup.apps_stopped += 1;
            }
        }
        // Anything else from the directory (a hook caught mid-run): end it too.
        for (pid, _) in procs::under(&self.dir) {
            terminate(pid, Duration::from_secs(2)).await;
        }
        self.server_shutdown.cancel();
        if let Some(server) = self.server.take() {
            match tokio::time::timeout(SERVER_STOP_GRACE, server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(err))) => warn_line!("warning: the coordinator stopped with: {err:#}"),
                Ok(Err(err)) => warn_line!("warning: the coordinator task failed: {err}"),
                Err(_) => warn_line!("warning: the coordinator did not stop in time"),
            }
        }
        if let Some(temp) = self.temp.take() {
            match temp.close() {
                Ok(()) => cleanup.removed_dir = true,
                Err(err) => warn_line!("warning: cannot delete {}: {err}", self.dir.display()),
            }
        }
        cleanup.leftovers = procs::under(&self.dir);
        cleanup
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // Only after an early error: `shutdown` has already taken the children.
        for host in &mut self.hosts {
            if let Some(child) = host.child.as_mut() {
                let _ = child.start_kill();
            }
            if let Some(pid) = std::fs::read_to_string(host.pidfile())
                .ok()
                .and_then(|text| text.trim().parse::<i32>().ok())
                .filter(|pid| procs::alive(*pid))
            {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        self.server_shutdown.cancel();
    }
}

/// Some files for the host's backup set.
fn seed(host: &Host) -> anyhow::Result<()> {
    let data = host.dir.join(BACKUP_SET);
    std::fs::create_dir_all(data.join("uploads")).context("cannot create demo data")?;
    write(
        &data.join("orders.csv"),
        &(1..=200)
            .map(|n| format!("{n},{},order-{n},{}.00\n", host.id, n * 7 % 97))
            .collect::<String>(),
    )?;
    write(
        &data.join("settings.toml"),
        &format!("host = \"{}\"\nzone = \"{}\"\n", host.id, host.zone),
    )?;
    write(
        &data.join("uploads/readme.txt"),
        "files users uploaded; backed up by convoy backup run appdata\n",
    )
}

fn agent_config(host: &Host, coordinator: &str) -> String {
    let dir = host.dir.display();
    let pki = host.dir.join("../pki");
    let pki = pki.display();
    format!(
        r#"# A demo host. The coordinator may only run what this file names.
coordinator = "{coordinator}"
data_dir = "{dir}/data"
keep_releases = 3
# Releases run only when signed by the demo's throwaway key.
release_public_keys = ["{pki}/release.pub"]

[tls]
ca = "{pki}/ca.pem"
cert = "{pki}/{id}.pem"
key = "{pki}/{id}.key"

[labels]
role = "web"
zone = "{zone}"
host = "{id}"

[actions.uname]
run = ["uname", "-a"]
timeout = "10s"

# The app's hooks come with each release (convoy.toml); its health check is per host,
# because each host's copy listens on its own port.
[apps.web.health]
http = "http://127.0.0.1:{port}/health"
interval = "200ms"
retries = 5
deadline = "10s"
monitor_interval = "1s"

[backup.sets.{set}]
paths = ["{dir}/{set}"]
"#,
        id = host.id,
        zone = host.zone,
        port = host.port,
        set = BACKUP_SET,
    )
}
