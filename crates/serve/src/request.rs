//! Per-request plumbing: a request id, one log line and metrics per request.
//!
//! The log line names the route template (`/v1/profiles/{id}`), never the path or query as sent,
//! which may hold a profile id or an identifier: logs hold no personal data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;

/// The id of one request: returned in `x-request-id` and written into its access-log entries.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub(crate) String);

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

fn new_request_id() -> String {
    // Random per process, counted within it: unique without coordination.
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let prefix = PREFIX.get_or_init(|| format!("{:08x}", rand::random::<u32>()));
    format!("{prefix}-{:x}", SEQUENCE.fetch_add(1, Ordering::Relaxed))
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<RequestId, ApiError> {
        parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .ok_or_else(|| ApiError::internal("request id middleware is not installed"))
    }
}

/// Gives the request an id, then logs and counts it by route and status.
pub(crate) async fn track(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = RequestId(new_request_id());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".to_string());
    let method = request.method().clone();
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert("x-request-id", value);
    }
    metrics::counter!("tessera_http_requests_total", "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("tessera_http_request_duration_seconds", "route" => route.clone())
        .record(seconds);
    tracing::info!(request_id = %id.0, %method, %route, status, ms = seconds * 1e3, "request");
    response
}
