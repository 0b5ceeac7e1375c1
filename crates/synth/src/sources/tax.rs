//! The tax service's register of individual taxpayers: one row per person with an INN, the
//! whole name in one "ФИО" field, in Windows-1251 with `;` between fields and "-" for nothing.
//!
//! Everyone with an INN appears, most of the time: Russians (children included, when they were
//! given an INN) and the migrants who registered for tax. The name is written as of the
//! registration date (a wife registered before her marriage keeps her maiden surname here),
//! usually surname first, sometimes given name first. Names are in the Russian clerk's spelling
//! because Windows-1251 has no Uzbek, Tajik or Kyrgyz letters; this module never writes a
//! character the encoding cannot hold (encoding fails loudly if it ever would).

use rand::Rng;

use super::{ChunkOutput, SourceKind, push_csv_line, record_number};
use crate::calendar::{Date, TODAY};
use crate::corrupt;
use crate::ids;
use crate::names::russian_spelling;
use crate::person::{Household, Origin, Person};

pub(super) const FILE_NAME: &str = "tax.csv";

pub(super) const HEADER: &str =
    "№;ИНН;ФИО;СНИЛС;Паспорт;Дата рождения;Гражданство;Адрес регистрации;Дата постановки на учет\n";

/// Chance that a person holding an INN is in this export.
const COVERAGE: f64 = 0.90;
/// Chance that the name is written given name first ("Иван Иванович Иванов").
const GIVEN_FIRST: f64 = 0.25;

pub(super) const MAPPING: &str = r#"# Tax service: register of individual taxpayers (INN holders).
# Windows-1251, ';'-separated, the whole name in one field, '-' where nothing is known.
[source]
name = "tax"
format = "csv"
encoding = "windows-1251"
delimiter = ";"
header = true
null_values = ["", "-"]

[[field]]
column = "№"
target = "record.key"
required = true

[[field]]
column = "ИНН"
target = "id.inn"

[[field]]
column = "ФИО"
target = "name.full"
order = "any"

[[field]]
column = "СНИЛС"
target = "id.snils"

[[field]]
column = "Паспорт"
target = "id.passport_rf"

[[field]]
column = "Дата рождения"
target = "birth_date"
formats = ["%d.%m.%Y"]

[[field]]
column = "Гражданство"
target = "citizenship"
codes = { "РФ" = "RUS", "Россия" = "RUS", "Узбекистан" = "UZB", "Таджикистан" = "TJK", "Киргизия" = "KGZ", "Кыргызстан" = "KGZ" }

[[field]]
column = "Адрес регистрации"
target = "address.registered"
normalise = ["collapse_spaces"]

[[field]]
column = "Дата постановки на учет"
target = "record.observed_at"
formats = ["%d.%m.%Y"]
"#;

const NOTHING: &str = "-";

pub(super) fn render(
    person: &Person,
    household: &Household,
    rng: &mut impl Rng,
    out: &mut ChunkOutput,
) {
    let Some(inn) = &person.inn else {
        return;
    };
    if !rng.random_bool(COVERAGE) {
        return;
    }
    let number = format!("{:012}", record_number(SourceKind::Tax, person.index, 0));
    // INNs were issued to everyone from 2005 on; a migrant gets one after arriving.
    let earliest = Date::first_of_year(2005)
        .max(person.birth.add_days(30))
        .max(person.arrived.unwrap_or(TODAY.add_years(-100)));
    let registered = Date::random_between(rng, earliest, TODAY.add_days(-1));

    let surname = russian_spelling(person.surname_on(registered));
    let given = russian_spelling(person.name.given);
    let patronymic = person
        .name
        .patronymic
        .as_deref()
        .filter(|_| !corrupt::missing(rng))
        .map(russian_spelling);
    let mut parts: Vec<&str> = Vec::with_capacity(3);
    if rng.random_bool(GIVEN_FIRST) {
        parts.push(&given);
        parts.extend(patronymic.as_deref());
        parts.push(&surname);
    } else {
        parts.push(&surname);
        parts.push(&given);
        parts.extend(patronymic.as_deref());
    }
    let full_name = corrupt::name(rng, &parts.join(" "));

    let inn = corrupt::identifier(rng, inn.clone());
    let snils = match &person.snils {
        Some(snils) if rng.random_bool(0.8) => {
            let mut written = String::with_capacity(14);
            ids::write_snils(rng, snils, &mut written);
            corrupt::identifier(rng, written)
        }
        _ => NOTHING.to_string(),
    };
    let passport = match &person.passport_rf {
        Some(passport) if rng.random_bool(0.6) => {
            let mut written = String::with_capacity(12);
            ids::write_passport_rf(rng, passport, &mut written);
            corrupt::identifier(rng, written)
        }
        _ => NOTHING.to_string(),
    };
    let mut birth_date = String::with_capacity(10);
    if corrupt::missing(rng) {
        birth_date.push_str(NOTHING);
    } else {
        corrupt::birth_date(rng, person.birth).write_dmy(&mut birth_date);
    }
    let citizenship = match person.origin {
        _ if corrupt::missing(rng) => NOTHING,
        Origin::Russia if rng.random_bool(0.7) => "РФ",
        Origin::Russia => "Россия",
        Origin::Uzbekistan => "Узбекистан",
        Origin::Tajikistan => "Таджикистан",
        Origin::Kyrgyzstan if rng.random_bool(0.5) => "Киргизия",
        Origin::Kyrgyzstan => "Кыргызстан",
    };
    let written_address = household.address.written(rng);
    let address = corrupt::address(rng, written_address);
    let mut registered_text = String::with_capacity(10);
    registered.write_dmy(&mut registered_text);

    push_csv_line(
        out.text(SourceKind::Tax),
        &[
            &number,
            &inn,
            &full_name,
            &snils,
            &passport,
            &birth_date,
            citizenship,
            &address,
            &registered_text,
        ],
        ';',
    );
    out.record(SourceKind::Tax, &number, person);
}
