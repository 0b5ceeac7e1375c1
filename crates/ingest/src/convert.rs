//! Turns one row's raw values into a [`SourceRecord`] by applying a [`Mapping`].
//!
//! Reading a file (CSV, NDJSON, JSON) and converting a row are separate: readers only know how to
//! find the raw text of each mapped field, and this module only knows what the text becomes. Every
//! problem with a row is collected, not just the first, so the quarantine says everything wrong.

use std::borrow::Cow;

use chrono::format::{Parsed, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use tessera_model::{
    Address, Attribute, BiometricRef, CountryCode, CriminalRecordNote, Education, Employment,
    HealthNote, IdKind, Identifier, Income, PartialDate, Permit, PersonName, Pet, RecordKey,
    Relation, RelationRole, Sex, SourceRecord, Special, parse_full_name,
};

use crate::mapping::{
    DateFormat, EducationPart, EmploymentPart, Field, IncomePart, Input, Mapping, NamePart,
    Normaliser, PermitPart, PetPart, RelationPart, Target,
};

/// One thing wrong with one field of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    /// The column (or JSON path, or constant) the value came from.
    pub column: String,
    pub target: String,
    pub reason: String,
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.column, self.target, self.reason)
    }
}

#[derive(Default)]
struct NameParts {
    surname: Option<String>,
    given: Option<String>,
    patronymic: Option<String>,
}

#[derive(Default)]
struct RelationParts {
    name: Option<PersonName>,
    phone: Option<Identifier>,
}

#[derive(Default)]
struct IncomeParts {
    amount_minor: Option<i64>,
    currency: Option<String>,
    period: Option<String>,
}

/// Converts rows of one file: the mapping plus the observation time to use when the row has none.
pub(crate) struct Converter<'m> {
    pub(crate) mapping: &'m Mapping,
    pub(crate) observed_default: DateTime<Utc>,
}

