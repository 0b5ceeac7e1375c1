//! The health insurance fund's register of compulsory (OMS) policies: separate name columns,
//! ISO dates, sex as 1/2, and a special-category column with a diagnosis code for some people.
//!
//! Everyone holding an OMS policy appears, most of the time: all Russians, Kyrgyz migrants (as
//! citizens of a Eurasian Economic Union state) about half the time, other migrants rarely. The
//! name is as of the policy date, so a wife insured before her marriage keeps her maiden surname
//! here. Migrants' names are sometimes in their national letters (the file is UTF-8 with a BOM).
//! The diagnosis goes to `health.note`, a special category: it is here so that the importer's
//! encryption and the policy layer have something real to protect, never as a matching input.

use rand::Rng;

use super::{ChunkOutput, SourceKind, push_csv_line, record_number};
use crate::calendar::{Date, TODAY};
use crate::corrupt;
use crate::ids;
use crate::names::russian_spelling;
use crate::person::{Person, Sex};

pub(super) const FILE_NAME: &str = "health.csv";

pub(super) const HEADER: &str = "id,surname,given_name,patronymic,birth_date,sex,oms_policy,snils,phone,policy_date,special_category\n";

/// Chance that a person holding an OMS policy is in this export.
const COVERAGE: f64 = 0.92;
/// Chance that a migrant's name is written with the national letters (Ҳ, Қ, Ў …).
const NATIONAL_LETTERS: f64 = 0.25;
/// The share of the insured whose own phone the insurer has on file.
const HAS_PHONE: f64 = 0.7;

pub(super) const MAPPING: &str = r#"# Health insurance fund: compulsory medical insurance (OMS) policies.
# UTF-8 with a byte order mark; ISO dates; sex coded 1 (male) / 2 (female).
[source]
name = "health"
format = "csv"
encoding = "utf-8"
delimiter = ","
header = true
null_values = [""]

[[field]]
column = "id"
target = "record.key"
required = true

[[field]]
column = "surname"
target = "name.surname"

[[field]]
column = "given_name"
target = "name.given"

[[field]]
column = "patronymic"
target = "name.patronymic"

[[field]]
column = "birth_date"
target = "birth_date"
formats = ["%Y-%m-%d"]

[[field]]
column = "sex"
target = "sex"
codes = { "1" = "male", "2" = "female" }

[[field]]
column = "oms_policy"
target = "id.oms"

[[field]]
column = "snils"
target = "id.snils"

[[field]]
column = "phone"
target = "id.phone"

[[field]]
column = "policy_date"
target = "record.observed_at"
formats = ["%Y-%m-%d"]

[[field]]
column = "special_category"
target = "health.note"
"#;

pub(super) fn render(person: &Person, rng: &mut impl Rng, out: &mut ChunkOutput) {
    let Some(oms) = &person.oms else {
        return;
    };
    if !rng.random_bool(COVERAGE) {
        return;
    }
    let id = format!("{:012}", record_number(SourceKind::Health, person.index, 0));
    // Unified policies exist since May 2011; a child is insured soon after birth, a migrant
    // after arriving.
    let earliest = Date::new(2011, 5, 1)
        .unwrap_or(TODAY)
        .max(person.birth.add_days(7))
        .max(person.arrived.unwrap_or(TODAY.add_years(-100)));
    let issued = Date::random_between(rng, earliest, TODAY.add_days(-1));

    let national = person.origin.is_migrant() && rng.random_bool(NATIONAL_LETTERS);
    let spell = |text: &str| {
        if national {
            text.to_string()
        } else {
            russian_spelling(text)
        }
    };
    let mut surname = corrupt::name(rng, &spell(person.surname_on(issued)));
    let mut given = corrupt::name(rng, &spell(person.name.given));
    if rng.random_bool(corrupt::SWAPPED_NAME_PARTS) {
        std::mem::swap(&mut surname, &mut given);
    }
    let patronymic = match &person.name.patronymic {
        Some(patronymic) if !corrupt::missing(rng) => corrupt::name(rng, &spell(patronymic)),
        _ => String::new(),
    };
    let mut birth_date = String::with_capacity(10);
    if !corrupt::missing(rng) {
        corrupt::birth_date(rng, person.birth).write_iso(&mut birth_date);
    }
    let sex = match person.sex {
        _ if corrupt::missing(rng) => "",
        Sex::Male => "1",
        Sex::Female => "2",
    };
    let oms = if rng.random_bool(0.2) && oms.len() == 16 {
        format!(
            "{} {} {} {}",
            &oms[0..4],
            &oms[4..8],
            &oms[8..12],
            &oms[12..16]
        )
    } else {
        oms.clone()
    };
    let oms = corrupt::identifier(rng, oms);
    let snils = match &person.snils {
        Some(snils) if rng.random_bool(0.85) => {
            let mut written = String::with_capacity(14);
            ids::write_snils(rng, snils, &mut written);
            corrupt::identifier(rng, written)
        }
        _ => String::new(),
    };
    // Insurers keep a contact phone for most of their insured.
    let mut phone = String::new();
    if let Some(number) = person
        .phone
        .as_deref()
        .filter(|_| rng.random_bool(HAS_PHONE))
    {
        ids::write_phone(rng, number, &mut phone);
        phone = corrupt::identifier(rng, phone);
    }
    let mut policy_date = String::with_capacity(10);
    issued.write_iso(&mut policy_date);

    push_csv_line(
        out.text(SourceKind::Health),
        &[
            &id,
            &surname,
            &given,
            &patronymic,
            &birth_date,
            sex,
            &oms,
            &snils,
            &phone,
            &policy_date,
            person.diagnosis.unwrap_or_default(),
        ],
        ',',
    );
    out.record(SourceKind::Health, &id, person);
}
