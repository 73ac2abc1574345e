//! Size caps on every free-text field of every unary operator request, checked first thing
//! in each handler (before the role check, the audit summary, a lookup or a write), so an
//! oversized request is refused with `InvalidArgument` and changes nothing. The services'
//! decoding limit (`MAX_OPERATOR_REQUEST_BYTES`) bounds the whole message before that.
//!
//! Each request type lists its fields here once, with the cap that applies; a new request
//! type must be added to compile in a handler that calls [`check`].

use convoy_proto::v1::RolloutReportRequest;
use convoy_proto::v1::{
    AddFreezeRequest, AddScheduleRequest, ApproveRolloutRequest, CancelJobRequest,
    ControlRolloutRequest, CordonAgentRequest, DeleteBackupRequest, DeleteReleaseRequest,
    DeploySpec, DrillBackupsRequest, GetAgentRequest, GetCommandOutputRequest, GetJobRequest,
    GetReleaseRequest, GetRolloutRequest, JobOptions, ListAgentsRequest, ListAuditRequest,
    ListBackupsRequest, ListCertsRequest, ListEnvironmentsRequest, ListFreezesRequest,
    ListJobsRequest, ListReleasesRequest, ListRolloutsRequest, ListSchedulesRequest,
    ListTokensRequest, ReleaseMeta, ReleaseStatusRequest, RemoveAgentRequest, RemoveFreezeRequest,
    RemoveScheduleRequest, RestoreBackupRequest, RevokeTokenRequest, RollbackSpec, RolloutSpec,
    RotateCaRequest, RunBackupRequest, SaveSnapshotRequest, StartJobRequest, StartRolloutRequest,
    VerifyBackupRequest, WatchJobRequest, WhoAmIRequest,
};
use convoy_proto::v1::{CapacityReportRequest, ScalingStatusRequest};
use convoy_proto::v1::{
    ListAlertsRequest, ListEventsRequest, NotifyLogRequest, QueryMetricsRequest, TestNotifyRequest,
};
use tonic::Status;

/// The operator services decode no message larger than this: a release chunk is 256 KiB
/// and every other request a few KiB at most.
pub const MAX_OPERATOR_REQUEST_BYTES: usize = 1024 * 1024;
/// A label selector.
pub const SELECTOR: usize = 4096;
/// A filesystem path (a restore's target directory).
pub const PATH: usize = 4096;
/// Every other free-text field: names, ids, versions, rates, durations, cron expressions.
pub const TEXT: usize = 1024;
/// Gates of one rollout.
pub const MAX_GATES: usize = 64;
/// Parameters of one job (`--param`), each key and value capped below.
pub const MAX_PARAMS: usize = 16;
/// A parameter's name.
pub const PARAM_KEY: usize = 32;
/// A parameter's value (the agent refuses longer ones too).
pub const PARAM_VALUE: usize = 1024;
/// A release's notes (`convoy release push --notes-file`).
pub const RELEASE_NOTES: usize = 64 * 1024;
/// Metadata entries of one release (`--meta k=v`), each key and value capped below.
pub const MAX_RELEASE_META: usize = 32;
/// A release metadata key (`[a-z0-9_.-]`, checked by `releases::notes::validate_meta`).
pub const RELEASE_META_KEY: usize = 64;
/// A release metadata value.
pub const RELEASE_META_VALUE: usize = 1024;

/// A request whose free-text fields are within their caps.
pub trait Bounded {
    fn check_sizes(&self) -> Result<(), Status>;
}

/// Refuses `message` when any field is over its cap.
pub fn check<M: Bounded>(message: &M) -> Result<(), Status> {
    message.check_sizes()
}

fn cap(field: &str, value: &str, max: usize) -> Result<(), Status> {
    if value.len() > max {
        return Err(Status::invalid_argument(format!(
            "{field} is {} bytes; at most {max} are allowed",
            value.len()
        )));
    }
    Ok(())
}

/// `Type { field: CAP, ...; nested, ... }`: strings checked against their caps, optional
/// nested messages checked in turn.
macro_rules! bounded {
    ($($ty:ty { $($field:ident : $max:expr),* $(; $($nested:ident),*)? })*) => {
        $(impl Bounded for $ty {
            #[allow(unused_variables)]
            fn check_sizes(&self) -> Result<(), Status> {
                $(cap(stringify!($field), &self.$field, $max)?;)*
                $($(if let Some(nested) = &self.$nested { nested.check_sizes()?; })*)?
                Ok(())
            }
        })*
    };
}

