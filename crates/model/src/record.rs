//! Source records: what one agency said about one person, immutable once stored.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Attribute;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("source name {name:?} must be 1-64 characters of a-z, 0-9, '_' or '-'")]
    BadSourceName { name: String },
    #[error("record key is empty")]
    EmptyRecordKey,
}

/// The name of a source (an agency's export), e.g. `tax` or `migration`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SourceId(String);

impl SourceId {
    pub fn new(name: &str) -> Result<SourceId, ModelError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(SourceId(name.to_string()))
        } else {
            Err(ModelError::BadSourceName { name: name.into() })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The source's own key for a record, unique within the source.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordKey(String);

impl RecordKey {
    pub fn new(key: &str) -> Result<RecordKey, ModelError> {
        let key = key.trim();
        if key.is_empty() {
            Err(ModelError::EmptyRecordKey)
        } else {
            Ok(RecordKey(key.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Points at one stored version of one source record: where every attribute came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordRef {
    pub source: SourceId,
    pub key: RecordKey,
    pub version: u32,
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} v{}", self.source, self.key, self.version)
    }
}

/// What one source said about one person at one time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRecord {
    pub source: SourceId,
    pub key: RecordKey,
    /// When the source observed these facts, if the source says; otherwise when they were imported.
    pub observed_at: DateTime<Utc>,
    pub attributes: Vec<Attribute>,
}

/// The id of a profile: one person as Tessera resolved them. Opaque to callers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProfileId(String);

impl ProfileId {
    /// Wraps an id made by the resolver or read back from the store.
    pub fn new(id: String) -> ProfileId {
        ProfileId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(SourceId::new("tax_2026").is_ok());
        assert!(SourceId::new("Tax").is_err());
        assert!(SourceId::new("").is_err());
        assert_eq!(RecordKey::new("  "), Err(ModelError::EmptyRecordKey));
        assert_eq!(RecordKey::new(" 42 ").unwrap().as_str(), "42");
    }
}
