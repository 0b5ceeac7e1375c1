//! A record made ready for storage: its attributes encoded and hashed, its special-category
//! values sealed.
//!
//! Preparing is the CPU-heavy part of writing, so it is separate from [`crate::Store`] and can run
//! on the reading thread while the store writes the previous batch. Special-category attributes
//! (health, biometric, criminal record) never reach the `attributes` JSON: they are sealed by the
//! [`Sealer`] into one blob per record version.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tessera_model::{Attribute, RecordKey, Sensitivity, SourceId, SourceRecord};

use crate::access::{SealedBlob, Sealer, special_aad};

#[derive(Clone, Debug)]
pub struct PreparedRecord {
    pub(crate) source: SourceId,
    pub(crate) key: RecordKey,
    pub(crate) observed_at: DateTime<Utc>,
    /// The attributes that are not special categories.
    pub(crate) attributes_json: String,
    /// The special-category attributes, sealed; `None` when the record has none.
    pub(crate) sealed: Option<SealedBlob>,
    /// Equal content, equal hash: SHA-256 of the encoded ordinary attributes, followed (when
    /// there are special ones) by a keyed hash of the special ones, so the hash reveals nothing
    /// about a special value to someone without the key. The observation time is not part of
    /// it, so the same facts seen again are not a new version.
    pub(crate) content_hash: [u8; 32],
}

impl PreparedRecord {
    pub fn new(record: &SourceRecord, sealer: &dyn Sealer) -> PreparedRecord {
        let (special, ordinary): (Vec<&Attribute>, Vec<&Attribute>) = record
            .attributes
            .iter()
            .partition(|a| a.kind().sensitivity() == Sensitivity::Special);
        // Attributes hold only strings, numbers and enums, so encoding them cannot fail.
        let attributes_json = serde_json::to_string(&ordinary).expect("attributes encode as JSON");
        let mut hasher = Sha256::new();
        hasher.update(attributes_json.as_bytes());
        let sealed = (!special.is_empty()).then(|| {
            let special_json = serde_json::to_string(&special).expect("attributes encode as JSON");
            hasher.update(sealer.keyed_hash(special_json.as_bytes()));
            let address = (record.source.clone(), record.key.clone());
            sealer.seal(special_json.as_bytes(), &special_aad(&address))
        });
        PreparedRecord {
            source: record.source.clone(),
            key: record.key.clone(),
            observed_at: record.observed_at,
            attributes_json,
            sealed,
            content_hash: hasher.finalize().into(),
        }
    }

    /// The size of the encoded attributes, for callers that bound memory by bytes.
    pub fn encoded_len(&self) -> usize {
        self.attributes_json.len()
            + self.key.as_str().len()
            + self.sealed.as_ref().map_or(0, |s| s.bytes.len())
    }
}
