//! What a new job request must pass before it becomes a job, as pure functions: a reused
//! idempotency key must carry the same parameters ([`differences`]), and work that needs
//! an action or a backup set goes only to the matching hosts that have it ([`eligible`]).

use std::collections::BTreeMap;

use convoy_proto::v1::{AgentSummary, JobRecord};

/// The parameters that make two job requests "the same request".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked<'a> {
    pub action: &'a str,
    pub selector: &'a str,
    pub concurrency: &'a str,
    pub max_errors: &'a str,
    pub delivery_timeout_ms: u64,
}

/// How `asked` differs from the job first created under the same request id, one
/// `name: was -> now` per field; empty when it is the same request.
pub fn differences(job: &JobRecord, asked: &Asked<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let mut compare = |name: &str, was: &str, now: &str| {
        if was != now {
            out.push(format!("{name}: {was:?} -> {now:?}"));
        }
    };
    compare(
        "action",
        &describe_with_params(&job.action, &job.params),
        asked.action,
    );
    compare("selector", &job.selector, asked.selector);
    compare("concurrency", &job.concurrency, asked.concurrency);
    compare("max_errors", &job.max_errors, asked.max_errors);
    compare(
        "delivery_timeout",
        &humantime_ms(job.delivery_timeout_ms),
        &humantime_ms(asked.delivery_timeout_ms),
    );
    out
}

/// `unit=nginx n=2`: parameters in one line, sorted by name.
pub fn render_params(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An action with its parameters, as idempotency compares them: `restart unit=nginx`.
pub fn describe_with_params(action: &str, params: &BTreeMap<String, String>) -> String {
    if params.is_empty() {
        action.to_string()
    } else {
        format!("{action} {}", render_params(params))
    }
}

/// `1 host`, `3 hosts`.
pub fn hosts(n: usize) -> String {
    if n == 1 {
        "1 host".to_string()
    } else {
        format!("{n} hosts")
    }
}

/// A parameter name: `[a-z][a-z0-9_]{0,31}` (the agent checks the same).
pub fn valid_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn humantime_ms(ms: u64) -> String {
    humantime::format_duration(std::time::Duration::from_millis(ms)).to_string()
}

/// Splits the hosts matching a selector into those that have `needed` (an action name,
/// or a backup set's action) and the ids of those left out. `None` keeps every host.
pub fn eligible(
    targets: Vec<AgentSummary>,
    needed: Option<&str>,
) -> (Vec<AgentSummary>, Vec<String>) {
    let Some(needed) = needed else {
        return (targets, Vec::new());
    };
    let (kept, left): (Vec<_>, Vec<_>) = targets
        .into_iter()
        .partition(|agent| agent.actions.iter().any(|a| a == needed));
    (kept, left.into_iter().map(|agent| agent.id).collect())
}

#[cfg(test)]
mod tests;
