//! The report's stable JSON shape (README, "Post-deployment report"): fields are added,
//! never renamed or removed; times are RFC 3339 (null: never).

use convoy_proto::v1::RolloutReport;
use serde_json::{Value, json};

use crate::analysis::report::delta_text;
use crate::cli::output::rfc3339;

fn time(ms: i64) -> Value {
    json!(rfc3339(ms))
}

/// The stable JSON shape (README, "Post-deployment report").
pub fn to_json(report: &RolloutReport) -> Value {
    json!({
        "id": report.id,
        "app": report.app,
        "version": report.version,
        "selector": report.selector,
        "state": report.state().name(),
        "created_by": report.created_by,
        "created": time(report.created_unix_ms),
        "finished": time(report.finished_unix_ms),
        "generated": time(report.generated_unix_ms),
        "stored": report.stored,
        "summary": report.summary,
        "targets": report.targets,
        "updated": report.updated,
        "failures": report.failures,
        "failure_budget": report.failure_budget,
        "waves": report.waves.iter().map(|w| json!({
            "index": w.index,
            "group": (!w.group.is_empty()).then(|| w.group.clone()),
            "state": w.state().name(),
            "planned_hosts": w.planned_hosts,
            "parallel": w.parallel,
            "planned_bake_ms": w.planned_bake_ms,
            "started": time(w.started_unix_ms),
            "bake_started": time(w.bake_started_unix_ms),
            "ended": time(w.ended_unix_ms),
            "succeeded": w.succeeded,
            "failed": w.failed,
            "analysis": w.analysis.iter().map(super::super::render::AnalysisJson::from).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "pauses": report.pauses.iter().map(|p| json!({
            "from": time(p.from_unix_ms),
            "to": time(p.to_unix_ms),
            "cause": p.cause,
        })).collect::<Vec<_>>(),
        "actions": report.actions.iter().map(|a| json!({
            "at": time(a.at_unix_ms),
            "by": a.by,
            "action": a.action,
            "ok": a.ok,
            "detail": a.detail,
        })).collect::<Vec<_>>(),
        "hosts": report.hosts.iter().map(|h| json!({
            "host": h.host,
            "wave": h.wave,
            "state": h.state().name(),
            "reason": h.reason,
            "previous_version": (!h.previous_version.is_empty()).then(|| h.previous_version.clone()),
            "deployed": time(h.deployed_unix_ms),
            "rolled_back": time(h.rolled_back_unix_ms),
        })).collect::<Vec<_>>(),
        "rollback": report.rollback.as_ref().map(|r| json!({
            "started": time(r.started_unix_ms),
            "finished": time(r.finished_unix_ms),
            "trigger": r.trigger,
            "rolled_back": r.rolled_back,
            "failed": r.failed,
        })),
        "deltas": {
            "alpha": report.alpha,
            "window_ms": report.window_ms,
            "compared_hosts": report.compared_hosts,
            "deployed_hosts": report.deployed_hosts,
            "series": report.deltas.iter().map(|d| json!({
                "series": d.series,
                "host": (!d.host.is_empty()).then(|| d.host.clone()),
                "before_median": d.before_median,
                "after_median": d.after_median,
                "change": d.change,
                "change_percent": d.change_percent,
                "p_value": d.p_value,
                "significant": d.significant,
                "before_samples": d.before_samples,
                "after_samples": d.after_samples,
                "text": delta_text(d),
            })).collect::<Vec<_>>(),
        },
    })
}
