//! A record made ready for storage: its attributes encoded and hashed.
//!
//! Preparing is the CPU-heavy part of writing, so it is separate from [`crate::Store`] and can run
//! on the reading thread while the store writes the previous batch.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tessera_model::{RecordKey, SourceId, SourceRecord};

#[derive(Clone, Debug)]
pub struct PreparedRecord {
    pub(crate) source: SourceId,
    pub(crate) key: RecordKey,
    pub(crate) observed_at: DateTime<Utc>,
    pub(crate) attributes_json: String,
    /// SHA-256 of the encoded attributes: equal content, equal hash. The observation time is not
    /// part of it, so the same facts seen again are not a new version.
    pub(crate) content_hash: [u8; 32],
}

impl PreparedRecord {
    pub fn new(record: &SourceRecord) -> PreparedRecord {
        // Attributes hold only strings, numbers and enums, so encoding them cannot fail.
        let attributes_json =
            serde_json::to_string(&record.attributes).expect("attributes encode as JSON");
        let content_hash = Sha256::digest(attributes_json.as_bytes()).into();
        PreparedRecord {
            source: record.source.clone(),
            key: record.key.clone(),
            observed_at: record.observed_at,
            attributes_json,
            content_hash,
        }
    }

    /// The size of the encoded attributes, for callers that bound memory by bytes.
    pub fn encoded_len(&self) -> usize {
        self.attributes_json.len() + self.key.as_str().len()
    }
}
