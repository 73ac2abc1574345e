//! Rollout pages: the list, one rollout (waves as rows of host cells, each with a glyph and
//! its state in words as well as a colour), and its controls. A control button is disabled,
//! with the reason beside it, when the coordinator would refuse it: the operator's role
//! (from `WhoAmI`) cannot control rollouts, or the rollout's state does not allow it. The
//! coordinator still decides; a refusal it sends is shown in its words.

use std::fmt::Write as _;

use convoy_proto::MAX_ADMIN_MESSAGE_BYTES;
use convoy_proto::v1::rollouts_client::RolloutsClient;
use convoy_proto::v1::{
    ControlRolloutRequest, GetRolloutRequest, ListRolloutsRequest, RolloutControl, RolloutView,
    WhoAmIRequest,
};
use hyper::{Response, StatusCode};
use tonic::transport::Channel;

use super::html::{ago, encode, esc, now_ms};
use super::pages::{admin, error_box, html};
use super::{Body, State, TEXT, respond};
use crate::cli::connect::rpc_error;

pub(crate) fn client(state: &State) -> RolloutsClient<Channel> {
    RolloutsClient::new(state.channel.clone())
        .max_decoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
}

/// The glyph that goes with a host or rollout state, so colour is never the only signal.
pub(crate) fn glyph(state: &str) -> &'static str {
    match state {
        "succeeded" | "done" => "✓",
        "failed" | "rollback_failed" => "✗",
        "deploying" | "running" | "rolling_back" => "▶",
        "baking" => "◔",
        "awaiting_promotion" | "paused" | "waiting" | "awaiting_approval" | "scheduled"
        | "waiting_for_window" | "frozen" => "‖",
        "unreachable" => "⚠",
        "skipped" | "aborted" => "⊘",
        "rolled_back" => "↺",
        _ => "·",
    }
}

/// The operator's role, as the coordinator sees it ("" when it cannot say).
pub(crate) async fn role(state: &State) -> String {
    admin(state)
        .who_am_i(WhoAmIRequest {})
        .await
        .map(|r| r.into_inner().role)
        .unwrap_or_default()
}

const CONTROLS: [(&str, &str); 5] = [
    ("pause", "Pause"),
    ("resume", "Resume"),
    ("promote", "Promote"),
    ("abort", "Abort"),
    ("rollback", "Roll back"),
];

const TERMINAL: [&str; 4] = ["succeeded", "failed", "aborted", "rolled_back"];

/// Why `action` would be refused for this rollout and role, or `None` when it would not.
pub(crate) fn refusal(view: &RolloutView, role: &str, action: &str) -> Option<String> {
    if role == "viewer" {
        return Some("your role (viewer) can only look".into());
    }
    let state = view.state().name();
    let over = TERMINAL.contains(&state);
    match action {
        "rollback" if state == "rolled_back" || state == "rolling_back" => {
            Some("already rolled back".into())
        }
        "rollback" => None,
        _ if over => Some(format!("it is over ({state})")),
        "pause" if state == "paused" => Some("already paused".into()),
        "resume" if state != "paused" => Some("it is not paused".into()),
        "promote"
            if state != "awaiting_promotion"
                && !(view.current_wave == 0 && matches!(state, "running" | "baking")) =>
        {
            Some("only the canary wave awaits promotion".into())
        }
        _ => None,
    }
}

/// The live part of a rollout page (what the event stream replaces).
pub(crate) fn render(view: &RolloutView, role: &str) -> String {
    let now = now_ms();
    let mut out = String::new();
    let _ = write!(
        out,
        "<p class=\"state\"><span class=\"badge s-{state}\" id=\"rollout-state\" data-state=\"{state}\">{glyph} {state}</span> \
         wave {wave} of {waves} · {targets} targets · by {by}, {when}</p>{budget}",
        state = esc(view.state().name()),
        glyph = glyph(view.state().name()),
        wave = (view.current_wave + 1).min(u32::try_from(view.waves.len()).unwrap_or(u32::MAX)),
        waves = view.waves.len(),
        budget = super::verdicts::budget(view),
        targets = view.targets,
        by = esc(&view.created_by),
        when = ago(now, view.created_unix_ms),
    );
    if !view.waiting_for.is_empty() {
        let _ = write!(
            out,
            "<p class=\"waiting\">waiting for: {}</p>",
            esc(&view.waiting_for)
        );
    }
    out.push_str("<div class=\"controls\" role=\"group\" aria-label=\"rollout controls\">");
    for (action, name) in CONTROLS {
        match refusal(view, role, action) {
            None => {
                let _ = write!(
                    out,
                    "<button type=\"button\" data-action=\"{action}\" data-rollout=\"{}\">{name}</button>",
                    esc(&view.id)
                );
            }
            Some(why) => {
                let _ = write!(
                    out,
                    "<span class=\"control\"><button type=\"button\" data-action=\"{action}\" disabled aria-describedby=\"why-{action}\">{name}</button>\
                     <small class=\"reason\" id=\"why-{action}\">{}</small></span>",
                    esc(&why)
                );
            }
        }
    }
    out.push_str("</div><ol class=\"waves\">");
    for wave in &view.waves {
        let group = if wave.group.is_empty() {
            String::new()
        } else {
            format!(" ({})", esc(&wave.group))
        };
        let _ = write!(
            out,
            "<li class=\"wave\" data-wave=\"{}\"><span class=\"wave-name\">Wave {}{group} <small>{} {}</small></span><ul class=\"hosts\">",
            wave.index,
            wave.index + 1,
            glyph(wave.state().name()),
            esc(wave.state().name())
        );
        for host in &wave.hosts {
            let reason = if host.reason.is_empty() {
                String::new()
            } else {
                format!(" title=\"{}\"", esc(&host.reason))
            };
            let _ = write!(
                out,
                "<li class=\"host s-{state}\" data-host=\"{id}\" data-state=\"{state}\"{reason}>\
                 <span aria-hidden=\"true\">{glyph}</span> <a href=\"/host/{href}\">{id}</a> <small>{state}</small></li>",
                state = esc(host.state().name()),
                id = esc(&host.host),
                href = encode(&host.host),
                glyph = glyph(host.state().name()),
            );
        }
        out.push_str("</ul>");
        out.push_str(&super::verdicts::wave(view, wave));
        out.push_str("</li>");
    }
    out.push_str("</ol>");
    out
}

