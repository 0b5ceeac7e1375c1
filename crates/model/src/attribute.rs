//! The attributes a source record can carry about a person.
//!
//! One enum, [`Attribute`], with a variant per kind of fact the agencies hold. Special-category
//! payloads (health, biometric, criminal record) sit inside [`Special`], whose `Debug` is redacted
//! and whose content is reached only through [`Special::reveal`], so that every place that reads
//! one is easy to find and to police.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AttributeKind, Identifier, PartialDate, PersonName};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

/// An ISO 3166-1 alpha-3 country code, upper case (`RUS`, `UZB`, `TJK`, `KGZ`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CountryCode(String);

impl CountryCode {
    /// Accepts three ASCII letters in any case.
    pub fn parse(text: &str) -> Option<CountryCode> {
        let text = text.trim();
        (text.len() == 3 && text.bytes().all(|b| b.is_ascii_alphabetic()))
            .then(|| CountryCode(text.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    /// Where the person is registered (прописка / регистрация по месту пребывания).
    Registered,
    /// Where the person says they actually live.
    Actual,
}

/// An address as a person or an agency registered it. Tessera keeps no location history beyond
/// what was registered.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Address {
    pub kind: AddressKind,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Employment {
    /// The employer's INN (10 digits for an organisation, 12 for an individual entrepreneur).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub employer_inn: Option<Identifier>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub employer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub position: Option<String>,
    /// The employer's own number for the employee (табельный номер): unique within the employer.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub personnel_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<PartialDate>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub to: Option<PartialDate>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Education {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub institution: Option<String>,
    /// Level or class, as the source states it (`school`, `7Б`, `bachelor`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<PartialDate>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub to: Option<PartialDate>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationRole {
    Parent,
    Child,
    Spouse,
    Sibling,
    Guardian,
    Other,
}

/// A household relation as the source recorded it: the role of the other person relative to this
/// record's person, and whatever the source said about them. It links nothing by itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Relation {
    pub role: RelationRole,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<PersonName>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub contact: Option<Identifier>,
}

/// Income in minor units (kopecks) of a currency for a period.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Income {
    pub amount_minor: i64,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub period: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Pet {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub species: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chip: Option<String>,
}

/// A permit to stay or to work (a labour migrant's patent, a residence permit) and the day it
/// runs out: what tells an agency that a person's right to work is about to lapse.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Permit {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub issued: Option<PartialDate>,
    /// The last day the permit is valid.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid_until: Option<PartialDate>,
}

/// A health fact (diagnosis code or note) as a health-insurance or medical source recorded it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HealthNote(pub String);

/// A reference to a biometric template held elsewhere; Tessera never holds the template itself.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BiometricRef(pub String);

#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CriminalRecordNote(pub String);

/// A special-category value. Its `Debug` prints no content; [`Special::reveal`] is the one way in.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Special<T>(T);

impl<T> Special<T> {
    pub fn new(value: T) -> Special<T> {
        Special(value)
    }

    /// The content. Callers must hold a legal basis for reading special-category data.
    pub fn reveal(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Special<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Special(<withheld>)")
    }
}

/// One fact about a person from one source record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Attribute {
    Name(PersonName),
    BirthDate(PartialDate),
    Sex(Sex),
    Citizenship(CountryCode),
    Identifier(Identifier),
    Address(Address),
    Employment(Employment),
    Education(Education),
    Relation(Relation),
    Income(Income),
    Pet(Pet),
    Permit(Permit),
    Health(Special<HealthNote>),
    Biometric(Special<BiometricRef>),
    CriminalRecord(Special<CriminalRecordNote>),
}

impl Attribute {
    pub fn kind(&self) -> AttributeKind {
        match self {
            Attribute::Name(_) => AttributeKind::Name,
            Attribute::BirthDate(_) => AttributeKind::BirthDate,
            Attribute::Sex(_) => AttributeKind::Sex,
            Attribute::Citizenship(_) => AttributeKind::Citizenship,
            Attribute::Identifier(id) => AttributeKind::Identifier(id.kind),
            Attribute::Address(_) => AttributeKind::Address,
            Attribute::Employment(_) => AttributeKind::Employment,
            Attribute::Education(_) => AttributeKind::Education,
            Attribute::Relation(_) => AttributeKind::Relation,
            Attribute::Income(_) => AttributeKind::Income,
            Attribute::Pet(_) => AttributeKind::Pet,
            Attribute::Permit(_) => AttributeKind::Permit,
            Attribute::Health(_) => AttributeKind::Health,
            Attribute::Biometric(_) => AttributeKind::Biometric,
            Attribute::CriminalRecord(_) => AttributeKind::CriminalRecord,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IdKind, Sensitivity};

    #[test]
    fn special_values_do_not_print() {
        let health = Attribute::Health(Special::new(HealthNote("E11 diabetes".into())));
        assert_eq!(health.kind().sensitivity(), Sensitivity::Special);
        assert!(!format!("{health:?}").contains("diabetes"));
        if let Attribute::Health(note) = &health {
            assert_eq!(note.reveal().0, "E11 diabetes");
        }
    }

    #[test]
    fn attributes_round_trip_through_json() {
        let attributes = vec![
            Attribute::Identifier(Identifier::parse(IdKind::Snils, "112-233-445 95")),
            Attribute::BirthDate(PartialDate::month(1990, 2).unwrap()),
            Attribute::Citizenship(CountryCode::parse("uzb").unwrap()),
            Attribute::Employment(Employment {
                employer_inn: Some(Identifier::parse(IdKind::Inn, "7707083893")),
                ..Employment::default()
            }),
        ];
        let json = serde_json::to_string(&attributes).unwrap();
        assert!(json.contains(r#""kind":"identifier""#), "{json}");
        let back: Vec<Attribute> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, attributes);
        // Validity is written only when an identifier is invalid.
        assert!(!json.contains("validity"), "{json}");
        let invalid = vec![Attribute::Identifier(Identifier::parse(
            IdKind::Snils,
            "112-233-445 96",
        ))];
        let json = serde_json::to_string(&invalid).unwrap();
        assert!(json.contains(r#""validity":{"status":"invalid","reason":"SNILS check number is 96, expected 95"}"#), "{json}");
        assert_eq!(
            serde_json::from_str::<Vec<Attribute>>(&json).unwrap(),
            invalid
        );
    }
}
