//! End-to-end checks of a small generated city: every file read back the way its own mapping
//! says (format, encoding, delimiter, nested paths), with an independent CSV reader and
//! independent SNILS / INN checkers, so that the generator is not checked against itself.
//!
//! These tests do not run the real importer (another crate); they check that the importer's
//! contract, as written in `docs/mapping.md`, is met by the files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use tessera_synth::{City, CityConfig, generate};

const PERSONS: usize = 500;

/// One record as `column path → value`; nested JSON objects are flattened to dotted paths.
type Row = BTreeMap<String, String>;

/// A source read back through its mapping.
struct Loaded {
    name: String,
    mapping: toml::Table,
    /// Column names as the file declares them (CSV header, or the union of JSON paths).
    columns: BTreeSet<String>,
    rows: Vec<Row>,
}

fn city(seed: u64) -> (tempfile::TempDir, City) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let city = generate(
        &CityConfig {
            persons: PERSONS,
            seed,
        },
        dir.path(),
    )
    .expect("city generated");
    (dir, city)
}

fn flatten(prefix: &str, value: &serde_json::Value, row: &mut Row) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, inner, row);
            }
        }
        serde_json::Value::String(text) => {
            row.insert(prefix.to_string(), text.clone());
        }
        other => panic!("{prefix}: every value is written as a string, found {other}"),
    }
}

fn load(data_path: &Path, mapping_path: &Path) -> Loaded {
    let mapping: toml::Table = std::fs::read_to_string(mapping_path)
        .expect("mapping readable")
        .parse()
        .unwrap_or_else(|error| panic!("{} is not TOML: {error}", mapping_path.display()));
    let source = mapping["source"].as_table().expect("[source] table");
    let name = source["name"].as_str().expect("source name").to_string();
    let format = source["format"].as_str().expect("format");
    let encoding = source
        .get("encoding")
        .and_then(|value| value.as_str())
        .unwrap_or("auto");
    let bytes = std::fs::read(data_path).expect("data readable");
    let text = match encoding {
        "windows-1251" => {
            let (text, had_errors) = encoding_rs::WINDOWS_1251.decode_without_bom_handling(&bytes);
            assert!(!had_errors);
            text.into_owned()
        }
        "utf-8" => {
            let text = String::from_utf8(bytes).expect("UTF-8 data");
            text.strip_prefix('\u{feff}')
                .map(str::to_string)
                .unwrap_or(text)
        }
        other => panic!("unexpected encoding {other}"),
    };
    let (columns, rows) = match format {
        "csv" => {
            let delimiter = source
                .get("delimiter")
                .and_then(|value| value.as_str())
                .unwrap_or(",");
            assert_eq!(delimiter.len(), 1, "one-byte delimiter");
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter.as_bytes()[0])
                .trim(csv::Trim::None)
                .from_reader(text.as_bytes());
            let header: Vec<String> = reader
                .headers()
                .expect("header")
                .iter()
                .map(str::to_string)
                .collect();
            let rows = reader
                .records()
                .map(|record| {
                    let record = record.expect("well-formed CSV row");
                    assert_eq!(record.len(), header.len(), "row width");
                    header
                        .iter()
                        .cloned()
                        .zip(record.iter().map(str::to_string))
                        .collect()
                })
                .collect();
            (header.into_iter().collect(), rows)
        }
        "ndjson" | "json" => {
            let values: Vec<serde_json::Value> = if format == "json" {
                serde_json::from_str(&text).expect("a JSON array")
            } else {
                text.lines()
                    .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
                    .collect()
            };
            let rows: Vec<Row> = values
                .iter()
                .map(|value| {
                    let mut row = Row::new();
                    flatten("", value, &mut row);
                    row
                })
                .collect();
            let columns = rows.iter().flat_map(|row| row.keys().cloned()).collect();
            (columns, rows)
        }
        other => panic!("unexpected format {other}"),
    };
    Loaded {
        name,
        mapping,
        columns,
        rows,
    }
}

fn fields(loaded: &Loaded) -> Vec<&toml::Table> {
    loaded.mapping["field"]
        .as_array()
        .expect("[[field]] list")
        .iter()
        .map(|field| field.as_table().expect("table"))
        .collect()
}

fn columns_with_target<'a>(loaded: &'a Loaded, target: &str) -> Vec<&'a str> {
    fields(loaded)
        .into_iter()
        .filter(|field| field["target"].as_str() == Some(target))
        .filter_map(|field| field.get("column").and_then(|column| column.as_str()))
        .collect()
}

