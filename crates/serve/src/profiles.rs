//! Officials' reads: a profile by id, by identifier, or by a name-and-birth-date search; and
//! consent recorded by an agency on a person's behalf.
//!
//! Every handler authorizes the caller's role for the stated purpose and operation first, then
//! reads, then appends the access-log entry and waits for it before answering: a read that is
//! not logged is not served.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tessera_model::{
    Attribute, IdKind, Identifier, NameOrder, PartialDate, ProfileId, RecordKey, RecordRef,
    SourceId, parse_full_name,
};
use tessera_policy::{AccessEntry, Action, Grant, Operation, Role};
use tessera_resolve::{LINK_THRESHOLD_BITS, RecordFacts};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, StatedPurpose};
use crate::error::{ApiError, ErrorBody};
use crate::request::RequestId;
use crate::state::AppState;
use crate::view::{ProfileView, open_special, parse_profile_id, render};
use crate::{ApiJson, blocking, quick};

/// Builds an access-log entry for this caller and request.
pub(crate) fn entry(
    caller: &Caller,
    request: &RequestId,
    purpose: Option<&str>,
    action: Action,
    profile: Option<&ProfileId>,
    kinds: Vec<String>,
    detail: Option<String>,
) -> AccessEntry {
    AccessEntry {
        at: Utc::now(),
        client: caller.id.clone(),
        client_name: caller.name.clone(),
        role: caller.role,
        purpose: purpose.map(str::to_string),
        action,
        profile: profile.map(|p| p.as_str().to_string()),
        kinds,
        request_id: request.0.clone(),
        detail,
    }
}

/// Reads one profile for a grant: follows a merged id to its survivor, keeps a person to their
/// own profile, checks consent, opens special values only when granted. Does not log.
pub(crate) fn load_view(
    state: &AppState,
    caller: &Caller,
    grant: &Grant,
    requested: &ProfileId,
) -> Result<ProfileView, ApiError> {
    let store = state.store.as_ref();
    let mut profile = requested.clone();
    let mut records = store.profile_records(&profile)?;
    if records.is_empty() {
        match store.profile_history(&profile)?.merged_into {
            Some(survivor) => {
                records = store.profile_records(&survivor)?;
                profile = survivor;
            }
            None => return Err(ApiError::NotFound(format!("no profile {requested}"))),
        }
        if records.is_empty() {
            return Err(ApiError::NotFound(format!("no profile {requested}")));
        }
    }
    if caller.role == Role::Person {
        let own = match &caller.anchor {
            Some(anchor) => store.profile_of_record(anchor)?,
            None => None,
        };
        if own.as_ref() != Some(&profile) {
            return Err(ApiError::NotYourProfile);
        }
    }
    if grant.consent_required && !store.has_consent(&profile, grant.purpose.as_str())? {
        return Err(ApiError::ConsentRequired {
            purpose: grant.purpose.to_string(),
        });
    }
    if grant.allows_special() {
        open_special(store, &state.keyring(), &mut records)?;
    }
    Ok(render(&profile, Some(requested), &records, grant))
}

fn authorize(
    state: &AppState,
    caller: &Caller,
    purpose: &StatedPurpose,
    operation: Operation,
) -> Result<Grant, ApiError> {
    Ok(state
        .policy
        .authorize(caller.role, purpose.0.as_deref(), operation)?)
}

