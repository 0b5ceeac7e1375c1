//! Online ingest: a batch of records in a source's own layout, validated as the importer does,
//! stored, and resolved one at a time against the existing profiles.
//!
//! The batch is checked record by record: a bad record is answered with every problem and is not
//! stored; the good ones are stored in one transaction, then each new record gets its profile
//! from the online resolver and the assignments are stored in a second one. Re-sending a record
//! changes nothing; a changed record becomes a new version that stays on its profile until the
//! next batch resolution. Only one ingest resolves at a time, so two records of one person sent
//! at once through two requests end on one profile.
//!
//! With a queue (`tessera serve --queue`), the validated records go to the ingest queue as one
//! batch instead, and a worker (`tessera worker`) stores and places them exactly as above
//! (`placement.rs`) and answers; if none answers in time the response is 503 `batch_queued`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tessera_jetstream::{IngestBatch, IngestQueue};
use tessera_model::{ProfileId, SourceRecord};
use tessera_policy::{Action, Role};
use tessera_seal::Keyring;
use tessera_store::{SealedBlob, Sealer};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::placement::{PlaceError, Placed, PlacementStatus, place_records, store_records};
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
        (status = 503, description = "The resolver is still loading; or, with a queue, no worker answered in time (`batch_queued`: the batch will be processed) or the queue is unreachable", body = ErrorBody),
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
    let (results, written) = match state.config.queue.clone() {
        Some(queue) => through_queue(&state, &queue, &caller.id, converted).await?,
        None => {
            let (state, client) = (state.clone(), caller.id.clone());
            blocking(move || store_and_resolve(&state, &client, converted)).await?
        }
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
type Converted = Vec<Result<SourceRecord, Vec<Problem>>>;

/// The direct path: stores and places the batch in this process.
fn store_and_resolve(
    state: &Arc<AppState>,
    client: &str,
    converted: Converted,
) -> Result<(Vec<IngestResult>, Written), ApiError> {
    let store = state.store.as_ref();
    // Hold the resolver for the whole batch: this process's ingests resolve one after another.
    let mut guard = state
        .online
        .resolver
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let Some(index) = guard.as_mut() else {
        return Err(ApiError::Warming);
    };
    let keyring = state.keyring();
    let good: Vec<&SourceRecord> = converted.iter().filter_map(|r| r.as_ref().ok()).collect();
    store_records(
        store,
        &KeyringSealer(&keyring),
        &format!("api:{client}"),
        &good,
        converted.len() as u64,
    )?;
    let placed = match place_records(store, index, &good) {
        Ok(placed) => placed,
        Err(PlaceError::IndexStale(error)) => {
            drop(guard);
            state.rebuild_online();
            return Err(match error {
                Some(error) => error.into(),
                None => ApiError::Warming,
            });
        }
        Err(other) => return Err(ApiError::internal(other)),
    };
    results_of(converted, placed)
}

/// The queued path (`tessera serve --queue`): the good records go to the ingest queue as one
/// batch, and a worker's answer, if it comes in time, is the response.
async fn through_queue(
    state: &Arc<AppState>,
    queue: &IngestQueue,
    client: &str,
    converted: Converted,
) -> Result<(Vec<IngestResult>, Written), ApiError> {
    let good: Vec<&SourceRecord> = converted.iter().filter_map(|r| r.as_ref().ok()).collect();
    let Some(first) = good.first() else {
        return results_of(converted, Vec::new());
    };
    let mut batch = IngestBatch::new(first.source.clone(), format!("api:{client}"));
    for record in &good {
        batch.push(record);
    }
    let keyring = state.keyring();
    let wait = state.config.queue_wait;
    let placed = match queue.submit::<Vec<Placed>>(&keyring, &batch, wait).await {
        Ok((_, Some(placed))) => placed,
        Ok((id, None)) => {
            return Err(ApiError::Queued {
                batch: id.as_str().to_string(),
                seconds: wait.as_secs(),
            });
        }
        Err(error) => return Err(ApiError::QueueUnavailable(error.to_string())),
    };
    results_of(converted, placed)
}

/// The per-record response: each good record's placement in order, rejections in between.
fn results_of(
    converted: Converted,
    placed: Vec<Placed>,
) -> Result<(Vec<IngestResult>, Written), ApiError> {
    let good = converted.iter().filter(|r| r.is_ok()).count();
    if placed.len() != good {
        return Err(ApiError::internal(format!(
            "{} placements for {good} records",
            placed.len()
        )));
    }
    let mut placed = placed.into_iter();
    let mut results = Vec::with_capacity(converted.len());
    let mut written = Vec::new();
    for (index, outcome) in converted.into_iter().enumerate() {
        let problems = match outcome {
            Ok(_) => Vec::new(),
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
        let Some(one) = placed.next() else {
            return Err(ApiError::internal("fewer placements than records"));
        };
        if one.status != PlacementStatus::Unchanged {
            written.push((one.profile.clone(), one.kinds));
        }
        results.push(IngestResult {
            index,
            status: one.status.as_str(),
            record: Some(one.record),
            profile: Some(one.profile.as_str().to_string()),
            problems,
        });
    }
    Ok((results, written))
}