fn load_all(city: &City) -> Vec<Loaded> {
    city.sources
        .iter()
        .map(|source| load(&source.data_path, &source.mapping_path))
        .collect()
}

fn truth(city: &City) -> Vec<(String, String, String)> {
    let mut reader = csv::Reader::from_path(&city.truth_path).expect("truth readable");
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        ["source", "record_id", "person_id"]
    );
    reader
        .records()
        .map(|record| {
            let record = record.expect("truth row");
            (
                record[0].to_string(),
                record[1].to_string(),
                record[2].to_string(),
            )
        })
        .collect()
}

/// The record id the importer derives: the record.key columns joined with "|".
fn record_id(loaded: &Loaded, row: &Row) -> String {
    columns_with_target(loaded, "record.key")
        .iter()
        .map(|column| row[*column].as_str())
        .collect::<Vec<_>>()
        .join("|")
}

fn digits(value: &str) -> Vec<u8> {
    value
        .chars()
        .filter(char::is_ascii_digit)
        .map(|c| c as u8 - b'0')
        .collect()
}

/// The Pension Fund rule, written independently of the crate.
fn snils_valid(value: &str) -> bool {
    let d = digits(value);
    if d.len() != 11 {
        return false;
    }
    let sum: u32 = (0..9).map(|i| u32::from(d[i]) * (9 - i as u32)).sum();
    let check = if sum < 100 {
        sum
    } else if sum <= 101 {
        0
    } else {
        let rest = sum % 101;
        if rest == 100 { 0 } else { rest }
    };
    check == u32::from(d[9]) * 10 + u32::from(d[10])
}