/// A profile by id, filtered to what the purpose may see.
#[utoipa::path(
    get, path = "/v1/profiles/{id}", tag = "profiles",
    params(
        ("id" = String, Path, description = "A profile id (p-…); a merged id answers with the profile it was merged into"),
        ("Tessera-Purpose" = String, Header, description = "Why this profile is read: a purpose of the policy that the caller's role may use"),
    ),
    responses(
        (status = 200, description = "The profile, only the fields the purpose allows", body = ProfileView),
        (status = 400, description = "No or unknown purpose, or a malformed id", body = ErrorBody),
        (status = 401, description = "No, bad, expired or revoked token", body = ErrorBody),
        (status = 403, description = "The role may not use the purpose, consent is missing, or a person asks for someone else", body = ErrorBody),
        (status = 404, description = "No such profile", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_profile(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    purpose: StatedPurpose,
    request: RequestId,
    Path(id): Path<String>,
) -> Result<Json<ProfileView>, ApiError> {
    let grant = authorize(&state, &caller, &purpose, Operation::Read)?;
    let requested = parse_profile_id(&id)?;
    // A handful of indexed reads: on SQLite run here rather than handed to the blocking pool,
    // which cost more than the reads (bench/serve, docs/benchmarks.md).
    let view = {
        let (shared, caller, grant) = (state.clone(), caller.clone(), grant.clone());
        quick(&state, move || {
            load_view(&shared, &caller, &grant, &requested)
        })
        .await?
    };
    let profile = ProfileId::new(view.id.clone());
    state
        .audit
        .append(&entry(
            &caller,
            &request,
            Some(grant.purpose.as_str()),
            Action::Read,
            Some(&profile),
            view.kinds(),
            None,
        ))
        .await?;
    Ok(Json(view))
}

/// The profiles holding an identifier.
#[derive(Serialize, ToSchema)]
pub struct ProfileList {
    pub profiles: Vec<ProfileView>,
}

/// Query of a lookup: exactly one identifier, e.g. `?snils=112-233-445 95`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct LookupQuery {
    /// SNILS, any spacing (`112-233-445 95`).
    snils: Option<String>,
    /// Personal INN, 12 digits.
    inn: Option<String>,
    /// OMS policy, 16 digits.
    oms: Option<String>,
    /// Russian internal passport, series and number.
    passport_rf: Option<String>,
    /// A foreign passport number.
    passport_foreign: Option<String>,
    /// A work patent number.
    work_patent: Option<String>,
    /// A phone number.
    phone: Option<String>,
}

/// The profiles that hold an identifier, each filtered to what the purpose may see.
#[utoipa::path(
    get, path = "/v1/profiles/lookup", tag = "profiles",
    params(LookupQuery, ("Tessera-Purpose" = String, Header, description = "Why the lookup is made")),
    responses(
        (status = 200, description = "Every profile holding the identifier", body = ProfileList),
        (status = 400, description = "Not exactly one identifier, or no or unknown purpose", body = ErrorBody),
        (status = 401, description = "No, bad, expired or revoked token", body = ErrorBody),
        (status = 403, description = "The role may not use the purpose for lookups, or consent is missing", body = ErrorBody),
        (status = 404, description = "No resolved record holds the identifier", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn lookup(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    purpose: StatedPurpose,
    request: RequestId,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ProfileList>, ApiError> {
    let grant = authorize(&state, &caller, &purpose, Operation::Lookup)?;
    let identifiers: Vec<(IdKind, &String)> = query
        .iter()
        .filter(|(name, _)| name.as_str() != "purpose")
        .map(|(name, value)| {
            IdKind::from_name(name)
                .filter(|kind| !matches!(kind, IdKind::Other))
                .map(|kind| (kind, value))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "unknown query parameter {:?}; give one identifier such as snils=…",
                        name.chars().take(40).collect::<String>()
                    ))
                })
        })
        .collect::<Result<_, _>>()?;
    let [(kind, value)] = identifiers.as_slice() else {
        return Err(ApiError::BadRequest(
            "give exactly one identifier, such as ?snils=112-233-445 95".into(),
        ));
    };
    if value.trim().is_empty() || value.len() > 64 {
        return Err(ApiError::BadRequest(format!(
            "{} must be 1 to 64 characters",
            kind.name()
        )));
    }
    let (kind, canonical) = (*kind, Identifier::parse(*kind, value).value);
    let views = {
        let (state, caller, grant) = (state.clone(), caller.clone(), grant.clone());
        blocking(move || {
            let records = state.store.records_with_identifier(kind, &canonical)?;
            let mut profiles: Vec<ProfileId> =
                records.into_iter().filter_map(|r| r.profile).collect();
            profiles.sort();
            profiles.dedup();
            profiles
                .iter()
                .map(|p| load_view(&state, &caller, &grant, p))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?
    };
    let purpose = Some(grant.purpose.as_str());
    let entries: Vec<AccessEntry> = if views.is_empty() {
        vec![entry(
            &caller,
            &request,
            purpose,
            Action::Lookup,
            None,
            Vec::new(),
            Some(format!("{} lookup, no match", kind.name())),
        )]
    } else {
        views
            .iter()
            .map(|view| {
                entry(
                    &caller,
                    &request,
                    purpose,
                    Action::Lookup,
                    Some(&ProfileId::new(view.id.clone())),
                    view.kinds(),
                    Some(format!("by {}", kind.name())),
                )
            })
            .collect()
    };
    state.audit.append_all(&entries).await?;
    if views.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no resolved record holds this {}",
            kind.name()
        )));
    }
    Ok(Json(ProfileList { profiles: views }))
}

