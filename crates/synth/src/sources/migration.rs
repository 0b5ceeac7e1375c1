//! The migration registry: every registration of a labour migrant at an address, with the name
//! in Latin letters as the passport (or the officer) spelled it.
//!
//! Only adult migrants appear, once per registration; a quarter moved and were registered twice,
//! first at another address. The Latin spelling follows a standard picked per record, so one
//! person's two rows may disagree. Russians and children are deliberately absent: the registry
//! holds neither.

use rand::Rng;

use super::{
    ChunkOutput, SourceKind, latin_name, latin_standard, passport_case, push_csv_line,
    record_number,
};
use crate::calendar::{Date, TODAY};
use crate::corrupt;
use crate::ids;
use crate::person::{Household, Person, Sex};
use crate::places::Address;

pub(super) const FILE_NAME: &str = "migration.csv";

pub(super) const HEADER: &str = "reg_no,reg_date,surname_lat,given_lat,patronymic_lat,birth_date,sex,citizenship,passport,patent,patent_until,phone,address\n";

/// Chance that a migrant moved once and so has two registrations.
const SECOND_REGISTRATION: f64 = 0.25;

pub(super) const MAPPING: &str = r#"# Migration registry: registrations of foreign citizens at a place of stay.
# Names are in Latin letters, as in the passport; one row per registration.
[source]
name = "migration"
format = "csv"
encoding = "utf-8"
delimiter = ","
header = true
null_values = [""]

[[field]]
column = "reg_no"
target = "record.key"
required = true

[[field]]
column = "reg_date"
target = "record.observed_at"
formats = ["%d.%m.%Y"]

[[field]]
column = "surname_lat"
target = "name.surname"

[[field]]
column = "given_lat"
target = "name.given"

[[field]]
column = "patronymic_lat"
target = "name.patronymic"

[[field]]
column = "birth_date"
target = "birth_date"
formats = ["%d.%m.%Y"]

[[field]]
column = "sex"
target = "sex"
codes = { "M" = "male", "F" = "female" }

[[field]]
column = "citizenship"
target = "citizenship"

[[field]]
column = "passport"
target = "id.passport_foreign"

[[field]]
column = "patent"
target = "id.work_patent"

[[field]]
column = "patent"
target = "permit.number"

[[field]]
column = "patent_until"
target = "permit.valid_until"
formats = ["%d.%m.%Y"]

[[field]]
column = "phone"
target = "id.phone"

[[field]]
column = "address"
target = "address.registered"
normalise = ["collapse_spaces"]
"#;

pub(super) fn render(
    person: &Person,
    household: &Household,
    rng: &mut impl Rng,
    out: &mut ChunkOutput,
) {
    if !person.origin.is_migrant() || person.is_child() {
        return;
    }
    let Some(arrived) = person.arrived else {
        return;
    };
    let first_registration = arrived.add_days(rng.random_range(0..=7));
    if rng.random_bool(SECOND_REGISTRATION) {
        let moved = Date::random_between(rng, first_registration.add_days(60), TODAY.add_days(-7));
        let earlier_address = Address::random(rng);
        write_row(person, 0, first_registration, &earlier_address, rng, out);
        write_row(
            person,
            1,
            moved.max(first_registration),
            &household.address,
            rng,
            out,
        );
    } else {
        write_row(person, 0, first_registration, &household.address, rng, out);
    }
}

fn write_row<R: Rng>(
    person: &Person,
    ordinal: u8,
    registered: Date,
    address: &Address,
    rng: &mut R,
    out: &mut ChunkOutput,
) {
    let reg_no = format!(
        "{:012}",
        record_number(SourceKind::Migration, person.index, ordinal)
    );
    let mut reg_date = String::with_capacity(10);
    registered.write_dmy(&mut reg_date);

    let standard = latin_standard(rng, person.origin);
    let latin = |rng: &mut R, text: &str| {
        let spelled = passport_case(rng, latin_name(text, person.origin, standard));
        corrupt::name(rng, &spelled)
    };
    let mut surname = latin(rng, &person.name.surname);
    let mut given = latin(rng, person.name.given);
    if rng.random_bool(corrupt::SWAPPED_NAME_PARTS) {
        std::mem::swap(&mut surname, &mut given);
    }
    let patronymic = match &person.name.patronymic {
        Some(patronymic) if !corrupt::missing(rng) => latin(rng, patronymic),
        _ => String::new(),
    };

    let mut birth_date = String::with_capacity(10);
    if !corrupt::missing(rng) {
        corrupt::birth_date(rng, person.birth).write_dmy(&mut birth_date);
    }
    let sex = match person.sex {
        _ if corrupt::missing(rng) => "",
        Sex::Male => "M",
        Sex::Female => "F",
    };
    let passport = person
        .passport_foreign
        .clone()
        .map(|number| corrupt::identifier(rng, number))
        .unwrap_or_default();
    let patent = match &person.work_patent {
        Some(number) if rng.random_bool(0.5) && number.len() > 2 => {
            corrupt::identifier(rng, format!("{} №{}", &number[..2], &number[2..]))
        }
        Some(number) => corrupt::identifier(rng, number.clone()),
        None => String::new(),
    };
    let patent_until = person
        .work_patent
        .as_deref()
        .map(patent_valid_until)
        .unwrap_or_default();
    let mut phone = String::new();
    let number = match (&person.phone, &person.home_phone) {
        (Some(russian), Some(home)) => Some(if rng.random_bool(0.75) { russian } else { home }),
        (Some(only), None) | (None, Some(only)) => Some(only),
        (None, None) => None,
    };
    if let Some(number) = number.filter(|_| !corrupt::missing(rng)) {
        ids::write_phone(rng, number, &mut phone);
        phone = corrupt::identifier(rng, phone);
    }
    let written_address = address.written(rng);
    let address = corrupt::address(rng, written_address);

    push_csv_line(
        out.text(SourceKind::Migration),
        &[
            &reg_no,
            &reg_date,
            &surname,
            &given,
            &patronymic,
            &birth_date,
            sex,
            person.origin.alpha3(),
            &passport,
            &patent,
            &patent_until,
            &phone,
            &address,
        ],
        ',',
    );
    out.record(SourceKind::Migration, &reg_no, person);
}

/// The last day a patent's paid months cover, as `dd.mm.yyyy`: from two months before
/// [`TODAY`] to ten after, derived from the number alone (so the city's random draws, and with
/// them every other value, stay what they were before patents had an end date).
fn patent_valid_until(number: &str) -> String {
    let digits: i64 = number
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| i64::from(b - b'0'))
        .fold(0, |sum, digit| (sum * 31 + digit) % 1_000_003);
    let mut out = String::with_capacity(10);
    TODAY.add_days(digits % 360 - 60).write_dmy(&mut out);
    out
}
