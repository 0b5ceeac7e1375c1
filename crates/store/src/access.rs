//! What the serving layer keeps besides records and profiles: API clients, the access log, the
//! persons' consents and correction requests, and the sealed special-category values.
//!
//! [`AccessStore`] is the interface; the SQLite implementation is in `sqlite/access.rs`. The
//! store keeps these rows and answers questions about them; it does not decide who may read
//! what (that is `tessera-policy`), does not compute the access log's hashes itself (the caller
//! passes the chain function, so the one definition lives with the verifier), and never sees a
//! special-category value in the clear: sealing happens before [`crate::PreparedRecord`] reaches
//! it, through a [`Sealer`].

use chrono::{DateTime, Utc};
use tessera_model::ProfileId;

use crate::{RecordAddress, RecordId, StoreError};

/// Seals special-category values before they are stored. The binary implements it with the
/// keyring of `tessera-seal`; the store only keeps what it returns.
pub trait Sealer: Send + Sync {
    /// Encrypts `plaintext` bound to `aad` (see [`special_aad`]).
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> SealedBlob;
    /// A keyed hash (HMAC) of `data`: the content hash of a record must not let anyone holding
    /// the database test guesses of a low-entropy special value.
    fn keyed_hash(&self, data: &[u8]) -> [u8; 32];
}

/// A sealed value as stored: which master key sealed its data key, and the opaque blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedBlob {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

/// The associated data a record's special values are sealed under: its source and key, so a
/// sealed blob moved to another record's row no longer opens.
pub fn special_aad(address: &RecordAddress) -> Vec<u8> {
    let (source, key) = address;
    let mut aad = Vec::with_capacity(source.as_str().len() + key.as_str().len() + 24);
    aad.extend_from_slice(b"tessera-special-v1\0");
    aad.extend_from_slice(source.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(key.as_str().as_bytes());
    aad
}

/// A record version's sealed special values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedRow {
    pub record: RecordId,
    pub address: RecordAddress,
    pub blob: SealedBlob,
}

/// A client of the API as stored. `role` is the policy's role name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub role: String,
    /// For a person: one of their records, which finds their profile whatever its id.
    pub anchor: Option<RecordAddress>,
    /// The sources the client may send records to.
    pub sources: Vec<String>,
    pub token_hash: [u8; 32],
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One access-log entry as stored: its place in the chain, the entry's JSON (the exact bytes
/// hashed), the previous entry's hash and its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRow {
    pub seq: u64,
    pub entry: String,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// An entry to append: its JSON and the profile it concerns (for the person's view).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAccess {
    pub entry: String,
    pub profile: Option<ProfileId>,
}

/// The function that chains entries: `hash = chain(prev_hash, seq, entry_json)`.
pub type ChainFn = fn(&[u8; 32], u64, &str) -> [u8; 32];

/// A person's consent for a purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRow {
    pub id: i64,
    pub anchor: RecordAddress,
    pub purpose: String,
    pub granted_at: DateTime<Utc>,
    pub granted_by: String,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawn_by: Option<String>,
}

/// The state of a correction request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrectionStatus {
    Open,
    Done,
    Rejected,
}

impl CorrectionStatus {
    pub fn name(self) -> &'static str {
        match self {
            CorrectionStatus::Open => "open",
            CorrectionStatus::Done => "done",
            CorrectionStatus::Rejected => "rejected",
        }
    }

    fn from_name(name: &str) -> Option<CorrectionStatus> {
        match name {
            "open" => Some(CorrectionStatus::Open),
            "done" => Some(CorrectionStatus::Done),
            "rejected" => Some(CorrectionStatus::Rejected),
            _ => None,
        }
    }
}

pub(crate) fn correction_status(name: &str) -> Result<CorrectionStatus, StoreError> {
    CorrectionStatus::from_name(name).ok_or_else(|| StoreError::Corrupt {
        id: 0,
        reason: format!("unknown correction status {name:?}"),
    })
}

/// A person's request to correct their profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrectionRow {
    pub id: i64,
    pub anchor: RecordAddress,
    /// The profile as it was named when the request was filed.
    pub profile: ProfileId,
    pub client: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub status: CorrectionStatus,
}

/// Clients, the access log, consents, corrections and sealed values.
pub trait AccessStore: Send + Sync {
    fn add_client(&self, client: &ClientRow) -> Result<(), StoreError>;
    /// The client holding a token with this hash, revoked or not.
    fn client_by_token_hash(&self, hash: &[u8; 32]) -> Result<Option<ClientRow>, StoreError>;
    fn clients(&self) -> Result<Vec<ClientRow>, StoreError>;
    /// Returns false if there is no such client or it was revoked already.
    fn revoke_client(&self, id: &str, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Appends entries to the access log in one transaction, chaining each to the one before;
    /// returns their sequence numbers.
    fn append_access(&self, entries: &[NewAccess], chain: ChainFn) -> Result<Vec<u64>, StoreError>;
    /// Entries with `seq > after`, oldest first, at most `limit`.
    fn access_rows(&self, after: u64, limit: usize) -> Result<Vec<AccessRow>, StoreError>;
    /// The newest entry: the chain's head, which an operator keeps outside the database (the
    /// server logs it) to find later whether entries after it went missing.
    fn access_head(&self) -> Result<Option<AccessRow>, StoreError>;
    /// Entries about any of `profiles`, newest first, at most `limit`.
    fn access_rows_for(
        &self,
        profiles: &[ProfileId],
        limit: usize,
    ) -> Result<Vec<AccessRow>, StoreError>;

    /// The profile the current version of a record belongs to, if it is resolved.
    fn profile_of_record(&self, address: &RecordAddress) -> Result<Option<ProfileId>, StoreError>;
    /// Every profile id that redirects (through merges) to `profile`, and `profile` itself.
    fn profile_aliases(&self, profile: &ProfileId) -> Result<Vec<ProfileId>, StoreError>;

    /// Records a consent anchored on one of the person's records; an active consent for the same
    /// anchor and purpose is kept as it is. Returns the consent's id.
    fn grant_consent(
        &self,
        anchor: &RecordAddress,
        purpose: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// Withdraws every active consent for `purpose` anchored on a record of `profile`; returns
    /// how many.
    fn withdraw_consent(
        &self,
        profile: &ProfileId,
        purpose: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Whether an active consent for `purpose` is anchored on a record of `profile`.
    fn has_consent(&self, profile: &ProfileId, purpose: &str) -> Result<bool, StoreError>;
    /// Every consent (withdrawn ones too) anchored on a record of `profile`, oldest first.
    fn consents(&self, profile: &ProfileId) -> Result<Vec<ConsentRow>, StoreError>;

    fn add_correction(
        &self,
        anchor: &RecordAddress,
        profile: &ProfileId,
        client: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// Correction requests, oldest first; only open ones when `open_only`.
    fn corrections(&self, open_only: bool) -> Result<Vec<CorrectionRow>, StoreError>;

    /// The sealed special values of these record versions (those that have any).
    fn sealed_values(&self, records: &[RecordId]) -> Result<Vec<SealedRow>, StoreError>;
    /// Up to `limit` sealed values whose data key is sealed under a key other than `key_id`.
    fn sealed_not_under(&self, key_id: &str, limit: usize) -> Result<Vec<SealedRow>, StoreError>;
    /// Replaces sealed blobs (after re-wrapping their data keys) in one transaction.
    fn replace_sealed(&self, rows: &[SealedRow]) -> Result<(), StoreError>;
    /// How many sealed values each master key holds.
    fn sealed_key_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;
}