/// A search for a person by full name and birth date.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The full name, in any order and script: "Иванов Иван Иванович", "IVANOV IVAN".
    pub name: String,
    /// The full birth date, YYYY-MM-DD.
    pub birth_date: String,
    /// At most this many profiles (1 to 10; default 5).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One profile a search found, with the evidence for it.
#[derive(Serialize, ToSchema)]
pub struct SearchHitView {
    /// The match weight in bits: how much more likely the query and the profile are one person.
    pub weight: f64,
    pub profile: ProfileView,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    pub hits: Vec<SearchHitView>,
}

/// Finds profiles by full name and birth date, scored by the resolver's model. Only profiles
/// whose evidence reaches the link threshold are returned: a surname alone finds no one.
#[utoipa::path(
    post, path = "/v1/profiles/search", tag = "profiles",
    request_body = SearchRequest,
    params(("Tessera-Purpose" = String, Header, description = "Why the search is made")),
    responses(
        (status = 200, description = "The profiles above the evidence threshold, strongest first (maybe none)", body = SearchResults),
        (status = 400, description = "A name without surname and given name, or no full birth date, or no purpose", body = ErrorBody),
        (status = 401, description = "No, bad, expired or revoked token", body = ErrorBody),
        (status = 403, description = "The role may not search for this purpose", body = ErrorBody),
        (status = 503, description = "The resolver is still loading", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn search(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    purpose: StatedPurpose,
    request: RequestId,
    ApiJson(query): ApiJson<SearchRequest>,
) -> Result<Json<SearchResults>, ApiError> {
    let grant = authorize(&state, &caller, &purpose, Operation::Search)?;
    let name = parse_full_name(query.name.trim(), NameOrder::Any);
    if name.surname.is_none() || name.given.is_none() || query.name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "name must hold at least a surname and a given name (up to 200 characters)".into(),
        ));
    }
    let birth = chrono::NaiveDate::parse_from_str(query.birth_date.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| PartialDate::from_naive(d).ok())
        .ok_or_else(|| ApiError::BadRequest("birth_date must be a full date, YYYY-MM-DD".into()))?;
    let limit = query.limit.unwrap_or(5).clamp(1, 10);
    let reference = RecordRef {
        source: SourceId::new("search").map_err(ApiError::internal)?,
        key: RecordKey::new("query").map_err(ApiError::internal)?,
        version: 1,
    };
    let facts = RecordFacts::from_attributes(
        reference,
        None,
        &[Attribute::Name(name), Attribute::BirthDate(birth)],
    );
    let hits = {
        let (state, caller, grant) = (state.clone(), caller.clone(), grant.clone());
        blocking(move || {
            let found = {
                let mut online = state
                    .online
                    .resolver
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let index = online.as_mut().ok_or(ApiError::Warming)?;
                // See the profiles other processes stored since, without waiting for them.
                let changes = state.store.resolution_changes_since(index.seen)?;
                if !index.catch_up(&changes) {
                    drop(online);
                    state.rebuild_online();
                    return Err(ApiError::Warming);
                }
                index.online.search(&facts, LINK_THRESHOLD_BITS, limit)
            };
            found
                .into_iter()
                .map(|hit| {
                    load_view(&state, &caller, &grant, &hit.profile).map(|profile| SearchHitView {
                        weight: (hit.weight * 100.0).round() / 100.0,
                        profile,
                    })
                })
                .filter(|result| !matches!(result, Err(ApiError::ConsentRequired { .. })))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?
    };
    let purpose = Some(grant.purpose.as_str());
    let entries: Vec<AccessEntry> = if hits.is_empty() {
        vec![entry(
            &caller,
            &request,
            purpose,
            Action::Search,
            None,
            Vec::new(),
            Some("no match".into()),
        )]
    } else {
        hits.iter()
            .map(|hit| {
                entry(
                    &caller,
                    &request,
                    purpose,
                    Action::Search,
                    Some(&ProfileId::new(hit.profile.id.clone())),
                    hit.profile.kinds(),
                    None,
                )
            })
            .collect()
    };
    state.audit.append_all(&entries).await?;
    Ok(Json(SearchResults { hits }))
}

/// A consent to record or withdraw.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// The purpose the person consents to.
    pub purpose: String,
}

