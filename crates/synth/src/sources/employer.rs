//! Employers' weekly staff reports, as NDJSON: one line per employee per reported week, with the
//! employee's phone, car plate and transport card — and no birth date.
//!
//! A reported worker appears in one to five consecutive weekly reports of one employer, each
//! line its own record (key: the employer's report id plus the personnel number). Employers type
//! the name in one field, in Cyrillic or, for migrants, often in Latin, in either order, with or
//! without the patronymic. The phone may be the family's shared number and the plate the family
//! car, which is what makes these weak identifiers weak. Every JSON value is a string, and an
//! unknown value is an empty string, never `null` or a missing key.

use rand::Rng;

use super::{
    ChunkOutput, JsonValue, SourceKind, latin_name, latin_standard, passport_case, push_json_object,
};
use crate::World;
use crate::calendar::Date;
use crate::corrupt;
use crate::ids;
use crate::names::russian_spelling;
use crate::person::{Household, Person, first_report_week};

pub(super) const FILE_NAME: &str = "employer.ndjson";

/// ISO week number of [`first_report_week`] (4 March 2024).
const FIRST_REPORT_WEEK_NUMBER: u8 = 10;
/// Chance that a migrant's name is typed in Latin letters.
const MIGRANT_NAME_IN_LATIN: f64 = 0.45;
/// Chance that a migrant's Cyrillic name keeps the national letters.
const MIGRANT_NAME_NATIONAL: f64 = 0.15;
/// Chance that the name is typed given name first.
const GIVEN_FIRST: f64 = 0.30;

pub(super) const MAPPING: &str = r#"# Employers' weekly staff reports: one JSON object per line, one line per employee per week.
# The name is in one field, Cyrillic or Latin, in either order; there is no birth date.
[source]
name = "employer"
format = "ndjson"
encoding = "utf-8"
null_values = [""]

[[field]]
column = "report_id"
target = "record.key"
required = true

[[field]]
column = "tab_no"
target = "record.key"
required = true

[[field]]
column = "week"
target = "record.observed_at"
formats = ["%Y-%m-%d"]

[[field]]
column = "employer_inn"
target = "employment.employer_inn"

[[field]]
column = "tab_no"
target = "employment.personnel_number"

[[field]]
column = "employer_name"
target = "employment.employer_name"

[[field]]
column = "position"
target = "employment.position"

[[field]]
column = "employee"
target = "name.full"
order = "any"

[[field]]
column = "phone"
target = "id.phone"

[[field]]
column = "car_plate"
target = "id.car_plate"

[[field]]
column = "transport_card"
target = "id.transport_card"
"#;

/// The personnel number: unique per person (an invertible affine map modulo 10^8 of the person
/// index), hence unique within each employer's report for fewer than 10^8 persons.
fn personnel_number(person_index: usize) -> String {
    const MODULUS: u64 = 100_000_000;
    // Odd and not a multiple of 5, hence invertible modulo 10^8.
    const MULTIPLIER: u64 = 48_271_117;
    let number = ((person_index as u64 % MODULUS) * MULTIPLIER + 13_579_113) % MODULUS;
    format!("{number:08}")
}

pub(super) fn render(
    person: &Person,
    household: &Household,
    world: &World,
    rng: &mut impl Rng,
    out: &mut ChunkOutput,
) {
    let Some(job) = person.job else {
        return;
    };
    let Some(employer) = world.places.employer(job.employer) else {
        return;
    };
    let tab_no = personnel_number(person.index);
    for offset in 0..job.weeks {
        let week_index = job.first_week + offset;
        let week = first_report_week().add_days(7 * i64::from(week_index));
        let report_id = format!(
            "{}-{}-W{:02}",
            employer.inn,
            week.year(),
            FIRST_REPORT_WEEK_NUMBER + week_index
        );
        let mut week_text = String::with_capacity(10);
        week.write_iso(&mut week_text);

        let employee = employee_name(person, week, rng);
        let mut phone = String::new();
        let family_phone = household
            .family_phone()
            .filter(|shared| Some(*shared) != person.phone.as_deref());
        let number = match (person.phone.as_deref(), family_phone) {
            (_, Some(shared)) if rng.random_bool(0.15) => Some(shared),
            (Some(own), _) => Some(own),
            (None, _) => person.home_phone.as_deref(),
        };
        if let Some(number) = number.filter(|_| !corrupt::missing(rng)) {
            ids::write_phone(rng, number, &mut phone);
            phone = corrupt::identifier(rng, phone);
        }
        let mut car_plate = String::new();
        if let Some(plate) = household
            .car_plate
            .as_deref()
            .filter(|_| person.drives && rng.random_bool(0.85))
        {
            ids::write_car_plate(rng, plate, &mut car_plate);
            car_plate = corrupt::identifier(rng, car_plate);
        }
        let transport_card = match &person.transport_card {
            Some(card) if rng.random_bool(0.8) => corrupt::identifier(rng, card.clone()),
            _ => String::new(),
        };

        let text = out.text(SourceKind::Employer);
        push_json_object(
            text,
            &[
                ("report_id", JsonValue::Text(&report_id)),
                ("tab_no", JsonValue::Text(&tab_no)),
                ("employer_inn", JsonValue::Text(&employer.inn)),
                ("employer_name", JsonValue::Text(&employer.name)),
                ("week", JsonValue::Text(&week_text)),
                ("employee", JsonValue::Text(&employee)),
                ("position", JsonValue::Text(job.position)),
                ("phone", JsonValue::Text(&phone)),
                ("car_plate", JsonValue::Text(&car_plate)),
                ("transport_card", JsonValue::Text(&transport_card)),
            ],
        );
        text.push('\n');
        out.record(
            SourceKind::Employer,
            &format!("{report_id}|{tab_no}"),
            person,
        );
    }
}

/// The employee's whole name as the employer typed it for the report of `week`.
fn employee_name(person: &Person, week: Date, rng: &mut impl Rng) -> String {
    let migrant = person.origin.is_migrant();
    let with_patronymic = rng.random_bool(if migrant { 0.3 } else { 0.7 });
    let surname = person.surname_on(week);
    let mut parts: Vec<&str> = vec![surname, person.name.given];
    if let Some(patronymic) = person
        .name
        .patronymic
        .as_deref()
        .filter(|_| with_patronymic)
    {
        parts.push(patronymic);
    }
    let given_first = rng.random_bool(GIVEN_FIRST);
    let latin = migrant && rng.random_bool(MIGRANT_NAME_IN_LATIN);
    let mut written: Vec<String> = if latin {
        let standard = latin_standard(rng, person.origin);
        parts
            .iter()
            .map(|part| latin_name(part, person.origin, standard))
            .collect()
    } else if migrant && rng.random_bool(MIGRANT_NAME_NATIONAL) {
        parts.iter().map(|part| part.to_string()).collect()
    } else {
        parts.iter().map(|part| russian_spelling(part)).collect()
    };
    if given_first {
        // Given name first, then the patronymic if any, then the surname.
        written.rotate_left(1);
    }
    let joined = written.join(" ");
    let joined = if latin {
        passport_case(rng, joined)
    } else {
        joined
    };
    corrupt::name(rng, &joined)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn personnel_numbers_are_unique() {
        let mut seen = HashSet::new();
        for index in 0..100_000 {
            assert!(seen.insert(personnel_number(index)));
        }
    }
}
