//! A store that hits an I/O error must stop its process, not leave it up refusing
//! everything (sled keeps its first I/O error for the life of the handle; RELIABILITY.md).
//! The error is real: the running process's file size limit is cut with `prlimit`
//! (RLIMIT_FSIZE), so its next store write past the limit fails with EFBIG (SIGXFSZ is
//! ignored, as a full disk's ENOSPC would not signal either).

use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convoy_proto::identity::Role;
use convoy_proto::v1::admin_client::AdminClient;
use convoy_proto::v1::{ListAgentsRequest, StartJobRequest};
use convoy_tests::{TestPki, binary, channel};

/// A process started with SIGXFSZ ignored and its stderr collected.
pub(crate) struct Limited {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Limited {
    pub(crate) fn spawn(name: &str, dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg("trap '' XFSZ; exec \"$0\" \"$@\"")
            .arg(binary(name))
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Self { child, stderr }
    }

    /// Caps the size of every file the process writes from now on.
    pub(crate) fn limit_file_size(&self, bytes: u64) {
        let status = Command::new("prlimit")
            .arg(format!("--pid={}", self.child.id()))
            .arg(format!("--fsize={bytes}:{bytes}"))
            .status()
            .expect("prlimit");
        assert!(status.success(), "prlimit failed");
    }

    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn coordinator_config(pki: &TestPki, dir: &Path, port: u16) -> String {
    let p = pki.dir().display();
    let path = dir.join("coordinator.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{data}\"\nrelease_public_keys = [\"{key}\"]\n\
             [tls]\nca = \"{p}/ca.pem\"\ncert = \"{p}/coordinator.pem\"\nkey = \"{p}/coordinator.key\"\n",
            data = dir.join("data").display(),
            key = pki.release_public_key().display(),
        ),
    )
    .unwrap();
    path.display().to_string()
}

async fn admin(pki: &TestPki, port: u16) -> Option<AdminClient<tonic::transport::Channel>> {
    let certs = pki.operator("alice", Role::Admin);
    let url = format!("https://127.0.0.1:{port}");
    let channel = channel(&url, &pki.ca_cert(), Some(&certs)).await.ok()?;
    let mut admin = AdminClient::new(channel);
    admin
        .list_agents(ListAgentsRequest::default())
        .await
        .ok()
        .map(|_| admin)
}

async fn wait_admin(pki: &TestPki, port: u16) -> AdminClient<tonic::transport::Channel> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(admin) = admin(pki, port).await {
            return admin;
        }
        assert!(Instant::now() < deadline, "the coordinator did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_whose_store_fails_exits_non_zero_and_reopens_cleanly() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let port = super::free_port();
    let config = coordinator_config(&pki, dir.path(), port);
    let mut serve = Limited::spawn("convoy", dir.path(), &["serve", "--config", &config]);
    let mut admin = wait_admin(&pki, port).await;
    serve.limit_file_size(1);
    // Every call is audited: store writes. Bounded in count and time.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = serve.exited() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "convoy serve still up 30 s after its store failed; its log:\n{}",
            serve.stderr()
        );
        let _ = admin
            .start_job(StartJobRequest {
                action: "nothing".into(),
                ..Default::default()
            })
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = serve.stderr();
    assert!(!status.success(), "{status:?}\n{log}");
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.lines()
            .any(|line| line.starts_with("error: the store in")
                && line.contains("File too large")
                && line.contains("exiting so that a restart reopens it")),
        "{log}"
    );
    // What a service manager's restart does: the store reopens and serves.
    let _serve = Limited::spawn("convoy", dir.path(), &["serve", "--config", &config]);
    wait_admin(&pki, port).await;
}

fn agent_config(pki: &TestPki, url: &str, dir: &Path) -> String {
    pki.agent("a1");
    let p = pki.dir().display();
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "coordinator = \"{url}\"\ndata_dir = \"{data}\"\nrelease_public_keys = [\"{key}\"]\n\
             [tls]\nca = \"{p}/ca.pem\"\ncert = \"{p}/a1.pem\"\nkey = \"{p}/a1.key\"\n\
             [actions.mark]\nrun = [\"/bin/sh\", \"-c\", \"echo $CONVOY_COMMAND_ID >> {side}; echo ok\"]\ntimeout = \"20s\"\n",
            data = dir.join("data").display(),
            key = pki.release_public_key().display(),
            side = dir.join("side.log").display(),
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// The size of the largest file under `dir`.
fn largest_file(dir: &Path) -> u64 {
    let mut largest = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        largest = largest.max(if meta.is_dir() {
            largest_file(&entry.path())
        } else {
            meta.len()
        });
    }
    largest
}