/// A consent's state after a change.
#[derive(Serialize, ToSchema)]
pub struct ConsentState {
    pub profile: String,
    pub purpose: String,
    pub granted: bool,
}

/// Records, for a person, their consent to a purpose (an agency acting on their behalf; logged
/// as such).
#[utoipa::path(
    post, path = "/v1/profiles/{id}/consents", tag = "consent",
    request_body = ConsentRequest,
    params(("id" = String, Path, description = "The person's profile id")),
    responses(
        (status = 201, description = "Consent recorded", body = ConsentState),
        (status = 400, description = "Unknown purpose or malformed id", body = ErrorBody),
        (status = 403, description = "Only agencies and stewards act on a person's behalf", body = ErrorBody),
        (status = 404, description = "No such profile", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn grant_on_behalf(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    request: RequestId,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConsentRequest>,
) -> Result<(StatusCode, Json<ConsentState>), ApiError> {
    on_behalf(state, caller, request, id, body.purpose, true).await
}

/// Withdraws, for a person, their consent to a purpose (an agency acting on their behalf).
#[utoipa::path(
    delete, path = "/v1/profiles/{id}/consents/{purpose}", tag = "consent",
    params(("id" = String, Path, description = "The person's profile id"), ("purpose" = String, Path, description = "The purpose")),
    responses(
        (status = 200, description = "Consent withdrawn; it takes effect on the next read", body = ConsentState),
        (status = 400, description = "Unknown purpose or malformed id", body = ErrorBody),
        (status = 403, description = "Only agencies and stewards act on a person's behalf", body = ErrorBody),
        (status = 404, description = "No such profile", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn withdraw_on_behalf(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    request: RequestId,
    Path((id, purpose)): Path<(String, String)>,
) -> Result<(StatusCode, Json<ConsentState>), ApiError> {
    on_behalf(state, caller, request, id, purpose, false).await
}

async fn on_behalf(
    state: Arc<AppState>,
    caller: Caller,
    request: RequestId,
    id: String,
    purpose: String,
    grant: bool,
) -> Result<(StatusCode, Json<ConsentState>), ApiError> {
    if !matches!(caller.role, Role::Agency | Role::Steward) {
        return Err(ApiError::RoleForbidden {
            role: caller.role.name(),
            what: "record consent on a person's behalf",
        });
    }
    let profile = parse_profile_id(&id)?;
    let changed =
        crate::me::change_consent(&state, &caller, &request, profile, None, purpose, grant).await?;
    let status = if grant {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(changed)))
}
