//! Approval steps on the event log, so the `[[notify]]` sinks tell people.

#[allow(unused_imports)]
use super::*;

/// `rollout.approval_given` / `rollout.approval_withdrawn` on the event log, so the
/// `[[notify]]` sinks tell people.
pub(super) fn announce(
    events: &crate::events::Events,
    view: &RolloutView,
    by: &str,
    request: &ApproveRolloutRequest,
) {
    use crate::events::{Draft, Severity};
    let (kind, verb) = if request.withdraw {
        ("rollout.approval_withdrawn", "withdrew their approval of")
    } else {
        ("rollout.approval_given", "approved")
    };
    events.append(
        Draft::new(
            kind,
            Severity::Info,
            format!(
                "{by} {verb} rollout {} of {} {} ({} more needed)",
                view.id, view.app, view.version, view.approvals_needed
            ),
        )
        .subject(&view.id)
        .field("app", &view.app)
        .field("version", &view.version)
        .field("by", by)
        .field("comment", &request.comment)
        .field("needed", view.approvals_needed.to_string()),
    );
}
