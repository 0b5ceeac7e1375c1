//! The embedded store: bundled SQLite in WAL mode, two database files in the data directory: the
//! store's (records, profiles, clients, consents, sealed values) and the access log's.
//!
//! One writing connection per file behind a mutex: SQLite has one writer at a time anyway, and
//! the importer writes in large batches, one transaction each, with cached prepared statements.
//! The access log has its own file because SQLite empties a connection's page cache whenever
//! another connection has committed to its file: with the log in the store's file, the server's
//! appends (hundreds of commits a second) emptied the readers' caches before nearly every read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use rusqlite_migration::{M, Migrations};
use tessera_model::{IdKind, ProfileId, SourceId};

use crate::columns::{RawRecord, SCAN_CHUNK, address, decode_record, timestamp, visit_decoded};
use crate::{
    Decision, ImportEnd, ImportId, ImportStatus, NewChange, PreparedRecord, ProfileEvent,
    ProfileHistory, RecordAddress, RecordId, ResolutionChanges, ResolutionOutcome,
    ResolutionSession, ReviewItem, Store, StoreCounts, StoreError, StoredRecord, WriteCounts,
};

mod access;
mod events;

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "tessera.sqlite3";
/// The file processes lock while they set up and migrate the data directory's databases.
pub const SCHEMA_LOCK_FILE: &str = "schema.lock";
/// The access log's database file inside the data directory.
pub const ACCESS_LOG_FILE: &str = "access-log.sqlite3";

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../migrations/sqlite/0001_init.sql")),
        M::up(include_str!("../migrations/sqlite/0002_profiles.sql")),
        M::up(include_str!("../migrations/sqlite/0003_review.sql")),
        M::up(include_str!("../migrations/sqlite/0004_serving.sql")),
        M::up(include_str!(
            "../migrations/sqlite/0005_resolution_feed.sql"
        )),
        M::up(include_str!("../migrations/sqlite/0006_log_apart.sql")),
        M::up(include_str!("../migrations/sqlite/0007_change_events.sql")),
        M::up(include_str!(
            "../migrations/sqlite/0008_identifier_index_value_first.sql"
        )),
        M::up(include_str!(
            "../migrations/sqlite/0009_resolution_model.sql"
        )),
    ])
}

/// The store's schema version whose `access_log` table moves to the access log's file.
const LOG_MOVES_AFTER: usize = 5;

fn log_migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(include_str!(
        "../migrations/sqlite-log/0001_access_log.sql"
    ))])
}

/// Opens a database file for writing: WAL, checkpoints left to the [`Checkpointer`]. A page
/// size applies only to a file that is new.
fn open_writer(
    path: &Path,
    cache_kib: i64,
    page_size: Option<i64>,
) -> Result<Connection, StoreError> {
    let connection = Connection::open(path)?;
    if let Some(page_size) = page_size {
        connection.pragma_update(None, "page_size", page_size)?;
    }
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "wal_autocheckpoint", 0)?;
    // NORMAL in WAL mode: a committed batch survives a process crash; a power cut may lose
    // the last transactions but never corrupts the database.
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.pragma_update(None, "cache_size", -cache_kib)?;
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    connection.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(connection)
}

fn open_reader(path: &Path, cache_kib: i64, mmap: bool) -> Result<Connection, StoreError> {
    let reader = Connection::open(path)?;
    reader.pragma_update(None, "query_only", "ON")?;
    reader.pragma_update(None, "cache_size", -cache_kib)?;
    if mmap {
        // SQLite caps this at its compile-time SQLITE_MAX_MMAP_SIZE, which .cargo/config.toml
        // raises from the bundled build's 2 GiB to 1 TiB, so the whole store is mapped.
        reader.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
    }
    reader.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(reader)
}

/// Moves the access log of a store made before it had its own file: copies the rows into the
/// log's file (unless an interrupted earlier move already did) and checks that every row is
/// there; the store's migration then drops its table. Two transactions, one per file, so a
/// crash between them leaves the rows in both files, never in neither.
fn move_access_log(store: &Connection, log_path: &Path) -> Result<(), StoreError> {
    store.execute(
        "ATTACH DATABASE ?1 AS log",
        params![log_path.to_string_lossy()],
    )?;
    let moved = (|| -> Result<(), StoreError> {
        let log_empty: bool = store.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM log.access_log)",
            [],
            |r| r.get(0),
        )?;
        if log_empty {
            store.execute_batch(
                "BEGIN IMMEDIATE;
                 INSERT INTO log.access_log (seq, entry, profile_id, prev_hash, hash)
                     SELECT seq, entry, profile_id, prev_hash, hash FROM main.access_log ORDER BY seq;
                 COMMIT;",
            )?;
        }
        let missing: i64 = store.query_row(
            "SELECT count(*) FROM main.access_log m
             WHERE NOT EXISTS (SELECT 1 FROM log.access_log l WHERE l.seq = m.seq AND l.hash = m.hash)",
            [],
            |r| r.get(0),
        )?;
        if missing > 0 {
            return Err(StoreError::Corrupt {
                id: 0,
                reason: format!(
                    "{missing} access-log entries of {DATABASE_FILE} are not in {ACCESS_LOG_FILE}; \
                     the log was not moved"
                ),
            });
        }
        Ok(())
    })();
    if moved.is_err() {
        let _ = store.execute_batch("ROLLBACK");
    }
    store.execute_batch("DETACH DATABASE log")?;
    moved
}

