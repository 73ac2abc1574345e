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
