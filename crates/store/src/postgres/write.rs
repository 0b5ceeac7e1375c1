//! The two bulk writes on PostgreSQL: a batch of records ([`write_records`]) and a resolution
//! run ([`apply_resolution`]), each in one transaction, with set-based statements over a staged
//! batch (`staging.rs`: COPY into a temporary table when large, arrays when small).
//!
//! Several processes may write at once, so a batch serialises with other writers of the same
//! keys on `record_head` rows (see [`write_records`]), and resolution runs take turns on the one
//! row of `resolution_turn`. Both retry a transaction PostgreSQL (or CockroachDB) aborted as a
//! deadlock or serialization failure.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use deadpool_postgres::{Object, Pool};

use super::staging::{Column, Table, stage};
use super::{WRITE_ATTEMPTS, retryable};
use crate::columns::timestamp;
use crate::{
    NewChange, PreparedRecord, ProfileEvent, ResolutionOutcome, RunKind, StoreError, WriteCounts,
};

/// A batch of records, ready to be sent: one row per record, with the record's round (how often
/// its key appeared earlier in the batch; a key seen twice is handled as two writes in order).
pub(crate) struct RecordBatch {
    /// Columns: round, id (drawn inside each attempt), source, record_key, content_hash,
    /// observed_at, attributes, sealed_key_id, sealed.
    table: Table,
    /// How many records each round holds.
    round_sizes: Vec<usize>,
}

/// The position of the id column in [`RecordBatch::table`].
const ID_COLUMN: usize = 1;

impl RecordBatch {
    pub(crate) fn new(records: &[PreparedRecord]) -> RecordBatch {
        let mut seen: HashMap<(&str, &str), i32> = HashMap::new();
        let mut round_sizes: Vec<usize> = Vec::new();
        let rounds: Vec<i32> = records
            .iter()
            .map(|record| {
                let count = seen
                    .entry((record.source.as_str(), record.key.as_str()))
                    .or_insert(0);
                let round = *count;
                *count += 1;
                if round_sizes.len() <= round as usize {
                    round_sizes.push(0);
                }
                round_sizes[round as usize] += 1;
                round
            })
            .collect();
        let text =
            |f: &dyn Fn(&PreparedRecord) -> String| Column::Text(records.iter().map(f).collect());
        let table = Table {
            name: "incoming".into(),
            columns: vec![
                ("round", Column::Int4(rounds)),
                ("id", Column::Int8(Vec::new())),
                ("source", text(&|r| r.source.as_str().to_string())),
                ("record_key", text(&|r| r.key.as_str().to_string())),
                (
                    "content_hash",
                    Column::Bytea(records.iter().map(|r| r.content_hash.to_vec()).collect()),
                ),
                ("observed_at", text(&|r| timestamp(r.observed_at))),
                ("attributes", text(&|r| r.attributes_json.clone())),
                (
                    "sealed_key_id",
                    Column::OptText(
                        records
                            .iter()
                            .map(|r| r.sealed.as_ref().map(|s| s.key_id.clone()))
                            .collect(),
                    ),
                ),
                (
                    "sealed",
                    Column::OptBytea(
                        records
                            .iter()
                            .map(|r| r.sealed.as_ref().map(|s| s.bytes.clone()))
                            .collect(),
                    ),
                ),
            ],
        };
        RecordBatch { table, round_sizes }
    }
}

/// Stores a batch of records (see [`crate::Store::write_records`]).
pub(crate) async fn write_records(
    pool: Pool,
    import: i64,
    mut batch: RecordBatch,
) -> Result<WriteCounts, StoreError> {
    let mut client = pool.get().await?;
    let mut attempt = 1;
    loop {
        match write_attempt(&mut client, import, &mut batch).await {
            Err(error) if attempt < WRITE_ATTEMPTS && retryable(&error) => attempt += 1,
            result => return result,
        }
    }
}

