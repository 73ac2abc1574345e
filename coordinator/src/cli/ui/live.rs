//! Server-sent events: one long-lived response per open page, fed by the coordinator's own
//! watch streams (`WatchRollout`; `WatchJob` and `FollowEvents` in `more.rs`), so a page moves when the rollout does and nothing polls.
//! Each change is the re-rendered live part of the page (`event: view`); the end of the
//! rollout is `event: end`. The stream stops when the page goes away (the send fails), the
//! coordinator's stream ends, or `convoy ui` shuts down.

use std::time::Duration;

use convoy_proto::v1::GetRolloutRequest;
use futures_util::StreamExt as _;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::rollouts::{client, render, role};
use super::{Body, State, TEXT, finish, respond};
use crate::cli::connect::rpc_error;

/// How often an idle stream sends a comment, so proxies and browsers keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// One SSE message: every line of `data` prefixed, as the format requires.
pub(crate) fn message(event: &str, data: &str) -> String {
    let mut out = format!("event: {event}\n");
    for line in data.lines() {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    if data.is_empty() {
        out.push_str("data: \n");
    }
    out.push('\n');
    out
}

/// `GET /api/rollouts/ID/events`: `view` at every change, `end` when the rollout is over.
pub(crate) async fn rollout(state: &State, id: &str, stop: CancellationToken) -> Response<Body> {
    let watched = client(state)
        .watch_rollout(GetRolloutRequest { id: id.to_string() })
        .await;
    let views = match watched {
        Ok(reply) => reply.into_inner(),
        Err(status) => {
            return respond(
                StatusCode::BAD_GATEWAY,
                TEXT,
                rpc_error(&state.addr, status).to_string(),
            );
        }
    };
    let role = role(state).await;
    let addr = state.addr.clone();
    let texts = views
        .map(move |view| match view {
            Ok(view) => message("view", &render(&view, &role)),
            Err(status) => message("error", &rpc_error(&addr, status).to_string()),
        })
        .chain(futures_util::stream::once(async {
            message("end", "the rollout is over")
        }));
    stream(texts, stop)
}

/// An event-stream response sending `texts` (SSE messages) as they come, with keepalives,
/// until an `end` or `error` message, the source's end, the page going away, or `stop`.
pub(crate) fn stream<S>(texts: S, stop: CancellationToken) -> Response<Body>
where
    S: futures_util::Stream<Item = String> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<String>(8);
    tokio::spawn(async move {
        let mut texts = std::pin::pin!(texts);
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => break,
                () = tx.closed() => break,
                () = tokio::time::sleep(KEEPALIVE) => {
                    if tx.send(": keepalive\n\n".into()).await.is_err() { break; }
                    continue;
                }
                next = texts.next() => next,
            };
            let Some(text) = next else { break };
            if text.is_empty() {
                continue;
            }
            let last = text.starts_with("event: end") || text.starts_with("event: error");
            if tx.send(text).await.is_err() || last {
                break;
            }
        }
    });
    let frames = tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(|text| Ok(Frame::data(Bytes::from(text))));
    let response = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    finish(response, StatusCode::OK, "text/event-stream")
}
