//! The clustered store: [`PgStore`] keeps everything in PostgreSQL, so that several server
//! processes (nodes) can share one registry.
//!
//! The [`Store`] and [`crate::AccessStore`] traits are synchronous, while the driver
//! (`tokio-postgres`, pooled by `deadpool-postgres`) is async. The store therefore owns a small
//! tokio runtime: every operation is spawned on it as one future, and the calling thread waits
//! for the answer on a plain channel. That works from a plain thread and from another runtime's
//! worker thread alike (the HTTP server calls the store from async handlers), where
//! `Runtime::block_on` would panic. The runtime is shut down in the background when the store is
//! dropped, so dropping it inside an async context does not panic either.
//!
//! Observable behaviour is the SQLite store's (the suite in `tests/conformance.rs` runs against
//! both). What differs is how concurrency is made safe: SQLite has one writer, PostgreSQL has
//! many, so writes that SQLite serialises by its write lock take row locks here (`record_head`
//! for records, `access_chain_head` for the access log, `resolution_turn` for resolution runs).
//! Bulk writes stage their rows with binary COPY into temporary tables (`postgres/staging.rs`);
//! the write paths are in `postgres/write.rs`, the serving tables in `postgres/access.rs`. Not
//! handled: TLS (the connection is plain TCP; use a local socket, a tunnel or a private
//! network).

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tessera_model::{IdKind, ProfileId, SourceId};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::columns::{RawRecord, address, decode_record, parse_time, timestamp};
use crate::{
    Decision, ImportEnd, ImportId, ImportStatus, PreparedRecord, ProfileEvent, ProfileHistory,
    RecordAddress, RecordId, ResolutionChanges, ResolutionOutcome, ResolutionSession, ReviewItem,
    Store, StoreCounts, StoreError, StoredRecord, WriteCounts,
};

mod access;
mod events;
mod migrate;
mod scan;
mod session;
mod staging;
mod write;

/// Connections one store keeps at most. Each caller thread holds one for the length of an
/// operation; a server's handlers beyond this many wait for a free one.
const POOL_SIZE: usize = 16;

/// Worker threads of the store's own runtime. They only shuttle bytes between the sockets and
/// the waiting callers; decoding records happens on the callers' side.
const RUNTIME_THREADS: usize = 2;