impl Converter<'_> {
    /// Builds a record from a row. `raw_value(i)` gives the text of field `i`'s column in this
    /// row, `None` when the row does not have it (a JSON object without the key).
    pub(crate) fn convert<'r>(
        &self,
        raw_value: impl Fn(usize) -> Result<Option<Cow<'r, str>>, String>,
    ) -> Result<SourceRecord, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let mut key_parts: Vec<String> = Vec::new();
        let mut observed_at = None;
        let mut attributes = Vec::new();
        let mut full_names: Vec<PersonName> = Vec::new();
        let mut parts = NameParts::default();
        let mut employment = Employment::default();
        let mut education = Education::default();
        let mut relations: Vec<(RelationRole, RelationParts)> = Vec::new();
        let mut income = IncomeParts::default();
        let mut pet = Pet::default();
        let mut permit = Permit::default();

        for (index, field) in self.mapping.fields.iter().enumerate() {
            let problem = |reason: String| FieldProblem {
                column: field.input_label(),
                target: field.target_text.clone(),
                reason,
            };
            let raw: Option<Cow<'_, str>> = match &field.input {
                Input::Constant(value) => Some(Cow::Borrowed(value.as_str())),
                Input::Column(_) => match raw_value(index) {
                    Ok(value) => value,
                    Err(reason) => {
                        problems.push(problem(reason));
                        continue;
                    }
                },
            };
            let value = match self.clean(field, raw.as_deref()) {
                Ok(Some(value)) => value,
                Ok(None) if field.required => {
                    problems.push(problem("required value is empty".into()));
                    continue;
                }
                Ok(None) => continue,
                Err(reason) => {
                    problems.push(problem(reason));
                    continue;
                }
            };
            let outcome: Result<(), String> = match &field.target {
                Target::RecordKey => {
                    key_parts.push(value.into_owned());
                    Ok(())
                }
                Target::ObservedAt => {
                    parse_timestamp(&value, &field.formats).map(|t| observed_at = Some(t))
                }
                Target::Name(NamePart::Full) => {
                    full_names.push(parse_full_name(&value, field.order));
                    Ok(())
                }
                Target::Name(NamePart::Surname) => set_once(&mut parts.surname, value),
                Target::Name(NamePart::Given) => set_once(&mut parts.given, value),
                Target::Name(NamePart::Patronymic) => set_once(&mut parts.patronymic, value),
                Target::BirthDate => parse_date(&value, &field.formats)
                    .map(|d| attributes.push(Attribute::BirthDate(d))),
                Target::Sex => parse_sex(&value).map(|s| attributes.push(Attribute::Sex(s))),
                Target::Citizenship => CountryCode::parse(&value)
                    .map(|c| attributes.push(Attribute::Citizenship(c)))
                    .ok_or_else(|| {
                        format!("{value:?} is not an ISO 3166 alpha-3 code; map it with `codes`")
                    }),
                Target::Identifier(kind) => {
                    let id = match (&field.id_type, kind) {
                        (Some(id_type), IdKind::Other) => {
                            Identifier::parse(*kind, &format!("{id_type}:{value}"))
                        }
                        _ => Identifier::parse(*kind, &value),
                    };
                    attributes.push(Attribute::Identifier(id));
                    Ok(())
                }
                Target::Address(kind) => {
                    attributes.push(Attribute::Address(Address {
                        kind: *kind,
                        text: value.into_owned(),
                    }));
                    Ok(())
                }
                Target::Employment(part) => match part {
                    EmploymentPart::EmployerInn => {
                        employment.employer_inn = Some(Identifier::parse(IdKind::Inn, &value));
                        Ok(())
                    }
                    EmploymentPart::EmployerName => set_once(&mut employment.employer_name, value),
                    EmploymentPart::Position => set_once(&mut employment.position, value),
                    EmploymentPart::PersonnelNumber => {
                        set_once(&mut employment.personnel_number, value)
                    }
                    EmploymentPart::From => {
                        parse_date(&value, &field.formats).map(|d| employment.from = Some(d))
                    }
                    EmploymentPart::To => {
                        parse_date(&value, &field.formats).map(|d| employment.to = Some(d))
                    }
                },
                Target::Education(part) => match part {
                    EducationPart::Institution => set_once(&mut education.institution, value),
                    EducationPart::Level => set_once(&mut education.level, value),
                    EducationPart::From => {
                        parse_date(&value, &field.formats).map(|d| education.from = Some(d))
                    }
                    EducationPart::To => {
                        parse_date(&value, &field.formats).map(|d| education.to = Some(d))
                    }
                },
                Target::Relation(role, part) => {
                    let slot = match relations.iter().position(|(r, _)| r == role) {
                        Some(i) => &mut relations[i].1,
                        None => {
                            relations.push((*role, RelationParts::default()));
                            &mut relations.last_mut().expect("just pushed").1
                        }
                    };
                    match part {
                        RelationPart::Name => {
                            slot.name = Some(parse_full_name(&value, field.order))
                        }
                        RelationPart::Phone => {
                            slot.phone = Some(Identifier::parse(IdKind::Phone, &value))
                        }
                    }
                    Ok(())
                }
                Target::Income(part) => match part {
                    IncomePart::Amount => {
                        parse_money(&value).map(|a| income.amount_minor = Some(a))
                    }
                    IncomePart::Currency => set_once(&mut income.currency, value),
                    IncomePart::Period => set_once(&mut income.period, value),
                },
                Target::Pet(part) => match part {
                    PetPart::Species => set_once(&mut pet.species, value),
                    PetPart::Name => set_once(&mut pet.name, value),
                    PetPart::Chip => set_once(&mut pet.chip, value),
                },
                Target::Permit(part) => match part {
                    PermitPart::Number => set_once(&mut permit.number, value),
                    PermitPart::Issued => {
                        parse_date(&value, &field.formats).map(|d| permit.issued = Some(d))
                    }
                    PermitPart::ValidUntil => {
                        parse_date(&value, &field.formats).map(|d| permit.valid_until = Some(d))
                    }
                },
                Target::Health => {
                    attributes.push(Attribute::Health(Special::new(HealthNote(
                        value.into_owned(),
                    ))));
                    Ok(())
                }
                Target::Biometric => {
                    attributes.push(Attribute::Biometric(Special::new(BiometricRef(
                        value.into_owned(),
                    ))));
                    Ok(())
                }
                Target::CriminalRecord => {
                    let note = CriminalRecordNote(value.into_owned());
                    attributes.push(Attribute::CriminalRecord(Special::new(note)));
                    Ok(())
                }
            };
            if let Err(reason) = outcome {
                problems.push(problem(reason));
            }
        }

        let key = RecordKey::new(&key_parts.join("|"));
        if key.is_err() {
            problems.push(FieldProblem {
                column: "record.key".into(),
                target: "record.key".into(),
                reason: "the record key is empty".into(),
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }

        let mut names: Vec<Attribute> = Vec::new();
        if parts.surname.is_some() || parts.given.is_some() || parts.patronymic.is_some() {
            let name = PersonName::from_parts(
                parts.surname.as_deref(),
                parts.given.as_deref(),
                parts.patronymic.as_deref(),
            );
            names.push(Attribute::Name(name));
        }
        names.extend(
            full_names
                .into_iter()
                .filter(|n| !n.is_empty())
                .map(Attribute::Name),
        );
        attributes.splice(0..0, names);
        if employment != Employment::default() {
            attributes.push(Attribute::Employment(employment));
        }
        if education != Education::default() {
            attributes.push(Attribute::Education(education));
        }
        for (role, relation) in relations {
            attributes.push(Attribute::Relation(Relation {
                role,
                name: relation.name,
                contact: relation.phone,
            }));
        }
        if let Some(amount_minor) = income.amount_minor {
            let currency = income.currency.unwrap_or_else(|| "RUB".into());
            attributes.push(Attribute::Income(Income {
                amount_minor,
                currency,
                period: income.period,
            }));
        }
        if pet != Pet::default() {
            attributes.push(Attribute::Pet(pet));
        }
        if permit != Permit::default() {
            attributes.push(Attribute::Permit(permit));
        }
        Ok(SourceRecord {
            source: self.mapping.source.clone(),
            key: key.expect("checked above: an empty key is a problem"),
            observed_at: observed_at.unwrap_or(self.observed_default),
            attributes,
        })
    }

    /// Trims, applies null values, normalisers and codes. `Ok(None)` means empty.
    fn clean<'v>(
        &self,
        field: &Field,
        raw: Option<&'v str>,
    ) -> Result<Option<Cow<'v, str>>, String> {
        let Some(raw) = raw else { return Ok(None) };
        let trimmed = raw.trim();
        if self.mapping.null_values.iter().any(|null| null == trimmed) {
            return Ok(None);
        }
        let mut value = Cow::Borrowed(trimmed);
        for normaliser in &field.normalise {
            value = match normaliser {
                Normaliser::CollapseSpaces => {
                    Cow::Owned(value.split_whitespace().collect::<Vec<_>>().join(" "))
                }
                Normaliser::Upper => Cow::Owned(value.to_uppercase()),
                Normaliser::Lower => Cow::Owned(value.to_lowercase()),
                Normaliser::DigitsOnly => {
                    Cow::Owned(value.chars().filter(char::is_ascii_digit).collect())
                }
            };
        }
        if value.is_empty() {
            return Ok(None);
        }
        let Some(codes) = &field.codes else {
            return Ok(Some(value));
        };
        match codes.get(value.as_ref()).or(field.codes_default.as_ref()) {
            Some(mapped) => Ok(Some(Cow::Owned(mapped.clone()))),
            None => {
                let mut known: Vec<&str> = codes.keys().map(String::as_str).collect();
                known.sort_unstable();
                Err(format!(
                    "unknown code {value:?}; known codes: {}",
                    known.join(", ")
                ))
            }
        }
    }
}

