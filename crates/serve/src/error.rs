//! One error type for every handler, turned into a JSON body with a stable `code`.
//!
//! Clients program against `code`, never against `message`. A 5xx body says only that something
//! failed and names the request id; the detail goes to the log, which never holds personal data
//! (store errors name tables and rows, not values).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_policy::Refusal;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: `token_missing`, `purpose_unknown`, `consent_required`, …
    pub code: &'static str,
    /// For people: what is wrong and, where it helps, what to do.
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no bearer token; send `Authorization: Bearer <token>`")]
    TokenMissing,
    #[error("the token is not valid")]
    TokenInvalid,
    #[error("the token has expired")]
    TokenExpired,
    #[error("the token was revoked")]
    TokenRevoked,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("role {role} may not {what}")]
    RoleForbidden {
        role: &'static str,
        what: &'static str,
    },
    #[error("a person may read only their own profile")]
    NotYourProfile,
    #[error("purpose {purpose} needs the person's consent, and none is recorded")]
    ConsentRequired { purpose: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidId(String),
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("send the body as JSON with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("{0}")]
    NotFound(String),
    #[error("too many requests; slow down")]
    RateLimited,
    #[error("the resolver is still loading the existing profiles; try again shortly")]
    Warming,
    #[error("a sealed special-category value of this profile failed its integrity check")]
    SealedTampered(String),
    #[error(
        "no worker answered within {seconds} s; the batch {batch} is queued and will be stored and resolved"
    )]
    Queued { batch: String, seconds: u64 },
    #[error("the ingest queue is unavailable")]
    QueueUnavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub(crate) fn internal(error: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(error.to_string())
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::TokenMissing => (StatusCode::UNAUTHORIZED, "token_missing"),
            ApiError::TokenInvalid => (StatusCode::UNAUTHORIZED, "token_invalid"),
            ApiError::TokenExpired => (StatusCode::UNAUTHORIZED, "token_expired"),
            ApiError::TokenRevoked => (StatusCode::UNAUTHORIZED, "token_revoked"),
            ApiError::Refused(refusal) => {
                let status = match refusal {
                    Refusal::NoPurpose | Refusal::UnknownPurpose(_) => StatusCode::BAD_REQUEST,
                    Refusal::RoleMayNotUse { .. } | Refusal::OperationNotAllowed { .. } => {
                        StatusCode::FORBIDDEN
                    }
                };
                (status, refusal.code())
            }
            ApiError::RoleForbidden { .. } => (StatusCode::FORBIDDEN, "role_forbidden"),
            ApiError::NotYourProfile => (StatusCode::FORBIDDEN, "not_your_profile"),
            ApiError::ConsentRequired { .. } => (StatusCode::FORBIDDEN, "consent_required"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::InvalidId(_) => (StatusCode::BAD_REQUEST, "invalid_id"),
            ApiError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Warming => (StatusCode::SERVICE_UNAVAILABLE, "resolver_warming_up"),
            ApiError::SealedTampered(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "sealed_value_tampered")
            }
            ApiError::Queued { .. } => (StatusCode::SERVICE_UNAVAILABLE, "batch_queued"),
            ApiError::QueueUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "queue_unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Internal(detail)
            | ApiError::SealedTampered(detail)
            | ApiError::QueueUnavailable(detail) => {
                tracing::error!(code, detail = %detail, "request failed");
                format!("{self}; the operator's log has the detail")
            }
            other => other.to_string(),
        };
        (status, Json(ErrorBody { code, message })).into_response()
    }
}

impl From<tessera_store::StoreError> for ApiError {
    fn from(error: tessera_store::StoreError) -> ApiError {
        ApiError::internal(error)
    }
}

/// The JSON extractor's rejections as [`ApiError`]s, so a bad body gets the same error shape.
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
        use axum::extract::rejection::JsonRejection;
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(bytes)
                if bytes.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::PayloadTooLarge {
                    limit: crate::BODY_LIMIT_BYTES,
                }
            }
            other => ApiError::MalformedJson(other.body_text()),
        }
    }
}
