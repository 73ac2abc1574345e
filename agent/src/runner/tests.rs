use std::time::Duration;

use convoy_proto::v1::{Command, RunAction, command, command_event};

use super::*;
use crate::deploy::DeployConfig;

/// Deploys are not exercised here: a deployer with no apps and a source that has nothing.
struct NoSource;

impl ArtifactSource for NoSource {
    fn fetch_into<'a>(
        &'a self,
        _sha256: &'a str,
        _offset: u64,
        _file: &'a mut tokio::fs::File,
        _hasher: &'a mut sha2::Sha256,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), crate::deploy::FetchError>> + Send + 'a>,
    > {
        Box::pin(async {
            Err(crate::deploy::FetchError::NotFound {
                sha256: "any".into(),
            })
        })
    }
}

fn new_runner(
    dir: &std::path::Path,
    journal: Arc<Journal>,
    actions: BTreeMap<String, ActionConfig>,
) -> Arc<Runner> {
    let deployer = Deployer::new(DeployConfig {
        data_dir: dir.to_path_buf(),
        apps: BTreeMap::new(),
        trusted_keys: Vec::new(),
        allow_unsigned: false,
        keep_releases: 3,
        limits: crate::archive::Limits::default(),
    });
    Runner::new(
        journal,
        actions,
        Arc::new(deployer),
        Arc::new(NoSource),
        CancellationToken::new(),
    )
}

fn command(id: &str, action: &str) -> Command {
    Command {
        command_id: id.into(),
        job_id: "j".into(),
        output_cap_bytes: 1024,
        action: Some(command::Action::Run(RunAction {
            name: action.into(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn counting_action(file: &std::path::Path) -> BTreeMap<String, ActionConfig> {
    let mut actions = BTreeMap::new();
    actions.insert(
        "count".to_string(),
        ActionConfig {
            run: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("echo ran >> {}", file.display()),
            ],
            timeout: Duration::from_secs(5),
            env: BTreeMap::new(),
            working_dir: None,
            kill_grace: Duration::from_millis(200),
            params: Default::default(),
        },
    );
    actions
}

async fn until_finished(journal: &Journal, id: &str) -> JournalEntry {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(entry) = journal.entry(id).unwrap() {
            if entry.stage == convoy_proto::v1::JournalStage::Finished as i32 {
                return entry;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

use convoy_proto::v1::JournalEntry;

#[tokio::test]
async fn the_same_command_delivered_twice_runs_once_even_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ran");
    for _ in 0..2 {
        let journal = Arc::new(Journal::open(dir.path()).unwrap());
        let runner = new_runner(dir.path(), journal.clone(), counting_action(&file));
        runner.on_command(command("j/1", "count")).unwrap();
        runner.on_command(command("j/1", "count")).unwrap();
        let entry = until_finished(&journal, "j/1").await;
        assert_eq!(entry.final_state, CommandState::Succeeded as i32);
        runner.drain(Duration::from_secs(5)).await;
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "ran\n");
}

#[tokio::test]
async fn unknown_actions_are_rejected_and_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ran");
    let journal = Arc::new(Journal::open(dir.path()).unwrap());
    let runner = new_runner(dir.path(), journal.clone(), counting_action(&file));
    runner.on_command(command("j/2", "rm-rf")).unwrap();
    let entry = until_finished(&journal, "j/2").await;
    assert_eq!(entry.final_state, CommandState::Rejected as i32);
    let events = journal.unacked().unwrap();
    match &events.last().unwrap().body {
        Some(command_event::Body::Finished(f)) => assert!(
            f.message.contains("unknown action \"rm-rf\"") && f.message.contains("count"),
            "{}",
            f.message
        ),
        other => panic!("{other:?}"),
    }
    assert!(!file.exists());
}

#[tokio::test]
async fn a_cancel_that_arrives_first_keeps_the_command_from_ever_running() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ran");
    let journal = Arc::new(Journal::open(dir.path()).unwrap());
    let runner = new_runner(dir.path(), journal.clone(), counting_action(&file));
    runner.on_cancel("j/3").unwrap();
    runner.on_command(command("j/3", "count")).unwrap();
    let entry = until_finished(&journal, "j/3").await;
    assert_eq!(entry.final_state, CommandState::Cancelled as i32);
    runner.drain(Duration::from_secs(5)).await;
    assert!(!file.exists());
}

#[tokio::test]
async fn an_action_sees_its_own_command_id() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ids");
    let mut actions = counting_action(&file);
    let action = actions.get_mut("count").unwrap();
    action.run = vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("echo \"$CONVOY_COMMAND_ID\" >> {}", file.display()),
    ];
    // The config's env cannot override it.
    action
        .env
        .insert("CONVOY_COMMAND_ID".into(), "forged".into());
    let journal = Arc::new(Journal::open(dir.path()).unwrap());
    let runner = new_runner(dir.path(), journal.clone(), actions);
    runner.on_command(command("j/7", "count")).unwrap();
    until_finished(&journal, "j/7").await;
    runner.drain(Duration::from_secs(5)).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "j/7\n");
}

#[tokio::test]
async fn a_command_of_an_unknown_kind_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(dir.path()).unwrap());
    let runner = new_runner(dir.path(), journal.clone(), BTreeMap::new());
    // What prost makes of a `oneof` arm this agent's version does not know.
    let unknown = Command {
        command_id: "j/9".into(),
        job_id: "j".into(),
        output_cap_bytes: 1024,
        action: None,
        ..Default::default()
    };
    runner.on_command(unknown).unwrap();
    let entry = until_finished(&journal, "j/9").await;
    assert_eq!(entry.final_state, CommandState::Rejected as i32);
    let message = journal
        .unacked()
        .unwrap()
        .into_iter()
        .find_map(|event| match event.body {
            Some(convoy_proto::v1::command_event::Body::Finished(f)) => Some(f.message),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        message,
        "rejected: this agent does not support that kind of command"
    );
}

/// A transport that is never reached: the command under test never starts.
struct Unreachable;

impl crate::recovery::BackupTransport for Unreachable {
    fn upload(
        &self,
        _header: crate::recovery::UploadHeader,
        _parts: tokio::sync::mpsc::Receiver<crate::recovery::UploadPart>,
    ) -> crate::recovery::BoxFuture<
        '_,
        Result<crate::recovery::Uploaded, crate::recovery::UploadError>,
    > {
        unreachable!("the backup never started")
    }

    fn download<'a>(
        &'a self,
        _command_id: &'a str,
        _backup_id: &'a str,
        _file: &'a mut tokio::fs::File,
        _hasher: &'a mut sha2::Sha256,
    ) -> crate::recovery::BoxFuture<
        'a,
        Result<crate::recovery::BackupMeta, crate::recovery::TransferError>,
    > {
        unreachable!("nothing is restored here")
    }

    fn report_drill<'a>(
        &'a self,
        _outcome: &'a crate::recovery::DrillOutcome,
    ) -> crate::recovery::BoxFuture<'a, Result<(), crate::recovery::TransferError>> {
        unreachable!("nothing is drilled here")
    }
}