/// Read-only connections beside the writer: WAL lets them read while it writes.
const READERS: usize = 4;
/// Each reader's page cache, in KiB.
const READER_CACHE_KIB: i64 = 16384;
/// How much of the store's file each reader maps into memory, so that a page read is a memory
/// read rather than a pread copying it out of the kernel's cache. Worth it only because nothing
/// commits to the store's file while it serves reads (the access log has its own): SQLite drops
/// a connection's mapping, with its page cache, whenever it sees another connection's commit,
/// and when the log shared the file that made mapped readers slower (7,053 against 8,733 reads/s
/// at 1M persons).
const READER_MMAP_BYTES: i64 = 1 << 40;

pub struct SqliteStore {
    /// The one connection that writes (SQLite has one writer at a time anyway).
    connection: Mutex<Connection>,
    /// Connections that only read, taken in turn, so that reads do not wait for the writer or
    /// for each other (the server's profile reads beside its access-log appends).
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
    path: PathBuf,
    checkpointer: Option<Checkpointer>,
    /// The access log's file: its writer (appends never wait for an import's batch), a reader
    /// (the person's view and `audit verify` never wait for appends) and its checkpointer.
    pub(crate) log: Mutex<Connection>,
    pub(crate) log_reader: Mutex<Connection>,
    pub(crate) log_checkpointer: Option<Checkpointer>,
}

/// The least time between two checkpoints of one file. A server under load nudges after each
/// access-log commit, and a checkpoint (two fsyncs) after each one took 18% of its CPU time at
/// 10,000 reads/s. (While commits keep arriving SQLite cannot start the WAL again from its
/// beginning, which it does only when a writer finds every frame copied: under sustained load
/// the log's WAL grows until the load pauses, as it did before. Forcing a RESTART checkpoint
/// held the appends for 20 to 50 ms of copying and fsyncs, which showed in p99.)
const CHECKPOINT_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// The access log's page size. Every entry lands on a random leaf of the by-profile index, so
/// each one dirties a whole page that the commit writes to the WAL and a checkpoint writes again
/// into the file: with 4 KiB pages that was about 1.6 pages of WAL per entry, 70 MB/s at 10,000
/// reads/s (and a WAL that grows while commits keep arriving costs the kernel a freshly zeroed
/// page per frame).
const LOG_PAGE_SIZE: i64 = 1024;

/// The access log writer's page cache, in KiB: the end of the log and the upper levels of its
/// index. Small on purpose: a commit whose transaction split a page of the by-profile index ends
/// with SQLite walking every page this connection caches (`pcache1TruncateUnsafe`). That only
/// stays cheap because .cargo/config.toml builds SQLite with a page cache per connection: in
/// the bundled build's shared pool this cache grew to 17,688 pages against its limit of 112,
/// and the walk took 16% of a loaded server's time at 1M persons.
const LOG_WRITER_CACHE_KIB: i64 = 1024;

