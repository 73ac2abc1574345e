//! `convoy ui`: the web dashboard, served on loopback like `kubectl proxy`. It adds no new
//! way in: every page and every button is a gRPC call to the coordinator with the
//! operator's own mTLS client ([`super::connect::channel`]), checked by the coordinator's
//! roles and audited under the operator's name. A random token made at start guards the
//! local port (see [`auth`]); pages are server-rendered HTML with one small embedded script
//! (see [`pages`], [`host`], [`rollouts`]), plots are server-rendered SVG ([`plot`]), and live views are
//! server-sent events fed by the coordinator's watch streams ([`live`]).

mod auth;
mod host;
mod html;
mod live;
mod more;
mod pages;
mod plot;
mod report;
mod rollouts;
#[cfg(test)]
mod tests;
mod verdicts;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode, header};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use super::ConnectArgs;

/// `convoy ui` arguments.
#[derive(Debug, Args)]
pub struct UiArgs {
    /// Where to serve the dashboard (loopback only unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:8470")]
    pub listen: SocketAddr,
    /// Open the dashboard in the default browser (xdg-open) once it is listening.
    #[arg(long)]
    pub open: bool,
    /// Serve on a non-loopback address. Anyone who can reach it and has the printed URL acts
    /// with your certificate; the traffic is plain HTTP. Prefer an SSH tunnel.
    #[arg(long)]
    pub allow_remote: bool,
}

/// The body every handler answers with: whole pages, or an endless event stream.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// What every request handler shares.
pub(crate) struct State {
    pub channel: Channel,
    pub addr: String,
    pub auth: auth::Auth,
}

/// Runs the dashboard until `shutdown` (Ctrl-C).
pub async fn run(
    args: UiArgs,
    connect: &ConnectArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if let Some(why) = listen_refusal(args.listen, args.allow_remote) {
        return Err(super::UsageError(why).into());
    }
    // Connect first: a wrong certificate or address fails here, not on the first page.
    let channel = super::connect::channel(connect).await?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let state = Arc::new(State {
        channel,
        addr: connect.addr.clone(),
        auth: auth::Auth::new(local),
    });
    let url = format!("http://{local}/?token={}", state.auth.token());
    super::out!("{url}");
    eprintln!("convoy ui: serving the dashboard on http://{local}/ until Ctrl-C");
    if args.open {
        if let Err(err) = std::process::Command::new("xdg-open").arg(&url).spawn() {
            eprintln!("convoy ui: cannot open a browser ({err}); open the URL above");
        }
    }
    serve(listener, state, shutdown).await
}

async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let tracker = tokio_util::task::TaskTracker::new();
    loop {
        let (stream, _) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    eprintln!("convoy ui: accept failed: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        let stop = shutdown.clone();
        tracker.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = state.clone();
                let stop = stop.clone();
                async move { Ok::<_, Infallible>(handle(request, state, stop).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            connection.await.ok();
        });
    }
    tracker.close();
    // Open event streams end with the cancellation; give them a moment.
    tokio::time::timeout(std::time::Duration::from_secs(2), tracker.wait())
        .await
        .ok();
    Ok(())
}

/// A response with the headers every answer carries.
pub(crate) fn respond(status: StatusCode, kind: &str, body: impl Into<Bytes>) -> Response<Body> {
    finish(Response::new(Full::new(body.into()).boxed()), status, kind)
}

pub(crate) fn finish(
    mut response: Response<Body>,
    status: StatusCode,
    kind: &str,
) -> Response<Body> {
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(value) = header::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, kind);
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    );
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::CACHE_CONTROL, "no-store");
    response
}

pub(crate) const HTML: &str = "text/html; charset=utf-8";
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";

async fn handle(
    request: Request<hyper::body::Incoming>,
    state: Arc<State>,
    stop: CancellationToken,
) -> Response<Body> {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    match state
        .auth
        .check(request.method(), &path, &query, request.headers())
    {
        auth::Access::Allowed => {}
        auth::Access::SetCookie { location } => return state.auth.set_cookie(&location),
        auth::Access::Refused(status, why) => return respond(status, TEXT, why),
    }
    let params = html::Query::parse(&query);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (request.method(), segments.as_slice()) {
        (&Method::GET, [""]) => redirect("/fleet"),
        (&Method::GET, ["assets", "app.css"]) => respond(
            StatusCode::OK,
            "text/css",
            include_str!("ui/assets/app.css"),
        ),
        (&Method::GET, ["assets", "app.js"]) => respond(
            StatusCode::OK,
            "text/javascript",
            include_str!("ui/assets/app.js"),
        ),
        (&Method::GET, ["fleet"]) => pages::fleet(&state, &params).await,
        (&Method::GET, ["host", id]) => pages::host(&state, &html::decode(id), &params).await,
        (&Method::GET, ["rollouts"]) => pages::rollouts(&state).await,
        (&Method::GET, ["rollouts", id]) => pages::rollout(&state, &html::decode(id)).await,
        (&Method::GET, ["events"]) => more::events(&state).await,
        (&Method::GET, ["api", "events"]) => more::event_stream(&state, stop).await,
        (&Method::GET, ["jobs"]) => more::jobs(&state).await,
        (&Method::GET, ["jobs", id]) => more::job(&state, &html::decode(id)).await,
        (&Method::GET, ["api", "jobs", id, "events"]) => {
            more::job_events(&state, &html::decode(id), stop).await
        }
        (&Method::GET, ["backups"]) => more::backups(&state).await,
        (&Method::GET, ["alerts"]) => more::alerts(&state).await,
        (&Method::GET, ["api", "rollouts", id, "events"]) => {
            live::rollout(&state, &html::decode(id), stop).await
        }
        (&Method::POST, ["api", "rollouts", id, action]) => {
            pages::control(&state, &html::decode(id), action).await
        }
        (&Method::GET | &Method::POST, _) => respond(StatusCode::NOT_FOUND, TEXT, "no such page"),
        _ => respond(StatusCode::METHOD_NOT_ALLOWED, TEXT, "method not allowed"),
    }
}

pub(crate) fn redirect(location: &str) -> Response<Body> {
    let mut response = respond(StatusCode::SEE_OTHER, TEXT, "");
    if let Ok(value) = header::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Why `listen` is refused: not loopback, and remote serving was not asked for.
pub(crate) fn listen_refusal(listen: SocketAddr, allow_remote: bool) -> Option<String> {
    (!listen.ip().is_loopback() && !allow_remote).then(|| {
        format!(
            "--listen {listen} is not a loopback address: the dashboard acts with your \
             certificate, so it serves loopback only (pass --allow-remote to serve it anyway)"
        )
    })
}