bounded! {
    WhoAmIRequest {}
    ListJobsRequest { state: TEXT, action: TEXT, host: TEXT, page_token: TEXT }
    ListSchedulesRequest {}
    ListAgentsRequest { selector: SELECTOR }
    GetAgentRequest { id: TEXT }
    CordonAgentRequest { id: TEXT }
    RemoveAgentRequest { id: TEXT }
    DeploySpec { app: TEXT, version: TEXT }
    RollbackSpec { app: TEXT, version: TEXT }
    GetJobRequest { id: TEXT }
    GetCommandOutputRequest { job_id: TEXT, host: TEXT }
    CancelJobRequest { id: TEXT }
    WatchJobRequest { id: TEXT }
    ListAuditRequest { operator: TEXT, page_token: TEXT }
    ListReleasesRequest { app: TEXT }
    ReleaseStatusRequest { app: TEXT, selector: SELECTOR }
    DeleteReleaseRequest { app: TEXT, version: TEXT }
    StartRolloutRequest { request_id: TEXT, reason: TEXT, at: TEXT; spec }
    ListEnvironmentsRequest {}
    ApproveRolloutRequest { id: TEXT, comment: TEXT }
    AddFreezeRequest { env: TEXT, reason: TEXT }
    ListFreezesRequest {}
    RemoveFreezeRequest { id: TEXT }
    GetReleaseRequest { app: TEXT, version: TEXT }
    SaveSnapshotRequest {}
    ListRolloutsRequest { app: TEXT }
    GetRolloutRequest { id: TEXT }
    ControlRolloutRequest { id: TEXT }
    RolloutReportRequest { id: TEXT }
    JobOptions { selector: SELECTOR, concurrency: TEXT, max_errors: TEXT, request_id: TEXT }
    RunBackupRequest { set: TEXT; options }
    ListBackupsRequest { host: TEXT, set: TEXT }
    VerifyBackupRequest { id: TEXT }
    RestoreBackupRequest { id: TEXT, host: TEXT, target_dir: PATH; options }
    DrillBackupsRequest { set: TEXT; options }
    AddScheduleRequest { set: TEXT, selector: SELECTOR, cron: TEXT, drill: TEXT }
    RemoveScheduleRequest { id: TEXT }
    ListAlertsRequest {}
    ListEventsRequest { kind: TEXT }
    TestNotifyRequest { name: TEXT }
    NotifyLogRequest {}
    ListCertsRequest {}
    ListTokensRequest {}
    RevokeTokenRequest { id: TEXT }
    DeleteBackupRequest { id: TEXT }
    CapacityReportRequest { selector: SELECTOR, group_by: TEXT }
    ScalingStatusRequest {}
}

impl Bounded for ReleaseMeta {
    fn check_sizes(&self) -> Result<(), Status> {
        cap("app", &self.app, TEXT)?;
        cap("version", &self.version, TEXT)?;
        cap("signer", &self.signer, TEXT)?;
        cap("sha256", &self.sha256, TEXT)?;
        if self.notes.len() > RELEASE_NOTES {
            return Err(Status::invalid_argument(format!(
                "the release notes are {} bytes; at most {RELEASE_NOTES} (64 KiB) are allowed",
                self.notes.len()
            )));
        }
        if self.metadata.len() > MAX_RELEASE_META {
            return Err(Status::invalid_argument(format!(
                "{} metadata entries; at most {MAX_RELEASE_META} are allowed",
                self.metadata.len()
            )));
        }
        for (key, value) in &self.metadata {
            cap("metadata key", key, RELEASE_META_KEY)?;
            cap("metadata value", value, RELEASE_META_VALUE)?;
        }
        Ok(())
    }
}

impl Bounded for RotateCaRequest {
    fn check_sizes(&self) -> Result<(), Status> {
        cap("action", &self.action, TEXT)?;
        // A signature (ECDSA DER ≤ 139 bytes, Ed25519 64): far below TEXT.
        if self.bundle_signature.len() > TEXT {
            return Err(Status::invalid_argument(format!(
                "bundle_signature is {} bytes; at most {TEXT} are allowed",
                self.bundle_signature.len()
            )));
        }
        Ok(())
    }
}

