//! A tower layer on the gRPC server counting calls by method and status code
//! (`convoy_grpc_requests_total{method,code}`). The code is read from the response
//! headers: errors are trailers-only responses, so they carry `grpc-status` there; a
//! response without it started normally and is counted as `OK` (a stream that fails
//! after its first message is counted as `OK`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

pub type Calls = Family<Vec<(String, String)>, Counter>;

#[derive(Debug, Clone)]
pub struct GrpcMetricsLayer {
    pub calls: Calls,
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            calls: self.calls.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    calls: Calls,
}

fn code_name(code: &str) -> &'static str {
    match code {
        "0" => "OK",
        "1" => "Cancelled",
        "2" => "Unknown",
        "3" => "InvalidArgument",
        "4" => "DeadlineExceeded",
        "5" => "NotFound",
        "6" => "AlreadyExists",
        "7" => "PermissionDenied",
        "8" => "ResourceExhausted",
        "9" => "FailedPrecondition",
        "10" => "Aborted",
        "11" => "OutOfRange",
        "12" => "Unimplemented",
        "13" => "Internal",
        "14" => "Unavailable",
        "15" => "DataLoss",
        "16" => "Unauthenticated",
        _ => "Unknown",
    }
}

/// Known method paths only, so a client cannot grow the label set.
fn method_label(path: &str) -> String {
    let known = path.starts_with("/convoy.v1.") || path.starts_with("/grpc.health.v1.");
    if known && path.len() <= 96 && path.bytes().all(|b| b.is_ascii_graphic()) {
        path.trim_start_matches('/').to_string()
    } else {
        "other".to_string()
    }
}

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = method_label(request.uri().path());
        let calls = self.calls.clone();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            let code = match &result {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .map(code_name)
                    .unwrap_or("OK"),
                Err(_) => "Unavailable",
            };
            calls
                .get_or_create(&vec![
                    ("method".to_string(), method),
                    ("code".to_string(), code.to_string()),
                ])
                .inc();
            result
        })
    }
}
