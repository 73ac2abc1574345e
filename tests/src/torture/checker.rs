//! The invariant checker: reads the recorded history after a run — the coordinator's store
//! (opened directly, once `convoy serve` has exited), every agent's journal, the side logs
//! the actions appended to, and what the workload had acknowledged — and lists every
//! violation. Nothing is sampled: every acknowledged job and every command is checked.
//!
//! Invariants:
//! 1. every acknowledged request has its job in the store, under its idempotency key, and
//!    every command of it reached exactly one terminal state;
//! 2. a command ran at most once on its host (side log), and ran only if the coordinator
//!    records it as having started (succeeded, failed, timed out, interrupted, cancelled);
//! 3. a succeeded command ran exactly once and its full output (`ok ID`) is in the store
//!    (no acknowledged result or output chunk lost);
//! 4. the agent's journal and the coordinator agree on the terminal state of every command
//!    the agent finished;
//! 5. both stores open after the run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context as _;
use convoy_proto::v1::{CommandState, JournalStage};

use super::workload::Acked;

/// One command as the coordinator stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCommand {
    pub host: String,
    pub state: CommandState,
    pub output: Vec<u8>,
}

/// Everything the checker reads, gathered first so that the checks are pure.
#[derive(Debug, Default)]
pub struct History {
    pub acked: Vec<Acked>,
    /// Idempotency key → the job the store holds for it.
    pub requests: BTreeMap<String, String>,
    /// Job id → its command ids.
    pub jobs: BTreeMap<String, Vec<String>>,
    pub commands: BTreeMap<String, StoredCommand>,
    /// Host → command id → the journal's final state (`None`: journaled, not finished).
    pub journals: BTreeMap<String, BTreeMap<String, Option<CommandState>>>,
    /// Host → the command ids its actions appended, in order.
    pub side: BTreeMap<String, Vec<String>>,
}

fn terminal(state: CommandState) -> bool {
    !matches!(
        state,
        CommandState::Unspecified
            | CommandState::Pending
            | CommandState::Delivered
            | CommandState::Running
    )
}

/// States in which the command may have run.
fn may_have_run(state: CommandState) -> bool {
    matches!(
        state,
        CommandState::Succeeded
            | CommandState::Failed
            | CommandState::TimedOut
            | CommandState::Interrupted
            | CommandState::Cancelled
    )
}

/// Every violation found, one line each (empty: the run kept every invariant).
pub fn check(history: &History) -> Vec<String> {
    let mut violations = Vec::new();
    for acked in &history.acked {
        match history.requests.get(&acked.request_id) {
            Some(job) if *job == acked.job_id => {}
            Some(job) => violations.push(format!(
                "request {} was acknowledged as job {} but the store holds job {job} for it",
                acked.request_id, acked.job_id
            )),
            None => violations.push(format!(
                "request {} (job {}) was acknowledged but its key is not in the store",
                acked.request_id, acked.job_id
            )),
        }
        let Some(commands) = history.jobs.get(&acked.job_id) else {
            violations.push(format!(
                "acknowledged job {} is not in the store",
                acked.job_id
            ));
            continue;
        };
        for id in commands {
            match history.commands.get(id) {
                None => violations.push(format!("command {id} of job {} is missing", acked.job_id)),
                Some(command) if !terminal(command.state) => violations.push(format!(
                    "command {id} on {} never reached a terminal state ({:?})",
                    command.host, command.state
                )),
                Some(_) => {}
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (host, ids) in &history.side {
        let mut runs: BTreeMap<&str, usize> = BTreeMap::new();
        for id in ids {
            *runs.entry(id.as_str()).or_default() += 1;
        }
        for (id, count) in runs {
            seen.insert(id.to_owned());
            if count > 1 {
                violations.push(format!("command {id} ran {count} times on {host}"));
            }
            match history.commands.get(id) {
                None => violations.push(format!(
                    "{host} ran {id}, which the coordinator does not know"
                )),
                Some(command) if command.host != *host => {
                    violations.push(format!("{host} ran {id}, a command for {}", command.host))
                }
                Some(command) if !may_have_run(command.state) => violations.push(format!(
                    "{host} ran {id}, recorded as {:?} (never started)",
                    command.state
                )),
                Some(_) => {}
            }
        }
    }
    for (id, command) in &history.commands {
        if command.state != CommandState::Succeeded {
            continue;
        }
        if !seen.contains(id) {
            violations.push(format!(
                "{id} succeeded on {} but never ran there",
                command.host
            ));
        }
        let expected = format!("ok {id}\n");
        if command.output != expected.as_bytes() {
            violations.push(format!(
                "{id} on {}: stored output {:?}, the action printed {expected:?}",
                command.host,
                String::from_utf8_lossy(&command.output)
            ));
        }
    }
    for (host, journal) in &history.journals {
        for (id, state) in journal {
            let Some(command) = history.commands.get(id) else {
                violations.push(format!(
                    "{host}'s journal holds {id}, unknown to the coordinator"
                ));
                continue;
            };
            if let Some(state) = state {
                if *state != command.state {
                    violations.push(format!(
                        "{id}: {host}'s journal says {state:?}, the coordinator {:?}",
                        command.state
                    ));
                }
            }
        }
    }
    violations
}

/// Reads the coordinator's store under `data_dir` (the process must have exited) for every
/// key in `requested` and every job they name.
pub fn read_coordinator(
    history: &mut History,
    data_dir: &Path,
    requested: &[String],
) -> anyhow::Result<()> {
    let store = convoy_coordinator::store::Store::open(data_dir)
        .context("the coordinator's store did not reopen")?;
    for key in requested {
        if let Some(job) = store.job_for_request(key)? {
            history.requests.insert(key.clone(), job);
        }
    }
    let jobs: BTreeSet<String> = history
        .requests
        .values()
        .chain(history.acked.iter().map(|a| &a.job_id))
        .cloned()
        .collect();
    for job_id in jobs {
        let Some(job) = store.job(&job_id)? else {
            continue;
        };
        for id in &job.command_ids {
            if let Some(command) = store.command(id)? {
                let output = store.output(id)?;
                history.commands.insert(
                    id.clone(),
                    StoredCommand {
                        host: command.agent_id.clone(),
                        state: command.state(),
                        output,
                    },
                );
            }
        }
        history.jobs.insert(job_id, job.command_ids);
    }
    Ok(())
}

/// Reads `host`'s journal under its data dir (the agent must have exited) for every command
/// the coordinator sent it, and its side log.
pub fn read_agent(
    history: &mut History,
    host: &str,
    data_dir: &Path,
    side_log: &Path,
) -> anyhow::Result<()> {
    let journal = convoy_agent::journal::Journal::open(data_dir)
        .with_context(|| format!("{host}'s journal did not reopen"))?;
    let mut entries = BTreeMap::new();
    for (id, command) in &history.commands {
        if command.host != host {
            continue;
        }
        if let Some(entry) = journal.entry(id)? {
            let finished = entry.stage() == JournalStage::Finished;
            entries.insert(id.clone(), finished.then(|| entry.final_state()));
        }
    }
    history.journals.insert(host.to_owned(), entries);
    let side = match std::fs::read_to_string(side_log) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(err).with_context(|| format!("{}", side_log.display())),
    };
    history.side.insert(host.to_owned(), side);
    Ok(())
}

#[cfg(test)]
#[path = "checker_tests.rs"]
mod tests;