/// A statement parameter owned by the future that runs the statement.
type Param = Box<dyn ToSql + Sync + Send>;

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// The PostgreSQL store (see the module comment). Cheap to share between threads; each
/// operation takes a pooled connection for its length.
pub struct PgStore {
    pool: Pool,
    /// `Some` until the store is dropped; see the module comment for why the store has its own.
    runtime: Option<tokio::runtime::Runtime>,
    /// The schema every pooled connection works in, when the store was opened in one.
    schema: Option<String>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which panics inside another runtime's
        // async context (a server dropping its state); shutting down in the background does not
        // wait. Pending operations are cancelled, which rolls their transactions back.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Whether a schema name can be written into SQL as it is.
fn plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:5432/db`), in its default
    /// search path, and brings the schema up to date.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        PgStore::open(url, None)
    }

    /// Like [`PgStore::connect`], but works in `schema` (created if missing; lowercase letters,
    /// digits and underscores): every pooled connection starts with `search_path` set to it.
    /// Tests use a fresh schema each, so they run side by side in one database.
    pub fn connect_in_schema(url: &str, schema: &str) -> Result<PgStore, StoreError> {
        if !plain_identifier(schema) {
            return Err(StoreError::PostgresSchemaName(schema.to_string()));
        }
        PgStore::open(url, Some(schema))
    }

    fn open(url: &str, schema: Option<&str>) -> Result<PgStore, StoreError> {
        let mut config: tokio_postgres::Config = url.parse()?;
        if let Some(schema) = schema {
            let options = match config.get_options() {
                Some(options) => format!("{options} -c search_path={schema}"),
                None => format!("-c search_path={schema}"),
            };
            config.options(&options);
        }
        if config.get_application_name().is_none() {
            config.application_name("tessera");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("tessera-postgres")
            .enable_all()
            .build()
            .map_err(StoreError::PostgresRuntime)?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(60)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()?;
        let store = PgStore {
            pool,
            runtime: Some(runtime),
            schema: schema.map(str::to_string),
        };
        let schema = store.schema.clone();
        store.with_client(move |client| migrate::migrate(client, schema))?;
        Ok(store)
    }

    /// The schema the store works in, if it was opened in one.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Runs `operation` on the store's runtime and waits for its answer on this thread.
    fn run<T, F>(&self, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or(StoreError::PostgresWorkerGone)?;
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            // The caller waits until this is sent; if it has gone, nobody needs the answer.
            let _ = answer.send(operation.await);
        });
        // A panic in the operation drops the sender without an answer.
        answered
            .recv()
            .map_err(|_| StoreError::PostgresWorkerGone)?
    }

    /// Runs `operation` with a pooled connection.
    fn with_client<T, F, Fut>(&self, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.run(async move { operation(pool.get().await?).await })
    }

    /// Runs one statement and returns its rows.
    pub(crate) fn query(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: Vec<Param>,
    ) -> Result<Vec<Row>, StoreError> {
        let sql = sql.into();
        self.with_client(move |client| async move {
            let statement = client.prepare_cached(&sql).await?;
            Ok(client.query(&statement, &refs(&params)).await?)
        })
    }

    /// Runs one statement and returns how many rows it changed.
    pub(crate) fn execute(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: Vec<Param>,
    ) -> Result<u64, StoreError> {
        let sql = sql.into();
        self.with_client(move |client| async move {
            let statement = client.prepare_cached(&sql).await?;
            Ok(client.execute(&statement, &refs(&params)).await?)
        })
    }

    fn records(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: Vec<Param>,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.query(sql, params)?
            .iter()
            .map(|row| decode_record(raw_record(row)?))
            .collect()
    }

    /// Drops the store's schema with everything in it: tests' clean-up, compiled only with the
    /// `testing` feature. Does nothing for a store opened without a schema.
    #[cfg(feature = "testing")]
    pub fn drop_schema(&self) -> Result<(), StoreError> {
        let Some(schema) = self.schema.clone() else {
            return Ok(());
        };
        self.with_client(move |client| async move {
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await?;
            Ok(())
        })
    }

    /// Whether any row of any table in the store's schema contains `needle` in its text form
    /// (tests' check that a special value is never stored in the clear).
    #[cfg(feature = "testing")]
    pub(crate) fn any_row_contains(&self, needle: &str) -> Result<bool, StoreError> {
        let needle = needle.to_string();
        self.with_client(move |client| async move {
            let tables = client
                .query(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                    &[],
                )
                .await?;
            for table in tables {
                let name: String = table.try_get(0)?;
                // BYTEA columns show as hex in a row's text form.
                let sql = format!(
                    "SELECT EXISTS (SELECT 1 FROM \"{name}\" t
                     WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0)"
                );
                let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
                if client.query_one(&sql, &[&needle, &hex]).await?.try_get(0)? {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }
}

/// Whether an error is PostgreSQL's (or CockroachDB's) way of saying "try the transaction
/// again": a serialization failure or a deadlock.
fn retryable(error: &StoreError) -> bool {
    use tokio_postgres::error::SqlState;
    let code = match error {
        StoreError::Postgres(e) => e.code(),
        _ => None,
    };
    code.is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// How often a write whose transaction lost a conflict is tried again.
const WRITE_ATTEMPTS: usize = 5;

/// The one row a statement that always returns one (an INSERT ... RETURNING, an aggregate) gave.
fn first(rows: &[Row]) -> Result<&Row, StoreError> {
    rows.first().ok_or(StoreError::Corrupt {
        id: 0,
        reason: "a statement that returns a row returned none".into(),
    })
}

const RECORD_COLUMNS: &str =
    "r.id, r.source, r.record_key, r.version, r.observed_at, r.attributes, pm.profile_id";

/// `(run, event)` from a row of `run, kind, profile_id, other_profile_id`.
fn event_from_row(row: &Row) -> Result<(u64, ProfileEvent), StoreError> {
    let (run, kind): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
    let id = ProfileId::new(row.try_get(2)?);
    let other: Option<String> = row.try_get(3)?;
    let event = match (kind.as_str(), other.map(ProfileId::new)) {
        ("merged", Some(into)) => ProfileEvent::Merged { from: id, into },
        ("split", Some(new)) => ProfileEvent::Split { from: id, new },
        _ => ProfileEvent::Created { profile: id },
    };
    Ok((run as u64, event))
}

fn raw_record(row: &Row) -> Result<RawRecord, StoreError> {
    Ok(RawRecord {
        id: row.try_get(0)?,
        source: row.try_get(1)?,
        key: row.try_get(2)?,
        version: i64::from(row.try_get::<_, i32>(3)?),
        observed_at: row.try_get(4)?,
        attributes: row.try_get(5)?,
        profile: row.try_get(6)?,
    })
}

impl Store for PgStore {
    fn begin_import(
        &self,
        source: &SourceId,
        file: &str,
        started_at: DateTime<Utc>,
    ) -> Result<ImportId, StoreError> {
        let rows = self.query(
            "INSERT INTO import_run (source, file, started_at, status) VALUES ($1, $2, $3, 'running')
             RETURNING id",
            vec![
                Box::new(source.as_str().to_string()),
                Box::new(file.to_string()),
                Box::new(timestamp(started_at)),
            ],
        )?;
        Ok(ImportId(first(&rows)?.try_get(0)?))
    }

    fn write_records(
        &self,
        import: ImportId,
        records: &[PreparedRecord],
    ) -> Result<WriteCounts, StoreError> {
        if records.is_empty() {
            return Ok(WriteCounts::default());
        }
        let batch = write::RecordBatch::new(records);
        self.run(write::write_records(self.pool.clone(), import.0, batch))
    }

    fn finish_import(&self, import: ImportId, end: &ImportEnd) -> Result<(), StoreError> {
        let (status, detail) = match &end.status {
            ImportStatus::Done => ("done", None),
            ImportStatus::Failed(reason) => ("failed", Some(reason.clone())),
        };
        let updated = self.execute(
            "UPDATE import_run SET finished_at = $2, status = $3, status_detail = $4, rows_read = $5,
             new_records = $6, changed_records = $7, unchanged = $8, quarantined = $9,
             quarantine_path = $10 WHERE id = $1",
            vec![
                Box::new(import.0),
                Box::new(timestamp(end.finished_at)),
                Box::new(status),
                Box::new(detail),
                Box::new(end.rows_read as i64),
                Box::new(end.counts.new as i64),
                Box::new(end.counts.changed as i64),
                Box::new(end.counts.unchanged as i64),
                Box::new(end.quarantined as i64),
                Box::new(end.quarantine_path.clone()),
            ],
        )?;
        if updated == 0 {
            Err(StoreError::NoSuchImport(import.0))
        } else {
            Ok(())
        }
    }

    fn scan_current(&self, visit: &mut dyn FnMut(StoredRecord)) -> Result<(), StoreError> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or(StoreError::PostgresWorkerGone)?;
        scan::scan_current(runtime, self.pool.clone(), visit)
    }

    fn apply_resolution(&self, outcome: &ResolutionOutcome) -> Result<u64, StoreError> {
        let resolution = write::Resolution::new(outcome);
        self.run(write::apply_resolution(self.pool.clone(), resolution))
    }

    fn begin_resolution(&self) -> Result<Box<dyn ResolutionSession + '_>, StoreError> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or(StoreError::PostgresWorkerGone)?;
        Ok(Box::new(session::begin(runtime, self.pool.clone())?))
    }

    fn resolution_head(&self) -> Result<u64, StoreError> {
        self.with_client(|client| async move { session::head(&client).await })
    }

    fn resolution_changes_since(&self, run: u64) -> Result<ResolutionChanges, StoreError> {
        self.with_client(move |client| async move { session::changes_since(&client, run).await })
    }

    fn profile_ages(&self) -> Result<HashMap<ProfileId, u64>, StoreError> {
        self.query(
            "SELECT profile_id, created_run FROM profile WHERE merged_into IS NULL",
            vec![],
        )?
        .iter()
        .map(|row| {
            Ok((
                ProfileId::new(row.try_get(0)?),
                row.try_get::<_, i64>(1)? as u64,
            ))
        })
        .collect()
    }

    fn profile_history(&self, profile: &ProfileId) -> Result<ProfileHistory, StoreError> {
        let profile = profile.as_str().to_string();
        self.with_client(move |client| async move {
            let created_run: Option<i64> = client
                .query_opt(
                    "SELECT created_run FROM profile WHERE profile_id = $1",
                    &[&profile],
                )
                .await?
                .map(|row| row.try_get(0))
                .transpose()?;
            // Follow merges to the surviving profile; ids never merge in a cycle, but stop anyway.
            let merged = client
                .prepare_cached("SELECT merged_into FROM profile WHERE profile_id = $1")
                .await?;
            let mut merged_into = None;
            let mut current = profile.clone();
            for _ in 0..64 {
                let next: Option<String> = match client.query_opt(&merged, &[&current]).await? {
                    Some(row) => row.try_get(0)?,
                    None => None,
                };
                match next {
                    Some(next) => {
                        merged_into = Some(ProfileId::new(next.clone()));
                        current = next;
                    }
                    None => break,
                }
            }
            let rows = client
                .query(
                    "SELECT run, kind, profile_id, other_profile_id FROM profile_event
                     WHERE profile_id = $1 OR other_profile_id = $1 ORDER BY run, id",
                    &[&profile],
                )
                .await?;
            let events = rows.iter().map(event_from_row).collect::<Result<_, _>>()?;
            Ok(ProfileHistory {
                created_run: created_run.map(|r| r as u64),
                merged_into,
                events,
            })
        })
    }

    fn review_queue(&self, limit: usize) -> Result<Vec<ReviewItem>, StoreError> {
        self.query(
            "SELECT a_source, a_key, b_source, b_key, weight FROM review_pair
             ORDER BY weight DESC, id LIMIT $1",
            vec![Box::new(limit as i64)],
        )?
        .iter()
        .map(|row| {
            Ok(ReviewItem {
                a: address(row.try_get(0)?, row.try_get(1)?)?,
                b: address(row.try_get(2)?, row.try_get(3)?)?,
                weight: row.try_get(4)?,
            })
        })
        .collect()
    }

    fn record_decision(
        &self,
        a: &RecordAddress,
        b: &RecordAddress,
        same: bool,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let rows = self.query(
            "INSERT INTO steward_decision (a_source, a_key, b_source, b_key, same, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            vec![
                Box::new(a.0.as_str().to_string()),
                Box::new(a.1.as_str().to_string()),
                Box::new(b.0.as_str().to_string()),
                Box::new(b.1.as_str().to_string()),
                Box::new(same),
                Box::new(timestamp(at)),
            ],
        )?;
        Ok(first(&rows)?.try_get(0)?)
    }

    fn revert_decision(&self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let updated = self.execute(
            "UPDATE steward_decision SET reverted_at = $2 WHERE id = $1 AND reverted_at IS NULL",
            vec![Box::new(id), Box::new(timestamp(at))],
        )?;
        Ok(updated == 1)
    }

    fn decisions(&self, include_reverted: bool) -> Result<Vec<Decision>, StoreError> {
        self.query(
            "SELECT id, a_source, a_key, b_source, b_key, same, decided_at, reverted_at
             FROM steward_decision WHERE $1 OR reverted_at IS NULL ORDER BY id",
            vec![Box::new(include_reverted)],
        )?
        .iter()
        .map(|row| {
            let id: i64 = row.try_get(0)?;
            let time = |text: String| {
                parse_time(&text).map_err(|e| StoreError::Corrupt {
                    id,
                    reason: format!("decision time: {e}"),
                })
            };
            Ok(Decision {
                id,
                a: address(row.try_get(1)?, row.try_get(2)?)?,
                b: address(row.try_get(3)?, row.try_get(4)?)?,
                same: row.try_get(5)?,
                decided_at: time(row.try_get(6)?)?,
                reverted_at: row.try_get::<_, Option<String>>(7)?.map(time).transpose()?,
            })
        })
        .collect()
    }

    fn profile_records(&self, profile: &ProfileId) -> Result<Vec<StoredRecord>, StoreError> {
        self.records(
            format!(
                "SELECT {RECORD_COLUMNS}
             FROM profile_member pm JOIN source_record r ON r.id = pm.record_id
             WHERE pm.profile_id = $1 AND r.is_current ORDER BY r.source, r.record_key"
            ),
            vec![Box::new(profile.as_str().to_string())],
        )
    }

    fn records_with_identifier(
        &self,
        kind: IdKind,
        value: &str,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.records(
            format!(
                "SELECT DISTINCT {RECORD_COLUMNS}
             FROM resolved_identifier i JOIN source_record r ON r.id = i.record_id
             LEFT JOIN profile_member pm ON pm.record_id = r.id
             WHERE i.kind = $1 AND i.value = $2 AND r.is_current ORDER BY r.source, r.record_key"
            ),
            vec![Box::new(kind.name()), Box::new(value.to_string())],
        )
    }

    fn record_versions(
        &self,
        source: &SourceId,
        key: &str,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        self.records(
            format!(
                "SELECT {RECORD_COLUMNS}
             FROM source_record r LEFT JOIN profile_member pm ON pm.record_id = r.id
             WHERE r.source = $1 AND r.record_key = $2 ORDER BY r.version"
            ),
            vec![
                Box::new(source.as_str().to_string()),
                Box::new(key.to_string()),
            ],
        )
    }

    fn record(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError> {
        Ok(self
            .records(
                format!(
                    "SELECT {RECORD_COLUMNS}
                     FROM source_record r LEFT JOIN profile_member pm ON pm.record_id = r.id
                     WHERE r.id = $1"
                ),
                vec![Box::new(id.0)],
            )?
            .pop())
    }

    fn latest_model(&self) -> Result<Option<String>, StoreError> {
        let rows = self.query(
            "SELECT model FROM resolution_model ORDER BY run DESC LIMIT 1",
            vec![],
        )?;
        Ok(match rows.first() {
            Some(row) => Some(row.try_get(0)?),
            None => None,
        })
    }

    fn counts(&self) -> Result<StoreCounts, StoreError> {
        let rows = self.query(
            "SELECT (SELECT count(*) FROM record_head),
                    (SELECT count(*) FROM source_record),
                    (SELECT count(DISTINCT profile_id) FROM profile_member),
                    (SELECT count(*) FROM record_head h
                     LEFT JOIN profile_member pm ON pm.record_id = h.record_id
                     WHERE pm.record_id IS NULL)",
            vec![],
        )?;
        let row = first(&rows)?;
        let count = |i: usize| -> Result<u64, StoreError> { Ok(row.try_get::<_, i64>(i)? as u64) };
        Ok(StoreCounts {
            records: count(0)?,
            versions: count(1)?,
            profiles: count(2)?,
            unresolved: count(3)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_schema_names_are_accepted() {
        assert!(plain_identifier("tessera_test_1"));
        assert!(!plain_identifier("Tessera"));
        assert!(!plain_identifier("a; DROP TABLE x"));
        assert!(!plain_identifier("1abc"));
        assert!(!plain_identifier(""));
    }
}