impl Bounded for convoy_proto::v1::CreateTokenRequest {
    fn check_sizes(&self) -> Result<(), Status> {
        cap("id_pattern", &self.id_pattern, TEXT)?;
        if self.labels.len() > 64 {
            return Err(Status::invalid_argument("at most 64 labels"));
        }
        for (key, value) in &self.labels {
            cap("label", key, TEXT)?;
            cap("label", value, TEXT)?;
        }
        Ok(())
    }
}

impl Bounded for convoy_proto::v1::RevokeRequest {
    fn check_sizes(&self) -> Result<(), Status> {
        use convoy_proto::v1::revoke_request::Target;
        cap("reason", &self.reason, TEXT)?;
        match &self.target {
            Some(Target::Serial(value) | Target::AgentId(value) | Target::Operator(value)) => {
                cap("target", value, TEXT)
            }
            None => Ok(()),
        }
    }
}

impl Bounded for QueryMetricsRequest {
    fn check_sizes(&self) -> Result<(), Status> {
        cap("host", &self.host, TEXT)?;
        cap("selector", &self.selector, SELECTOR)?;
        cap("agg", &self.agg, TEXT)?;
        if self.series.len() > 64 {
            return Err(Status::invalid_argument(format!(
                "{} series; at most 64 are allowed",
                self.series.len()
            )));
        }
        self.series
            .iter()
            .try_for_each(|series| cap("series", series, TEXT))
    }
}

impl Bounded for StartJobRequest {
    fn check_sizes(&self) -> Result<(), Status> {
        for (field, value, max) in [
            ("action", &self.action, TEXT),
            ("selector", &self.selector, SELECTOR),
            ("concurrency", &self.concurrency, TEXT),
            ("max_errors", &self.max_errors, TEXT),
            ("request_id", &self.request_id, TEXT),
        ] {
            cap(field, value, max)?;
        }
        if let Some(deploy) = &self.deploy {
            deploy.check_sizes()?;
        }
        if let Some(rollback) = &self.rollback {
            rollback.check_sizes()?;
        }
        if self.params.len() > MAX_PARAMS {
            return Err(Status::invalid_argument(format!(
                "{} params; at most {MAX_PARAMS} are allowed",
                self.params.len()
            )));
        }
        for (key, value) in &self.params {
            cap("param name", key, PARAM_KEY)?;
            cap("param value", value, PARAM_VALUE)?;
        }
        Ok(())
    }
}

impl Bounded for RolloutSpec {
    fn check_sizes(&self) -> Result<(), Status> {
        for (field, value, max) in [
            ("app", &self.app, TEXT),
            ("version", &self.version, TEXT),
            ("selector", &self.selector, SELECTOR),
            ("canary", &self.canary, TEXT),
            ("batch", &self.batch, TEXT),
            ("steps", &self.steps, TEXT),
            ("max_failures", &self.max_failures, TEXT),
            ("group_by", &self.group_by, TEXT),
            ("on_failure", &self.on_failure, TEXT),
            ("offline", &self.offline, TEXT),
            ("inconclusive", &self.inconclusive, TEXT),
            ("env", &self.env, TEXT),
            ("approval_role", &self.approval_role, TEXT),
            ("forced_reason", &self.forced_reason, TEXT),
        ] {
            cap(field, value, max)?;
        }
        if self.analysis.len() > MAX_GATES {
            return Err(Status::invalid_argument(format!(
                "{} analyses; at most {MAX_GATES} are allowed",
                self.analysis.len()
            )));
        }
        self.analysis
            .iter()
            .try_for_each(|analysis| cap("analysis", analysis, TEXT))?;
        if self.gates.len() > MAX_GATES {
            return Err(Status::invalid_argument(format!(
                "{} gates; at most {MAX_GATES} are allowed",
                self.gates.len()
            )));
        }
        self.gates
            .iter()
            .try_for_each(|gate| cap("gate", gate, TEXT))
    }
}

