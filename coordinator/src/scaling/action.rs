//! A scaling decision's effects: its event (`scale.*`), its audit entry, and for a live
//! policy the action: recorded and flushed first, then the command run on a tracked task
//! and its result recorded.

use convoy_proto::v1::{AuditEntry, ScalingAction, ScalingRecord};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Deps, Scaling, command, lock};
use crate::config::scaling::ScalingPolicy;
use crate::events::{Draft, Severity};
use crate::store::{Store, StoreError};

pub(super) fn draft(
    kind: &'static str,
    severity: Severity,
    policy: &ScalingPolicy,
    message: String,
    current: u32,
    desired: u32,
    value: Option<f64>,
) -> Draft {
    Draft::new(kind, severity, message)
        .subject(policy.config.name.clone())
        .field("policy", policy.config.name.clone())
        .field("selector", policy.config.selector.clone())
        .field("metric", policy.config.metric.clone())
        .field("target", policy.config.target.to_string())
        .field("current", current.to_string())
        .field("desired", desired.to_string())
        .field(
            "value",
            value.map(|v| format!("{v:.4}")).unwrap_or_default(),
        )
        .field("dry_run", policy.config.dry_run.to_string())
}

/// Records a decision in the audit log, as the coordinator's own call `Scale`.
pub(super) async fn audit(
    store: &Store,
    policy: &ScalingPolicy,
    current: u32,
    desired: u32,
    value: Option<f64>,
    ok: bool,
    outcome: &str,
) -> Result<(), StoreError> {
    let mut entry = AuditEntry {
        at_unix_ms: crate::clock::now_unix_ms(),
        operator: "coordinator".into(),
        role: "scaling".into(),
        call: "Scale".into(),
        request: format!(
            "policy={} metric={} value={} current={current} desired={desired} dry_run={}",
            policy.config.name,
            policy.config.metric,
            value.map(|v| format!("{v:.4}")).unwrap_or_default(),
            policy.config.dry_run
        ),
        ok,
        outcome: outcome.to_string(),
    };
    let cap = crate::grpc::audit::AUDIT_TEXT_BYTES;
    crate::grpc::limits::truncate(&mut entry.request, cap);
    crate::grpc::limits::truncate(&mut entry.outcome, cap);
    store.append_audit(&entry)?;
    store.flush_async().await
}

/// A decision to change size: recorded (and flushed) first, then carried out unless
/// dry-run.
pub(super) async fn act(
    scaling: &Scaling,
    deps: &Deps,
    policy: &ScalingPolicy,
    mut record: ScalingRecord,
    mut action: ScalingAction,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), StoreError> {
    let store = deps.events.store().clone();
    let config = &policy.config;
    let (current, desired, value) = (action.current, action.desired, Some(action.value));
    let at = action.at_unix_ms;
    record.policy = config.name.clone();
    let headline = format!(
        "{}: {current} -> {desired} hosts ({} {:.2} against {})",
        config.name, config.metric, action.value, config.target
    );
    if config.dry_run {
        action.result = "dry run: nothing run".into();
        action.ok = true;
        action.finished = true;
        record.last_dry_run = Some(action);
        store.put_scaling_record(&record)?;
        store.flush_async().await?;
        let draft = draft(
            "scale.dry_run",
            Severity::Info,
            policy,
            format!("{headline}; dry run, nothing run"),
            current,
            desired,
            value,
        )
        .field("at_unix_ms", at.to_string());
        deps.events.append(draft);
        return audit(
            &store,
            policy,
            current,
            desired,
            value,
            true,
            "dry run: nothing run",
        )
        .await;
    }
    // The action is on disk before anything happens: a crash from here on cannot lead to a
    // second action within the cooldown.
    action.result = if config.command.is_some() {
        "running".into()
    } else {
        format!("notified {}", config.notify.clone().unwrap_or_default())
    };
    action.ok = config.command.is_none();
    action.finished = config.command.is_none();
    record.last_action = Some(action.clone());
    store.put_scaling_record(&record)?;
    store.flush_async().await?;
    let mut decided = draft(
        "scale.decided",
        Severity::Warning,
        policy,
        headline.clone(),
        current,
        desired,
        value,
    )
    .field("at_unix_ms", at.to_string());
    if let Some(sink) = &config.notify {
        decided = decided.to_sink(sink.clone());
    }
    deps.events.append(decided);
    let Some(command) = config.command.clone() else {
        return audit(
            &store,
            policy,
            current,
            desired,
            value,
            true,
            &action.result,
        )
        .await;
    };
    audit(
        &store,
        policy,
        current,
        desired,
        value,
        true,
        "command started",
    )
    .await?;
    lock(&scaling.inner.running).insert(config.name.clone());
    let env = [
        ("CONVOY_SCALE_CURRENT", current.to_string()),
        ("CONVOY_SCALE_DESIRED", desired.to_string()),
        ("CONVOY_SCALE_GROUP", config.name.clone()),
        ("CONVOY_SCALE_METRIC", config.metric.clone()),
        ("CONVOY_SCALE_VALUE", format!("{:.4}", action.value)),
        ("CONVOY_SCALE_TARGET", config.target.to_string()),
        ("CONVOY_SCALE_SELECTOR", config.selector.clone()),
    ];
    let (scaling, events, policy) = (scaling.clone(), deps.events.clone(), policy.clone());
    let (timeout, shutdown) = (config.timeout, shutdown.clone());
    tracker.spawn(async move {
        let outcome = command::run(&command.argv(), &env, timeout, &shutdown).await;
        action.ok = outcome.ok;
        action.result = outcome.result.clone();
        action.output = outcome.output;
        action.finished = true;
        record.last_action = Some(action);
        let saved = match store.put_scaling_record(&record) {
            Ok(()) => store.flush_async().await,
            Err(err) => Err(err),
        };
        if let Err(err) = saved {
            tracing::error!(policy = %policy.config.name, error = %err, "cannot record a scaling action's result");
        }
        let (kind, severity) = if outcome.ok {
            ("scale.succeeded", Severity::Info)
        } else {
            ("scale.failed", Severity::Critical)
        };
        let message = format!("{headline}: {}", outcome.result);
        let mut done = draft(kind, severity, &policy, message, current, desired, value)
            .field("result", outcome.result.clone())
            .field("at_unix_ms", at.to_string());
        if let Some(sink) = &policy.config.notify {
            done = done.to_sink(sink.clone());
        }
        events.append(done);
        if let Err(err) = audit(
            &store,
            &policy,
            current,
            desired,
            value,
            outcome.ok,
            &outcome.result,
        )
        .await
        {
            tracing::error!(error = %err, "cannot audit a scaling action");
        }
        lock(&scaling.inner.running).remove(&policy.config.name);
    });
    Ok(())
}
