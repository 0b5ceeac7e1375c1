//! Who a client is, as far as policy cares: one of six roles.
//!
//! A role says what kind of party a client is (an agency, an employer, the person themself…);
//! which purposes it may use is the policy file's business, not this module's. Authentication,
//! and binding a person's client to their own profile, are the serving layer's.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of party a client is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A public body acting under its statute: benefits office, migration centre, tax service.
    Agency,
    /// An employer checking or reporting on its staff.
    Employer,
    /// An inspector at a check (police, labour inspection).
    Inspector,
    /// A data steward who reviews matches and keeps profiles correct.
    Steward,
    /// An analyst who gets aggregates only.
    Analyst,
    /// The data subject, reading their own profile.
    Person,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Agency,
        Role::Employer,
        Role::Inspector,
        Role::Steward,
        Role::Analyst,
        Role::Person,
    ];

    /// The stable name used in the policy file, the store and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Role::Agency => "agency",
            Role::Employer => "employer",
            Role::Inspector => "inspector",
            Role::Steward => "steward",
            Role::Analyst => "analyst",
            Role::Person => "person",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for role in Role::ALL {
            assert_eq!(Role::from_name(role.name()), Some(role));
            assert_eq!(
                serde_json::to_string(&role).unwrap(),
                format!("\"{}\"", role.name())
            );
        }
        assert_eq!(Role::from_name("Agency"), None);
        assert_eq!(Role::from_name(""), None);
    }
}