fn mark(id: &str) -> Command_ {
    Command_ {
        command_id: id.into(),
        job_id: "j".into(),
        output_cap_bytes: 1 << 20,
        issued_unix_ms: 0,
        action: Some(convoy_proto::v1::command::Action::Run(
            convoy_proto::v1::RunAction {
                name: "mark".into(),
                ..Default::default()
            },
        )),
    }
}

use convoy_proto::v1::Command as Command_;

/// The at-most-once record survives a write that failed for lack of room: the agent stops
/// (non-zero) instead of running the command it could not journal, and its journal reopens
/// with every command it had finished before the failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_journal_write_fails_stops_and_its_journal_reopens_intact() {
    use convoy_tests::hostile::coordinator::HostileCoordinator;
    let pki = TestPki::new();
    let coordinator = HostileCoordinator::start(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let config = agent_config(&pki, &coordinator.url(), dir.path());
    let data = dir.path().join("data");
    let tmpfs = Tmpfs::mount(&data);
    let mut agent = Limited::spawn("convoy-agent", dir.path(), &["run", "--config", &config]);
    coordinator.wait_hello(Duration::from_secs(20)).await;
    let done: Vec<String> = (1..=20).map(|n| format!("c-{n}")).collect();
    for id in &done {
        coordinator.send_command(mark(id)).await;
        coordinator.finished(id, Duration::from_secs(20)).await;
    }
    // A full disk. As root: the data dir is a small tmpfs, filled to the last byte.
    // Otherwise: the agent may write only in the first half of its largest journal file,
    // so a commit's pages past it fail while those before it land.
    let filler = data.join("filler");
    if tmpfs.is_some() {
        fill(&filler);
    } else {
        agent.limit_file_size(largest_file(&data) / 2);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut late = 0;
    let status = loop {
        if let Some(status) = agent.exited() {
            break status;
        }
        assert!(
            Instant::now() < deadline && late < 2000,
            "the agent still runs after {late} commands on a full disk; its log:\n{}",
            agent.stderr()
        );
        late += 1;
        coordinator
            .try_send_command(mark(&format!("late-{late}")))
            .await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let log = agent.stderr();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.lines()
            .any(|line| line.starts_with("error: the command journal in")),
        "{log}"
    );
    // Room again (a disk emptied by its operator).
    let _ = std::fs::remove_file(&filler);
    // The journal reopens (as the restarted agent will), holding every finished command
    // and every command that ran.
    let journal = convoy_agent::journal::Journal::open(&dir.path().join("data"))
        .unwrap_or_else(|err| panic!("the journal does not reopen: {err}\n{log}"));
    let side = std::fs::read_to_string(dir.path().join("side.log")).unwrap();
    for id in side.lines() {
        let entry = journal.entry(id).unwrap();
        assert!(
            entry.is_some_and(|e| e.stage() != convoy_proto::v1::JournalStage::Received),
            "{id} ran without a journal record"
        );
    }
    for id in &done {
        let entry = journal
            .entry(id)
            .unwrap()
            .unwrap_or_else(|| panic!("{id} forgotten"));
        assert_eq!(
            entry.stage(),
            convoy_proto::v1::JournalStage::Finished,
            "{id}"
        );
    }
    drop(journal);
    // And the agent starts again on it.
    let mut agent = Limited::spawn("convoy-agent", dir.path(), &["run", "--config", &config]);
    let hellos = coordinator.hellos().len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while coordinator.hellos().len() == hellos {
        assert!(agent.exited().is_none(), "{}", agent.stderr());
        assert!(Instant::now() < deadline, "no Hello after the restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    coordinator.stop().await;
    drop(agent);
    drop(tmpfs);
}

/// A small tmpfs mounted on a dir (needs root; None without).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        mounted.then(|| Self(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros to `path` until the file system is full (ENOSPC).
fn fill(path: &Path) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(err) => {
                assert_eq!(err.raw_os_error(), Some(28), "{err}");
                break;
            }
        }
    }
    // The last bytes of the last block.
    while file.write(&[0u8]).is_ok_and(|n| n == 1) {}
}
