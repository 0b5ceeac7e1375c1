//! A profile as a purpose may see it: the granted attribute kinds only, each value with the
//! source records it came from.
//!
//! Special-category values are opened from their sealed blobs only when the grant allows a
//! special kind, and only the granted kinds are kept. Nothing here says which kinds were left
//! out: that a health record exists is itself health data.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tessera_model::{Attribute, AttributeKind, ProfileId, Sensitivity};
use tessera_policy::Grant;
use tessera_seal::Keyring;
use tessera_store::{RecordId, StoredRecord, special_aad};
use utoipa::ToSchema;

use crate::error::ApiError;
use tessera_store::Database;

/// Where a value came from.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceRef {
    pub source: String,
    pub record: String,
    pub version: u32,
    pub observed_at: String,
}

/// One value of a profile and the records that hold it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ValueView {
    /// The attribute kind: `name`, `birth_date`, `snils`, `address`, `health`, …
    pub kind: String,
    /// The value as the person model writes it.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    pub sources: Vec<SourceRef>,
}

/// A profile filtered to what the purpose may see.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub id: String,
    /// The id that was asked for, when it had been merged into `id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_id: Option<String>,
    pub purpose: String,
    pub values: Vec<ValueView>,
}

impl ProfileView {
    /// The attribute kinds this view releases, by name, for the access log.
    pub(crate) fn kinds(&self) -> Vec<String> {
        let kinds: BTreeSet<&str> = self.values.iter().map(|v| v.kind.as_str()).collect();
        kinds.into_iter().map(str::to_string).collect()
    }
}

/// Opens the special values of `records` (all of them: the caller filters) and adds them to
/// each record's attributes.
pub(crate) fn open_special(
    store: &dyn Database,
    keyring: &Keyring,
    records: &mut [StoredRecord],
) -> Result<(), ApiError> {
    let ids: Vec<RecordId> = records.iter().map(|r| r.id).collect();
    let sealed = store.sealed_values(&ids)?;
    for row in sealed {
        let blob = tessera_seal::Sealed::from_bytes(&row.blob.bytes)
            .map_err(|e| ApiError::SealedTampered(e.to_string()))?;
        let plain = keyring
            .open(&blob, &special_aad(&row.address))
            .map_err(|e| ApiError::SealedTampered(e.to_string()))?;
        let special: Vec<Attribute> = serde_json::from_slice(&plain)
            .map_err(|e| ApiError::SealedTampered(format!("opened but unreadable: {e}")))?;
        if let Some(record) = records.iter_mut().find(|r| r.id == row.record) {
            record.attributes.extend(
                special
                    .into_iter()
                    .filter(|a| a.kind().sensitivity() == Sensitivity::Special),
            );
        }
    }
    Ok(())
}

fn value_of(attribute: &Attribute) -> serde_json::Value {
    match serde_json::to_value(attribute) {
        Ok(serde_json::Value::Object(mut map)) => map.remove("value").unwrap_or_default(),
        _ => serde_json::Value::Null,
    }
}

/// Builds the view of `records` (one profile's) for `grant`.
pub(crate) fn render(
    profile: &ProfileId,
    requested: Option<&ProfileId>,
    records: &[StoredRecord],
    grant: &Grant,
) -> ProfileView {
    // One entry per distinct (kind, value), in a stable order: kinds as the model orders them.
    let mut values: BTreeMap<(AttributeKind, String), (serde_json::Value, BTreeSet<SourceRef>)> =
        BTreeMap::new();
    for record in records {
        let source = SourceRef {
            source: record.reference.source.as_str().to_string(),
            record: record.reference.key.as_str().to_string(),
            version: record.reference.version,
            observed_at: record.observed_at.to_rfc3339(),
        };
        for attribute in tessera_policy::filter(grant, &record.attributes) {
            let value = value_of(attribute);
            let entry = values
                .entry((attribute.kind(), value.to_string()))
                .or_insert_with(|| (value, BTreeSet::new()));
            entry.1.insert(source.clone());
        }
    }
    ProfileView {
        id: profile.as_str().to_string(),
        requested_id: requested
            .filter(|r| *r != profile)
            .map(|r| r.as_str().to_string()),
        purpose: grant.purpose.as_str().to_string(),
        values: values
            .into_iter()
            .map(|((kind, _), (value, sources))| ValueView {
                kind: kind.name().to_string(),
                value,
                sources: sources.into_iter().collect(),
            })
            .collect(),
    }
}

/// Whether `text` looks like a profile id (`p-` and 12 hex digits, maybe `-N`): anything else
/// is refused before it reaches the store.
pub(crate) fn parse_profile_id(text: &str) -> Result<ProfileId, ApiError> {
    let invalid = || {
        ApiError::InvalidId(format!(
            "{:?} is not a profile id (p- and 12 hexadecimal digits)",
            text.chars().take(40).collect::<String>()
        ))
    };
    let rest = text.strip_prefix("p-").ok_or_else(invalid)?;
    let (hex, suffix) = match rest.split_once('-') {
        Some((hex, n)) => (hex, Some(n)),
        None => (rest, None),
    };
    let hex_ok = hex.len() == 12
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    let suffix_ok = suffix
        .is_none_or(|n| !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()));
    if hex_ok && suffix_ok {
        Ok(ProfileId::new(text.to_string()))
    } else {
        Err(invalid())
    }
}
