//! The report section of a rollout page (below the waves): the post-deployment report
//! the coordinator stored when the rollout ended, or for one still going the report
//! computed for this request, in the same sections as `convoy rollout report`
//! (`cli::rollouts::report::sections`), every value escaped.

use std::fmt::Write as _;

use convoy_proto::v1::{RolloutReport, RolloutReportRequest};

use super::State;
use super::html::esc;
use super::pages::error_box;
use crate::cli::rollouts::report::{sections, when};

/// The `<section id="report">` of rollout `id`.
pub(crate) async fn section(state: &State, id: &str) -> String {
    let answer = super::rollouts::client(state)
        .get_rollout_report(RolloutReportRequest { id: id.to_string() })
        .await;
    let body = match answer {
        Ok(reply) => render(&reply.into_inner()),
        Err(status) => error_box(state, status),
    };
    format!(
        "<section id=\"report\" aria-labelledby=\"report-title\"><h2 id=\"report-title\">Post-deployment report</h2>{body}</section>"
    )
}

/// The report as HTML tables.
pub(crate) fn render(report: &RolloutReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<p class=\"report-kind\" data-stored=\"{}\">{}</p><blockquote class=\"summary\">{}</blockquote>",
        report.stored,
        if report.stored {
            format!(
                "Stored when the rollout ended ({} UTC).",
                when(report.generated_unix_ms)
            )
        } else {
            format!(
                "Computed at {} UTC; final once the rollout ends. Reload for a newer one.",
                when(report.generated_unix_ms)
            )
        },
        esc(&report.summary).replace('\n', "<br>")
    );
    for section in sections(report) {
        let _ = write!(out, "<h3>{}</h3>", esc(&section.title));
        if !section.note.is_empty() {
            let _ = write!(out, "<p>{}</p>", esc(&section.note));
        }
        out.push_str("<table class=\"report\">");
        if section.headers.iter().any(|h| !h.is_empty()) {
            out.push_str("<thead><tr>");
            for header in &section.headers {
                let _ = write!(out, "<th scope=\"col\">{}</th>", esc(header));
            }
            out.push_str("</tr></thead>");
        }
        out.push_str("<tbody>");
        if section.rows.is_empty() {
            let _ = write!(
                out,
                "<tr><td colspan=\"{}\">none</td></tr>",
                section.headers.len()
            );
        }
        for row in &section.rows {
            out.push_str("<tr>");
            for cell in row {
                let _ = write!(out, "<td>{}</td>", esc(cell));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    out
}

#[cfg(test)]
mod tests {
    use convoy_proto::v1::ReportHost;

    use super::*;

    #[test]
    fn the_report_section_escapes_what_hosts_report() {
        let report = RolloutReport {
            id: "r-1".into(),
            summary: "web 2.0: rolled back\nno significant metric change".into(),
            hosts: vec![ReportHost {
                host: "web-1".into(),
                reason: "<script>alert(1)</script>".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let html = render(&report);
        assert!(html.contains("<h3>Hosts</h3>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("rolled back<br>no significant"), "{html}");
        assert!(html.contains("data-stored=\"false\""), "{html}");
    }
}
