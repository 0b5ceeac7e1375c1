//! Online ingest: a batch of records in a source's own layout, validated as the importer does,
//! stored, and resolved one at a time against the existing profiles.
//!
//! The batch is checked record by record: a bad record is answered with every problem and is not
//! stored; the good ones are stored in one transaction, then each new record gets its profile
//! from the online resolver and the assignments are stored in a second one. Re-sending a record
//! changes nothing; a changed record becomes a new version that stays on its profile until the
//! next batch resolution. Only one ingest resolves at a time, so two records of one person sent
//! at once through two requests end on one profile.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tessera_model::{ProfileId, SourceRecord};
use tessera_policy::{Action, Role};
use tessera_resolve::{ProfileChange, RecordFacts};
use tessera_seal::Keyring;
use tessera_store::{
    Arrival, Assignment, ImportEnd, ImportStatus, PreparedRecord, ProfileEvent, ResolutionOutcome,
    RunKind, SealedBlob, Sealer, StoredRecord, arrival_changes, lookup_identifiers,
};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::profiles::entry;
use crate::request::RequestId;
use crate::state::AppState;
use crate::{ApiJson, blocking};

/// Seals special-category values with a keyring: what the store is handed instead of them.
pub struct KeyringSealer<'k>(pub &'k Keyring);

impl Sealer for KeyringSealer<'_> {
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> SealedBlob {
        let sealed = self.0.seal(plaintext, aad);
        SealedBlob {
            key_id: sealed.key_id.as_str().to_string(),
            bytes: sealed.to_bytes(),
        }
    }

    fn keyed_hash(&self, data: &[u8]) -> [u8; 32] {
        // Separate from the token hashes under the same key.
        let mut prefixed = b"tessera-content\0".to_vec();
        prefixed.extend_from_slice(data);
        self.0.keyed_hash(&prefixed)
    }
}

/// A batch of records in the source's layout: each object has the columns (or JSON paths) its
/// mapping reads.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Value>,
}

/// A field that could not be read.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    pub field: String,
    pub target: String,
    pub reason: String,
}