/// One try at [`write_records`].
///
/// Two writers of one key must end with one record and counts that add up, as if they had
/// written one after the other. Each round of the batch therefore first claims the keys it does
/// not know by inserting their `record_head` rows (`ON CONFLICT DO NOTHING`: a writer that
/// inserted the same key first makes this wait for its commit, and then the key is known), then
/// locks the heads it did not claim (`FOR UPDATE`; a claimed head points at the id this batch
/// drew for it, which no other head can) and compares content hashes under the lock.
/// Claims and locks are each taken in key order, so two batches never wait for each other in a
/// cycle. Record ids are drawn beforehand in batch order, so the scan visits a batch in the order
/// it was given, whatever the order its keys were locked in.
async fn write_attempt(
    client: &mut Object,
    import: i64,
    batch: &mut RecordBatch,
) -> Result<WriteCounts, StoreError> {
    let transaction = client.transaction().await?;
    let drawn = transaction
        .query(
            "SELECT nextval('source_record_id_seq') FROM generate_series(1, $1::int8)",
            &[&(batch.table.rows() as i64)],
        )
        .await?;
    let mut ids = drawn
        .iter()
        .map(|row| row.try_get::<_, i64>(0))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    batch.table.columns[ID_COLUMN].1 = Column::Int8(ids);
    let staged = stage(&transaction, &batch.table).await?;
    let incoming = staged.relation();
    let round_parameter = staged.placeholder(0);
    let mut counts = WriteCounts::default();
    for (round, &size) in batch.round_sizes.iter().enumerate() {
        let round = round as i32;
        let claimed = transaction
            .execute(
                &format!(
                    "INSERT INTO record_head (source, record_key, record_id, version, content_hash)
                     SELECT source, record_key, id, 1, content_hash FROM {incoming}
                     WHERE round = {round_parameter} ORDER BY source, record_key
                     ON CONFLICT (source, record_key) DO NOTHING"
                ),
                &staged.params(&[&round]),
            )
            .await? as usize;
        let locked = transaction
            .query(
                &format!(
                    "SELECT incoming.id, h.record_id, h.content_hash = incoming.content_hash
                     FROM record_head h JOIN {incoming}
                       ON h.source = incoming.source AND h.record_key = incoming.record_key
                     WHERE incoming.round = {round_parameter} AND h.record_id <> incoming.id
                     ORDER BY h.source, h.record_key FOR UPDATE OF h"
                ),
                &staged.params(&[&round]),
            )
            .await?;
        let mut retired: Vec<i64> = Vec::new();
        let decided = claimed + locked.len();
        for row in &locked {
            if row.try_get::<_, bool>(2)? {
                counts.unchanged += 1;
            } else {
                counts.changed += 1;
                retired.push(row.try_get(1)?);
            }
        }
        counts.new += claimed as u64;
        if decided != size {
            return Err(StoreError::Corrupt {
                id: 0,
                reason: format!(
                    "{size} records written but {decided} record heads found or claimed"
                ),
            });
        }
        if claimed == 0 && retired.is_empty() {
            continue;
        }
        // The rows to store are those whose head this transaction claimed (new) and those whose
        // locked head holds other content (changed: the next version, pointing at the head's).
        let import_parameter = staged.placeholder(1);
        transaction
            .execute(
                &format!(
                    "INSERT INTO source_record (id, source, record_key, version, previous_id, is_current,
                                                observed_at, import_id, content_hash, attributes)
                     SELECT incoming.id, incoming.source, incoming.record_key,
                            CASE WHEN h.record_id = incoming.id THEN 1 ELSE h.version + 1 END,
                            CASE WHEN h.record_id = incoming.id THEN NULL ELSE h.record_id END,
                            TRUE, incoming.observed_at, {import_parameter}, incoming.content_hash,
                            incoming.attributes
                     FROM {incoming} JOIN record_head h
                       ON h.source = incoming.source AND h.record_key = incoming.record_key
                     WHERE incoming.round = {round_parameter}
                       AND (h.record_id = incoming.id OR h.content_hash <> incoming.content_hash)
                     ORDER BY incoming.id"
                ),
                &staged.params(&[&round, &import]),
            )
            .await?;
        if !retired.is_empty() {
            transaction
                .execute(
                    "UPDATE source_record SET is_current = FALSE WHERE id = ANY($1::int8[])",
                    &[&retired],
                )
                .await?;
            transaction
                .execute(
                    &format!(
                        "UPDATE record_head h SET record_id = incoming.id, version = h.version + 1,
                                content_hash = incoming.content_hash
                         FROM {incoming}
                         WHERE incoming.round = {round_parameter}
                           AND h.source = incoming.source AND h.record_key = incoming.record_key
                           AND h.record_id <> incoming.id AND h.content_hash <> incoming.content_hash"
                    ),
                    &staged.params(&[&round]),
                )
                .await?;
        }
        // Every version stored by this round is now its key's head.
        transaction
            .execute(
                &format!(
                    "INSERT INTO sealed_value (record_id, key_id, sealed)
                     SELECT incoming.id, incoming.sealed_key_id, incoming.sealed
                     FROM {incoming} JOIN record_head h
                       ON h.source = incoming.source AND h.record_key = incoming.record_key
                     WHERE incoming.round = {round_parameter} AND h.record_id = incoming.id
                       AND incoming.sealed IS NOT NULL
                     ORDER BY incoming.id"
                ),
                &staged.params(&[&round]),
            )
            .await?;
    }
    drop(staged);
    transaction.commit().await?;
    Ok(counts)
}

