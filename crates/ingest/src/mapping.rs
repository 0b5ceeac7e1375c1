//! Mapping files: the TOML that says how one agency's export becomes source records.
//!
//! [`Mapping::from_toml`] parses and checks a mapping once, up front, so that every problem in it
//! (an unknown target, a code that maps to nothing, a date format chrono cannot read) is reported
//! before a single row is read. The format is documented in `docs/mapping.md`.

use std::collections::{BTreeMap, HashMap};

use chrono::format::{Item, StrftimeItems};
use serde::Deserialize;
use tessera_model::{AddressKind, IdKind, NameOrder, RelationRole, SourceId};

/// A mapping that failed to parse or check, with the place in the file.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("{0}")]
    Toml(String),
    #[error("[source] name: {0}")]
    SourceName(tessera_model::ModelError),
    #[error("[source] delimiter must be one ASCII character, found {found:?}")]
    Delimiter { found: String },
    #[error("field {index} ({target}): {reason}")]
    Field {
        index: usize,
        target: String,
        reason: String,
    },
    #[error("no field has target \"record.key\"; every row needs the source's own key")]
    NoRecordKey,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Ndjson,
    Json,
}

/// The text encoding a mapping declares for its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
pub enum EncodingChoice {
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    #[serde(rename = "windows-1251", alias = "cp1251")]
    Windows1251,
    #[serde(rename = "koi8-r")]
    Koi8R,
    #[serde(rename = "ibm866", alias = "cp866")]
    Ibm866,
    /// Detect per file: UTF-8 if the bytes are valid UTF-8, otherwise a guess, which is logged.
    #[default]
    #[serde(rename = "auto")]
    Auto,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    source: SourceSection,
    #[serde(default)]
    field: Vec<FieldSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceSection {
    name: String,
    format: Format,
    #[serde(default)]
    encoding: EncodingChoice,
    delimiter: Option<String>,
    header: Option<bool>,
    null_values: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSection {
    column: Option<String>,
    value: Option<String>,
    target: String,
    order: Option<NameOrder>,
    formats: Option<Vec<String>>,
    codes: Option<BTreeMap<String, String>>,
    codes_default: Option<String>,
    #[serde(default)]
    normalise: Vec<Normaliser>,
    #[serde(default)]
    required: bool,
    id_type: Option<String>,
}

/// A value normaliser applied after trimming and before codes and parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normaliser {
    CollapseSpaces,
    Upper,
    Lower,
    DigitsOnly,
}

/// Where a field's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// A CSV column by header name (or 1-based number without a header), or a dotted JSON path.
    Column(String),
    Constant(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NamePart {
    Full,
    Surname,
    Given,
    Patronymic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EmploymentPart {
    EmployerInn,
    EmployerName,
    Position,
    PersonnelNumber,
    From,
    To,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EducationPart {
    Institution,
    Level,
    From,
    To,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RelationPart {
    Name,
    Phone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IncomePart {
    Amount,
    Currency,
    Period,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PetPart {
    Species,
    Name,
    Chip,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PermitPart {
    Number,
    Issued,
    ValidUntil,
}

/// What a field's value becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    RecordKey,
    ObservedAt,
    Name(NamePart),
    BirthDate,
    Sex,
    Citizenship,
    Identifier(IdKind),
    Address(AddressKind),
    Employment(EmploymentPart),
    Education(EducationPart),
    Relation(RelationRole, RelationPart),
    Income(IncomePart),
    Pet(PetPart),
    Permit(PermitPart),
    Health,
    Biometric,
    CriminalRecord,
}

impl Target {
    fn parse(text: &str) -> Option<Target> {
        let target = match text {
            "record.key" => Target::RecordKey,
            "record.observed_at" => Target::ObservedAt,
            "name.full" => Target::Name(NamePart::Full),
            "name.surname" => Target::Name(NamePart::Surname),
            "name.given" => Target::Name(NamePart::Given),
            "name.patronymic" => Target::Name(NamePart::Patronymic),
            "birth_date" => Target::BirthDate,
            "sex" => Target::Sex,
            "citizenship" => Target::Citizenship,
            "address.registered" => Target::Address(AddressKind::Registered),
            "address.actual" => Target::Address(AddressKind::Actual),
            "employment.employer_inn" => Target::Employment(EmploymentPart::EmployerInn),
            "employment.employer_name" => Target::Employment(EmploymentPart::EmployerName),
            "employment.position" => Target::Employment(EmploymentPart::Position),
            "employment.personnel_number" => Target::Employment(EmploymentPart::PersonnelNumber),
            "employment.from" => Target::Employment(EmploymentPart::From),
            "employment.to" => Target::Employment(EmploymentPart::To),
            "education.institution" => Target::Education(EducationPart::Institution),
            "education.level" => Target::Education(EducationPart::Level),
            "education.from" => Target::Education(EducationPart::From),
            "education.to" => Target::Education(EducationPart::To),
            "income.amount" => Target::Income(IncomePart::Amount),
            "income.currency" => Target::Income(IncomePart::Currency),
            "income.period" => Target::Income(IncomePart::Period),
            "pet.species" => Target::Pet(PetPart::Species),
            "pet.name" => Target::Pet(PetPart::Name),
            "pet.chip" => Target::Pet(PetPart::Chip),
            "permit.number" => Target::Permit(PermitPart::Number),
            "permit.issued" => Target::Permit(PermitPart::Issued),
            "permit.valid_until" => Target::Permit(PermitPart::ValidUntil),
            "health.note" => Target::Health,
            "biometric.ref" => Target::Biometric,
            "criminal_record.note" => Target::CriminalRecord,
            other => {
                if let Some(kind) = other.strip_prefix("id.") {
                    return IdKind::from_name(kind).map(Target::Identifier);
                }
                let rest = other.strip_prefix("relation.")?;
                let (role, part) = rest.split_once('.')?;
                let role = match role {
                    "parent" => RelationRole::Parent,
                    "child" => RelationRole::Child,
                    "spouse" => RelationRole::Spouse,
                    "sibling" => RelationRole::Sibling,
                    "guardian" => RelationRole::Guardian,
                    "other" => RelationRole::Other,
                    _ => return None,
                };
                let part = match part {
                    "name" => RelationPart::Name,
                    "phone" => RelationPart::Phone,
                    _ => return None,
                };
                Target::Relation(role, part)
            }
        };
        Some(target)
    }

    fn takes_dates(&self) -> bool {
        matches!(
            self,
            Target::BirthDate
                | Target::ObservedAt
                | Target::Employment(EmploymentPart::From | EmploymentPart::To)
                | Target::Education(EducationPart::From | EducationPart::To)
                | Target::Permit(PermitPart::Issued | PermitPart::ValidUntil)
        )
    }
}

/// A chrono format with the date precision it yields.
#[derive(Clone, Debug)]
pub(crate) struct DateFormat {
    pub(crate) pattern: String,
}

/// One checked `[[field]]` of a mapping.
#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub(crate) input: Input,
    pub(crate) target: Target,
    /// The target as written in the mapping, for messages.
    pub(crate) target_text: String,
    pub(crate) order: NameOrder,
    pub(crate) formats: Vec<DateFormat>,
    pub(crate) codes: Option<HashMap<String, String>>,
    pub(crate) codes_default: Option<String>,
    pub(crate) normalise: Vec<Normaliser>,
    pub(crate) required: bool,
    pub(crate) id_type: Option<String>,
}

impl Field {
    /// The name of the column or a description of the constant, for messages.
    pub(crate) fn input_label(&self) -> String {
        match &self.input {
            Input::Column(name) => name.clone(),
            Input::Constant(value) => format!("constant {value:?}"),
        }
    }
}

/// A parsed and checked mapping file.
#[derive(Clone, Debug)]
pub struct Mapping {
    pub source: SourceId,
    pub format: Format,
    pub encoding: EncodingChoice,
    pub delimiter: u8,
    pub header: bool,
    pub(crate) null_values: Vec<String>,
    pub(crate) fields: Vec<Field>,
}

const DEFAULT_DATE_FORMATS: [&str; 2] = ["%Y-%m-%d", "%d.%m.%Y"];

impl Mapping {
    pub fn from_toml(text: &str) -> Result<Mapping, MappingError> {
        let file: MappingFile = toml::from_str(text)
            .map_err(|e| MappingError::Toml(e.to_string().trim().to_string()))?;
        let source = SourceId::new(&file.source.name).map_err(MappingError::SourceName)?;
        let delimiter = match file.source.delimiter.as_deref() {
            None => b',',
            Some("\\t") | Some("\t") => b'\t',
            Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
            Some(other) => {
                return Err(MappingError::Delimiter {
                    found: other.to_string(),
                });
            }
        };
        let fields = file
            .field
            .into_iter()
            .enumerate()
            .map(|(i, section)| check_field(i + 1, section))
            .collect::<Result<Vec<_>, _>>()?;
        if !fields.iter().any(|f| f.target == Target::RecordKey) {
            return Err(MappingError::NoRecordKey);
        }
        Ok(Mapping {
            source,
            format: file.source.format,
            encoding: file.source.encoding,
            delimiter,
            header: file.source.header.unwrap_or(true),
            null_values: file
                .source
                .null_values
                .unwrap_or_else(|| vec![String::new()]),
            fields,
        })
    }

    /// The column names (or JSON paths) this mapping reads.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().filter_map(|f| match &f.input {
            Input::Column(name) => Some(name.as_str()),
            Input::Constant(_) => None,
        })
    }
}

fn check_field(index: usize, section: FieldSection) -> Result<Field, MappingError> {
    let target_text = section.target.clone();
    let fail = |reason: String| MappingError::Field {
        index,
        target: target_text.clone(),
        reason,
    };
    let target = Target::parse(&section.target)
        .ok_or_else(|| fail("unknown target; see docs/mapping.md for the list".to_string()))?;
    let input = match (section.column, section.value) {
        (Some(column), None) => Input::Column(column),
        (None, Some(value)) => Input::Constant(value),
        (Some(_), Some(_)) => return Err(fail("give either `column` or `value`, not both".into())),
        (None, None) => return Err(fail("give a `column` to read or a constant `value`".into())),
    };
    if section.formats.is_some() && !target.takes_dates() {
        return Err(fail("`formats` applies only to date targets".into()));
    }
    let patterns = section
        .formats
        .unwrap_or_else(|| DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect());
    let mut formats = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        if StrftimeItems::new(&pattern).any(|item| matches!(item, Item::Error)) {
            return Err(fail(format!(
                "date format {pattern:?} is not a valid chrono format"
            )));
        }
        formats.push(DateFormat { pattern });
    }
    if section.order.is_some()
        && !matches!(
            target,
            Target::Name(NamePart::Full) | Target::Relation(_, RelationPart::Name)
        )
    {
        return Err(fail(
            "`order` applies only to name.full and relation.<role>.name".into(),
        ));
    }
    if matches!(target, Target::Identifier(IdKind::Other)) != section.id_type.is_some() {
        return Err(fail(
            "`id_type` is required for id.other and allowed nowhere else".into(),
        ));
    }
    let allowed_codes: Option<&[&str]> = match target {
        Target::Sex => Some(&["male", "female"]),
        _ => None,
    };
    if let (Some(codes), Some(allowed)) = (&section.codes, allowed_codes) {
        for (from, to) in codes {
            if !allowed.contains(&to.as_str()) {
                return Err(fail(format!(
                    "code {from:?} maps to {to:?}; allowed: {allowed:?}"
                )));
            }
        }
    }
    if target == Target::Citizenship {
        for to in section
            .codes
            .iter()
            .flat_map(|c| c.values())
            .chain(section.codes_default.iter())
        {
            if tessera_model::CountryCode::parse(to).is_none() {
                return Err(fail(format!(
                    "code maps to {to:?}, which is not an ISO 3166 alpha-3 code"
                )));
            }
        }
    }
    Ok(Field {
        input,
        target,
        target_text: section.target,
        order: section.order.unwrap_or_default(),
        formats,
        codes: section.codes.map(|c| c.into_iter().collect()),
        codes_default: section.codes_default,
        normalise: section.normalise,
        required: section.required,
        id_type: section.id_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [source]
        name = "tax"
        format = "csv"
        delimiter = ";"
        encoding = "windows-1251"

        [[field]]
        column = "inn"
        target = "record.key"

        [[field]]
        column = "fio"
        target = "name.full"
        order = "surname_first"
    "#;

    #[test]
    fn a_minimal_mapping_parses() {
        let mapping = Mapping::from_toml(MINIMAL).unwrap();
        assert_eq!(mapping.source.as_str(), "tax");
        assert_eq!(mapping.delimiter, b';');
        assert_eq!(mapping.encoding, EncodingChoice::Windows1251);
        assert_eq!(mapping.columns().collect::<Vec<_>>(), ["inn", "fio"]);
    }

    fn error_of(extra: &str) -> String {
        Mapping::from_toml(&format!("{MINIMAL}\n{extra}"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        assert_eq!(
            error_of("[[field]]\ncolumn = \"x\"\ntarget = \"name.middle\""),
            "field 3 (name.middle): unknown target; see docs/mapping.md for the list"
        );
        assert_eq!(
            error_of("[[field]]\ncolumn = \"pol\"\ntarget = \"sex\"\ncodes = { \"М\" = \"man\" }"),
            r#"field 3 (sex): code "М" maps to "man"; allowed: ["male", "female"]"#
        );
        assert_eq!(
            error_of("[[field]]\ncolumn = \"dr\"\ntarget = \"birth_date\"\nformats = [\"%d.%Q\"]"),
            r#"field 3 (birth_date): date format "%d.%Q" is not a valid chrono format"#
        );
        assert_eq!(
            error_of("[[field]]\ntarget = \"sex\""),
            "field 3 (sex): give a `column` to read or a constant `value`"
        );
        assert!(
            error_of("[[field]]\ncolumn = \"x\"\ntarget = \"sex\"\ncolour = 1")
                .contains("unknown field `colour`")
        );
        let no_key = MINIMAL.replace("target = \"record.key\"", "target = \"id.inn\"");
        assert!(matches!(
            Mapping::from_toml(&no_key),
            Err(MappingError::NoRecordKey)
        ));
        let bad_name = MINIMAL.replace("name = \"tax\"", "name = \"Tax Office\"");
        assert!(
            Mapping::from_toml(&bad_name)
                .unwrap_err()
                .to_string()
                .starts_with("[source] name:")
        );
    }
}