/// `/rollouts`.
pub(crate) async fn rollouts(state: &State) -> Response<Body> {
    let mut body = "<h1>Rollouts</h1>".to_string();
    match client(state)
        .list_rollouts(ListRolloutsRequest::default())
        .await
    {
        Ok(reply) => {
            let now = now_ms();
            body.push_str("<table id=\"rollouts\"><thead><tr><th scope=\"col\">Id</th><th scope=\"col\">App</th><th scope=\"col\">Version</th><th scope=\"col\">State</th><th scope=\"col\">Progress</th><th scope=\"col\">Failures</th><th scope=\"col\">By</th><th scope=\"col\">Started</th></tr></thead><tbody>");
            for r in reply.into_inner().rollouts {
                let _ = write!(
                    body,
                    "<tr><th scope=\"row\"><a href=\"/rollouts/{}\">{}</a></th><td>{}</td><td>{}</td>\
                     <td><span class=\"badge s-{state}\">{} {state}</span></td><td>{}/{} hosts, wave {}/{}</td>\
                     <td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                    encode(&r.id),
                    esc(&r.id),
                    esc(&r.app),
                    esc(&r.version),
                    glyph(r.state().name()),
                    r.succeeded,
                    r.targets,
                    (r.current_wave + 1).min(r.waves),
                    r.waves,
                    r.failures,
                    esc(&r.created_by),
                    ago(now, r.created_unix_ms),
                    state = esc(r.state().name()),
                );
            }
            body.push_str("</tbody></table>");
        }
        Err(status) => body.push_str(&error_box(state, status)),
    }
    html(state, "Rollouts", "Rollouts", &body)
}

/// `/rollouts/ID`: the page; its script follows `/api/rollouts/ID/events`.
pub(crate) async fn rollout(state: &State, id: &str) -> Response<Body> {
    let mut body = String::new();
    let got = client(state)
        .get_rollout(GetRolloutRequest { id: id.to_string() })
        .await;
    match got {
        Ok(reply) => {
            let view = reply.into_inner();
            let role = role(state).await;
            let _ = write!(
                body,
                "<h1>Rollout {} <small>{} → {}</small></h1><p class=\"who\">signed in as role <b id=\"role\">{}</b>; selector <code>{}</code></p>\
                 <div id=\"rollout-live\" data-stream=\"/api/rollouts/{}/events\" aria-live=\"polite\">{}</div>\
                 <p id=\"control-result\" role=\"status\"></p>\
                 <dialog id=\"confirm\" aria-labelledby=\"confirm-text\"><p id=\"confirm-text\"></p>\
                 <button type=\"button\" id=\"confirm-no\" autofocus>Cancel</button> <button type=\"button\" id=\"confirm-yes\">Confirm</button></dialog>",
                esc(&view.id),
                esc(&view.app),
                esc(&view.version),
                esc(if role.is_empty() { "unknown" } else { &role }),
                esc(&view.selector),
                encode(&view.id),
                render(&view, &role),
            );
            body.push_str(&super::report::section(state, &view.id).await);
        }
        Err(status) => body.push_str(&error_box(state, status)),
    }
    html(state, id, "Rollouts", &body)
}

/// `POST /api/rollouts/ID/ACTION`: the coordinator's answer, in words.
pub(crate) async fn control(state: &State, id: &str, action: &str) -> Response<Body> {
    let control = match action {
        "pause" => RolloutControl::Pause,
        "resume" => RolloutControl::Resume,
        "promote" => RolloutControl::Promote,
        "abort" => RolloutControl::Abort,
        "rollback" => RolloutControl::Rollback,
        _ => return respond(StatusCode::NOT_FOUND, TEXT, "no such rollout action"),
    };
    let answer = client(state)
        .control_rollout(ControlRolloutRequest {
            id: id.to_string(),
            control: control.into(),
            force: false,
        })
        .await;
    match answer {
        Ok(view) => respond(
            StatusCode::OK,
            TEXT,
            format!("{action}: rollout {} is {}", id, view.into_inner().state),
        ),
        Err(status) => {
            let code = match status.code() {
                tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
                tonic::Code::NotFound => StatusCode::NOT_FOUND,
                _ => StatusCode::CONFLICT,
            };
            respond(code, TEXT, rpc_error(&state.addr, status).to_string())
        }
    }
}