/// One step of storing a run's profile events, in the run's order.
enum EventStep {
    /// Consecutive creations (a first run creates a profile per person), stored together.
    Created(Table),
    One(ProfileEvent),
}

/// A resolution run, ready to be sent.
pub(crate) struct Resolution {
    kind: RunKind,
    finished_at: String,
    records: i64,
    profiles: i64,
    /// One row per record (the last assignment wins when a record is listed twice).
    assignments: Table,
    identifiers: Table,
    events: Vec<EventStep>,
    /// `None`: the queue stays as it is.
    review: Option<Table>,
    /// The outbox rows of the run's arrivals (its profile events' rows are made from
    /// `profile_event`).
    changes: Table,
    /// A batch run's model, replacing the stored one.
    model: Option<String>,
}

/// Change events as one batch (see [`insert_changes`]).
pub(crate) fn change_table(changes: &[NewChange]) -> Table {
    Table {
        name: "staged_change".into(),
        columns: vec![
            (
                "event_key",
                Column::Text(changes.iter().map(|c| c.key.clone()).collect()),
            ),
            (
                "kind",
                Column::Text(changes.iter().map(|c| c.kind.name().to_string()).collect()),
            ),
            (
                "profile_id",
                Column::Text(
                    changes
                        .iter()
                        .map(|c| c.profile.as_str().to_string())
                        .collect(),
                ),
            ),
            (
                "other_profile_id",
                Column::OptText(
                    changes
                        .iter()
                        .map(|c| c.other.as_ref().map(|p| p.as_str().to_string()))
                        .collect(),
                ),
            ),
            (
                "record_id",
                Column::OptInt8(changes.iter().map(|c| c.record.map(|r| r.0)).collect()),
            ),
        ],
    }
}

/// Writes change events to the outbox after its last seq, skipping keys already there;
/// returns how many it wrote. The transaction holds the resolution turn, so seq order is
/// commit order.
pub(crate) async fn insert_changes(
    transaction: &Transaction<'_>,
    changes: &Table,
    run: Option<i64>,
    at: &str,
) -> Result<u64, StoreError> {
    if changes.rows() == 0 {
        return Ok(0);
    }
    let staged = stage(transaction, changes).await?;
    let written = transaction
        .execute(
            &format!(
                "INSERT INTO change_event
                 (seq, event_key, kind, profile_id, other_profile_id, record_id, run, occurred_at)
                 SELECT (SELECT coalesce(max(seq), 0) FROM change_event)
                        + row_number() OVER (ORDER BY ord),
                        event_key, kind, profile_id, other_profile_id, record_id, {}::BIGINT,
                        {}::TEXT
                 FROM {}
                 WHERE NOT EXISTS
                     (SELECT 1 FROM change_event e WHERE e.event_key = staged_change.event_key)
                 ORDER BY ord
                 ON CONFLICT (event_key) DO NOTHING",
                staged.placeholder(0),
                staged.placeholder(1),
                staged.relation()
            ),
            &staged.params(&[&run, &at]),
        )
        .await?;
    Ok(written)
}

