//! Where Tessera keeps source records, their versions, import runs and profile assignments.
//!
//! [`Store`] is the narrow storage interface every caller uses; [`SqliteStore`] is the embedded
//! implementation (bundled SQLite in WAL mode, one file in the data directory, schema migrations
//! versioned by `PRAGMA user_version`). A PostgreSQL implementation plugs in behind the same trait
//! and must pass the same suite in `tests/conformance.rs`.
//!
//! Records are immutable: writing a record whose key exists adds a new version when its content
//! changed and does nothing when it did not, so re-importing a file changes nothing. The store does
//! not parse files and does not decide which records are one person.

mod access;
mod prepared;
mod sqlite;

use chrono::{DateTime, Utc};
use tessera_model::{Attribute, IdKind, ProfileId, RecordKey, RecordRef, SourceId};

pub use access::{
    AccessRow, AccessStore, ChainFn, ClientRow, ConsentRow, CorrectionRow, CorrectionStatus,
    NewAccess, SealedBlob, SealedRow, Sealer, special_aad,
};
pub use prepared::PreparedRecord;
pub use sqlite::{ACCESS_LOG_FILE, DATABASE_FILE, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
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

/// Everything a resolution run stores, in one transaction.
#[derive(Clone, Debug)]
pub struct ResolutionOutcome {
    pub finished_at: DateTime<Utc>,
    /// How many records the run resolved into how many profiles, for the run's summary.
    pub records: u64,
    pub profiles: u64,
    /// The assignments that changed: records whose profile differs from before, and records no
    /// run had resolved (with their identifiers, for the lookup). Records not listed keep their
    /// profile.
    pub assignments: Vec<Assignment>,
    pub events: Vec<ProfileEvent>,
    /// The new review queue, strongest first; replaces the previous one.
    pub review: Vec<ReviewItem>,
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

    /// Visits the current version of every record, in the order they were stored.
    fn scan_current(&self, visit: &mut dyn FnMut(StoredRecord)) -> Result<(), StoreError>;

    /// Stores a resolution run in one transaction: the changed assignments and the identifier
    /// lookup of newly resolved records, new profile ids, merges (the merged id redirects to its
    /// survivor), splits and the review queue. Returns the run number.
    fn apply_resolution(&self, outcome: &ResolutionOutcome) -> Result<u64, StoreError>;

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

    fn counts(&self) -> Result<StoreCounts, StoreError>;
}