/// The tax service rule for 10- and 12-digit INNs, written independently of the crate.
fn inn_valid(value: &str) -> bool {
    let d = digits(value);
    let check = |weights: &[u32]| -> u8 {
        let sum: u32 = weights
            .iter()
            .zip(&d)
            .map(|(w, digit)| w * u32::from(*digit))
            .sum();
        (sum % 11 % 10) as u8
    };
    match d.len() {
        10 => check(&[2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[9],
        12 => {
            check(&[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[10]
                && check(&[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[11]
        }
        _ => false,
    }
}

/// Parses a date under the two chrono formats the mappings use, checking it is a real day.
/// A real calendar day from 1900 to the end of `last_year` (the city is observed in 2024; only
/// the end of a permit may lie ahead).
fn real_date_until(value: &str, format: &str, last_year: i32) -> bool {
    let parts: Vec<&str> = match format {
        "%d.%m.%Y" => value.split('.').rev().collect(),
        "%Y-%m-%d" => value.split('-').collect(),
        other => panic!("unexpected format {other}"),
    };
    let [year, month, day] = parts[..] else {
        return false;
    };
    let (Ok(year), Ok(month), Ok(day)) = (
        year.parse::<i32>(),
        month.parse::<u32>(),
        day.parse::<u32>(),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=last_year).contains(&year) && (1..=days).contains(&day)
}

#[test]
fn same_seed_gives_byte_identical_files_and_another_seed_does_not() {
    let (first_dir, first) = city(42);
    let (second_dir, _) = city(42);
    let (third_dir, _) = city(43);
    let mut names: Vec<String> = first
        .sources
        .iter()
        .flat_map(|source| [&source.data_path, &source.mapping_path])
        .map(|path| {
            path.file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.push("truth.csv".to_string());
    assert_eq!(names.len(), 11);
    for name in &names {
        let a = std::fs::read(first_dir.path().join(name)).expect("first");
        let b = std::fs::read(second_dir.path().join(name)).expect("second");
        assert!(a == b, "{name} differs between two runs with one seed");
    }
    let a = std::fs::read(first_dir.path().join("truth.csv")).expect("first");
    let c = std::fs::read(third_dir.path().join("truth.csv")).expect("third");
    assert_ne!(a, c, "another seed gives another city");
}

#[test]
fn truth_has_one_row_per_record_with_the_mapping_record_id() {
    let (_dir, city) = city(7);
    let truth = truth(&city);
    let mut persons = BTreeSet::new();
    for (source, loaded) in city.sources.iter().zip(load_all(&city)) {
        assert_eq!(source.source, loaded.name);
        assert_eq!(source.records, loaded.rows.len(), "{}", loaded.name);
        assert!(!loaded.rows.is_empty(), "{} is empty", loaded.name);
        let ids: Vec<String> = loaded
            .rows
            .iter()
            .map(|row| record_id(&loaded, row))
            .collect();
        let truth_ids: Vec<&str> = truth
            .iter()
            .filter(|(source, _, _)| *source == loaded.name)
            .map(|(_, id, _)| id.as_str())
            .collect();
        assert_eq!(ids, truth_ids, "{}: record ids in file order", loaded.name);
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{}: record ids are unique",
            loaded.name
        );
        assert!(ids.iter().all(|id| !id.is_empty() && id.trim() == id));
    }
    assert_eq!(
        truth.len(),
        city.sources
            .iter()
            .map(|source| source.records)
            .sum::<usize>()
    );
    for (_, _, person) in &truth {
        assert!(person.starts_with('P') && person.len() == 7, "{person}");
        persons.insert(person.clone());
    }
    assert!(
        persons.len() > PERSONS * 8 / 10,
        "most persons have a record: {}",
        persons.len()
    );
    let per_person = truth.len() as f64 / PERSONS as f64;
    assert!(
        (2.3..3.8).contains(&per_person),
        "{per_person} records per person"
    );
}

#[test]
fn tax_file_is_windows_1251_and_decodes_to_cyrillic() {
    let (_dir, city) = city(42);
    let tax = city
        .sources
        .iter()
        .find(|source| source.source == "tax")
        .expect("tax source");
    let bytes = std::fs::read(&tax.data_path).expect("tax readable");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the tax file must not be UTF-8"
    );
    let (text, had_errors) = encoding_rs::WINDOWS_1251.decode_without_bom_handling(&bytes);
    assert!(!had_errors);
    assert!(text.starts_with("№;ИНН;ФИО;"), "{}", &text[..40]);
    assert!(
        !text.contains("&#"),
        "no HTML escapes of unencodable letters"
    );
    let cyrillic = text
        .chars()
        .filter(|c| ('А'..='я').contains(c) || *c == 'ё' || *c == 'Ё')
        .count();
    assert!(cyrillic > text.len() / 10, "mostly Cyrillic text");
}

#[test]
fn health_file_starts_with_a_byte_order_mark() {
    let (_dir, city) = city(42);
    let health = city
        .sources
        .iter()
        .find(|source| source.source == "health")
        .expect("health source");
    let bytes = std::fs::read(&health.data_path).expect("health readable");
    assert!(bytes.starts_with(b"\xEF\xBB\xBFid,surname,"));
}

#[test]
fn snils_and_inn_mostly_pass_their_checks_and_typos_break_a_few() {
    let (_dir, city) = city(42);
    let (mut valid, mut invalid) = (0usize, 0usize);
    for loaded in load_all(&city) {
        for (target, check) in [
            ("id.snils", snils_valid as fn(&str) -> bool),
            ("id.inn", inn_valid),
        ] {
            for column in columns_with_target(&loaded, target) {
                for row in &loaded.rows {
                    let value = row[column].trim();
                    if value.is_empty() || value == "-" {
                        continue;
                    }
                    if check(value) {
                        valid += 1
                    } else {
                        invalid += 1
                    }
                }
            }
        }
        // Employers' own INNs are never mistyped: they identify the submitter.
        for column in columns_with_target(&loaded, "employment.employer_inn") {
            assert!(
                loaded.rows.iter().all(|row| inn_valid(&row[column])),
                "employer INN"
            );
        }
    }
    let share_invalid = invalid as f64 / (valid + invalid) as f64;
    assert!(valid > 500, "{valid}");
    assert!(
        share_invalid < 0.05,
        "{invalid} of {} invalid",
        valid + invalid
    );
}

#[test]
fn twins_appear_as_two_pupils_with_different_person_ids() {
    // Twins are rare, so this test uses a city large enough to hold several pairs of them at
    // school (about 1 per 2,000 persons), not the small default.
    let dir = tempfile::tempdir().expect("temporary directory");
    let city = generate(
        &CityConfig {
            persons: 4_000,
            seed: 42,
        },
        dir.path(),
    )
    .expect("city generated");
    let truth: HashMap<(String, String), String> = truth(&city)
        .into_iter()
        .map(|(source, id, person)| ((source, id), person))
        .collect();
    let school = load_all(&city)
        .into_iter()
        .find(|loaded| loaded.name == "school")
        .expect("school source");
    let mut by_family_and_birth: BTreeMap<(String, String, String, String), BTreeSet<String>> =
        BTreeMap::new();
    for row in &school.rows {
        let surname = row["student.surname"]
            .trim()
            .to_lowercase()
            .replace('ё', "е");
        let key = (
            surname,
            row["student.birth_date"].clone(),
            row["school"].clone(),
            row["class"].clone(),
        );
        if key.1.is_empty() {
            continue;
        }
        let person = truth[&("school".to_string(), row["student_id"].clone())].clone();
        by_family_and_birth.entry(key).or_default().insert(person);
    }
    let twins = by_family_and_birth
        .values()
        .filter(|persons| persons.len() >= 2)
        .count();
    assert!(twins >= 1, "no twins among {} pupils", school.rows.len());
}

#[test]
fn mappings_name_only_existing_columns_and_documented_targets() {
    let (_dir, city) = city(3);
    let simple_targets = [
        "record.key",
        "record.observed_at",
        "name.full",
        "name.surname",
        "name.given",
        "name.patronymic",
        "birth_date",
        "sex",
        "citizenship",
        "permit.number",
        "permit.valid_until",
        "id.snils",
        "id.inn",
        "id.oms",
        "id.passport_rf",
        "id.passport_foreign",
        "id.work_patent",
        "id.phone",
        "id.car_plate",
        "id.transport_card",
        "id.other",
        "address.registered",
        "address.actual",
        "employment.employer_inn",
        "employment.employer_name",
        "employment.position",
        "employment.personnel_number",
        "employment.from",
        "employment.to",
        "education.institution",
        "education.level",
        "education.from",
        "education.to",
        "income.amount",
        "income.currency",
        "income.period",
        "pet.species",
        "pet.name",
        "pet.chip",
        "health.note",
        "biometric.ref",
        "criminal_record.note",
    ];
    let roles = ["parent", "child", "spouse", "sibling", "guardian", "other"];
    for loaded in load_all(&city) {
        let source = loaded.mapping["source"].as_table().expect("[source]");
        assert!(
            loaded
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        );
        assert!(["csv", "ndjson", "json"].contains(&source["format"].as_str().unwrap_or_default()));
        assert!(
            !columns_with_target(&loaded, "record.key").is_empty(),
            "{} has a record.key",
            loaded.name
        );
        for field in fields(&loaded) {
            let target = field["target"].as_str().expect("target");
            let relation = target
                .strip_prefix("relation.")
                .and_then(|rest| rest.split_once('.'))
                .is_some_and(|(role, what)| {
                    roles.contains(&role) && (what == "name" || what == "phone")
                });
            assert!(
                simple_targets.contains(&target) || relation,
                "{}: unknown target {target}",
                loaded.name
            );
            let column = field.get("column").and_then(|column| column.as_str());
            assert!(
                column.is_some() != field.contains_key("value"),
                "{}: column xor value",
                loaded.name
            );
            if let Some(column) = column {
                assert!(
                    loaded.columns.contains(column),
                    "{}: no column {column:?} in {:?}",
                    loaded.name,
                    loaded.columns
                );
                assert!(
                    loaded.rows.iter().all(|row| row.contains_key(column)),
                    "{}: {column} in every record",
                    loaded.name
                );
            }
            if let Some(order) = field.get("order") {
                assert!(
                    ["surname_first", "given_first", "any"]
                        .contains(&order.as_str().unwrap_or_default())
                );
            }
        }
    }
}

#[test]
fn dates_are_real_and_codes_are_known() {
    let (_dir, city) = city(42);
    for loaded in load_all(&city) {
        let nulls: Vec<String> = loaded.mapping["source"]
            .get("null_values")
            .and_then(|values| values.as_array())
            .map(|values| {
                values
                    .iter()
                    .filter_map(|value| value.as_str())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_else(|| vec![String::new()]);
        for field in fields(&loaded) {
            let Some(column) = field.get("column").and_then(|column| column.as_str()) else {
                continue;
            };
            let values = loaded
                .rows
                .iter()
                .map(|row| row[column].trim())
                .filter(|value| !nulls.iter().any(|null| null == value));
            let last_year = if field["target"].as_str() == Some("permit.valid_until") {
                2026
            } else {
                2024
            };
            if let Some(formats) = field.get("formats").and_then(|formats| formats.as_array()) {
                for value in values.clone() {
                    let parses = formats
                        .iter()
                        .filter_map(|format| format.as_str())
                        .any(|format| real_date_until(value, format, last_year));
                    assert!(
                        parses,
                        "{}.{column}: {value:?} is not a real date",
                        loaded.name
                    );
                }
            }
            if let Some(codes) = field.get("codes").and_then(|codes| codes.as_table()) {
                for value in values {
                    assert!(
                        codes.contains_key(value),
                        "{}.{column}: unknown code {value:?}",
                        loaded.name
                    );
                }
            }
        }
    }
}

#[test]
fn namesakes_share_full_names() {
    let (_dir, city) = city(42);
    let truth: HashMap<(String, String), String> = truth(&city)
        .into_iter()
        .map(|(source, id, person)| ((source, id), person))
        .collect();
    let health = load_all(&city)
        .into_iter()
        .find(|loaded| loaded.name == "health")
        .expect("health source");
    // Same surname and given name ("Иванов Иван"), different people.
    let mut by_name: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for row in &health.rows {
        let key = (row["surname"].clone(), row["given_name"].clone());
        by_name
            .entry(key)
            .or_default()
            .insert(truth[&("health".to_string(), row["id"].clone())].clone());
    }
    let namesakes = by_name
        .values()
        .filter(|persons| persons.len() >= 2)
        .count();
    assert!(namesakes >= 3, "only {namesakes} shared names");
}

#[test]
fn pupils_carry_a_parent_phone_that_the_parent_reports_at_work() {
    let (_dir, city) = city(42);
    let truth: HashMap<(String, String), String> = truth(&city)
        .into_iter()
        .map(|(source, id, person)| ((source, id), person))
        .collect();
    let loaded = load_all(&city);
    let last_ten = |phone: &str| {
        let d: String = phone.chars().filter(char::is_ascii_digit).collect();
        d[d.len().saturating_sub(10)..].to_string()
    };
    let employer = loaded
        .iter()
        .find(|loaded| loaded.name == "employer")
        .expect("employer source");
    let mut phone_owners: HashMap<String, BTreeSet<String>> = HashMap::new();
    for row in employer.rows.iter().filter(|row| !row["phone"].is_empty()) {
        let person = truth[&("employer".to_string(), record_id(employer, row))].clone();
        phone_owners
            .entry(last_ten(&row["phone"]))
            .or_default()
            .insert(person);
    }
    let school = loaded
        .iter()
        .find(|loaded| loaded.name == "school")
        .expect("school source");
    let shared = school
        .rows
        .iter()
        .filter(|row| !row["parent.phone"].is_empty())
        .filter(|row| {
            let pupil = &truth[&("school".to_string(), row["student_id"].clone())];
            phone_owners
                .get(&last_ten(&row["parent.phone"]))
                .is_some_and(|owners| !owners.contains(pupil))
        })
        .count();
    assert!(
        shared >= 10,
        "only {shared} pupils' parent phones are seen at a parent's employer"
    );
}

#[test]
fn strong_identifiers_never_belong_to_two_people() {
    let (_dir, city) = city(42);
    let truth: HashMap<(String, String), String> = truth(&city)
        .into_iter()
        .map(|(source, id, person)| ((source, id), person))
        .collect();
    let strong = [
        "id.snils",
        "id.inn",
        "id.oms",
        "id.passport_rf",
        "id.passport_foreign",
        "id.work_patent",
    ];
    let mut owners: HashMap<(&str, String), BTreeSet<String>> = HashMap::new();
    let loaded = load_all(&city);
    for source in &loaded {
        for target in strong {
            for column in columns_with_target(source, target) {
                for row in &source.rows {
                    let value: String = row[column]
                        .chars()
                        .filter(char::is_ascii_alphanumeric)
                        .collect();
                    let checked = match target {
                        "id.snils" => snils_valid(&value),
                        "id.inn" => inn_valid(&value),
                        _ => true,
                    };
                    if value.is_empty() || !checked {
                        continue;
                    }
                    let person = truth[&(source.name.clone(), record_id(source, row))].clone();
                    owners
                        .entry((target, value.to_uppercase()))
                        .or_default()
                        .insert(person);
                }
            }
        }
    }
    let shared: Vec<_> = owners
        .iter()
        .filter(|(_, persons)| persons.len() > 1)
        .collect();
    assert!(
        shared.is_empty(),
        "identifiers shared by different people: {shared:?}"
    );
}

#[test]
fn tiny_cities_are_well_formed() {
    for persons in [0, 1, 3] {
        let dir = tempfile::tempdir().expect("temporary directory");
        let city = generate(&CityConfig { persons, seed: 1 }, dir.path()).expect("city generated");
        assert_eq!(city.persons, persons);
        let loaded = load_all(&city);
        let records: usize = loaded.iter().map(|source| source.rows.len()).sum();
        assert_eq!(truth(&city).len(), records);
    }
}
