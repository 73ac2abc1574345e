//! The workload that runs throughout a torture run: `convoy exec` jobs on every agent (the
//! `mark` action, and now and then the 2 s `slow` one), each with its own idempotency key,
//! retried with the same key until the coordinator acknowledges it (the job id it prints).
//! What was acknowledged is what the checker holds the fleet to.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::fleet::{Cli, ROLE};

/// A request the coordinator acknowledged with a job id.
#[derive(Debug, Clone)]
pub struct Acked {
    pub request_id: String,
    pub job_id: String,
}

#[derive(Debug, Default)]
pub struct Record {
    /// Every idempotency key sent at least once.
    pub requested: Vec<String>,
    pub acked: Vec<Acked>,
    /// CLI calls that failed (coordinator down or unreachable); retried with the same key.
    pub failed_calls: u64,
}

/// Runs `convoy exec` on `selector` for `action` with `request_id` until acknowledged,
/// `cancel` fires, or 30 s pass.
pub async fn exec_until_acked(
    cli: &Cli,
    record: &Mutex<Record>,
    selector: &str,
    action: &str,
    request_id: String,
    cancel: &CancellationToken,
) -> Option<String> {
    lock(record).requested.push(request_id.clone());
    for _ in 0..60 {
        let out = cli
            .run(&[
                "exec",
                action,
                "--selector",
                selector,
                "--max-errors",
                "100%",
                "--request-id",
                &request_id,
                "-o",
                "json",
            ])
            .await;
        let job_id = out.ok().and_then(|text| {
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|job| job["id"].as_str().map(str::to_owned))
        });
        match job_id {
            Some(job_id) => {
                lock(record).acked.push(Acked {
                    request_id,
                    job_id: job_id.clone(),
                });
                return Some(job_id);
            }
            None => lock(record).failed_calls += 1,
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    None
}

/// Sends a job every `every` until `cancel`; `prefix` makes the keys unique to the run.
pub async fn run(
    cli: Cli,
    record: Arc<Mutex<Record>>,
    prefix: String,
    every: Duration,
    cancel: CancellationToken,
) {
    for n in 0u64.. {
        let action = if n % 5 == 4 { "slow" } else { "mark" };
        exec_until_acked(
            &cli,
            &record,
            ROLE,
            action,
            format!("{prefix}-w{n}"),
            &cancel,
        )
        .await;
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// The record's lock; a panic elsewhere while holding it cannot leave it half-written
/// (every update is one push or one increment), so a poisoned lock is still usable.
pub fn lock(record: &Mutex<Record>) -> std::sync::MutexGuard<'_, Record> {
    record
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
