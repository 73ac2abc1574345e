//! A compromised coordinator against a real agent (issue #12, findings 1, 2 and the agent's
//! part of 9): the [`HostileCoordinator`] holds the fleet's real server certificate and
//! sends whatever commands and bytes it likes. The agent must run only releases it verified
//! (names that stay inside `releases/`, sha256, signature, and the record of both), and
//! keep its data private.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use convoy_agent::deploy::manifest::Manifest;
use convoy_proto::v1::{Command, CommandState, Deploy, Finished, Rollback, command};
use convoy_tests::hostile::coordinator::HostileCoordinator;
use convoy_tests::{TestAgent, TestPki};
use sha2::{Digest, Sha256};

use crate::deploy::artifact_with;

mod trust;

const WAIT: Duration = Duration::from_secs(20);

/// A release whose start hook appends `started <version>` to `<log>`.
fn release(version: &str, log: &Path) -> Vec<u8> {
    let manifest = format!(
        "[hooks]\nstart = [\"/bin/sh\", \"-c\", \"echo started {version} >> {}\"]\n",
        log.display()
    );
    artifact_with(version, true, &manifest)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

struct Host {
    pki: TestPki,
    hostile: HostileCoordinator,
    agent: TestAgent,
    data_dir: PathBuf,
    /// Where every hook of every release (good or evil) leaves its line.
    log: PathBuf,
    next: u32,
}

impl Host {
    /// A real agent (app `web`) connected to a hostile coordinator; `adjust` edits its
    /// config first (the default trusts the test PKI's release key).
    async fn start(adjust: impl FnOnce(&mut convoy_agent::Config)) -> Self {
        let pki = TestPki::new();
        let hostile = HostileCoordinator::start(&pki).await;
        let mut config = TestAgent::config(&pki, &hostile.url(), "web-1", &[("role", "web")]);
        config.apps = BTreeMap::from([("web".to_string(), Manifest::default())]);
        adjust(&mut config);
        let data_dir = config.data_dir.clone();
        let agent = TestAgent::start_with(config);
        hostile.wait_hello(WAIT).await;
        let log = pki.dir().join("hooks.log");
        Self {
            pki,
            hostile,
            agent,
            data_dir,
            log,
            next: 0,
        }
    }

    fn app_dir(&self) -> PathBuf {
        self.data_dir.join("apps/web")
    }

    fn hooks_ran(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `action` as a fresh command and waits for the agent's Finished.
    async fn run(&mut self, action: command::Action) -> Finished {
        self.next += 1;
        let command_id = format!("hostile-{}", self.next);
        self.hostile
            .send_command(Command {
                command_id: command_id.clone(),
                job_id: "hostile".into(),
                output_cap_bytes: 1 << 20,
                issued_unix_ms: 0,
                action: Some(action),
            })
            .await;
        self.hostile.finished(&command_id, WAIT).await
    }

    /// Serves `bytes` and sends a Deploy of them as `version`, with `signature`.
    async fn deploy(&mut self, version: &str, bytes: &[u8], signature: Vec<u8>) -> Finished {
        let sha = sha256(bytes);
        self.hostile.serve_artifact(&sha, bytes.to_vec());
        self.run(command::Action::Deploy(Deploy {
            app: "web".into(),
            version: version.into(),
            sha256: sha,
            size: bytes.len() as u64,
            signature,
            signer: "release".into(),
        }))
        .await
    }

    /// A properly signed deploy of a fresh release `version`.
    async fn deploy_signed(&mut self, version: &str) -> Finished {
        let bytes = release(version, &self.log);
        let signature = self.pki.sign_release("web", version, &sha256(&bytes));
        self.deploy(version, &bytes, signature).await
    }

    async fn rollback(&mut self, version: &str) -> Finished {
        self.run(command::Action::Rollback(Rollback {
            app: "web".into(),
            version: version.into(),
        }))
        .await
    }

    /// Where `current` points, checked to be a direct child of the app's `releases/`.
    fn current(&self) -> String {
        let app = self.app_dir();
        let target = std::fs::read_link(app.join("current")).unwrap_or_default();
        if let Ok(resolved) = std::fs::canonicalize(app.join("current")) {
            assert_eq!(
                resolved.parent(),
                Some(
                    std::fs::canonicalize(app.join("releases"))
                        .unwrap()
                        .as_path()
                ),
                "current resolves outside releases/: {}",
                resolved.display()
            );
        }
        target.display().to_string()
    }

    async fn stop(self) {
        self.agent.stop().await;
        self.hostile.stop().await;
    }
}

fn state(finished: &Finished) -> CommandState {
    CommandState::try_from(finished.state).unwrap_or(CommandState::Unspecified)
}

fn refused(finished: &Finished, why: &str) {
    assert!(
        matches!(
            state(finished),
            CommandState::Rejected | CommandState::Failed
        ),
        "expected a refusal, got {finished:?}"
    );
    assert!(finished.message.contains(why), "{finished:?}");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_signed_deploy_through_a_hostile_coordinator_works_and_the_agent_keeps_its_data_private()
{
    let mut host = Host::start(|_| {}).await;
    assert!(!host.hostile.hellos()[0].allow_unsigned_releases);
    let done = host.deploy_signed("1.0").await;
    assert_eq!(state(&done), CommandState::Succeeded, "{done:?}");
    assert_eq!(host.current(), "releases/1.0");
    assert_eq!(host.hooks_ran(), "started 1.0\n");
    let record = host.app_dir().join("releases/.1.0.verified.toml");
    assert!(
        std::fs::read_to_string(&record)
            .unwrap()
            .contains("signer = \"release\"")
    );
    // Finding 9, the agent's part: its data dir and what it writes there are its own.
    for dir in [host.data_dir.clone(), host.data_dir.join("downloads")] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    // The journal (made with the process umask) is restricted when it opens.
    for file in [
        record,
        host.app_dir().join("state.toml"),
        host.data_dir.join("journal.redb"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    host.stop().await;
}

/// Found by convoy-torture (a rollout left `running` for good): a download whose stream
/// stays open but silent hung the deploy forever, because nothing bounded a step of the
/// download while the connection itself was healthy. A silent stream is now abandoned after
/// the stall limit and resumed on a new connection.
#[tokio::test]
async fn a_download_that_stalls_without_failing_is_resumed_and_the_deploy_finishes() {
    let mut host = Host::start(|_| {}).await;
    host.hostile.stall_fetches(1);
    let done = tokio::time::timeout(Duration::from_secs(30), host.deploy_signed("1.0"))
        .await
        .expect("the deploy hung on a stalled download");
    assert_eq!(state(&done), CommandState::Succeeded, "{done:?}");
    assert_eq!(
        host.hostile.fetches().len(),
        2,
        "one stalled attempt, one that worked"
    );
    assert_eq!(host.current(), "releases/1.0");
    host.stop().await;
}

#[tokio::test]
async fn a_version_that_climbs_out_of_releases_is_refused_and_no_hook_runs() {
    let mut host = Host::start(|_| {}).await;
    assert_eq!(
        state(&host.deploy_signed("1.0").await),
        CommandState::Succeeded
    );
    // The attacker's "release", outside the app's releases/: its start hook would leave a
    // line in the log. releases/../../../../evil is <pki dir>/evil.
    let evil = host.pki.dir().join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::write(
        evil.join("convoy.toml"),
        format!(
            "[hooks]\nstart = [\"/bin/sh\", \"-c\", \"echo started evil >> {}\"]\n",
            host.log.display()
        ),
    )
    .unwrap();
    let climb = "../../../../evil";
    assert!(
        host.app_dir().join("releases").join(climb).is_dir(),
        "the trap is set"
    );

    refused(&host.rollback(climb).await, "invalid version");
    let bytes = release("9.9", &host.log);
    refused(
        &host.deploy(climb, &bytes, vec![7; 64]).await,
        "invalid version",
    );
    for version in ["..", "1.0/../../../../../evil", "1.0\0"] {
        refused(&host.rollback(version).await, "invalid version");
    }
    assert_eq!(host.hostile.fetches().len(), 1, "nothing fetched but 1.0");
    assert_eq!(host.current(), "releases/1.0");
    assert_eq!(host.hooks_ran(), "started 1.0\n", "no hook ran");
    host.stop().await;
}

#[tokio::test]
async fn a_deploy_naming_a_kept_release_with_other_bytes_or_a_forged_signature_is_refused() {
    let mut host = Host::start(|_| {}).await;
    assert_eq!(
        state(&host.deploy_signed("1.0").await),
        CommandState::Succeeded
    );
    assert_eq!(
        state(&host.deploy_signed("2.0").await),
        CommandState::Succeeded
    );
    // releases/1.0 exists: a garbage signature must still be checked...
    let kept = release("1.0", &host.log);
    refused(
        &host.deploy("1.0", &kept, vec![1; 64]).await,
        "bad signature",
    );
    // ...and a validly signed deploy of other bytes under the kept version is refused too.
    let other = artifact_with("1.0", true, "");
    let signature = host.pki.sign_release("web", "1.0", &sha256(&other));
    refused(
        &host.deploy("1.0", &other, signature).await,
        "push a new version",
    );
    assert_eq!(host.current(), "releases/2.0");
    assert_eq!(host.hooks_ran(), "started 1.0\nstarted 2.0\n");
    host.stop().await;
}

#[tokio::test]
async fn an_unsigned_deploy_on_a_host_with_default_config_is_refused() {
    // Keys configured (the harness default): an unsigned release is refused.
    let mut host = Host::start(|_| {}).await;
    let bytes = release("1.0", &host.log);
    refused(&host.deploy("1.0", &bytes, Vec::new()).await, "not signed");
    assert!(!host.app_dir().join("releases/1.0").exists());
    host.stop().await;

    // No keys and no opt-out: every deploy and rollback is refused before anything, and
    // the message says how to fix it.
    let mut host = Host::start(|config| config.release_public_keys.clear()).await;
    assert!(!host.hostile.hellos()[0].allow_unsigned_releases);
    let bytes = release("1.0", &host.log);
    let done = host.deploy("1.0", &bytes, Vec::new()).await;
    assert_eq!(state(&done), CommandState::Rejected, "{done:?}");
    assert!(
        done.message.contains("release_public_keys")
            && done.message.contains("allow_unsigned_releases = true"),
        "{done:?}"
    );
    refused(&host.rollback("1.0").await, "allow_unsigned_releases");
    assert!(host.hostile.fetches().is_empty());
    assert_eq!(host.hooks_ran(), "");
    host.stop().await;

    // The opt-out: said in Hello, and then unsigned releases run.
    let mut host = Host::start(|config| {
        config.release_public_keys.clear();
        config.allow_unsigned_releases = true;
    })
    .await;
    assert!(host.hostile.hellos()[0].allow_unsigned_releases);
    let bytes = release("1.0", &host.log);
    let done = host.deploy("1.0", &bytes, Vec::new()).await;
    assert_eq!(state(&done), CommandState::Succeeded, "{done:?}");
    assert_eq!(host.hooks_ran(), "started 1.0\n");
    host.stop().await;
}

#[tokio::test]
async fn a_rollback_to_a_release_whose_record_was_tampered_with_is_refused() {
    let mut host = Host::start(|_| {}).await;
    for version in ["1.0", "2.0", "3.0"] {
        assert_eq!(
            state(&host.deploy_signed(version).await),
            CommandState::Succeeded
        );
    }
    // 1.0's record now claims other bytes; 2.0's has lost its signature.
    let releases = host.app_dir().join("releases");
    let edit = |version: &str, edit: &dyn Fn(String) -> String| {
        let path = releases.join(format!(".{version}.verified.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(text)).unwrap();
    };
    edit("1.0", &|text| {
        let line = text.lines().find(|l| l.starts_with("sha256")).unwrap();
        text.replace(line, &format!("sha256 = \"{}\"", "0".repeat(64)))
    });
    edit("2.0", &|text| {
        let line = text.lines().find(|l| l.starts_with("signature")).unwrap();
        text.replace(line, "signature = \"\"")
    });
    refused(&host.rollback("1.0").await, "recorded signature");
    refused(&host.rollback("2.0").await, "not signed");
    // A release with no record at all (an older agent's, or planted) is refused too.
    std::fs::remove_file(releases.join(".1.0.verified.toml")).unwrap();
    refused(&host.rollback("1.0").await, "no verification record");
    assert_eq!(host.current(), "releases/3.0");
    assert_eq!(host.hooks_ran(), "started 1.0\nstarted 2.0\nstarted 3.0\n");
    host.stop().await;
}
