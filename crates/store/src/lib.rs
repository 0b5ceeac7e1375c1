//! Where Tessera keeps source records, their versions, import runs and profile assignments.
//!
//! [`Store`] is the narrow storage interface every caller uses, [`AccessStore`] the serving
//! layer's (clients, access log, consents, corrections, sealed values). Two implementations
//! answer both alike and pass the one suite in `tests/conformance.rs`:
//!
//! - [`SqliteStore`]: embedded, bundled SQLite in WAL mode, one file in the data directory,
//!   schema migrations versioned by `PRAGMA user_version`. Several processes may share the
//!   file (a server and the CLI, or two servers); their writes take turns on SQLite's lock.
//! - [`PgStore`]: PostgreSQL, for several server processes sharing one registry
//!   ([`PgStore::connect`], [`PgStore::connect_in_schema`]); migrations in
//!   `migrations/postgres/`, recorded in `tessera_migrations`. Bulk writes go through binary
//!   COPY; concurrent writers serialise on row locks (see `postgres.rs`).
//!
//! Resolutions from several processes take turns through [`Store::begin_resolution`], and each
//! can see what the others stored since a run ([`ResolutionChanges`]).
//!
//! With the `testing` feature, the `testing` module gives other crates' tests a PostgreSQL
//! store in a fresh schema and the one rule for skipping (or, with `TESSERA_REQUIRE_POSTGRES`,
//! failing) when PostgreSQL cannot be reached.
//!
//! Records are immutable: writing a record whose key exists adds a new version when its content
//! changed and does nothing when it did not, so re-importing a file changes nothing. The store does
//! not parse files and does not decide which records are one person.

mod access;
mod columns;
mod events;
mod postgres;
mod prepared;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use chrono::{DateTime, Utc};
use tessera_model::{Attribute, IdKind, PartialDate, ProfileId, RecordKey, RecordRef, SourceId};

pub use access::{
    AccessRow, AccessStore, ChainFn, ClientRow, ConsentRow, CorrectionRow, CorrectionStatus,
    NewAccess, SealedBlob, SealedRow, Sealer, special_aad,
};
pub use events::{
    ChangeEvent, EventStore, NewChange, NewSubscription, Subscription, SubscriptionTarget,
    announce_expiring_permits, arrival_changes, may_change_on_arrival,
};
pub use postgres::PgStore;
pub use prepared::PreparedRecord;
pub use sqlite::{ACCESS_LOG_FILE, DATABASE_FILE, SCHEMA_LOCK_FILE, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot lock {path} to set up the store: {source}")]
    SchemaLock {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("schema migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("stored record {id} is unreadable: {reason}")]
    Corrupt { id: i64, reason: String },
    #[error("no import run {0}")]
    NoSuchImport(i64),
    #[error("postgresql error: {}", with_causes(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("cannot get a postgresql connection: {}", with_causes(.0))]
    PostgresPool(#[from] deadpool_postgres::PoolError),
    #[error("cannot set up the postgresql connection pool: {0}")]
    PostgresPoolConfig(#[from] deadpool_postgres::BuildError),
    #[error("cannot start the postgresql store's runtime: {0}")]
    PostgresRuntime(std::io::Error),
    #[error("the postgresql store's runtime stopped before answering")]
    PostgresWorkerGone,
    #[error(
        "invalid postgresql schema name {0:?}: use lowercase ascii letters, digits and underscores, not starting with a digit"
    )]
    PostgresSchemaName(String),
    #[error(
        "the postgresql schema is at migration {newest}, newer than this build knows ({known}): upgrade tessera"
    )]
    PostgresSchemaAhead { newest: i64, known: i64 },
    #[error("postgresql schema migration {version} failed: {}", with_causes(.source))]
    PostgresMigration {
        version: i64,
        source: tokio_postgres::Error,
    },
}

/// An error's message followed by its causes': the driver's own message is often only "db error"
/// or "error connecting to server", with what went wrong in its source.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let text = error.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = error.source();
    }
    message
}

/// The store's id of one version of one source record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub i64);

/// The id of one import run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImportId(pub i64);

/// What writing a batch did to each record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Keys never seen before.
    pub new: u64,
    /// Known keys with different content: stored as a new version.
    pub changed: u64,
    /// Known keys with the same content: nothing written.
    pub unchanged: u64,
}

impl std::ops::AddAssign for WriteCounts {
    fn add_assign(&mut self, other: WriteCounts) {
        self.new += other.new;
        self.changed += other.changed;
        self.unchanged += other.unchanged;
    }
}

/// How an import run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportStatus {
    Done,
    Failed(String),
}

/// The totals recorded when an import run ends.
#[derive(Clone, Debug)]
pub struct ImportEnd {
    pub finished_at: DateTime<Utc>,
    pub status: ImportStatus,
    pub rows_read: u64,
    pub counts: WriteCounts,
    pub quarantined: u64,
    pub quarantine_path: Option<String>,
}

/// One version of a source record as stored, with its profile if it has been resolved.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    pub id: RecordId,
    pub reference: RecordRef,
    pub observed_at: DateTime<Utc>,
    pub attributes: Vec<Attribute>,
    pub profile: Option<ProfileId>,
}