#[tokio::test]
async fn every_kind_waits_for_a_slot_and_a_cancel_there_means_it_never_started() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(dir.path()).unwrap());
    let mut actions = BTreeMap::new();
    actions.insert(
        "hold".to_string(),
        ActionConfig {
            run: vec!["/bin/sleep".into(), "30".into()],
            timeout: Duration::from_secs(60),
            env: BTreeMap::new(),
            working_dir: None,
            kill_grace: Duration::from_millis(200),
            params: Default::default(),
        },
    );
    let runner = new_runner(dir.path(), journal.clone(), actions);
    let mut sets = BTreeMap::new();
    sets.insert(
        "data".to_string(),
        crate::config::BackupSetConfig {
            paths: vec![dir.path().join("data")],
            exclude: Vec::new(),
            before: Vec::new(),
            before_timeout: Duration::from_secs(5),
            keep: 0,
        },
    );
    let recovery = crate::recovery::Recovery::new(dir.path().to_path_buf(), sets, 1 << 20);
    runner.set_recovery(Arc::new(recovery), Arc::new(Unreachable));
    // Every slot taken by a running action.
    let holders: Vec<String> = (0..MAX_CONCURRENT_COMMANDS)
        .map(|i| format!("h/{i}"))
        .collect();
    for id in &holders {
        runner.on_command(command(id, "hold")).unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while holders.iter().any(|id| {
        journal.entry(id).unwrap().unwrap().stage != convoy_proto::v1::JournalStage::Started as i32
    }) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "holders did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A backup is admitted like an action: it waits for a slot, and a cancel while it
    // waits finishes it as never started.
    let backup = Command {
        command_id: "b/1".into(),
        job_id: "b".into(),
        output_cap_bytes: 1024,
        action: Some(command::Action::Backup(convoy_proto::v1::BackupAction {
            set: "data".into(),
        })),
        ..Default::default()
    };
    runner.on_command(backup).unwrap();
    runner.on_cancel("b/1").unwrap();
    let entry = until_finished(&journal, "b/1").await;
    assert_eq!(entry.final_state, CommandState::Cancelled as i32);
    let events: Vec<_> = journal
        .unacked()
        .unwrap()
        .into_iter()
        .filter(|event| event.command_id == "b/1")
        .collect();
    assert!(
        !events
            .iter()
            .any(|event| matches!(event.body, Some(command_event::Body::Started(_)))),
        "{events:?}"
    );
    match &events.last().unwrap().body {
        Some(command_event::Body::Finished(f)) => {
            assert_eq!(f.message, "cancelled before it started")
        }
        other => panic!("{other:?}"),
    }
    for id in &holders {
        runner.on_cancel(id).unwrap();
    }
    runner.drain(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_command_issued_before_the_journal_horizon_is_refused_unrun() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ran");
    let journal = Arc::new(Journal::open(dir.path()).unwrap());
    let runner = new_runner(dir.path(), journal.clone(), counting_action(&file));
    let now = crate::journal::now_unix_ms();
    let day = 24 * 3600 * 1000;
    // Issued 31 days ago (say, resent by a coordinator restored from an old snapshot): this
    // host may have run it and forgotten; it is refused, not run.
    let mut old = command("j/old", "count");
    old.issued_unix_ms = now - 31 * day;
    runner.on_command(old).unwrap();
    let entry = until_finished(&journal, "j/old").await;
    assert_eq!(entry.final_state, CommandState::Rejected as i32);
    let message = entry.finished.unwrap().message;
    assert!(
        message.starts_with("rejected: issued 31 days ago"),
        "{message}"
    );
    // Issued a week ago, or by a coordinator that does not say: it runs.
    let mut recent = command("j/recent", "count");
    recent.issued_unix_ms = now - 7 * day;
    runner.on_command(recent).unwrap();
    runner.on_command(command("j/unsaid", "count")).unwrap();
    for id in ["j/recent", "j/unsaid"] {
        let entry = until_finished(&journal, id).await;
        assert_eq!(entry.final_state, CommandState::Succeeded as i32, "{id}");
    }
    runner.drain(Duration::from_secs(5)).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "ran\nran\n");
}