fn set_once(slot: &mut Option<String>, value: Cow<'_, str>) -> Result<(), String> {
    *slot = Some(value.into_owned());
    Ok(())
}

fn parse_sex(value: &str) -> Result<Sex, String> {
    match value.to_lowercase().as_str() {
        "male" | "m" => Ok(Sex::Male),
        "female" | "f" => Ok(Sex::Female),
        _ => Err(format!(
            "unknown sex {value:?}; map the source's codes with `codes`"
        )),
    }
}

/// Parses a date with the first format that reads it; the precision follows the fields the
/// format has. A date that reads but does not exist (31.02.1990) is an error, not a fall-through.
pub(crate) fn parse_date(text: &str, formats: &[DateFormat]) -> Result<PartialDate, String> {
    for format in formats {
        let mut parsed = Parsed::new();
        if chrono::format::parse(&mut parsed, text, StrftimeItems::new(&format.pattern)).is_err() {
            continue;
        }
        let Some(year) = parsed.year() else { continue };
        let date = match (parsed.month(), parsed.day()) {
            // chrono has range-checked month (1..=12) and day (1..=31), so they fit in u8.
            (Some(month), Some(day)) => PartialDate::day(year, month as u8, day as u8),
            (Some(month), None) => PartialDate::month(year, month as u8),
            _ => PartialDate::year(year),
        };
        return date.map_err(|e| format!("{text:?}: {e}"));
    }
    let patterns: Vec<&str> = formats.iter().map(|f| f.pattern.as_str()).collect();
    Err(format!(
        "{text:?} matches none of the date formats {patterns:?}"
    ))
}

