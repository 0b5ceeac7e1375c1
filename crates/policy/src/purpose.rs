//! A purpose's name, and the operations a purpose can permit.
//!
//! The name is validated once, here, so that everything holding a [`Purpose`] holds a short,
//! plain token that is safe to log, store and echo. What a purpose allows is in the policy
//! ([`crate::PurposeRule`]); this module does not know any particular purpose.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::PolicyError;

/// The longest purpose name accepted.
pub const PURPOSE_MAX_LEN: usize = 64;

/// The name of a purpose: 1 to 64 characters from `a-z`, `0-9`, `_` and `-`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Purpose(String);

impl Purpose {
    pub fn parse(name: &str) -> Result<Purpose, PolicyError> {
        let well_formed = !name.is_empty()
            && name.len() <= PURPOSE_MAX_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !well_formed {
            return Err(PolicyError::InvalidPurposeName(
                name.chars().take(PURPOSE_MAX_LEN + 1).collect(),
            ));
        }
        Ok(Purpose(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Purpose {
    type Error = PolicyError;

    fn try_from(name: String) -> Result<Purpose, PolicyError> {
        Purpose::parse(&name)
    }
}

impl From<Purpose> for String {
    fn from(purpose: Purpose) -> String {
        purpose.0
    }
}

/// What a purpose permits a client to do with individual profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Read a profile by its id.
    Read,
    /// Find a profile by an identifier (SNILS, passport, …).
    Lookup,
    /// Fuzzy search by name and birth date.
    Search,
}

impl Operation {
    pub const ALL: [Operation; 3] = [Operation::Read, Operation::Lookup, Operation::Search];

    /// The stable name used in the policy file.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Lookup => "lookup",
            Operation::Search => "search",
        }
    }

    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purpose_names() {
        let long = "a".repeat(PURPOSE_MAX_LEN);
        let too_long = "a".repeat(PURPOSE_MAX_LEN + 1);
        let cases = [
            ("benefits", true),
            ("police_check", true),
            ("tax-2026", true),
            ("0", true),
            (long.as_str(), true),
            (too_long.as_str(), false),
            ("", false),
            ("Benefits", false),
            ("benefits ", false),
            ("bene fits", false),
            ("пособия", false),
            ("benefits;drop", false),
            ("a.b", false),
            ("a/b", false),
        ];
        for (name, ok) in cases {
            assert_eq!(Purpose::parse(name).is_ok(), ok, "{name:?}");
        }
    }

    #[test]
    fn purpose_serde_checks_the_name() {
        let purpose: Purpose = serde_json::from_str("\"tax\"").unwrap();
        assert_eq!(purpose.as_str(), "tax");
        assert_eq!(serde_json::to_string(&purpose).unwrap(), "\"tax\"");
        assert!(serde_json::from_str::<Purpose>("\"Tax\"").is_err());
    }

    #[test]
    fn operation_names_round_trip_and_match_serde() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
            assert_eq!(
                serde_json::to_string(&op).unwrap(),
                format!("\"{}\"", op.name())
            );
        }
        assert_eq!(Operation::from_name("write"), None);
    }
}