/// Copies committed WAL frames into the database file on its own connection and thread, so the
/// writer's commits never wait for a checkpoint (with SQLite's automatic checkpoint, the commit
/// that crosses the threshold does it, which was 22% of a bulk import's time).
pub(crate) struct Checkpointer {
    wake: std::sync::mpsc::SyncSender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(std::time::Duration::from_secs(30))?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                // A PASSIVE checkpoint never blocks the writer; a failed one is retried next time.
                let mut asked = woken.recv().is_ok();
                while asked {
                    let _ = connection.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
                    asked = match pause(&woken) {
                        Pause::Nudged => true,
                        Pause::Quiet => woken.recv().is_ok(),
                        Pause::Closed => false,
                    };
                }
                let _ = connection.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
            })
            .map_err(|source| StoreError::DataDir {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Checkpointer {
            wake,
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint soon; does nothing if one is already asked for.
    pub(crate) fn nudge(&self) {
        let _ = self.wake.try_send(());
    }
}

/// How a checkpointer's pause after a checkpoint ended.
enum Pause {
    /// Nudges came meanwhile: one checkpoint serves them all.
    Nudged,
    Quiet,
    /// The store is closing: it checkpoints one last time at once, not after the pause (every
    /// command would otherwise end up to [`CHECKPOINT_PAUSE`] later).
    Closed,
}

/// Waits out [`CHECKPOINT_PAUSE`] after a checkpoint: each one syncs the database file to disk,
/// and a busy server commits to the access log hundreds of times a second.
fn pause(woken: &std::sync::mpsc::Receiver<()>) -> Pause {
    let until = std::time::Instant::now() + CHECKPOINT_PAUSE;
    let mut nudged = false;
    loop {
        match woken.recv_timeout(until.saturating_duration_since(std::time::Instant::now())) {
            Ok(()) => nudged = true,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if nudged => return Pause::Nudged,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => return Pause::Quiet,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Pause::Closed,
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        let checkpointers = [self.checkpointer.take(), self.log_checkpointer.take()];
        for mut checkpointer in checkpointers.into_iter().flatten() {
            let thread = checkpointer.thread.take();
            drop(checkpointer);
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
    }
}

/// A transaction that takes the write lock at once. A deferred one that reads first and writes
/// later fails with "database is locked", without waiting, when another process (the CLI beside
/// a running server) committed in between; an immediate one waits its turn (busy_timeout).
fn write_transaction(connection: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let log_path = data_dir.join(ACCESS_LOG_FILE);
        // Processes opening the directory at once take turns setting up and migrating the
        // files: each migration reads the schema version and then writes, and two doing so
        // together both try to create the same tables. The lock is the operating system's
        // (flock), so a process that dies holding it releases it.
        let lock_path = data_dir.join(SCHEMA_LOCK_FILE);
        let schema_lock = std::fs::File::create(&lock_path)
            .and_then(|file| file.lock().map(|()| file))
            .map_err(|source| StoreError::SchemaLock {
                path: lock_path,
                source,
            })?;
        let mut connection = open_writer(&path, 65536, None)?;
        let mut log = open_writer(&log_path, LOG_WRITER_CACHE_KIB, Some(LOG_PAGE_SIZE))?;
        log_migrations().to_latest(&mut log)?;
        let before = migrations().current_version(&connection)?;
        if usize::from(&before) <= LOG_MOVES_AFTER {
            migrations().to_version(&mut connection, LOG_MOVES_AFTER)?;
            move_access_log(&connection, &log_path)?;
        }
        migrations().to_latest(&mut connection)?;
        drop(schema_lock);
        let checkpointer = Some(Checkpointer::start(&path)?);
        let log_checkpointer = Some(Checkpointer::start(&log_path)?);
        let readers = (0..READERS)
            .map(|_| Ok(Mutex::new(open_reader(&path, READER_CACHE_KIB, true)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
            readers,
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            path,
            checkpointer,
            log: Mutex::new(log),
            log_reader: Mutex::new(open_reader(&log_path, 8192, false)?),
            log_checkpointer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A read-only connection: the first free one, else wait for one taken in turn. Always
    /// trying from the first keeps most reads on the same few connections, whose page caches
    /// and mapped pages are then warm.
    fn read(&self) -> MutexGuard<'_, Connection> {
        for reader in &self.readers {
            if let Ok(guard) = reader.try_lock() {
                return guard;
            }
        }
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.readers[start % self.readers.len()]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back), so a
        // poisoned mutex is safe to keep using.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

const RECORD_COLUMNS: &str =
    "r.id, r.source, r.record_key, r.version, r.observed_at, r.attributes, pm.profile_id";

fn read_record(row: &Row<'_>) -> Result<StoredRecord, StoreError> {
    decode_record(read_raw(row)?)
}

fn read_raw(row: &Row<'_>) -> Result<RawRecord, StoreError> {
    Ok(RawRecord {
        id: row.get(0)?,
        source: row.get(1)?,
        key: row.get(2)?,
        version: row.get(3)?,
        observed_at: row.get(4)?,
        attributes: row.get(5)?,
        profile: row.get(6)?,
    })
}

/// Rows per multi-row INSERT: one statement execution per this many rows instead of per row.
const ROWS_PER_INSERT: usize = 128;

/// Inserts rows of `columns` values each with `head` (`INSERT INTO t (a, b) VALUES `), many
/// rows per statement.
fn insert_rows<'a, const N: usize>(
    connection: &Connection,
    head: &str,
    columns: usize,
    rows: impl Iterator<Item = [ValueRef<'a>; N]>,
) -> Result<(), StoreError> {
    debug_assert_eq!(columns, N);
    let placeholders = |count: usize| {
        let row = format!("({})", vec!["?"; N].join(", "));
        format!("{head}{}", vec![row; count].join(", "))
    };
    let mut full = connection.prepare_cached(&placeholders(ROWS_PER_INSERT))?;
    let mut chunk: Vec<ValueRef<'a>> = Vec::with_capacity(ROWS_PER_INSERT * N);
    for row in rows {
        chunk.extend(row);
        if chunk.len() == ROWS_PER_INSERT * N {
            full.execute(params_from_iter(chunk.drain(..).map(ToSqlOutput::Borrowed)))?;
        }
    }
    if !chunk.is_empty() {
        connection
            .prepare(&placeholders(chunk.len() / N))?
            .execute(params_from_iter(chunk.drain(..).map(ToSqlOutput::Borrowed)))?;
    }
    Ok(())
}

fn collect_records(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<StoredRecord>, StoreError> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut records = Vec::new();
    while let Some(row) = rows.next()? {
        records.push(read_record(row)?);
    }
    Ok(records)
}

impl Store for SqliteStore {
    fn begin_import(
        &self,
        source: &SourceId,
        file: &str,
        started_at: DateTime<Utc>,
    ) -> Result<ImportId, StoreError> {
        let connection = self.lock();
        connection.execute(
            "INSERT INTO import_run (source, file, started_at, status) VALUES (?1, ?2, ?3, 'running')",
            params![source.as_str(), file, timestamp(started_at)],
        )?;
        Ok(ImportId(connection.last_insert_rowid()))
    }

    fn write_records(
        &self,
        import: ImportId,
        records: &[PreparedRecord],
    ) -> Result<WriteCounts, StoreError> {
        let mut connection = self.lock();
        let transaction = write_transaction(&mut connection)?;
        let mut counts = WriteCounts::default();
        {
            let mut head = transaction
                .prepare_cached("SELECT record_id, version, content_hash FROM record_head WHERE source = ?1 AND record_key = ?2")?;
            let mut insert = transaction.prepare_cached(
                "INSERT INTO source_record (source, record_key, version, previous_id, is_current, observed_at, import_id, content_hash, attributes)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8)",
            )?;
            let mut insert_head = transaction.prepare_cached(
                "INSERT INTO record_head (source, record_key, record_id, version, content_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut update_head = transaction.prepare_cached(
                "UPDATE record_head SET record_id = ?3, version = ?4, content_hash = ?5 WHERE source = ?1 AND record_key = ?2",
            )?;
            let mut retire = transaction
                .prepare_cached("UPDATE source_record SET is_current = 0 WHERE id = ?1")?;
            let mut insert_sealed = transaction.prepare_cached(
                "INSERT INTO sealed_value (record_id, key_id, sealed) VALUES (?1, ?2, ?3)",
            )?;
            for record in records {
                let (source, key) = (record.source.as_str(), record.key.as_str());
                let existing: Option<(i64, i64, Vec<u8>)> = head
                    .query_row(params![source, key], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()?;
                let (version, previous) = match existing {
                    Some((_, _, hash)) if hash == record.content_hash => {
                        counts.unchanged += 1;
                        continue;
                    }
                    Some((id, version, _)) => {
                        retire.execute(params![id])?;
                        counts.changed += 1;
                        (version + 1, Some(id))
                    }
                    None => {
                        counts.new += 1;
                        (1, None)
                    }
                };
                insert.execute(params![
                    source,
                    key,
                    version,
                    previous,
                    timestamp(record.observed_at),
                    import.0,
                    &record.content_hash[..],
                    record.attributes_json,
                ])?;
                let id = transaction.last_insert_rowid();
                if let Some(sealed) = &record.sealed {
                    insert_sealed.execute(params![id, sealed.key_id, sealed.bytes])?;
                }
                if previous.is_some() {
                    update_head.execute(params![
                        source,
                        key,
                        id,
                        version,
                        &record.content_hash[..]
                    ])?;
                } else {
                    insert_head.execute(params![
                        source,
                        key,
                        id,
                        version,
                        &record.content_hash[..]
                    ])?;
                }
            }
        }
        transaction.commit()?;
        drop(connection);
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.nudge();
        }
        Ok(counts)
    }

    fn finish_import(&self, import: ImportId, end: &ImportEnd) -> Result<(), StoreError> {
        let (status, detail) = match &end.status {
            ImportStatus::Done => ("done", None),
            ImportStatus::Failed(reason) => ("failed", Some(reason.as_str())),
        };
        let updated = self.lock().execute(
            "UPDATE import_run SET finished_at = ?2, status = ?3, status_detail = ?4, rows_read = ?5, new_records = ?6,
             changed_records = ?7, unchanged = ?8, quarantined = ?9, quarantine_path = ?10 WHERE id = ?1",
            params![
                import.0,
                timestamp(end.finished_at),
                status,
                detail,
                end.rows_read as i64,
                end.counts.new as i64,
                end.counts.changed as i64,
                end.counts.unchanged as i64,
                end.quarantined as i64,
                end.quarantine_path,
            ],
        )?;
        if updated == 0 {
            Err(StoreError::NoSuchImport(import.0))
        } else {
            Ok(())
        }
    }

    fn scan_current(&self, visit: &mut dyn FnMut(StoredRecord)) -> Result<(), StoreError> {
        let connection = self.read();
        // A scan reads every page once: mapped, each page it touched would stay in the process's
        // resident memory (2.2 GB of a 1M-person store, beside the resolver's own 4 GB), for no
        // gain. The connection maps again for the reads that follow.
        connection.pragma_update(None, "mmap_size", 0)?;
        let scanned = scan_current_on(&connection, visit);
        connection.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
        scanned
    }

    fn begin_resolution(&self) -> Result<Box<dyn ResolutionSession + '_>, StoreError> {
        let connection = self.lock();
        // IMMEDIATE: the write lock now, so no other process resolves until this one commits.
        connection.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteSession {
            connection,
            open: true,
        }))
    }

    fn resolution_head(&self) -> Result<u64, StoreError> {
        let connection = self.read();
        head(&connection)
    }

    fn resolution_changes_since(&self, run: u64) -> Result<ResolutionChanges, StoreError> {
        let connection = self.read();
        changes_since(&connection, run)
    }

    fn profile_ages(&self) -> Result<HashMap<ProfileId, u64>, StoreError> {
        let connection = self.read();
        let mut statement = connection
            .prepare("SELECT profile_id, created_run FROM profile WHERE merged_into IS NULL")?;
        let rows = statement.query_map([], |r| {
            Ok((ProfileId::new(r.get(0)?), r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn profile_history(&self, profile: &ProfileId) -> Result<ProfileHistory, StoreError> {
        let connection = self.read();
        let created_run: Option<i64> = connection
            .query_row(
                "SELECT created_run FROM profile WHERE profile_id = ?1",
                params![profile.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        // Follow merges to the surviving profile; ids never merge in a cycle, but stop anyway.
        let mut merged_into = None;
        let mut current = profile.as_str().to_string();
        for _ in 0..64 {
            let next: Option<String> = connection
                .query_row(
                    "SELECT merged_into FROM profile WHERE profile_id = ?1",
                    params![current],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            match next {
                Some(next) => {
                    merged_into = Some(ProfileId::new(next.clone()));
                    current = next;
                }
                None => break,
            }
        }
        let events = events_where(
            &connection,
            "profile_id = ?1 OR other_profile_id = ?1",
            profile.as_str(),
        )?;
        Ok(ProfileHistory {
            created_run: created_run.map(|r| r as u64),
            merged_into,
            events,
        })
    }

    fn review_queue(&self, limit: usize) -> Result<Vec<ReviewItem>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(
            "SELECT a_source, a_key, b_source, b_key, weight FROM review_pair ORDER BY weight DESC, rowid LIMIT ?1",
        )?;
        let mut rows = statement.query(params![limit as i64])?;
        let mut items = Vec::new();
        while let Some(row) = rows.next()? {
            items.push(ReviewItem {
                a: address(row.get(0)?, row.get(1)?)?,
                b: address(row.get(2)?, row.get(3)?)?,
                weight: row.get(4)?,
            });
        }
        Ok(items)
    }

    fn record_decision(
        &self,
        a: &RecordAddress,
        b: &RecordAddress,
        same: bool,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let connection = self.lock();
        connection.execute(
            "INSERT INTO steward_decision (a_source, a_key, b_source, b_key, same, decided_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![a.0.as_str(), a.1.as_str(), b.0.as_str(), b.1.as_str(), same, timestamp(at)],
        )?;
        Ok(connection.last_insert_rowid())
    }

    fn revert_decision(&self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let updated = self.lock().execute(
            "UPDATE steward_decision SET reverted_at = ?2 WHERE id = ?1 AND reverted_at IS NULL",
            params![id, timestamp(at)],
        )?;
        Ok(updated == 1)
    }

    fn decisions(&self, include_reverted: bool) -> Result<Vec<Decision>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(
            "SELECT id, a_source, a_key, b_source, b_key, same, decided_at, reverted_at FROM steward_decision
             WHERE ?1 OR reverted_at IS NULL ORDER BY id",
        )?;
        let mut rows = statement.query(params![include_reverted])?;
        let mut decisions = Vec::new();
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let time = |text: String| {
                DateTime::parse_from_rfc3339(&text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| StoreError::Corrupt {
                        id,
                        reason: format!("decision time: {e}"),
                    })
            };
            decisions.push(Decision {
                id,
                a: address(row.get(1)?, row.get(2)?)?,
                b: address(row.get(3)?, row.get(4)?)?,
                same: row.get(5)?,
                decided_at: time(row.get(6)?)?,
                reverted_at: row.get::<_, Option<String>>(7)?.map(time).transpose()?,
            });
        }
        Ok(decisions)
    }

    fn profile_records(&self, profile: &ProfileId) -> Result<Vec<StoredRecord>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM profile_member pm JOIN source_record r ON r.id = pm.record_id
             WHERE pm.profile_id = ?1 AND r.is_current = 1 ORDER BY r.source, r.record_key"
        );
        collect_records(&self.read(), &sql, params![profile.as_str()])
    }

    fn records_with_identifier(
        &self,
        kind: IdKind,
        value: &str,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let sql = format!(
            "SELECT DISTINCT {RECORD_COLUMNS} FROM resolved_identifier i JOIN source_record r ON r.id = i.record_id
             LEFT JOIN profile_member pm ON pm.record_id = r.id
             WHERE i.kind = ?1 AND i.value = ?2 AND r.is_current = 1 ORDER BY r.source, r.record_key"
        );
        collect_records(&self.read(), &sql, params![kind.name(), value])
    }

    fn record_versions(
        &self,
        source: &SourceId,
        key: &str,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM source_record r LEFT JOIN profile_member pm ON pm.record_id = r.id
             WHERE r.source = ?1 AND r.record_key = ?2 ORDER BY r.version"
        );
        collect_records(&self.read(), &sql, params![source.as_str(), key])
    }

    fn record(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM source_record r LEFT JOIN profile_member pm ON pm.record_id = r.id
             WHERE r.id = ?1"
        );
        Ok(collect_records(&self.read(), &sql, params![id.0])?.pop())
    }

    fn latest_model(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .read()
            .query_row(
                "SELECT model FROM resolution_model ORDER BY run DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn counts(&self) -> Result<StoreCounts, StoreError> {
        let connection = self.read();
        let count = |sql: &str| -> Result<u64, StoreError> {
            let n: i64 = connection.query_row(sql, [], |r| r.get(0))?;
            Ok(n as u64)
        };
        Ok(StoreCounts {
            records: count("SELECT count(*) FROM record_head")?,
            versions: count("SELECT count(*) FROM source_record")?,
            profiles: count("SELECT count(DISTINCT profile_id) FROM profile_member")?,
            unresolved: count(
                "SELECT count(*) FROM record_head h LEFT JOIN profile_member pm ON pm.record_id = h.record_id WHERE pm.record_id IS NULL",
            )?,
        })
    }
}

/// Stores a resolution run on a connection inside a write transaction; returns its number.
fn apply_in(connection: &Connection, outcome: &ResolutionOutcome) -> Result<u64, StoreError> {
    connection.execute(
        "INSERT INTO resolution_run (kind, finished_at, records, profiles) VALUES (?1, ?2, ?3, ?4)",
        params![
            outcome.kind.name(),
            timestamp(outcome.finished_at),
            outcome.records as i64,
            outcome.profiles as i64
        ],
    )?;
    let run = connection.last_insert_rowid();
    if let Some(model) = &outcome.model {
        connection.execute("DELETE FROM resolution_model", [])?;
        connection.execute(
            "INSERT INTO resolution_model (run, model) VALUES (?1, ?2)",
            params![run, model],
        )?;
    }
    let stamp = outcome
        .kind
        .stamp(run)
        .map_or(ValueRef::Null, ValueRef::Integer);
    // When most rows change (the first run), drop the indexes and rebuild them once at the
    // end: sorting once beats inserting at random. Otherwise update in place.
    let existing: i64 =
        connection.query_row("SELECT count(*) FROM profile_member", [], |r| r.get(0))?;
    let bulk = outcome.assignments.len() as i64 * 2 > existing;
    if bulk {
        connection.execute_batch(
            "DROP INDEX profile_member_by_profile; DROP INDEX resolved_identifier_by_value;",
        )?;
    }
    {
        insert_rows(
            connection,
            "INSERT OR REPLACE INTO profile_member (record_id, profile_id, run) VALUES ",
            3,
            outcome.assignments.iter().map(|assignment| {
                [
                    ValueRef::Integer(assignment.record.0),
                    ValueRef::Text(assignment.profile.as_str().as_bytes()),
                    stamp,
                ]
            }),
        )?;
        // In record order, not the index's: each row's foreign key looks its record up,
        // and in record order those lookups walk the records' table once instead of
        // jumping around a table far larger than the page cache.
        insert_rows(
            connection,
            "INSERT INTO resolved_identifier (kind, value, record_id) VALUES ",
            3,
            outcome.assignments.iter().flat_map(|assignment| {
                assignment.identifiers.iter().map(|(kind, value)| {
                    [
                        ValueRef::Text(kind.name().as_bytes()),
                        ValueRef::Text(value.as_bytes()),
                        ValueRef::Integer(assignment.record.0),
                    ]
                })
            }),
        )?;
        let mut event = connection.prepare_cached(
            "INSERT INTO profile_event (run, kind, profile_id, other_profile_id) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut created = connection.prepare_cached(
            "INSERT OR IGNORE INTO profile (profile_id, created_run) VALUES (?1, ?2)",
        )?;
        let mut merged = connection.prepare_cached(
            "UPDATE profile SET merged_into = ?2, merged_run = ?3 WHERE profile_id = ?1",
        )?;
        let created_event = |change: &ProfileEvent| matches!(change, ProfileEvent::Created { .. });
        // A first run creates a profile for every person: those go many rows at a time.
        for changes in outcome
            .events
            .chunk_by(|a, b| created_event(a) && created_event(b))
        {
            if changes.len() > 1 {
                let profiles = changes.iter().filter_map(|change| match change {
                    ProfileEvent::Created { profile } => Some(profile.as_str().as_bytes()),
                    _ => None,
                });
                insert_rows(
                    connection,
                    "INSERT OR IGNORE INTO profile (profile_id, created_run) VALUES ",
                    2,
                    profiles
                        .clone()
                        .map(|profile| [ValueRef::Text(profile), ValueRef::Integer(run)]),
                )?;
                insert_rows(
                    connection,
                    "INSERT INTO profile_event (run, kind, profile_id, other_profile_id) VALUES ",
                    4,
                    profiles.map(|profile| {
                        [
                            ValueRef::Integer(run),
                            ValueRef::Text(b"created"),
                            ValueRef::Text(profile),
                            ValueRef::Null,
                        ]
                    }),
                )?;
                continue;
            }
            for change in changes {
                match change {
                    ProfileEvent::Created { profile } => {
                        created.execute(params![profile.as_str(), run])?;
                        event.execute(params![run, "created", profile.as_str(), None::<&str>])?;
                    }
                    ProfileEvent::Merged { from, into } => {
                        merged.execute(params![from.as_str(), into.as_str(), run])?;
                        event.execute(params![run, "merged", from.as_str(), into.as_str()])?;
                    }
                    ProfileEvent::Split { from, new } => {
                        event.execute(params![run, "split", from.as_str(), new.as_str()])?;
                    }
                }
            }
        }
    }
    if bulk {
        connection.execute_batch(
            "CREATE INDEX profile_member_by_profile ON profile_member (profile_id);
             CREATE INDEX resolved_identifier_by_value ON resolved_identifier (value, kind);",
        )?;
    }
    // The outbox: the run's profile events, then what its new records brought.
    connection.execute(
        &format!(
            "INSERT OR IGNORE INTO change_event
             (event_key, kind, profile_id, other_profile_id, run, occurred_at)
             SELECT event_key, kind, profile_id, other_profile_id, ?1, ?2 FROM ({}) ORDER BY ord",
            crate::events::PROFILE_EVENT_CHANGES
                .replace("{run}", "?1")
                .replace("{order}", "rowid")
        ),
        params![run, timestamp(outcome.finished_at)],
    )?;
    insert_changes(connection, &outcome.changes, Some(run), outcome.finished_at)?;
    if let Some(queue) = &outcome.review {
        connection.execute("DELETE FROM review_pair", [])?;
        let mut review = connection.prepare_cached(
            "INSERT INTO review_pair (a_source, a_key, b_source, b_key, weight) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for item in queue {
            review.execute(params![
                item.a.0.as_str(),
                item.a.1.as_str(),
                item.b.0.as_str(),
                item.b.1.as_str(),
                item.weight
            ])?;
        }
    }
    Ok(run as u64)
}

/// Writes changes to the outbox after its last seq, skipping keys already there; returns how
/// many it wrote. The caller holds the write lock, so seq order is commit order.
fn insert_changes(
    connection: &Connection,
    changes: &[NewChange],
    run: Option<i64>,
    at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if changes.is_empty() {
        return Ok(0);
    }
    let base: i64 =
        connection.query_row("SELECT coalesce(max(seq), 0) FROM change_event", [], |r| {
            r.get(0)
        })?;
    let at = timestamp(at);
    insert_rows(
        connection,
        // seq is the rowid: SQLite gives each inserted row the largest so far plus one, and a
        // skipped row takes none, so the outbox has no gaps.
        "INSERT OR IGNORE INTO change_event
         (event_key, kind, profile_id, other_profile_id, record_id, run, occurred_at) VALUES ",
        7,
        changes.iter().map(|change| {
            [
                ValueRef::Text(change.key.as_bytes()),
                ValueRef::Text(change.kind.name().as_bytes()),
                ValueRef::Text(change.profile.as_str().as_bytes()),
                change
                    .other
                    .as_ref()
                    .map_or(ValueRef::Null, |p| ValueRef::Text(p.as_str().as_bytes())),
                change
                    .record
                    .map_or(ValueRef::Null, |r| ValueRef::Integer(r.0)),
                run.map_or(ValueRef::Null, ValueRef::Integer),
                ValueRef::Text(at.as_bytes()),
            ]
        }),
    )?;
    let written: i64 = connection.query_row(
        "SELECT count(*) FROM change_event WHERE seq > ?1",
        params![base],
        |r| r.get(0),
    )?;
    Ok(written as u64)
}

/// `(run, event)` for the profile events matching `filter` (with one parameter), in order.
fn events_where(
    connection: &Connection,
    filter: &str,
    parameter: impl rusqlite::ToSql,
) -> Result<Vec<(u64, ProfileEvent)>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT run, kind, profile_id, other_profile_id FROM profile_event
         WHERE {filter} ORDER BY run, rowid"
    ))?;
    let rows = statement.query_map(params![parameter], |r| {
        let (run, kind): (i64, String) = (r.get(0)?, r.get(1)?);
        let (id, other): (String, Option<String>) = (r.get(2)?, r.get(3)?);
        Ok((run, kind, id, other))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (run, kind, id, other) = row?;
        let (id, other) = (ProfileId::new(id), other.map(ProfileId::new));
        let event = match (kind.as_str(), other) {
            ("merged", Some(into)) => ProfileEvent::Merged { from: id, into },
            ("split", Some(new)) => ProfileEvent::Split { from: id, new },
            _ => ProfileEvent::Created { profile: id },
        };
        events.push((run as u64, event));
    }
    Ok(events)
}

fn head(connection: &Connection) -> Result<u64, StoreError> {
    let head: i64 =
        connection.query_row("SELECT coalesce(max(id), 0) FROM resolution_run", [], |r| {
            r.get(0)
        })?;
    Ok(head as u64)
}

fn changes_since(connection: &Connection, run: u64) -> Result<ResolutionChanges, StoreError> {
    let since = run as i64;
    let rebuild: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM resolution_run WHERE id > ?1 AND kind = 'batch')",
        params![since],
        |r| r.get(0),
    )?;
    let mut changes = ResolutionChanges {
        head: head(connection)?,
        rebuild,
        ..ResolutionChanges::default()
    };
    if rebuild {
        return Ok(changes);
    }
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {RECORD_COLUMNS}, pm.run FROM profile_member pm
         JOIN source_record r ON r.id = pm.record_id
         WHERE pm.run > ?1 ORDER BY pm.run, pm.record_id"
    ))?;
    let mut rows = statement.query(params![since])?;
    while let Some(row) = rows.next()? {
        let stamped: i64 = row.get(7)?;
        changes.records.push((stamped as u64, read_record(row)?));
    }
    changes.events = events_where(connection, "run > ?1", since)?;
    Ok(changes)
}

