//! The person's own view (the Data Tracker): their profile with the source of every value,
//! who read it and why, their consents, and correction requests; and the steward's list of
//! those requests.
//!
//! A person's token names one of their records, not a profile id, so it finds their profile
//! through merges and splits. The person's own reads are logged too, under the purpose `self`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tessera_model::ProfileId;
use tessera_policy::{AccessEntry, Action, Operation, Role};
use tessera_store::RecordAddress;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, StatedPurpose};
use crate::error::{ApiError, ErrorBody};
use crate::profiles::{ConsentState, entry, load_view};
use crate::request::RequestId;
use crate::state::AppState;
use crate::view::ProfileView;
use crate::{ApiJson, blocking};

/// The purpose of a person reading their own data.
pub(crate) const SELF_PURPOSE: &str = "self";

fn person(caller: &Caller) -> Result<RecordAddress, ApiError> {
    match (caller.role, &caller.anchor) {
        (Role::Person, Some(anchor)) => Ok(anchor.clone()),
        _ => Err(ApiError::RoleForbidden {
            role: caller.role.name(),
            what: "use /v1/me (it is for persons)",
        }),
    }
}

/// The profile a person's record is on now.
fn own_profile(state: &AppState, anchor: &RecordAddress) -> Result<ProfileId, ApiError> {
    state
        .store
        .profile_of_record(anchor)?
        .ok_or_else(|| ApiError::NotFound("your record is not resolved into a profile yet".into()))
}

/// A consent as the person sees it.
#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    pub purpose: String,
    pub granted_at: String,
    pub granted_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_by: Option<String>,
}

/// The person's own profile and consents.
#[derive(Serialize, ToSchema)]
pub struct MeView {
    pub profile: ProfileView,
    pub consents: Vec<ConsentView>,
}

