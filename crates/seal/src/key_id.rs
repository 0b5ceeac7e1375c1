//! The name of one master key, `k-<yyyymmdd>-<8 hex>`.
//!
//! A key id travels in every sealed blob and in the keyring file, so it is checked wherever it
//! enters: parsing, deserialising and blob decoding all go through [`KeyId::parse`]. The date is
//! when the key was made (for an operator reading the keyring), not a validity period; this module
//! does not decide when a key expires.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::SealError;

/// The length of every key id: `k-` + 8 date digits + `-` + 8 hex digits.
pub(crate) const KEY_ID_LEN: usize = 19;

/// The id of one master key in a [`crate::Keyring`], e.g. `k-20261201-1a2b3c4d`.
///
/// Serialises as the bare string; deserialising checks the format.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    /// Checks `text` against `k-<yyyymmdd>-<8 lowercase hex digits>` with a real calendar date.
    pub fn parse(text: &str) -> Result<KeyId, SealError> {
        let invalid = || SealError::InvalidKeyId(text.chars().take(64).collect());
        let bytes = text.as_bytes();
        if !text.is_ascii()
            || bytes.len() != KEY_ID_LEN
            || !text.starts_with("k-")
            || bytes[10] != b'-'
        {
            return Err(invalid());
        }
        let date = &text[2..10];
        let random = &text[11..];
        if !date.bytes().all(|b| b.is_ascii_digit())
            || NaiveDate::parse_from_str(date, "%Y%m%d").is_err()
        {
            return Err(invalid());
        }
        if !random
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid());
        }
        Ok(KeyId(text.to_string()))
    }

    /// A fresh id for a key made at `now`, with 32 random bits after the date.
    ///
    /// A year outside 0000–9999 has no eight-digit form; such a clock is wrong, and the id gets
    /// the date 1970-01-01 instead so that every id keeps its fixed length (the blob format
    /// relies on it).
    pub(crate) fn fresh(now: DateTime<Utc>) -> KeyId {
        let mut random = [0u8; 4];
        crate::random::fill(&mut random);
        let date = if (0..=9999).contains(&now.year()) {
            now.format("%Y%m%d").to_string()
        } else {
            "19700101".to_string()
        };
        KeyId(format!("k-{date}-{:08x}", u32::from_be_bytes(random)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for KeyId {
    type Error = SealError;

    fn try_from(text: String) -> Result<KeyId, SealError> {
        KeyId::parse(&text)
    }
}

impl From<KeyId> for String {
    fn from(id: KeyId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn parses_only_well_formed_ids() {
        let cases = [
            ("k-20261201-1a2b3c4d", true),
            ("k-20261201-00000000", true),
            ("k-20261301-1a2b3c4d", false), // month 13
            ("k-20260230-1a2b3c4d", false), // 30 February
            ("k-20261201-1A2B3C4D", false), // upper-case hex
            ("k-20261201-1a2b3c4", false),
            ("k-20261201-1a2b3c4d0", false),
            ("K-20261201-1a2b3c4d", false),
            ("k_20261201-1a2b3c4d", false),
            ("k-2026120x-1a2b3c4d", false),
            ("k-20261201_1a2b3c4d", false),
            ("k-20261201-1a2b3c4g", false),
            ("k-+2026120-1a2b3c4d", false),
            ("", false),
            ("k-20261201-1a2b3cд", false),
            ("k-2026120д-1a2b3c4", false), // multi-byte character across a slice boundary
        ];
        for (text, ok) in cases {
            assert_eq!(KeyId::parse(text).is_ok(), ok, "{text:?}");
        }
    }

    #[test]
    fn fresh_ids_carry_the_date_and_parse() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 7, 0, 0).unwrap();
        let id = KeyId::fresh(now);
        assert!(id.as_str().starts_with("k-20261201-"), "{id}");
        assert_eq!(KeyId::parse(id.as_str()).unwrap(), id);
        let odd_clocks = [
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
        ];
        for now in odd_clocks {
            let id = KeyId::fresh(now);
            assert_eq!(id.as_str().len(), KEY_ID_LEN, "{id}");
            assert_eq!(KeyId::parse(id.as_str()).unwrap(), id);
        }
    }

    #[test]
    fn serde_is_the_bare_string_and_checks_it() {
        let id = KeyId::parse("k-20261201-1a2b3c4d").unwrap();
        #[derive(Serialize, Deserialize)]
        struct Holder {
            id: KeyId,
        }
        let text = toml::to_string(&Holder { id: id.clone() }).unwrap();
        assert_eq!(text.trim(), "id = \"k-20261201-1a2b3c4d\"");
        assert_eq!(toml::from_str::<Holder>(&text).unwrap().id, id);
        assert!(toml::from_str::<Holder>("id = \"k-1\"").is_err());
    }
}