/// What happened to one record of the batch.
#[derive(Serialize, ToSchema)]
pub struct IngestResult {
    /// Its position in the batch, from 0.
    pub index: usize,
    /// `resolved` (new, now on `profile`), `unchanged` (already stored as it is), `changed`
    /// (a new version, kept on its profile), or `rejected` (see `problems`; nothing stored).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

#[derive(Serialize, ToSchema)]
pub struct IngestResponse {
    pub accepted: usize,
    pub rejected: usize,
    pub results: Vec<IngestResult>,
}

/// Accepts a batch of records for a source, validates each as the importer does, stores the
/// good ones and resolves them against the existing profiles.
#[utoipa::path(
    post, path = "/v1/sources/{source}/records", tag = "ingest",
    request_body = IngestRequest,
    params(("source" = String, Path, description = "The source, as its mapping names it")),
    responses(
        (status = 200, description = "Per-record results (rejected records are not stored)", body = IngestResponse),
        (status = 400, description = "Malformed JSON or too many records", body = ErrorBody),
        (status = 403, description = "The client may not write to this source", body = ErrorBody),
        (status = 404, description = "No mapping for the source", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 503, description = "The resolver is still loading", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn ingest(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    request: RequestId,
    Path(source): Path<String>,
    ApiJson(body): ApiJson<IngestRequest>,
) -> Result<Json<IngestResponse>, ApiError> {
    if !matches!(caller.role, Role::Agency | Role::Employer) {
        return Err(ApiError::RoleForbidden {
            role: caller.role.name(),
            what: "send records (agencies and employers do)",
        });
    }
    if !caller.sources.contains(&source) {
        return Err(ApiError::RoleForbidden {
            role: caller.role.name(),
            what: "write to this source (the client is not registered for it)",
        });
    }
    let Some(mapping) = state.mappings.get(&source) else {
        return Err(ApiError::NotFound(format!(
            "no mapping for source {:?}",
            source.chars().take(40).collect::<String>()
        )));
    };
    if body.records.len() > state.config.max_ingest_records {
        return Err(ApiError::BadRequest(format!(
            "{} records in one request; send at most {}",
            body.records.len(),
            state.config.max_ingest_records
        )));
    }
    let now = Utc::now();
    let converted: Vec<Result<SourceRecord, Vec<Problem>>> = body
        .records
        .iter()
        .map(|value| {
            tessera_ingest::convert_json(mapping, value, now).map_err(|problems| {
                problems
                    .into_iter()
                    .map(|p| Problem {
                        field: p.column,
                        target: p.target,
                        reason: p.reason,
                    })
                    .collect()
            })
        })
        .collect();
    let (results, written) = {
        let (state, client) = (state.clone(), caller.id.clone());
        blocking(move || store_and_resolve(&state, &client, converted)).await?
    };
    let entries: Vec<_> = written
        .iter()
        .map(|(profile, kinds)| {
            entry(
                &caller,
                &request,
                None,
                Action::Ingest,
                Some(profile),
                kinds.clone(),
                Some(format!("source={source}")),
            )
        })
        .collect();
    state.audit.append_all(&entries).await?;
    let rejected = results.iter().filter(|r| r.status == "rejected").count();
    Ok(Json(IngestResponse {
        accepted: results.len() - rejected,
        rejected,
        results,
    }))
}

type Written = Vec<(ProfileId, Vec<String>)>;

fn store_and_resolve(
    state: &Arc<AppState>,
    client: &str,
    converted: Vec<Result<SourceRecord, Vec<Problem>>>,
) -> Result<(Vec<IngestResult>, Written), ApiError> {
    let store = state.store.as_ref();
    // Hold the resolver for the whole batch: this process's ingests resolve one after another.
    let mut guard = state
        .online
        .resolver
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        return Err(ApiError::Warming);
    }
    let keyring = state.keyring();
    let sealer = KeyringSealer(&keyring);
    let good: Vec<&SourceRecord> = converted.iter().filter_map(|r| r.as_ref().ok()).collect();
    if let Some(first) = good.first() {
        let import = store.begin_import(&first.source, &format!("api:{client}"), Utc::now())?;
        let prepared: Vec<PreparedRecord> = good
            .iter()
            .map(|r| PreparedRecord::new(r, &sealer))
            .collect();
        let counts = store.write_records(import, &prepared)?;
        store.finish_import(
            import,
            &ImportEnd {
                finished_at: Utc::now(),
                status: ImportStatus::Done,
                rows_read: converted.len() as u64,
                counts,
                quarantined: 0,
                quarantine_path: None,
            },
        )?;
    }
    // The one resolution in progress across every process on the database: take in what the
    // others stored, then place this batch and store it before anyone else may.
    let Some(index) = guard.as_mut() else {
        return Err(ApiError::Warming);
    };
    let mut session = store.begin_resolution()?;
    let changes = session.changes_since(index.seen)?;
    if !index.catch_up(&changes) {
        drop(session);
        drop(guard);
        state.rebuild_online();
        return Err(ApiError::Warming);
    }
    let online = &mut index.online;
    let mut results = Vec::with_capacity(converted.len());
    let mut assignments = Vec::new();
    let mut events = Vec::new();
    let mut written = Vec::new();
    // The records this run places, which no run had placed: what may change their profiles.
    let mut arrived: Vec<(StoredRecord, ProfileId)> = Vec::new();
    for (index, outcome) in converted.into_iter().enumerate() {
        let record = match outcome {
            Ok(record) => record,
            Err(problems) => {
                results.push(IngestResult {
                    index,
                    status: "rejected",
                    record: None,
                    profile: None,
                    problems,
                });
                continue;
            }
        };
        let address = format!("{}/{}", record.source, record.key);
        let versions = store.record_versions(&record.source, record.key.as_str())?;
        let Some(current) = versions.last() else {
            return Err(ApiError::internal("a stored record has no version"));
        };
        let kinds: Vec<String> = record
            .attributes
            .iter()
            .map(|a| a.kind().name().to_string())
            .collect();
        // The profile the record's previous version was on, if any: a changed record stays there.
        let previous = versions
            .len()
            .checked_sub(2)
            .and_then(|i| versions[i].profile.clone());
        let (status, profile) = match (&current.profile, previous) {
            (Some(profile), _) => ("unchanged", profile.clone()),
            (None, Some(profile)) => {
                assignments.push(Assignment {
                    record: current.id,
                    profile: profile.clone(),
                    identifiers: lookup_identifiers(&current.attributes),
                });
                ("changed", profile)
            }
            (None, None) => {
                let facts =
                    RecordFacts::from_attributes(current.reference.clone(), &current.attributes);
                let placed = online.resolve(facts);
                assignments.push(Assignment {
                    record: current.id,
                    profile: placed.profile.clone(),
                    identifiers: lookup_identifiers(&current.attributes),
                });
                events.extend(placed.changes.into_iter().map(|change| match change {
                    ProfileChange::Created { profile } => ProfileEvent::Created { profile },
                    ProfileChange::Merged { from, into } => ProfileEvent::Merged { from, into },
                    ProfileChange::Split { from, new } => ProfileEvent::Split { from, new },
                }));
                ("resolved", placed.profile)
            }
        };
        if status != "unchanged" {
            written.push((profile.clone(), kinds));
            arrived.push((current.clone(), profile.clone()));
        }
        results.push(IngestResult {
            index,
            status,
            record: Some(address),
            profile: Some(profile.as_str().to_string()),
            problems: Vec::new(),
        });
    }
    if !assignments.is_empty() {
        // What this run placed: its records, on how many profiles. (Counting the whole
        // registry here would cost a scan per request, under the session every node waits for.)
        let touched: HashSet<&ProfileId> = assignments.iter().map(|a| &a.profile).collect();
        let profiles = touched.len() as u64;
        let created: HashSet<&ProfileId> = events
            .iter()
            .filter_map(|event| match event {
                ProfileEvent::Created { profile } => Some(profile),
                _ => None,
            })
            .collect();
        let arrivals: Vec<Arrival<'_>> = arrived
            .iter()
            .map(|(record, profile)| Arrival {
                record: record.id,
                reference: &record.reference,
                attributes: &record.attributes,
                profile,
            })
            .collect();
        let changes = arrival_changes(store, &arrivals, &created, Utc::now().date_naive())?;
        index.seen = session.apply(&ResolutionOutcome {
            kind: RunKind::Online,
            finished_at: Utc::now(),
            records: assignments.len() as u64,
            profiles,
            assignments,
            events,
            // The review queue belongs to the batch run; keep it as it is.
            review: None,
            changes,
        })?;
        if let Err(error) = session.commit() {
            // The index holds placements the store does not: start it over.
            drop(guard);
            state.rebuild_online();
            return Err(error.into());
        }
    }
    Ok((results, written))
}