impl StoredRecord {
    /// The day (UTC) the source observed this version, as the resolver dates a weekly report or
    /// a pupil's class; `None` only for a year outside what a [`PartialDate`] holds.
    pub fn observed_day(&self) -> Option<PartialDate> {
        PartialDate::from_naive(self.observed_at.date_naive()).ok()
    }
}

/// One record's place in a resolution: its profile, and the identifier values (canonical) by
/// which the profile can be looked up through this record.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub record: RecordId,
    pub profile: ProfileId,
    pub identifiers: Vec<(IdKind, String)>,
}

/// Every identifier of a record, valid or not, canonical: what an [`Assignment`] makes findable
/// by `kind:value`.
pub fn lookup_identifiers(attributes: &[Attribute]) -> Vec<(IdKind, String)> {
    attributes
        .iter()
        .filter_map(|attribute| match attribute {
            Attribute::Identifier(id) => Some((id.kind, id.value.clone())),
            _ => None,
        })
        .collect()
}

/// What a resolution run did to one profile id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileEvent {
    Created {
        profile: ProfileId,
    },
    /// `from` was merged into `into` and now redirects to it.
    Merged {
        from: ProfileId,
        into: ProfileId,
    },
    /// Records of `from` became (part of) the new profile `new`.
    Split {
        from: ProfileId,
        new: ProfileId,
    },
}

/// What kind of resolution a run was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunKind {
    /// Every record re-clustered: may merge and split anything.
    #[default]
    Batch,
    /// New records placed one at a time against the profiles (`tessera resolve --incremental`):
    /// only adds records to profiles, creates profiles and merges them.
    Incremental,
    /// New records placed as they arrive through the API; as incremental.
    Online,
}

impl RunKind {
    /// The run number a run of this kind stamps on the assignments it writes, for other
    /// processes to take in (`changes_since`); none for a batch run, after which a process
    /// rebuilds anyway.
    pub fn stamp(self, run: i64) -> Option<i64> {
        match self {
            RunKind::Batch => None,
            RunKind::Incremental | RunKind::Online => Some(run),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RunKind::Batch => "batch",
            RunKind::Incremental => "incremental",
            RunKind::Online => "online",
        }
    }
}

/// Everything a resolution run stores, in one transaction.
#[derive(Clone, Debug)]
pub struct ResolutionOutcome {
    pub kind: RunKind,
    pub finished_at: DateTime<Utc>,
    /// How many records the run resolved into how many profiles, for the run's summary.
    pub records: u64,
    pub profiles: u64,
    /// The assignments that changed: records whose profile differs from before, and records no
    /// run had resolved (with their identifiers, for the lookup). Records not listed keep their
    /// profile.
    pub assignments: Vec<Assignment>,
    pub events: Vec<ProfileEvent>,
    /// The new review queue, strongest first, which replaces the previous one; `None` keeps
    /// it as it is (incremental and online runs: the queue belongs to the batch).
    pub review: Option<Vec<ReviewItem>>,
    /// What the run's new records change on their profiles ([`arrival_changes`]), written to
    /// the outbox with the run's profile events.
    pub changes: Vec<NewChange>,
    /// The model a batch run learned, as text, which replaces the stored one; `None` keeps it
    /// (incremental and online runs score with the batch's model).
    pub model: Option<String>,
}

/// A record by source and key: what a steward decides about, whatever its version.
pub type RecordAddress = (SourceId, RecordKey);

/// An uncertain pair waiting for a steward.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewItem {
    pub a: RecordAddress,
    pub b: RecordAddress,
    pub weight: f64,
}

/// A steward's decision that two records are (or are not) one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub id: i64,
    pub a: RecordAddress,
    pub b: RecordAddress,
    pub same: bool,
    pub decided_at: DateTime<Utc>,
    pub reverted_at: Option<DateTime<Utc>>,
}

/// Where a profile id came from and where it went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileHistory {
    /// The run that created the id; `None` if the id was never given out.
    pub created_run: Option<u64>,
    /// The profile the id now redirects to (following chains of merges), if it was merged.
    pub merged_into: Option<ProfileId>,
    /// `(run, event)` for every event naming the id, oldest first.
    pub events: Vec<(u64, ProfileEvent)>,
}

/// What resolution runs after a given one stored: for a process that resolves online to take in
/// what other processes did before it resolves anything itself.
#[derive(Clone, Debug, Default)]
pub struct ResolutionChanges {
    /// The newest run (0 before the first).
    pub head: u64,
    /// A batch run came after: it may have re-clustered anything, so start over from a scan.
    pub rebuild: bool,
    /// `(run, record)`: the current version of every record that an incremental or online run
    /// after the given one put on a profile (`record.profile`), in run order.
    pub records: Vec<(u64, StoredRecord)>,
    /// `(run, event)` for the runs after the given one, in order.
    pub events: Vec<(u64, ProfileEvent)>,
}