/// Your profile: every value, including special categories, with the records it came from.
#[utoipa::path(
    get, path = "/v1/me", tag = "person",
    responses(
        (status = 200, description = "Your profile and consents", body = MeView),
        (status = 401, description = "No, bad, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not a person's token", body = ErrorBody),
        (status = 404, description = "Your record is not resolved yet", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn me(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    request: RequestId,
) -> Result<Json<MeView>, ApiError> {
    let anchor = person(&caller)?;
    let grant = state
        .policy
        .authorize(caller.role, Some(SELF_PURPOSE), Operation::Read)?;
    let (profile, consents) = {
        let (state, caller) = (state.clone(), caller.clone());
        blocking(move || {
            let own = own_profile(&state, &anchor)?;
            let view = load_view(&state, &caller, &grant, &own)?;
            let consents = state.store.consents(&own)?;
            Ok((view, consents))
        })
        .await?
    };
    state
        .audit
        .append(&entry(
            &caller,
            &request,
            Some(SELF_PURPOSE),
            Action::Read,
            Some(&ProfileId::new(profile.id.clone())),
            profile.kinds(),
            None,
        ))
        .await?;
    Ok(Json(MeView {
        profile,
        consents: consents
            .into_iter()
            .map(|c| ConsentView {
                purpose: c.purpose,
                granted_at: c.granted_at.to_rfc3339(),
                granted_by: c.granted_by,
                withdrawn_at: c.withdrawn_at.map(|t| t.to_rfc3339()),
                withdrawn_by: c.withdrawn_by,
            })
            .collect(),
    }))
}

/// One access to your data.
#[derive(Serialize, ToSchema)]
pub struct AccessView {
    pub seq: u64,
    pub at: String,
    /// Who: the client's name and role.
    pub who: String,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// read, lookup, search, ingest, consent_grant, …
    pub action: String,
    /// The attribute kinds that were released or written.
    pub kinds: Vec<String>,
    pub request_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccessLogView {
    pub entries: Vec<AccessView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LimitQuery {
    /// How many entries, newest first (1 to 1000; default 100).
    limit: Option<usize>,
}

/// Who read your data, when, and why: the access log entries about your profile, newest first.
#[utoipa::path(
    get, path = "/v1/me/access-log", tag = "person",
    params(LimitQuery),
    responses(
        (status = 200, description = "Entries about your profile (and ids merged into it), newest first", body = AccessLogView),
        (status = 401, description = "No, bad, expired or revoked token", body = ErrorBody),
        (status = 403, description = "Not a person's token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn access_log(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    request: RequestId,
    Query(query): Query<LimitQuery>,
) -> Result<Json<AccessLogView>, ApiError> {
    let anchor = person(&caller)?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let (own, rows) = {
        let state = state.clone();
        blocking(move || {
            let own = own_profile(&state, &anchor)?;
            let aliases = state.store.profile_aliases(&own)?;
            Ok((own, state.store.access_rows_for(&aliases, limit)?))
        })
        .await?
    };
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let parsed: AccessEntry = serde_json::from_str(&row.entry)
            .map_err(|e| ApiError::internal(format!("access log entry {}: {e}", row.seq)))?;
        entries.push(AccessView {
            seq: row.seq,
            at: parsed.at.to_rfc3339(),
            who: parsed.client_name,
            role: parsed.role.name().to_string(),
            purpose: parsed.purpose,
            action: serde_json::to_value(parsed.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            kinds: parsed.kinds,
            request_id: parsed.request_id,
        });
    }
    state
        .audit
        .append(&entry(
            &caller,
            &request,
            Some(SELF_PURPOSE),
            Action::ReadAccessLog,
            Some(&own),
            Vec::new(),
            None,
        ))
        .await?;
    Ok(Json(AccessLogView { entries }))
}

/// A correction the person asks for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    /// What is wrong and what it should be (1 to 2000 characters).
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct CorrectionFiled {
    pub id: i64,
    pub status: String,
}

/// Asks a steward to correct your profile.
#[utoipa::path(
    post, path = "/v1/me/corrections", tag = "person",
    request_body = CorrectionRequest,
    responses(
        (status = 201, description = "Filed; a steward sees it in /v1/corrections", body = CorrectionFiled),
        (status = 400, description = "Empty or too long", body = ErrorBody),
        (status = 403, description = "Not a person's token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn file_correction(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    request: RequestId,
    ApiJson(body): ApiJson<CorrectionRequest>,
) -> Result<(StatusCode, Json<CorrectionFiled>), ApiError> {
    let anchor = person(&caller)?;
    let text = body.text.trim().to_string();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(ApiError::BadRequest(
            "text must be 1 to 2000 characters".into(),
        ));
    }
    let (id, own) = {
        let (state, client) = (state.clone(), caller.id.clone());
        blocking(move || {
            let own = own_profile(&state, &anchor)?;
            let id = state
                .store
                .add_correction(&anchor, &own, &client, &text, Utc::now())?;
            Ok((id, own))
        })
        .await?
    };
    state
        .audit
        .append(&entry(
            &caller,
            &request,
            Some(SELF_PURPOSE),
            Action::CorrectionRequest,
            Some(&own),
            Vec::new(),
            Some(format!("correction request {id}")),
        ))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CorrectionFiled {
            id,
            status: "open".into(),
        }),
    ))
}

/// Grants or withdraws consent for `purpose` on `profile` (following a merged id), logs it,
/// and says what holds now. A grant is anchored on `anchor` (the person's own record) or, for an
/// agency acting on the person's behalf, on the profile's first record; the log says which.
pub(crate) async fn change_consent(
    state: &Arc<AppState>,
    caller: &Caller,
    request: &RequestId,
    profile: ProfileId,
    anchor: Option<RecordAddress>,
    purpose: String,
    grant: bool,
) -> Result<ConsentState, ApiError> {
    if !state.policy.purposes().any(|(p, _)| p.as_str() == purpose) {
        return Err(ApiError::Refused(tessera_policy::Refusal::UnknownPurpose(
            purpose.chars().take(64).collect(),
        )));
    }
    let on_behalf = caller.role != Role::Person;
    let by = if on_behalf {
        format!("{} ({}) on the person's behalf", caller.name, caller.id)
    } else {
        caller.name.clone()
    };
    let current = {
        let (state, purpose) = (Arc::clone(state), purpose.clone());
        blocking(move || {
            let store = state.store.as_ref();
            let mut records = store.profile_records(&profile)?;
            let mut current = profile.clone();
            if records.is_empty()
                && let Some(survivor) = store.profile_history(&profile)?.merged_into
            {
                records = store.profile_records(&survivor)?;
                current = survivor;
            }
            let Some(first) = records.first() else {
                return Err(ApiError::NotFound(format!("no profile {profile}")));
            };
            if grant {
                let anchor = anchor.unwrap_or_else(|| {
                    (first.reference.source.clone(), first.reference.key.clone())
                });
                store.grant_consent(&anchor, &purpose, &by, Utc::now())?;
            } else {
                store.withdraw_consent(&current, &purpose, &by, Utc::now())?;
            }
            Ok(current)
        })
        .await?
    };
    let action = if grant {
        Action::ConsentGrant
    } else {
        Action::ConsentWithdraw
    };
    state
        .audit
        .append(&entry(
            caller,
            request,
            Some(&purpose),
            action,
            Some(&current),
            Vec::new(),
            on_behalf.then(|| "on the person's behalf".to_string()),
        ))
        .await?;
    Ok(ConsentState {
        profile: current.as_str().to_string(),
        purpose,
        granted: grant,
    })
}

/// Consents to a purpose (for example `employer_check`, so an employer may check your permit).
#[utoipa::path(
    put, path = "/v1/me/consents/{purpose}", tag = "person",
    params(("purpose" = String, Path, description = "A purpose of the policy")),
    responses(
        (status = 200, description = "Consent recorded", body = ConsentState),
        (status = 400, description = "Unknown purpose", body = ErrorBody),
        (status = 403, description = "Not a person's token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn grant_consent(
    state: State<Arc<AppState>>,
    caller: Caller,
    request: RequestId,
    Path(purpose): Path<String>,
) -> Result<Json<ConsentState>, ApiError> {
    own_consent(state, caller, request, purpose, true).await
}

/// Withdraws a consent; it takes effect on the next read.
#[utoipa::path(
    delete, path = "/v1/me/consents/{purpose}", tag = "person",
    params(("purpose" = String, Path, description = "A purpose of the policy")),
    responses(
        (status = 200, description = "Consent withdrawn", body = ConsentState),
        (status = 400, description = "Unknown purpose", body = ErrorBody),
        (status = 403, description = "Not a person's token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn withdraw_consent(
    state: State<Arc<AppState>>,
    caller: Caller,
    request: RequestId,
    Path(purpose): Path<String>,
) -> Result<Json<ConsentState>, ApiError> {
    own_consent(state, caller, request, purpose, false).await
}

async fn own_consent(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    request: RequestId,
    purpose: String,
    grant: bool,
) -> Result<Json<ConsentState>, ApiError> {
    let anchor = person(&caller)?;
    let own = {
        let (state, anchor) = (state.clone(), anchor.clone());
        blocking(move || own_profile(&state, &anchor)).await?
    };
    let changed =
        change_consent(&state, &caller, &request, own, Some(anchor), purpose, grant).await?;
    Ok(Json(changed))
}

/// A correction request as a steward sees it.
#[derive(Serialize, ToSchema)]
pub struct CorrectionView {
    pub id: i64,
    pub profile: String,
    pub text: String,
    pub created_at: String,
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct CorrectionList {
    pub corrections: Vec<CorrectionView>,
}

/// The open correction requests, for a steward (purpose `data_quality`).
#[utoipa::path(
    get, path = "/v1/corrections", tag = "steward",
    params(("Tessera-Purpose" = String, Header, description = "data_quality")),
    responses(
        (status = 200, description = "Open requests, oldest first", body = CorrectionList),
        (status = 403, description = "Not a steward, or a purpose the steward may not use", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn corrections(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    purpose: StatedPurpose,
    request: RequestId,
) -> Result<Json<CorrectionList>, ApiError> {
    if caller.role != Role::Steward {
        return Err(ApiError::RoleForbidden {
            role: caller.role.name(),
            what: "read correction requests (stewards do)",
        });
    }
    let grant = state
        .policy
        .authorize(caller.role, purpose.0.as_deref(), Operation::Read)?;
    let rows = {
        let state = state.clone();
        blocking(move || Ok(state.store.corrections(true)?)).await?
    };
    let entries: Vec<AccessEntry> = rows
        .iter()
        .map(|row| {
            entry(
                &caller,
                &request,
                Some(grant.purpose.as_str()),
                Action::Read,
                Some(&row.profile),
                Vec::new(),
                Some(format!("correction request {}", row.id)),
            )
        })
        .collect();
    state.audit.append_all(&entries).await?;
    Ok(Json(CorrectionList {
        corrections: rows
            .into_iter()
            .map(|row| CorrectionView {
                id: row.id,
                profile: row.profile.as_str().to_string(),
                text: row.text,
                created_at: row.created_at.to_rfc3339(),
                status: row.status.name().to_string(),
            })
            .collect(),
    }))
}
