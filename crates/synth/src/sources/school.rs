//! Schools' pupil lists, as one JSON array of nested objects: the pupil's name and birth date,
//! school and class, the date of the list, the address, and one parent's name and phone.
//!
//! Only school-age children (grades 1 to 11 on 1 September 2024) appear, one record each. Each
//! list is dated that day, as schools date their lists ("по состоянию на"): a class tells a
//! pupil's age only together with the school year it is for, and the day of the import is not
//! it. The phone here is the parent's, not the child's: a resolver that treats it as the child's own
//! would glue children to their parents. Twins show up here side by side: same surname, birth
//! date, school, class and address, different given names.

use rand::Rng;

use super::{ChunkOutput, JsonValue, SourceKind, push_json_object, record_number};
use crate::calendar::TODAY;
use crate::corrupt;
use crate::ids;
use crate::names::russian_spelling;
use crate::person::{Household, Person, Sex};

pub(super) const FILE_NAME: &str = "school.json";

/// What precedes every object in the array; the sink drops it before the first one.
pub(super) const SEPARATOR: &str = ",\n";

/// Chance that a school-age child is on a list: Russians almost always, migrants' children less.
const COVERAGE_RUSSIAN: f64 = 0.97;
const COVERAGE_MIGRANT: f64 = 0.85;
/// Chance that a migrant child's name keeps the national letters.
const NATIONAL_LETTERS: f64 = 0.15;

pub(super) const MAPPING: &str = r#"# Schools: pupil lists, one JSON array of nested objects.
# The phone belongs to the parent, not the pupil.
[source]
name = "school"
format = "json"
encoding = "utf-8"
null_values = [""]

[[field]]
column = "student_id"
target = "record.key"
required = true

[[field]]
column = "student.surname"
target = "name.surname"

[[field]]
column = "student.name"
target = "name.given"

[[field]]
column = "student.patronymic"
target = "name.patronymic"

[[field]]
column = "student.birth_date"
target = "birth_date"
formats = ["%d.%m.%Y"]

[[field]]
column = "school"
target = "education.institution"

[[field]]
column = "class"
target = "education.level"

[[field]]
column = "list_date"
target = "record.observed_at"
formats = ["%d.%m.%Y"]

[[field]]
column = "parent.name"
target = "relation.parent.name"
order = "surname_first"

[[field]]
column = "parent.phone"
target = "relation.parent.phone"

[[field]]
column = "address"
target = "address.actual"
normalise = ["collapse_spaces"]
"#;

pub(super) fn render(
    person: &Person,
    household: &Household,
    rng: &mut impl Rng,
    out: &mut ChunkOutput,
) {
    let Some(grade) = person.school_grade() else {
        return;
    };
    let coverage = if person.origin.is_migrant() {
        COVERAGE_MIGRANT
    } else {
        COVERAGE_RUSSIAN
    };
    if !rng.random_bool(coverage) {
        return;
    }
    let student_id = format!("{:012}", record_number(SourceKind::School, person.index, 0));
    let national = person.origin.is_migrant() && rng.random_bool(NATIONAL_LETTERS);
    let spell = |text: &str| {
        if national {
            text.to_string()
        } else {
            russian_spelling(text)
        }
    };
    let surname = corrupt::name(rng, &spell(&person.name.surname));
    let given = corrupt::name(rng, &spell(person.name.given));
    let patronymic = match &person.name.patronymic {
        Some(patronymic) if !corrupt::missing(rng) => corrupt::name(rng, &spell(patronymic)),
        _ => String::new(),
    };
    let mut birth_date = String::with_capacity(10);
    if !corrupt::missing(rng) {
        corrupt::birth_date(rng, person.birth).write_dmy(&mut birth_date);
    }
    let school = format!("ГБОУ Школа № {}", household.school);
    let class = format!("{grade}{}", household.class_letter);
    let mut list_date = String::with_capacity(10);
    TODAY.write_dmy(&mut list_date);

    // The mother is the usual contact when there is one.
    let parents: Vec<&Person> = person
        .parents
        .iter()
        .filter_map(|&at| household.members.get(at))
        .collect();
    let mother = parents
        .iter()
        .copied()
        .find(|parent| parent.sex == Sex::Female);
    let parent = match mother {
        Some(mother) if rng.random_bool(0.65) => Some(mother),
        _ => parents
            .iter()
            .copied()
            .find(|parent| parent.sex == Sex::Male)
            .or(mother),
    };
    let (parent_name, parent_phone) = match parent {
        Some(parent) => parent_contact(parent, rng),
        None => (String::new(), String::new()),
    };
    let written_address = household.address.written(rng);
    let address = corrupt::address(rng, written_address);

    let text = out.text(SourceKind::School);
    text.push_str(SEPARATOR);
    push_json_object(
        text,
        &[
            ("student_id", JsonValue::Text(&student_id)),
            (
                "student",
                JsonValue::Object(&[
                    ("surname", JsonValue::Text(&surname)),
                    ("name", JsonValue::Text(&given)),
                    ("patronymic", JsonValue::Text(&patronymic)),
                    ("birth_date", JsonValue::Text(&birth_date)),
                ]),
            ),
            ("school", JsonValue::Text(&school)),
            ("class", JsonValue::Text(&class)),
            ("list_date", JsonValue::Text(&list_date)),
            (
                "parent",
                JsonValue::Object(&[
                    ("name", JsonValue::Text(&parent_name)),
                    ("phone", JsonValue::Text(&parent_phone)),
                ]),
            ),
            ("address", JsonValue::Text(&address)),
        ],
    );
    out.record(SourceKind::School, &student_id, person);
}

/// The parent's name (surname first, Russian spelling) and phone as the school wrote them.
fn parent_contact(parent: &Person, rng: &mut impl Rng) -> (String, String) {
    let mut parts: Vec<String> = vec![
        russian_spelling(&parent.name.surname),
        russian_spelling(parent.name.given),
    ];
    if let Some(patronymic) = &parent.name.patronymic {
        parts.push(russian_spelling(patronymic));
    }
    let name = corrupt::name(rng, &parts.join(" "));
    let mut phone = String::new();
    let number = parent.phone.as_deref().or(parent.home_phone.as_deref());
    if let Some(number) = number.filter(|_| !corrupt::missing(rng)) {
        ids::write_phone(rng, number, &mut phone);
        phone = corrupt::identifier(rng, phone);
    }
    (name, phone)
}