/// The one resolution in progress on a database. While it is open no other process (or thread)
/// can apply a resolution, so what [`ResolutionSession::changes_since`] shows is still true when
/// [`ResolutionSession::apply`] stores the result. Dropped without [`ResolutionSession::commit`],
/// nothing it applied is kept.
pub trait ResolutionSession {
    /// What runs after `run` stored (see [`ResolutionChanges`]).
    fn changes_since(&mut self, run: u64) -> Result<ResolutionChanges, StoreError>;
    /// Stores a run as [`Store::apply_resolution`] does; returns its number.
    fn apply(&mut self, outcome: &ResolutionOutcome) -> Result<u64, StoreError>;
    /// Writes changes that no run made (a permit entering its last days) to the outbox; a key
    /// already there is skipped. Returns how many were written.
    fn add_changes(&mut self, changes: &[NewChange], at: DateTime<Utc>) -> Result<u64, StoreError>;
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Sizes of what the store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub records: u64,
    pub versions: u64,
    pub profiles: u64,
    pub unresolved: u64,
}

/// The storage interface. Implementations are safe to share between threads.
pub trait Store: Send + Sync {
    /// Records the start of an import of `file` for `source`.
    fn begin_import(
        &self,
        source: &SourceId,
        file: &str,
        started_at: DateTime<Utc>,
    ) -> Result<ImportId, StoreError>;

    /// Writes a batch atomically: after a crash, either the whole batch is there or none of it.
    fn write_records(
        &self,
        import: ImportId,
        records: &[PreparedRecord],
    ) -> Result<WriteCounts, StoreError>;

    fn finish_import(&self, import: ImportId, end: &ImportEnd) -> Result<(), StoreError>;

    /// The model the newest batch run stored with its profiles ([`ResolutionOutcome::model`]).
    fn latest_model(&self) -> Result<Option<String>, StoreError>;

    /// Visits the current version of every record, in the order they were stored.
    fn scan_current(&self, visit: &mut dyn FnMut(StoredRecord)) -> Result<(), StoreError>;

    /// Stores a resolution run in one transaction: the changed assignments and the identifier
    /// lookup of newly resolved records, new profile ids, merges (the merged id redirects to its
    /// survivor), splits and the review queue. Returns the run number.
    fn apply_resolution(&self, outcome: &ResolutionOutcome) -> Result<u64, StoreError> {
        let mut session = self.begin_resolution()?;
        let run = session.apply(outcome)?;
        session.commit()?;
        Ok(run)
    }

    /// Opens the one resolution that may be in progress on the database: waits while another
    /// process or thread holds it.
    fn begin_resolution(&self) -> Result<Box<dyn ResolutionSession + '_>, StoreError>;

    /// The newest resolution run (0 before the first).
    fn resolution_head(&self) -> Result<u64, StoreError>;

    /// What runs after `run` stored, as [`ResolutionSession::changes_since`] shows it but
    /// without waiting for the resolution in progress (for a search to see other processes'
    /// profiles).
    fn resolution_changes_since(&self, run: u64) -> Result<ResolutionChanges, StoreError>;

    /// The run in which each active (not merged) profile id was created.
    fn profile_ages(&self) -> Result<std::collections::HashMap<ProfileId, u64>, StoreError>;

    /// Where a profile id came from and where it went.
    fn profile_history(&self, profile: &ProfileId) -> Result<ProfileHistory, StoreError>;

    /// The review queue left by the last resolution run, strongest first.
    fn review_queue(&self, limit: usize) -> Result<Vec<ReviewItem>, StoreError>;

    /// Records a steward's decision; returns its id.
    fn record_decision(
        &self,
        a: &RecordAddress,
        b: &RecordAddress,
        same: bool,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    /// Reverts a decision: later runs ignore it. Returns false if there is no such active one.
    fn revert_decision(&self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Every decision, oldest first; reverted ones too when `include_reverted`.
    fn decisions(&self, include_reverted: bool) -> Result<Vec<Decision>, StoreError>;

    /// The current records of a profile; empty if there is no such profile.
    fn profile_records(&self, profile: &ProfileId) -> Result<Vec<StoredRecord>, StoreError>;

    /// The current resolved records holding an identifier (canonical value), valid or not.
    /// Records imported since the last resolution are not found until it runs again.
    fn records_with_identifier(
        &self,
        kind: IdKind,
        value: &str,
    ) -> Result<Vec<StoredRecord>, StoreError>;

    /// Every stored version of one record, oldest first.
    fn record_versions(
        &self,
        source: &SourceId,
        key: &str,
    ) -> Result<Vec<StoredRecord>, StoreError>;

    /// One record version by its id, with its profile if it has one.
    fn record(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError>;

    fn counts(&self) -> Result<StoreCounts, StoreError>;
}

/// Everything a Tessera process keeps in its database: records and profiles ([`Store`]), and
/// clients, the access log, consents and sealed values ([`AccessStore`]), the change-event
/// outbox and subscriptions ([`EventStore`]). Every backend is one.
pub trait Database: Store + AccessStore + EventStore {}
impl<T: Store + AccessStore + EventStore> Database for T {}
