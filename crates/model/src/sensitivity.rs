//! Sensitivity classes and the kind of every attribute.
//!
//! The class of an attribute is decided here, by an exhaustive `match`, so adding a kind without
//! deciding its class does not compile. Policy (which purpose may read which class) lives in the
//! serving layer; this module only states facts about the data.

use serde::{Deserialize, Serialize};

use crate::IdKind;

/// How much harm disclosure of an attribute can do, following 152-FZ and GDPR Art. 9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Facts that identify no one by themselves, such as a pet's species and name.
    Public,
    /// Ordinary personal data: names, dates, identifiers, addresses, employment, income.
    Personal,
    /// Special categories: health, biometric, genetic and criminal-record data. Encrypted at rest
    /// and never an input to an automated decision.
    Special,
}

/// The kind of an [`crate::Attribute`], without its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeKind {
    Name,
    BirthDate,
    Sex,
    Citizenship,
    Identifier(IdKind),
    Address,
    Employment,
    Education,
    Relation,
    Income,
    Pet,
    Permit,
    Health,
    Biometric,
    CriminalRecord,
}

impl AttributeKind {
    /// The sensitivity class of this kind of attribute.
    pub const fn sensitivity(self) -> Sensitivity {
        match self {
            AttributeKind::Pet => Sensitivity::Public,
            AttributeKind::Name
            | AttributeKind::BirthDate
            | AttributeKind::Sex
            | AttributeKind::Citizenship
            | AttributeKind::Identifier(_)
            | AttributeKind::Address
            | AttributeKind::Employment
            | AttributeKind::Education
            | AttributeKind::Relation
            | AttributeKind::Income
            | AttributeKind::Permit => Sensitivity::Personal,
            AttributeKind::Health | AttributeKind::Biometric | AttributeKind::CriminalRecord => {
                Sensitivity::Special
            }
        }
    }

    /// A short stable name, used in CLI output and mapping files.
    pub fn name(self) -> &'static str {
        match self {
            AttributeKind::Name => "name",
            AttributeKind::BirthDate => "birth_date",
            AttributeKind::Sex => "sex",
            AttributeKind::Citizenship => "citizenship",
            AttributeKind::Identifier(kind) => kind.name(),
            AttributeKind::Address => "address",
            AttributeKind::Employment => "employment",
            AttributeKind::Education => "education",
            AttributeKind::Relation => "relation",
            AttributeKind::Income => "income",
            AttributeKind::Pet => "pet",
            AttributeKind::Permit => "permit",
            AttributeKind::Health => "health",
            AttributeKind::Biometric => "biometric",
            AttributeKind::CriminalRecord => "criminal_record",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_categories_are_special() {
        for kind in [
            AttributeKind::Health,
            AttributeKind::Biometric,
            AttributeKind::CriminalRecord,
        ] {
            assert_eq!(kind.sensitivity(), Sensitivity::Special, "{kind:?}");
        }
        assert_eq!(
            AttributeKind::Identifier(IdKind::Snils).sensitivity(),
            Sensitivity::Personal
        );
        assert_eq!(AttributeKind::Pet.sensitivity(), Sensitivity::Public);
        assert!(
            Sensitivity::Public < Sensitivity::Personal
                && Sensitivity::Personal < Sensitivity::Special
        );
    }
}