fn parse_timestamp(text: &str, formats: &[DateFormat]) -> Result<DateTime<Utc>, String> {
    for format in formats {
        if let Ok(t) = DateTime::parse_from_str(text, &format.pattern) {
            return Ok(t.with_timezone(&Utc));
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(text, &format.pattern) {
            return Ok(t.and_utc());
        }
        if let Ok(d) = NaiveDate::parse_from_str(text, &format.pattern) {
            return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
        }
    }
    let patterns: Vec<&str> = formats.iter().map(|f| f.pattern.as_str()).collect();
    Err(format!("{text:?} matches none of the formats {patterns:?}"))
}

/// Parses `12345.67`, `12 345,67` or `-5` into minor units (two decimals).
fn parse_money(text: &str) -> Result<i64, String> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .replace(',', ".");
    let bad = || format!("{text:?} is not an amount like 12345.67");
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
    let sign = if cleaned.starts_with('-') { -1 } else { 1 };
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(sign * fraction))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formats(patterns: &[&str]) -> Vec<DateFormat> {
        patterns
            .iter()
            .map(|p| DateFormat {
                pattern: p.to_string(),
            })
            .collect()
    }

    #[test]
    fn dates_keep_precision_and_refuse_impossible_days() {
        let f = formats(&["%d.%m.%Y", "%m.%Y", "%Y"]);
        assert_eq!(
            parse_date("28.02.1990", &f).unwrap().to_string(),
            "1990-02-28"
        );
        assert_eq!(parse_date("02.1990", &f).unwrap().to_string(), "1990-02");
        assert_eq!(parse_date("1990", &f).unwrap().to_string(), "1990");
        assert_eq!(
            parse_date("31.02.1990", &f).unwrap_err(),
            "\"31.02.1990\": no such date: 1990-02-31"
        );
        assert!(
            parse_date("1990-02-28", &f)
                .unwrap_err()
                .contains("matches none of the date formats")
        );
    }

    #[test]
    fn money_becomes_minor_units() {
        assert_eq!(parse_money("12345.67"), Ok(1_234_567));
        assert_eq!(parse_money("12 345,5"), Ok(1_234_550));
        assert_eq!(parse_money("-5"), Ok(-500));
        assert!(parse_money("12.345").is_err());
        assert!(parse_money("abc").is_err());
    }
}
