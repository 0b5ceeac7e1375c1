//! The HTTP API of Tessera: profiles served so that an official sees only what a stated purpose
//! needs, every read is logged where the person can see it, and the person sees their own data
//! and who read it.
//!
//! Routes are under `/v1` (see [`openapi`] for the document served at `/openapi.json`):
//! profile reads by id, by identifier and by a name-and-birth-date search (`profiles.rs`), the
//! person's own view, consents and correction requests (`me.rs`), and online ingest
//! (`ingest.rs`, which stores and places through `placement.rs`, shared with `tessera worker`,
//! or hands the batch to the ingest queue). Every request is authenticated (`auth.rs`: issued tokens or OIDC JWTs),
//! authorized by the policy for its stated purpose, answered with only the granted fields
//! (`view.rs`), and logged to the hash-chained access log before it is answered (`audit.rs`).
//! Errors are one JSON shape with a stable code (`error.rs`).
//!
//! This crate knows HTTP; it does not know SQL (the store does), decide who is who (the
//! resolver does) or define the policy (tessera-policy does).

mod audit;
mod auth;
mod error;
mod ingest;
mod me;
mod placement;
mod profiles;
mod request;
mod state;
mod view;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{Caller, JwtConfig, new_token, token_hash};
pub use error::{ApiError, ErrorBody};
pub use ingest::KeyringSealer;
pub use placement::{
    PlaceError, Placed, PlacementStatus, ResolverIndex, place_records, store_records,
};
pub use state::{AppState, KeySource, ServeConfig};

/// The largest request body accepted.
pub const BODY_LIMIT_BYTES: usize = 4 << 20;
/// The longest a request may take before it is answered 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a blocking closure (store and resolver calls) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
}

/// Runs a short store read (a token, a profile): right here where the store answers from the
/// process in microseconds (SQLite; a hand-over would cost more than the read), on the blocking
/// pool where it waits on the network (PostgreSQL), so that the async threads keep serving.
pub(crate) async fn quick<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if state.config.reads_inline {
        work()
    } else {
        blocking(work).await
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<ApiJson<T>, ApiError> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(ApiJson(value))
    }
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer (then the status is 503, so a
    /// load balancer sends requests to another node).
    pub status: &'static str,
    /// `ready` once the online resolver has loaded the existing profiles, else `loading`.
    pub resolver: &'static str,
}

/// Liveness and readiness; no authentication, no personal data.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, description = "The server and its database are up", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    ))]
async fn healthz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Health>) {
    let ready = state
        .online
        .resolver
        .try_lock()
        .map(|r| r.is_some())
        .unwrap_or(true);
    let shared = Arc::clone(&state);
    let database = quick(&state, move || Ok(shared.store.resolution_head()?)).await;
    let (code, status) = match database {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(%error, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    (
        code,
        Json(Health {
            status,
            resolver: if ready { "ready" } else { "loading" },
        }),
    )
}

fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (several servers in one test process):
        // then this handle renders nothing, which is all a test can lose.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

async fn prometheus() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_handle().render(),
    )
        .into_response()
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `tessera clients add` (tsr_…), or a JWT from the configured OIDC issuer",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera",
        description = "Purpose-bound, logged access to resolved person profiles. Every read names a purpose (header Tessera-Purpose) and is appended to a hash-chained access log that the person can read."
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

fn routes() -> (Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(profiles::lookup))
        .routes(routes!(profiles::search))
        .routes(routes!(profiles::get_profile))
        .routes(routes!(profiles::grant_on_behalf))
        .routes(routes!(profiles::withdraw_on_behalf))
        .routes(routes!(me::me))
        .routes(routes!(me::access_log))
        .routes(routes!(me::file_correction))
        .routes(routes!(me::grant_consent, me::withdraw_consent))
        .routes(routes!(me::corrections))
        .routes(routes!(ingest::ingest))
        .split_for_parts()
}

/// The OpenAPI document of the API, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().1
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// The whole service: routes, `/openapi.json`, `/metrics`, and the layers every request goes
/// through (request id and log line, body limit, timeout, panics as 500 JSON).
pub fn router(state: Arc<AppState>) -> Router {
    metrics_handle();
    let (api, document) = routes();
    let document = Arc::new(document);
    api.route(
        "/openapi.json",
        get(move || {
            let document = Arc::clone(&document);
            async move { Json(document.as_ref().clone()) }
        }),
    )
    .route("/metrics", get(prometheus))
    .fallback(not_found)
    .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT_BYTES))
    .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
        ApiError::internal("a handler panicked").into_response()
    }))
    .layer(tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        REQUEST_TIMEOUT,
    ))
    .layer(axum::middleware::from_fn(request::track))
    .with_state(state)
}

/// Serves until `shutdown` completes, then stops accepting, finishes the requests in flight and
/// flushes the access log.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let warm = Arc::clone(&state);
    std::thread::Builder::new()
        .name("resolver-warm-up".into())
        .spawn(move || {
            if let Err(error) = warm.warm_up() {
                tracing::error!(%error, "cannot build the online resolver");
            }
        })?;
    let anchoring = tokio::spawn(log_access_head(Arc::clone(&state)));
    let served = axum::serve(listener, router(Arc::clone(&state)))
        .with_graceful_shutdown(shutdown)
        .await;
    anchoring.abort();
    note_access_head(&state, &mut None).await;
    served
}

/// How often a server writes the access log's head to its own log.
const ANCHOR_EVERY: Duration = Duration::from_secs(60);

/// Writes the access log's head (sequence number and hash, nothing personal) to the server's
/// log at start, every [`ANCHOR_EVERY`] when it moved, and at shutdown. Shipped off the machine
/// with the rest of the log, these lines are the anchors `tessera audit verify --anchor` checks:
/// entries cut from the end of the chain leave no trace in the chain itself.
async fn log_access_head(state: Arc<AppState>) {
    let mut last = None;
    let mut ticks = tokio::time::interval(ANCHOR_EVERY);
    loop {
        ticks.tick().await;
        note_access_head(&state, &mut last).await;
    }
}

async fn note_access_head(state: &Arc<AppState>, last: &mut Option<u64>) {
    let shared = Arc::clone(state);
    match blocking(move || Ok(shared.store.access_head()?)).await {
        Ok(Some(head)) if *last != Some(head.seq) => {
            let hash: String = head.hash.iter().map(|b| format!("{b:02x}")).collect();
            tracing::info!(anchor = %format!("{}:{hash}", head.seq), "access log head");
            *last = Some(head.seq);
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot read the access log head"),
    }
}