impl Resolution {
    pub(crate) fn new(outcome: &ResolutionOutcome) -> Resolution {
        let mut latest: HashMap<i64, usize> = HashMap::new();
        for (i, assignment) in outcome.assignments.iter().enumerate() {
            latest.insert(assignment.record.0, i);
        }
        let kept: Vec<_> = outcome
            .assignments
            .iter()
            .enumerate()
            .filter(|(i, a)| latest.get(&a.record.0) == Some(i))
            .map(|(_, a)| a)
            .collect();
        let assignments = Table {
            name: "staged_assignment".into(),
            columns: vec![
                (
                    "record_id",
                    Column::Int8(kept.iter().map(|a| a.record.0).collect()),
                ),
                (
                    "profile_id",
                    Column::Text(
                        kept.iter()
                            .map(|a| a.profile.as_str().to_string())
                            .collect(),
                    ),
                ),
            ],
        };
        let identifiers: Vec<(&str, &str, i64)> = outcome
            .assignments
            .iter()
            .flat_map(|a| {
                a.identifiers
                    .iter()
                    .map(|(kind, value)| (kind.name(), value.as_str(), a.record.0))
            })
            .collect();
        let identifiers = Table {
            name: "staged_identifier".into(),
            columns: vec![
                (
                    "kind",
                    Column::Text(identifiers.iter().map(|i| i.0.to_string()).collect()),
                ),
                (
                    "value",
                    Column::Text(identifiers.iter().map(|i| i.1.to_string()).collect()),
                ),
                (
                    "record_id",
                    Column::Int8(identifiers.iter().map(|i| i.2).collect()),
                ),
            ],
        };
        let created = |event: &ProfileEvent| matches!(event, ProfileEvent::Created { .. });
        let mut events = Vec::new();
        for (i, changes) in outcome
            .events
            .chunk_by(|a, b| created(a) && created(b))
            .enumerate()
        {
            if changes.len() > 1 {
                let profiles = changes
                    .iter()
                    .filter_map(|change| match change {
                        ProfileEvent::Created { profile } => Some(profile.as_str().to_string()),
                        _ => None,
                    })
                    .collect();
                events.push(EventStep::Created(Table {
                    name: format!("staged_created_{i}"),
                    columns: vec![("profile_id", Column::Text(profiles))],
                }));
            } else {
                events.extend(changes.iter().cloned().map(EventStep::One));
            }
        }
        let review = outcome.review.as_ref().map(|review| Table {
            name: "staged_review".into(),
            columns: vec![
                (
                    "a_source",
                    Column::Text(review.iter().map(|r| r.a.0.as_str().to_string()).collect()),
                ),
                (
                    "a_key",
                    Column::Text(review.iter().map(|r| r.a.1.as_str().to_string()).collect()),
                ),
                (
                    "b_source",
                    Column::Text(review.iter().map(|r| r.b.0.as_str().to_string()).collect()),
                ),
                (
                    "b_key",
                    Column::Text(review.iter().map(|r| r.b.1.as_str().to_string()).collect()),
                ),
                (
                    "weight",
                    Column::Float8(review.iter().map(|r| r.weight).collect()),
                ),
            ],
        });
        Resolution {
            kind: outcome.kind,
            finished_at: timestamp(outcome.finished_at),
            records: outcome.records as i64,
            profiles: outcome.profiles as i64,
            assignments,
            identifiers,
            events,
            review,
            changes: change_table(&outcome.changes),
            model: outcome.model.clone(),
        }
    }
}

/// Stores a resolution run (see [`crate::Store::apply_resolution`]); returns the run number.
pub(crate) async fn apply_resolution(
    pool: Pool,
    resolution: Resolution,
) -> Result<u64, StoreError> {
    let mut client = pool.get().await?;
    let mut attempt = 1;
    loop {
        match apply_attempt(&mut client, &resolution).await {
            Err(error) if attempt < WRITE_ATTEMPTS && retryable(&error) => attempt += 1,
            result => return result,
        }
    }
}

async fn apply_attempt(client: &mut Object, resolution: &Resolution) -> Result<u64, StoreError> {
    let transaction = client.transaction().await?;
    take_turn(&transaction).await?;
    let run = apply_in(&transaction, resolution).await?;
    transaction.commit().await?;
    Ok(run)
}

