//! Scoped operator permissions (`[[policies]]` in coordinator.toml): a policy narrows what
//! an operator may do below its role: which verbs, a selector every target must match, and
//! which action and app names. The first policy whose `operators` globs match the name
//! applies; an operator no policy names has its role's full rights.
//!
//! The listener attaches the caller's policy to its [`crate::grpc::auth::PeerInfo`]; every
//! mutating call goes through `grpc::audit::audited`, which refuses a call none of whose
//! verbs the policy allows, and a scoped call whose targets cannot be checked here (only
//! jobs are checked target by target: [`Scope::check_job`]). Refusals are audited there.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::selector::Selector;

/// A call or job outside the caller's policy; the message is what the operator sees (the
/// gRPC layer turns it into `PERMISSION_DENIED`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// The policies in effect, swapped whole by a config reload; the listener reads them for
/// each new operator connection.
pub type SharedPolicies = std::sync::Arc<std::sync::RwLock<Vec<PolicyConfig>>>;

/// Verbs a policy may name.
pub const VERBS: &[&str] = &[
    "exec",
    "deploy",
    "rollback",
    "rollout",
    "backup",
    "restore",
    "release-push",
    "cancel",
];

/// One `[[policies]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Operator names or globs (`*`) this policy applies to.
    pub operators: Vec<String>,
    /// What they may do (see [`VERBS`]).
    pub verbs: Vec<String>,
    /// A selector every target must match; empty = any host.
    #[serde(default)]
    pub selector: String,
    /// Allowed action names for `exec`; empty = any.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Allowed app names for `deploy`, `rollback`, `rollout`, `release-push`; empty = any.
    #[serde(default)]
    pub apps: Vec<String>,
}

impl PolicyConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.operators.is_empty() {
            return Err("policies: every policy needs `operators`".into());
        }
        for verb in &self.verbs {
            if !VERBS.contains(&verb.as_str()) {
                return Err(format!(
                    "policies: unknown verb {verb:?} (one of {})",
                    VERBS.join(", ")
                ));
            }
        }
        Selector::parse(&self.selector).map_err(|err| {
            format!(
                "policies: bad selector {:?}: {}",
                self.selector,
                err.render()
            )
        })?;
        Ok(())
    }
}

/// The policy that applies to one operator.
#[derive(Debug, Clone)]
pub struct Scope {
    pub policy: PolicyConfig,
    selector: Selector,
}

/// Verbs a mutating call may stand for (a job is exec, deploy or rollback by its body).
pub fn verbs_of(call: &str) -> &'static [&'static str] {
    match call {
        "StartJob" => &["exec", "deploy", "rollback"],
        "CancelJob" => &["cancel"],
        "PushRelease" => &["release-push"],
        "StartRollout" | "ControlRollout" | "PauseRollout" | "ResumeRollout" | "PromoteRollout"
        | "AbortRollout" | "RollbackRollout" | "ApproveRollout" | "AddFreeze" | "RemoveFreeze" => {
            &["rollout"]
        }
        "RunBackup" | "VerifyBackup" | "DrillBackups" | "AddSchedule" | "RemoveSchedule" => {
            &["backup"]
        }
        "RestoreBackup" => &["restore"],
        _ => &[],
    }
}

impl Scope {
    /// The first policy naming `operator`, if any.
    pub fn for_operator(policies: &[PolicyConfig], operator: &str) -> Option<Self> {
        let policy = policies.iter().find(|p| {
            p.operators
                .iter()
                .any(|glob| crate::enroll::glob_match(glob, operator))
        })?;
        // Validated at load: a bad selector cannot reach here; refuse everything if it did.
        let selector = Selector::parse(&policy.selector).ok()?;
        Some(Self {
            policy: policy.clone(),
            selector,
        })
    }

    /// Whether `call` is allowed at all. Calls with targets other than jobs cannot be
    /// checked against a selector or app list here, so a policy with either refuses them.
    pub fn check_call(&self, call: &str) -> Result<(), Denied> {
        let verbs = verbs_of(call);
        if !verbs
            .iter()
            .any(|v| self.policy.verbs.iter().any(|p| p == v))
        {
            return Err(Denied(format!(
                "{call} is outside your policy (verbs allowed: {})",
                self.allowed_verbs()
            )));
        }
        let narrowed = !self.policy.selector.is_empty() || !self.policy.apps.is_empty();
        if narrowed && call != "StartJob" && call != "CancelJob" {
            return Err(Denied(format!(
                "{call} cannot be checked against your policy's selector or apps, so it is refused"
            )));
        }
        Ok(())
    }

    /// A job: its verb, its action or app, and every target's labels.
    pub fn check_job<'a>(
        &self,
        verb: &str,
        name: &str,
        targets: impl IntoIterator<Item = (&'a str, &'a BTreeMap<String, String>)>,
    ) -> Result<(), Denied> {
        if !self.policy.verbs.iter().any(|v| v == verb) {
            return Err(Denied(format!(
                "{verb} is outside your policy (verbs allowed: {})",
                self.allowed_verbs()
            )));
        }
        let (names, kind) = if verb == "exec" {
            (&self.policy.actions, "action")
        } else {
            (&self.policy.apps, "app")
        };
        if !names.is_empty() && !names.iter().any(|n| n == name) {
            return Err(Denied(format!(
                "{kind} {name:?} is outside your policy (allowed: {})",
                names.join(", ")
            )));
        }
        let outside: Vec<&str> = targets
            .into_iter()
            .filter(|(_, labels)| !self.selector.matches(labels))
            .map(|(id, _)| id)
            .take(10)
            .collect();
        if !outside.is_empty() {
            return Err(Denied(format!(
                "hosts outside your policy's selector {:?}: {}",
                self.policy.selector,
                outside.join(", ")
            )));
        }
        Ok(())
    }

    fn allowed_verbs(&self) -> String {
        if self.policy.verbs.is_empty() {
            "none".into()
        } else {
            self.policy.verbs.join(", ")
        }
    }

    /// One line for `convoy whoami`.
    pub fn describe(&self) -> String {
        let list = |items: &[String]| {
            if items.is_empty() {
                "any".to_string()
            } else {
                items.join(",")
            }
        };
        format!(
            "verbs {}; hosts matching {:?}; actions {}; apps {}",
            self.allowed_verbs(),
            if self.policy.selector.is_empty() {
                "any"
            } else {
                &self.policy.selector
            },
            list(&self.policy.actions),
            list(&self.policy.apps)
        )
    }
}
