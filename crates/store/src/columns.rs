//! How values are laid out in columns, shared by every backend: timestamps as RFC 3339 text,
//! hashes as 32 bytes, record addresses as two texts, and a record's row decoded into a
//! [`StoredRecord`].
//!
//! Both backends store the same column shapes so that their answers are identical to the byte;
//! this module decodes what they read and does no IO itself.

use chrono::{DateTime, SecondsFormat, Utc};
use rayon::prelude::*;
use tessera_model::{Attribute, ProfileId, RecordKey, RecordRef, SourceId};

use crate::{RecordAddress, RecordId, StoreError, StoredRecord};

pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            id: 0,
            reason: format!("timestamp {text:?}: {e}"),
        })
}

pub(crate) fn hash32(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| StoreError::Corrupt {
        id: 0,
        reason: format!("a stored hash has {} bytes, not 32", bytes.len()),
    })
}

pub(crate) fn address(source: String, key: String) -> Result<RecordAddress, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { id: 0, reason };
    Ok((
        SourceId::new(&source).map_err(|e| corrupt(e.to_string()))?,
        RecordKey::new(&key).map_err(|e| corrupt(e.to_string()))?,
    ))
}

/// One stored row as the database gives it, before its JSON and times are decoded: the part of a
/// scan that must happen where the rows are read.
pub(crate) struct RawRecord {
    pub(crate) id: i64,
    pub(crate) source: String,
    pub(crate) key: String,
    pub(crate) version: i64,
    pub(crate) observed_at: String,
    pub(crate) attributes: String,
    pub(crate) profile: Option<String>,
}

pub(crate) fn decode_record(raw: RawRecord) -> Result<StoredRecord, StoreError> {
    let id = raw.id;
    let corrupt = |reason: String| StoreError::Corrupt { id, reason };
    Ok(StoredRecord {
        id: RecordId(id),
        reference: RecordRef {
            source: SourceId::new(&raw.source).map_err(|e| corrupt(e.to_string()))?,
            key: RecordKey::new(&raw.key).map_err(|e| corrupt(e.to_string()))?,
            version: u32::try_from(raw.version).map_err(|e| corrupt(e.to_string()))?,
        },
        observed_at: DateTime::parse_from_rfc3339(&raw.observed_at)
            .map_err(|e| corrupt(format!("observed_at: {e}")))?
            .with_timezone(&Utc),
        attributes: serde_json::from_str::<Vec<Attribute>>(&raw.attributes)
            .map_err(|e| corrupt(format!("attributes: {e}")))?,
        profile: raw.profile.map(ProfileId::new),
    })
}

/// Rows a scan decodes together, on every core, before visiting them in order.
pub(crate) const SCAN_CHUNK: usize = 4096;

/// Decodes a chunk of raw rows in parallel, then visits them in their order.
pub(crate) fn visit_decoded(
    raw: &mut Vec<RawRecord>,
    visit: &mut dyn FnMut(StoredRecord),
) -> Result<(), StoreError> {
    let decoded: Vec<Result<StoredRecord, StoreError>> =
        raw.par_drain(..).map(decode_record).collect();
    for record in decoded {
        visit(record?);
    }
    Ok(())
}
