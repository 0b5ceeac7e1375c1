//! The access log's entries and their hash chain: what one entry says, the exact bytes that are
//! hashed, how each hash links to the one before, and how a stored chain is verified.
//!
//! Entry `seq` (1, 2, …) stores `hash = sha256(prev_hash || seq as 8 big-endian bytes ||
//! entry_json)`, with `prev_hash` the previous entry's hash and [`GENESIS`] (32 zero bytes)
//! before the first. Changing, removing or reordering any entry changes every hash after it, so
//! [`verify_chain`] finds the first entry that does not fit. Truncating the tail, or rewriting the
//! whole chain from some point on, is detectable only against a head kept elsewhere: record a
//! [`ChainSummary`] outside the store and later check that entry `entries` still has hash `head`.
//!
//! This module is pure: it keeps no rows, reads no clock and does not decide what to log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Role;

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    Lookup,
    Search,
    ReadAccessLog,
    ConsentGrant,
    ConsentWithdraw,
    CorrectionRequest,
    Ingest,
    Import,
    Resolve,
    Review,
    Explain,
    Export,
    /// A change event sent to a subscriber.
    Deliver,
}

impl Action {
    pub const ALL: [Action; 14] = [
        Action::Read,
        Action::Lookup,
        Action::Search,
        Action::ReadAccessLog,
        Action::ConsentGrant,
        Action::ConsentWithdraw,
        Action::CorrectionRequest,
        Action::Ingest,
        Action::Import,
        Action::Resolve,
        Action::Review,
        Action::Explain,
        Action::Export,
        Action::Deliver,
    ];

    /// The stable name, as in the entry JSON.
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Lookup => "lookup",
            Action::Search => "search",
            Action::ReadAccessLog => "read_access_log",
            Action::ConsentGrant => "consent_grant",
            Action::ConsentWithdraw => "consent_withdraw",
            Action::CorrectionRequest => "correction_request",
            Action::Ingest => "ingest",
            Action::Import => "import",
            Action::Resolve => "resolve",
            Action::Review => "review",
            Action::Explain => "explain",
            Action::Export => "export",
            Action::Deliver => "deliver",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.name() == name)
    }
}

/// One access to personal data: who, in which role, for which purpose, did what to which
/// profile, releasing or writing which attribute kinds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    pub at: DateTime<Utc>,
    /// The client id, or `cli:<os user>` for the command line.
    pub client: String,
    pub client_name: String,
    pub role: Role,
    pub purpose: Option<String>,
    pub action: Action,
    /// The profile read or written.
    pub profile: Option<String>,
    /// The attribute kind names released or written.
    pub kinds: Vec<String>,
    pub request_id: String,
    /// Non-personal context, e.g. `source=tax rows=120`.
    pub detail: Option<String>,
}

impl AccessEntry {
    /// The exact bytes that are hashed and stored: compact JSON, fields in declaration order.
    pub fn to_json(&self) -> String {
        // Invariant: every field serialises to JSON without error (strings, an RFC 3339 time,
        // unit enums, options and a list of strings; no maps with non-string keys).
        serde_json::to_string(self).expect("an access entry always serialises to json")
    }

    /// Reads an entry back from its stored JSON.
    pub fn from_json(json: &str) -> Result<AccessEntry, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// The `prev_hash` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// `sha256(prev || seq as 8 big-endian bytes || entry_json bytes)`.
pub fn chain_hash(prev: &[u8; 32], seq: u64, entry_json: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(seq.to_be_bytes());
    hasher.update(entry_json.as_bytes());
    hasher.finalize().into()
}

/// One row of the log as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    pub seq: u64,
    pub entry_json: String,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// Where a chain stops being valid. Each variant carries the seq of the first bad entry.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry {expected_seq} is missing: the next entry found is {found_seq}")]
    Gap { expected_seq: u64, found_seq: u64 },
    #[error("entry {seq} does not follow the entry before it (prev_hash differs)")]
    PrevMismatch { seq: u64 },
    #[error("entry {seq} was altered (its hash does not match its content)")]
    HashMismatch { seq: u64 },
    #[error("entry {seq} is not a readable access entry: {reason}")]
    Unreadable { seq: u64, reason: String },
}

impl ChainBreak {
    /// The seq of the first bad entry (for a gap, the one that is missing).
    pub fn seq(&self) -> u64 {
        match self {
            ChainBreak::Gap { expected_seq, .. } => *expected_seq,
            ChainBreak::PrevMismatch { seq }
            | ChainBreak::HashMismatch { seq }
            | ChainBreak::Unreadable { seq, .. } => *seq,
        }
    }
}

/// How long a valid chain is and the hash of its last entry ([`GENESIS`] when empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainSummary {
    pub entries: u64,
    pub head: [u8; 32],
}

impl ChainSummary {
    /// The summary of the empty chain.
    pub const EMPTY: ChainSummary = ChainSummary {
        entries: 0,
        head: GENESIS,
    };

    /// Makes the next entry of the chain and moves the summary past it, so that a writer
    /// holding the summary can append a batch without reading rows back.
    pub fn append(&mut self, entry_json: String) -> StoredEntry {
        let seq = self.entries + 1;
        let hash = chain_hash(&self.head, seq, &entry_json);
        let stored = StoredEntry {
            seq,
            entry_json,
            prev_hash: self.head,
            hash,
        };
        self.entries = seq;
        self.head = hash;
        stored
    }
}

/// Recomputes the chain over `entries` in seq order, starting at seq 1 after [`GENESIS`], and
/// stops at the first entry that is missing, out of order, altered or unreadable.
pub fn verify_chain(
    entries: impl IntoIterator<Item = StoredEntry>,
) -> Result<ChainSummary, ChainBreak> {
    let mut summary = ChainSummary::EMPTY;
    for entry in entries {
        let expected_seq = summary.entries + 1;
        if entry.seq != expected_seq {
            return Err(ChainBreak::Gap {
                expected_seq,
                found_seq: entry.seq,
            });
        }
        if entry.prev_hash != summary.head {
            return Err(ChainBreak::PrevMismatch { seq: entry.seq });
        }
        if chain_hash(&entry.prev_hash, entry.seq, &entry.entry_json) != entry.hash {
            return Err(ChainBreak::HashMismatch { seq: entry.seq });
        }
        if let Err(error) = AccessEntry::from_json(&entry.entry_json) {
            return Err(ChainBreak::Unreadable {
                seq: entry.seq,
                reason: error.to_string(),
            });
        }
        summary = ChainSummary {
            entries: entry.seq,
            head: entry.hash,
        };
    }
    Ok(summary)
}