/// The resolution in progress: the writer connection, inside an IMMEDIATE transaction.
struct SqliteSession<'s> {
    connection: MutexGuard<'s, Connection>,
    open: bool,
}

impl ResolutionSession for SqliteSession<'_> {
    fn changes_since(&mut self, run: u64) -> Result<ResolutionChanges, StoreError> {
        changes_since(&self.connection, run)
    }

    fn apply(&mut self, outcome: &ResolutionOutcome) -> Result<u64, StoreError> {
        apply_in(&self.connection, outcome)
    }

    fn add_changes(&mut self, changes: &[NewChange], at: DateTime<Utc>) -> Result<u64, StoreError> {
        insert_changes(&self.connection, changes, None, at)
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.connection.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteSession<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.connection.execute_batch("ROLLBACK");
        }
    }
}

/// Every current record with its profile, in id order, decoded a chunk at a time on every core.
fn scan_current_on(
    connection: &Connection,
    visit: &mut dyn FnMut(StoredRecord),
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM source_record r LEFT JOIN profile_member pm ON pm.record_id = r.id
         WHERE r.is_current = 1 ORDER BY r.id"
    );
    let mut statement = connection.prepare(&sql)?;
    let mut rows = statement.query([])?;
    // Reading rows is cheap next to decoding their JSON, so rows are read here and decoded
    // a chunk at a time on every core.
    let mut raw = Vec::with_capacity(SCAN_CHUNK);
    while let Some(row) = rows.next()? {
        raw.push(read_raw(row)?);
        if raw.len() == SCAN_CHUNK {
            visit_decoded(&mut raw, visit)?;
        }
    }
    visit_decoded(&mut raw, visit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build settings in .cargo/config.toml reached the bundled SQLite: a page cache per
    /// connection (so `cache_size` bounds it) and memory maps past 2 GiB.
    #[test]
    fn sqlite_is_built_with_own_page_caches_and_large_maps() {
        let connection = Connection::open_in_memory().unwrap();
        let options: Vec<String> = connection
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
        assert!(
            options.iter().any(|o| o == "MAX_MMAP_SIZE=1099511627776"),
            "{options:?}"
        );
    }

    /// Several processes (here threads, each with its own connections and file handles, as
    /// processes have) opening one new data directory at the same moment: each waits for the
    /// one creating the schema, and none fails.
    #[test]
    fn stores_opened_at_once_on_a_new_directory_take_turns_creating_it() {
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let start = std::sync::Arc::new(std::sync::Barrier::new(4));
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    let (dir, start) = (dir.path().to_path_buf(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        SqliteStore::open(&dir).map(|_| ())
                    })
                })
                .collect();
            for opener in openers {
                opener.join().unwrap().unwrap();
            }
        }
    }

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn log_migrations_are_valid() {
        log_migrations().validate().unwrap();
    }

    /// A store made when the access log lived in the store's file: opening it moves the log to
    /// its own file, whole and still chained, and drops the old table.
    #[test]
    fn the_access_log_moves_to_its_own_file() {
        use crate::AccessStore;
        let dir = tempfile::tempdir().unwrap();
        {
            let mut old = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            old.pragma_update(None, "journal_mode", "WAL").unwrap();
            migrations().to_version(&mut old, LOG_MOVES_AFTER).unwrap();
            for seq in 1..=3i64 {
                old.execute(
                    "INSERT INTO access_log (seq, entry, profile_id, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![seq, format!("{{\"n\":{seq}}}"), "p-1", vec![seq as u8; 32], vec![seq as u8 + 1; 32]],
                )
                .unwrap();
            }
        }
        for _ in 0..2 {
            let store = SqliteStore::open(dir.path()).unwrap();
            let rows = store.access_rows(0, 10).unwrap();
            assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
            assert_eq!(rows[2].hash, [4u8; 32]);
            assert_eq!(
                store
                    .access_rows_for(&[ProfileId::new("p-1".into())], 10)
                    .unwrap()
                    .len(),
                3
            );
            let old_table: bool = store
                .read()
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'access_log')",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(!old_table);
        }
        assert!(dir.path().join(ACCESS_LOG_FILE).exists());
    }
}