/// Waits for, then holds until the transaction ends, the turn to store a resolution: runs from
/// several processes (online ingests on two nodes) take turns, as SQLite's single writer makes
/// them. Each replaces the review queue, which must not end as two runs' union, and an online
/// run must see every run before it (`ResolutionSession`).
pub(crate) async fn take_turn(transaction: &Transaction<'_>) -> Result<(), StoreError> {
    transaction
        .execute(
            "SELECT id FROM resolution_turn WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await?;
    Ok(())
}

/// Stores a resolution run inside a transaction that holds the turn; returns its number.
pub(crate) async fn apply_in(
    transaction: &Transaction<'_>,
    resolution: &Resolution,
) -> Result<u64, StoreError> {
    let run: i64 = transaction
        .query_one(
            "INSERT INTO resolution_run (kind, finished_at, records, profiles)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[
                &resolution.kind.name(),
                &resolution.finished_at,
                &resolution.records,
                &resolution.profiles,
            ],
        )
        .await?
        .try_get(0)?;
    if let Some(model) = &resolution.model {
        transaction
            .execute("DELETE FROM resolution_model", &[])
            .await?;
        transaction
            .execute(
                "INSERT INTO resolution_model (run, model) VALUES ($1, $2)",
                &[&run, model],
            )
            .await?;
    }
    let stamp = resolution.kind.stamp(run);
    if resolution.assignments.rows() > 0 {
        let staged = stage(transaction, &resolution.assignments).await?;
        transaction
            .execute(
                &format!(
                    "INSERT INTO profile_member (record_id, profile_id, run)
                     SELECT record_id, profile_id, {}::BIGINT FROM {} ORDER BY record_id
                     ON CONFLICT (record_id)
                     DO UPDATE SET profile_id = EXCLUDED.profile_id, run = EXCLUDED.run",
                    staged.placeholder(0),
                    staged.relation()
                ),
                &staged.params(&[&stamp]),
            )
            .await?;
    }
    if resolution.identifiers.rows() > 0 {
        let staged = stage(transaction, &resolution.identifiers).await?;
        transaction
            .execute(
                &format!(
                    "INSERT INTO resolved_identifier (kind, value, record_id)
                     SELECT kind, value, record_id FROM {} ORDER BY ord",
                    staged.relation()
                ),
                &staged.params(&[]),
            )
            .await?;
    }
    for step in &resolution.events {
        match step {
            EventStep::Created(profiles) => {
                let staged = stage(transaction, profiles).await?;
                let run_parameter = staged.placeholder(0);
                let relation = staged.relation();
                transaction
                    .execute(
                        &format!(
                            "INSERT INTO profile (profile_id, created_run)
                             SELECT profile_id, {run_parameter} FROM {relation} ORDER BY ord
                             ON CONFLICT (profile_id) DO NOTHING"
                        ),
                        &staged.params(&[&run]),
                    )
                    .await?;
                transaction
                    .execute(
                        &format!(
                            "INSERT INTO profile_event (run, kind, profile_id)
                             SELECT {run_parameter}, 'created', profile_id FROM {relation}
                             ORDER BY ord"
                        ),
                        &staged.params(&[&run]),
                    )
                    .await?;
            }
            EventStep::One(event) => {
                let (kind, profile, other) = match event {
                    ProfileEvent::Created { profile } => {
                        transaction
                            .execute(
                                "INSERT INTO profile (profile_id, created_run) VALUES ($1, $2)
                                 ON CONFLICT (profile_id) DO NOTHING",
                                &[&profile.as_str(), &run],
                            )
                            .await?;
                        ("created", profile, None)
                    }
                    ProfileEvent::Merged { from, into } => {
                        transaction
                            .execute(
                                "UPDATE profile SET merged_into = $2, merged_run = $3
                                 WHERE profile_id = $1",
                                &[&from.as_str(), &into.as_str(), &run],
                            )
                            .await?;
                        ("merged", from, Some(into))
                    }
                    ProfileEvent::Split { from, new } => ("split", from, Some(new)),
                };
                transaction
                    .execute(
                        "INSERT INTO profile_event (run, kind, profile_id, other_profile_id)
                         VALUES ($1, $2, $3, $4)",
                        &[&run, &kind, &profile.as_str(), &other.map(|p| p.as_str())],
                    )
                    .await?;
            }
        }
    }
    // The outbox: the run's profile events, then what its new records brought.
    transaction
        .execute(
            &format!(
                "INSERT INTO change_event
                 (seq, event_key, kind, profile_id, other_profile_id, run, occurred_at)
                 SELECT (SELECT coalesce(max(seq), 0) FROM change_event)
                        + row_number() OVER (ORDER BY ord),
                        event_key, kind, profile_id, other_profile_id, $1, $2
                 FROM ({}) AS run_events ORDER BY ord
                 ON CONFLICT (event_key) DO NOTHING",
                crate::events::PROFILE_EVENT_CHANGES
                    .replace("{run}", "$1")
                    .replace("{order}", "id")
            ),
            &[&run, &resolution.finished_at],
        )
        .await?;
    insert_changes(
        transaction,
        &resolution.changes,
        Some(run),
        &resolution.finished_at,
    )
    .await?;
    let Some(review) = &resolution.review else {
        return Ok(run as u64);
    };
    transaction.execute("DELETE FROM review_pair", &[]).await?;
    if review.rows() > 0 {
        let staged = stage(transaction, review).await?;
        transaction
            .execute(
                &format!(
                    "INSERT INTO review_pair (a_source, a_key, b_source, b_key, weight)
                     SELECT a_source, a_key, b_source, b_key, weight FROM {} ORDER BY ord",
                    staged.relation()
                ),
                &staged.params(&[]),
            )
            .await?;
    }
    Ok(run as u64)
}