/// Shortens `text` to at most `max` bytes (on a character boundary), saying how much was
/// cut: audit summaries and outcomes stay small whatever a request held.
pub fn truncate(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let dropped = text.len();
    let mut end = max.saturating_sub(32);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("… ({dropped} bytes)"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_fields_are_refused_with_their_name() {
        let request = ListAgentsRequest {
            selector: "a".repeat(SELECTOR + 1),
        };
        let status = check(&request).unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().contains("selector"),
            "{}",
            status.message()
        );
        let nested = RunBackupRequest {
            set: "db".into(),
            options: Some(JobOptions {
                selector: "x".repeat(SELECTOR + 1),
                ..Default::default()
            }),
        };
        assert!(check(&nested).is_err());
        // Job parameters: bounded in number, each key and value capped.
        let params = |n: usize, key: usize, value: usize| StartJobRequest {
            action: "restart".into(),
            params: (0..n)
                .map(|i| (format!("{i}{}", "k".repeat(key)), "v".repeat(value)))
                .collect(),
            ..Default::default()
        };
        assert!(check(&params(MAX_PARAMS, 8, PARAM_VALUE)).is_ok());
        for (request, word) in [
            (params(MAX_PARAMS + 1, 1, 1), "params"),
            (params(1, PARAM_KEY, 1), "param name"),
            (params(1, 1, PARAM_VALUE + 1), "param value"),
        ] {
            let status = check(&request).unwrap_err();
            assert!(status.message().contains(word), "{}", status.message());
        }
        let deploy = StartJobRequest {
            deploy: Some(DeploySpec {
                app: "x".repeat(TEXT + 1),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(check(&deploy).is_err());
        let gates = StartRolloutRequest {
            spec: Some(RolloutSpec {
                gates: vec!["cpu<90".into(); MAX_GATES + 1],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(check(&gates).is_err());
        // Canary analyses: bounded in number, each expression capped.
        let analyses = |n: usize, len: usize| StartRolloutRequest {
            spec: Some(RolloutSpec {
                analysis: vec!["c".repeat(len); n],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(check(&analyses(MAX_GATES, TEXT)).is_ok());
        for request in [analyses(MAX_GATES + 1, 8), analyses(1, TEXT + 1)] {
            let status = check(&request).unwrap_err();
            assert!(status.message().contains("analys"), "{}", status.message());
        }
        let fine = StartJobRequest {
            action: "restart".into(),
            selector: "a".repeat(SELECTOR),
            ..Default::default()
        };
        assert!(check(&fine).is_ok());
    }

    #[test]
    fn truncation_keeps_a_char_boundary_and_says_how_long_it_was() {
        let mut text = "é".repeat(2000);
        truncate(&mut text, 1024);
        assert!(text.len() <= 1024, "{}", text.len());
        assert!(text.ends_with("(4000 bytes)"), "{text}");
        let mut short = "short".to_string();
        truncate(&mut short, 1024);
        assert_eq!(short, "short");
    }

    /// Every unary handler of every operator service checks its request's sizes first: a
    /// handler that forgets is found here, not by an attacker (the Backups service once
    /// did). Streaming requests are bounded by the decoding limit and their own checks.
    #[test]
    fn every_unary_operator_handler_checks_sizes_first() {
        let services = [
            ("admin.rs", include_str!("admin.rs")),
            ("rollouts.rs", include_str!("rollouts.rs")),
            ("backups.rs", include_str!("backups.rs")),
            ("monitor.rs", include_str!("monitor.rs")),
            ("certs.rs", include_str!("certs.rs")),
        ];
        let mut handlers = 0;
        let mut missing = Vec::new();
        for (file, source) in services {
            let mut lines = source.lines().peekable();
            while let Some(line) = lines.next() {
                let Some(rest) = line.trim().strip_prefix("async fn ") else {
                    continue;
                };
                let name = rest.split('(').next().unwrap_or_default();
                // The signature, up to the line that opens the body.
                let mut signature = line.to_string();
                while !signature.trim_end().ends_with('{') {
                    match lines.next() {
                        Some(next) => signature.push_str(next),
                        None => break,
                    }
                }
                // Handlers take their request by value; helpers take `&Request<impl ..>`.
                let Some(request) = signature.split("request: Request<").nth(1) else {
                    continue;
                };
                if request.starts_with("Streaming") || request.starts_with("tonic::Streaming") {
                    continue;
                }
                handlers += 1;
                let first = lines.next().unwrap_or_default();
                if !first.contains("super::limits::check(request.get_ref())?;") {
                    missing.push(format!("{file}: {name}"));
                }
            }
        }
        assert!(
            handlers >= 40,
            "found only {handlers} handlers: is the scan still right?"
        );
        assert!(
            missing.is_empty(),
            "handlers that do not call limits::check first: {missing:?}"
        );
    }
}
