//! `convoy rollout approve RID [--comment TEXT] [--withdraw]` and `convoy rollout
//! unapprove RID`: the caller's certificate is the approver.

use convoy_proto::v1::ApproveRolloutRequest;

use super::render;
use crate::cli::connect::{rollouts, rpc_error};
use crate::cli::{ConnectArgs, OutputFormat, out};

pub async fn approve(
    id: &str,
    comment: &str,
    withdraw: bool,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = rollouts(connect).await?;
    let view = client
        .approve_rollout(ApproveRolloutRequest {
            id: id.to_string(),
            comment: comment.to_string(),
            withdraw,
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    match format {
        OutputFormat::Json => render::print_view(&view, format),
        OutputFormat::Table => {
            out!(
                "rollout {} is {}: {} more approval(s) needed",
                view.id,
                view.state().name(),
                view.approvals_needed
            );
            Ok(())
        }
    }
}

/// `rollout status` lines for release coordination: the environment, approvals (who,
/// when, expired or not, how many still needed), the start time and a hold's end.
pub fn print_release_lines(view: &convoy_proto::v1::RolloutView) {
    use crate::cli::output::rfc3339;
    let Some(spec) = &view.spec else { return };
    if !spec.env.is_empty() {
        let forced = if spec.forced_reason.is_empty() {
            String::new()
        } else {
            format!(" (promotion rule forced: {})", spec.forced_reason)
        };
        out!("env:      {}{forced}", spec.env);
    }
    if spec.start_at_unix_ms > 0 {
        out!(
            "start at: {}",
            rfc3339(spec.start_at_unix_ms).unwrap_or_default()
        );
    }
    if spec.approvals > 0 {
        out!(
            "approvals: {} needed{}, {} still needed",
            spec.approvals,
            if spec.approval_role.is_empty() {
                String::new()
            } else {
                format!(" (role {})", spec.approval_role)
            },
            view.approvals_needed
        );
        for approval in &view.approvals {
            out!(
                "  {} at {}{}{}",
                approval.by,
                rfc3339(approval.at_unix_ms).unwrap_or_default(),
                if approval.expired { " (expired)" } else { "" },
                if approval.comment.is_empty() {
                    String::new()
                } else {
                    format!(": {}", crate::cli::printable(&approval.comment))
                }
            );
        }
    }
}
