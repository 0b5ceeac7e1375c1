//! Hard cases the resolver must get right, each in a background population large enough for the
//! model to learn from: twins and namesakes stay apart, transliteration variants, swapped name
//! order, day/month swaps and married names come together, two valid SNILS never merge, and the
//! outcome does not depend on input order.

use tessera_model::{
    Address, AddressKind, Attribute, IdKind, Identifier, PartialDate, PersonName, RecordKey,
    RecordRef, Sex, SourceId, snils_check_number,
};
use tessera_translit::{Standard, to_latin};

use crate::{RecordFacts, resolve};

const SURNAMES: [&str; 12] = [
    "Смирнов",
    "Волков",
    "Соколов",
    "Лебедев",
    "Козлов",
    "Новиков",
    "Морозов",
    "Орлов",
    "Зайцев",
    "Фролов",
    "Белов",
    "Громов",
];
const GIVEN: [&str; 10] = [
    "Андрей",
    "Борис",
    "Виктор",
    "Глеб",
    "Денис",
    "Егор",
    "Илья",
    "Кирилл",
    "Лев",
    "Максим",
];
const PATRONYMICS: [&str; 6] = [
    "Андреевич",
    "Борисович",
    "Викторович",
    "Глебович",
    "Денисович",
    "Егорович",
];

fn snils(n: u32) -> String {
    let first_nine = format!("{:09}", 2_000_000 + n);
    let digits: Vec<u8> = first_nine.bytes().map(|b| b - b'0').collect();
    let check = snils_check_number(&digits.try_into().expect("nine digits"));
    format!("{first_nine}{check:02}")
}

struct Builder {
    records: Vec<RecordFacts>,
}

impl Builder {
    fn add(
        &mut self,
        source: &str,
        name: PersonName,
        birth: Option<PartialDate>,
        extra: Vec<Attribute>,
    ) -> usize {
        self.add_observed(source, name, birth, None, extra)
    }

    /// A record the source observed on `observed` (a report's week, a pupil list's date).
    fn add_observed(
        &mut self,
        source: &str,
        name: PersonName,
        birth: Option<PartialDate>,
        observed: Option<PartialDate>,
        extra: Vec<Attribute>,
    ) -> usize {
        let reference = RecordRef {
            source: SourceId::new(source).unwrap(),
            key: RecordKey::new(&format!("{}", self.records.len())).unwrap(),
            version: 1,
        };
        let mut attributes = vec![Attribute::Name(name)];
        attributes.extend(birth.map(Attribute::BirthDate));
        attributes.extend(extra);
        self.records.push(RecordFacts::from_attributes(
            reference,
            observed,
            &attributes,
        ));
        self.records.len() - 1
    }

    /// A background of distinct persons, each with a Cyrillic health record (SNILS) and a Latin
    /// migration-style record (phone), so that the model has true and false pairs to learn from.
    fn population(persons: u32) -> Builder {
        let mut builder = Builder {
            records: Vec::new(),
        };
        for p in 0..persons {
            let surname = SURNAMES[(p % 12) as usize];
            let given = GIVEN[((p / 12) % 10) as usize];
            let patronymic = PATRONYMICS[((p / 120) % 6) as usize];
            let birth = PartialDate::day(
                1950 + (p % 50) as i32,
                (1 + p % 12) as u8,
                (1 + (p * 7) % 28) as u8,
            )
            .ok();
            let phone =
                Attribute::Identifier(Identifier::parse(IdKind::Phone, &format!("+7916{:07}", p)));
            let name = PersonName::from_parts(Some(surname), Some(given), Some(patronymic));
            builder.add(
                "health",
                name,
                birth,
                vec![Attribute::Identifier(Identifier::parse(
                    IdKind::Snils,
                    &snils(p),
                ))],
            );
            let latin = |t: &str| to_latin(t, Standard::Icao9303).to_uppercase();
            let name = PersonName::from_parts(Some(&latin(surname)), Some(&latin(given)), None);
            builder.add("migration", name, birth, vec![phone]);
        }
        builder
    }

    /// A health record of one of the boys named Смирнов Сергей, born 2011-07-10, with his own
    /// SNILS (number `n`): the namesakes of the register tie tests.
    fn smirnov_boy(&mut self, patronymic: Option<&str>, n: u32) -> usize {
        self.add(
            "health",
            name("Смирнов", "Сергей", patronymic),
            date(2011, 7, 10),
            vec![id(IdKind::Snils, &snils(n))],
        )
    }

    fn same(&self, profiles: &[tessera_model::ProfileId], a: usize, b: usize) -> bool {
        profiles[a] == profiles[b]
    }
}

fn name(surname: &str, given: &str, patronymic: Option<&str>) -> PersonName {
    PersonName::from_parts(Some(surname), Some(given), patronymic)
}

fn date(y: i32, m: u8, d: u8) -> Option<PartialDate> {
    PartialDate::day(y, m, d).ok()
}

fn address(text: &str) -> Attribute {
    Attribute::Address(Address {
        kind: AddressKind::Registered,
        text: text.into(),
    })
}

fn id(kind: IdKind, value: &str) -> Attribute {
    Attribute::Identifier(Identifier::parse(kind, value))
}

#[test]
fn the_background_population_resolves_into_its_persons() {
    let builder = Builder::population(600);
    let profiles = resolve(builder.records.clone()).profiles;
    let truth: Vec<usize> = (0..builder.records.len()).map(|i| i / 2).collect();
    let evaluation = crate::evaluate(profiles.iter().zip(truth));
    assert_eq!(evaluation.over_merged_profiles, 0, "{evaluation:?}");
    assert!(evaluation.f1 > 0.99, "{evaluation:?}");
}

#[test]
fn twins_and_namesakes_stay_apart() {
    let mut b = Builder::population(600);
    let home = address("Москва, ул. Ленина, д. 5, кв. 7");
    let phone = id(IdKind::Phone, "+79160000001");
    // Twins: same surname, birth date, address and phone; different given names.
    let twin_a = b.add(
        "school",
        name("Ткаченко", "Павел", Some("Олегович")),
        date(2012, 5, 6),
        vec![home.clone(), phone.clone()],
    );
    let twin_b = b.add(
        "school",
        name("Ткаченко", "Пётр", Some("Олегович")),
        date(2012, 5, 6),
        vec![home.clone(), phone.clone()],
    );
    // Namesakes: the same full name, different birth dates.
    let namesake_a = b.add(
        "tax",
        name("Ткаченко", "Олег", Some("Иванович")),
        date(1970, 1, 2),
        vec![home.clone()],
    );
    let namesake_b = b.add(
        "tax",
        name("Ткаченко", "Олег", Some("Иванович")),
        date(1985, 9, 30),
        vec![],
    );
    let profiles = resolve(b.records.clone()).profiles;
    assert!(!b.same(&profiles, twin_a, twin_b), "twins merged");
    assert!(
        !b.same(&profiles, namesake_a, namesake_b),
        "namesakes merged"
    );
}

/// A parent and a child of the same name at one address, and an undated record (a tax record
/// with no birth date) carrying that name, the address and the family phone: it agrees with
/// both, but the parent's and the child's birth dates clearly differ, so they stay two profiles.
#[test]
fn an_undated_record_does_not_chain_a_parent_and_a_child_of_one_name() {
    let mut b = Builder::population(600);
    let home = address("Москва, ул. Садовая, д. 94, кв. 387");
    let phone = id(IdKind::Phone, "+79161234567");
    let parent = b.add(
        "health",
        name("Осипов", "Александр", Some("Сергеевич")),
        date(1980, 3, 14),
        vec![home.clone(), phone.clone()],
    );
    let child = b.add(
        "school",
        name("Осипов", "Александр", Some("Александрович")),
        date(2010, 9, 1),
        vec![home.clone(), phone.clone()],
    );
    let undated = b.add(
        "tax",
        name("Осипов", "Александр", None),
        None,
        vec![home.clone(), phone.clone()],
    );
    let resolution = resolve(b.records.clone());
    let profiles = &resolution.profiles;
    assert!(!b.same(profiles, parent, child), "parent and child merged");
    assert!(
        b.same(profiles, undated, parent) || b.same(profiles, undated, child),
        "the undated record joined neither"
    );
}

fn class(level: &str) -> Attribute {
    Attribute::Education(tessera_model::Education {
        institution: Some("ГБОУ Школа № 1501".into()),
        level: Some(level.into()),
        ..tessera_model::Education::default()
    })
}

/// A pupil in grade 2 whose school record carries no birth date, an adult namesake's health
/// record, and an undated tax record with the name, the address and the phone that agrees with
/// both: no birth date across the pupil and the adult differs, but the class says the pupil
/// was born around 2015, and the adult in 1980.
#[test]
fn an_undated_record_does_not_chain_a_pupil_and_an_adult_of_one_name() {
    let mut b = Builder::population(600);
    let home = address("Москва, ул. Садовая, д. 94, кв. 387");
    let phone = id(IdKind::Phone, "+79161234567");
    let adult = b.add(
        "health",
        name("Осипов", "Александр", Some("Сергеевич")),
        date(1980, 3, 14),
        vec![home.clone(), phone.clone()],
    );
    let pupil = b.add_observed(
        "school",
        name("Осипов", "Александр", None),
        None,
        date(2024, 9, 1),
        vec![home.clone(), phone.clone(), class("2Б")],
    );
    let undated = b.add(
        "tax",
        name("Осипов", "Александр", None),
        None,
        vec![home.clone(), phone.clone()],
    );
    let resolution = resolve(b.records.clone());
    let profiles = &resolution.profiles;
    assert!(
        !b.same(profiles, adult, pupil),
        "a second-grader merged with an adult: {:?}",
        resolution.stats
    );
    assert!(
        b.same(profiles, undated, adult) || b.same(profiles, undated, pupil),
        "the undated record joined neither"
    );
}

/// A child's health record carries the parent's phone, and the parent's employer reports him
/// under the same name with that phone: the report would join the child, whom it puts at work
/// at eight.
#[test]
fn an_employers_report_does_not_join_a_childs_profile() {
    let mut b = Builder::population(600);
    let phone = id(IdKind::Phone, "+79165550011");
    let child = b.add(
        "health",
        name("Рахимов", "Тимур", Some("Тимурович")),
        date(2016, 2, 10),
        vec![phone.clone(), id(IdKind::Snils, &snils(700_001))],
    );
    let report = b.add_observed(
        "employer",
        name("Рахимов", "Тимур", None),
        None,
        date(2024, 3, 4),
        vec![phone.clone(), employment("7707083893", "310")],
    );
    let next_week = b.add_observed(
        "employer",
        name("Рахимов", "Тимур", None),
        None,
        date(2024, 3, 11),
        vec![phone.clone(), employment("7707083893", "310")],
    );
    let resolution = resolve(b.records.clone());
    let profiles = &resolution.profiles;
    assert!(
        !b.same(profiles, child, report),
        "an employer's report joined an eight-year-old: {:?}",
        resolution.stats
    );
    assert!(
        b.same(profiles, report, next_week),
        "the two weeks of one employee's reports"
    );
}

/// The rules date a person, they do not split one: a pupil whose class fits his birth date
/// joins his own records, undated and dated; so does a fourteen-year-old's employer's report.
#[test]
fn a_pupil_whose_class_fits_his_birth_date_keeps_his_records() {
    let mut b = Builder::population(600);
    let home = address("Москва, ул. Лесная, д. 8, кв. 12");
    let phone = id(IdKind::Phone, "+79167770022");
    // Born in October 2014: grade 4 on 1 September 2024 at the usual age.
    let health = b.add(
        "health",
        name("Гусев", "Артём", Some("Игоревич")),
        date(2014, 10, 3),
        vec![
            home.clone(),
            phone.clone(),
            id(IdKind::Snils, &snils(700_002)),
        ],
    );
    let pupil = b.add_observed(
        "school",
        name("Гусев", "Артём", Some("Игоревич")),
        None,
        date(2024, 9, 1),
        vec![home.clone(), phone.clone(), class("4 А")],
    );
    // Two years behind (a late start and a repeated grade): born in March 2011, usually in grade 7,
    // in grade 5.
    let repeater_health = b.add(
        "health",
        name("Блинов", "Роман", Some("Олегович")),
        date(2011, 3, 20),
        vec![
            id(IdKind::Snils, &snils(700_003)),
            id(IdKind::Phone, "+79167770033"),
        ],
    );
    let repeater_pupil = b.add_observed(
        "school",
        name("Блинов", "Роман", Some("Олегович")),
        date(2011, 3, 20),
        date(2024, 12, 2),
        vec![id(IdKind::Phone, "+79167770033"), class("5-Б")],
    );
    // A class that contradicts the record's own birth date (grade 11 at seven): the record
    // says nothing clear about its pupil's age, and the birth date still joins him.
    let misclassed_health = b.add(
        "health",
        name("Жуков", "Илья", Some("Денисович")),
        date(2017, 4, 9),
        vec![
            id(IdKind::Snils, &snils(700_005)),
            id(IdKind::Phone, "+79167770055"),
        ],
    );
    let misclassed_pupil = b.add_observed(
        "school",
        name("Жуков", "Илья", Some("Денисович")),
        date(2017, 4, 9),
        date(2024, 9, 1),
        vec![id(IdKind::Phone, "+79167770055"), class("11А")],
    );
    // Fourteen since January: the youngest a worker may be.
    let teenager = b.add(
        "health",
        name("Юсупов", "Шерзод", Some("Алишерович")),
        date(2010, 1, 15),
        vec![
            id(IdKind::Snils, &snils(700_004)),
            id(IdKind::Phone, "+79167770044"),
        ],
    );
    let teenager_report = b.add_observed(
        "employer",
        name("Юсупов", "Шерзод", None),
        None,
        date(2024, 6, 3),
        vec![
            id(IdKind::Phone, "+79167770044"),
            employment("7707083893", "411"),
        ],
    );
    let resolution = resolve(b.records.clone());
    let profiles = &resolution.profiles;
    assert!(b.same(profiles, health, pupil), "{:?}", resolution.stats);
    assert!(b.same(profiles, repeater_health, repeater_pupil));
    assert!(b.same(profiles, misclassed_health, misclassed_pupil));
    assert!(b.same(profiles, teenager, teenager_report));
}

#[test]
fn school_classes_give_their_grade() {
    let check = |class: &str, expect: Option<u8>| {
        assert_eq!(crate::features::school_grade(class), expect, "{class:?}");
    };
    check("7Б", Some(7));
    check("7 Б", Some(7));
    check("7-A", Some(7));
    check(" 7 - а ", Some(7));
    check("11А", Some(11));
    check("11", Some(11));
    check("1", Some(1));
    check("12", None);
    check("0А", None);
    check("7ББ", None);
    check("7 класс", None);
    check("bachelor", None);
    check("школа", None);
    check("", None);
    check("2024", None);
    check("Б7", None);
}

#[test]
fn spelling_variants_swaps_and_married_names_come_together() {
    let mut b = Builder::population(600);
    let cyrillic = b.add(
        "tax",
        name("Ҳасанов", "Рустам", Some("Акбарович")),
        date(1988, 3, 4),
        vec![id(IdKind::Phone, "+79160001111")],
    );
    let latin = b.add(
        "migration",
        name("KHASANOV", "RUSTAM", None),
        date(1988, 4, 3),
        vec![id(IdKind::Phone, "+79160001111")],
    );
    let uzbek = b.add(
        "migration",
        name("Rustam", "Xasanov", None),
        date(1988, 3, 4),
        vec![],
    );
    // A married name: the same SNILS and birth date under a new surname.
    let maiden = b.add(
        "health",
        name("Кравец", "Алина", Some("Сергеевна")),
        date(1991, 7, 8),
        vec![id(IdKind::Snils, &snils(900_001))],
    );
    let married = b.add(
        "tax",
        name("Воронова", "Алина", Some("Сергеевна")),
        date(1991, 7, 8),
        vec![id(IdKind::Snils, &snils(900_001))],
    );
    let profiles = resolve(b.records.clone()).profiles;
    assert!(
        b.same(&profiles, cyrillic, latin),
        "transliteration with a day/month swap"
    );
    assert!(
        b.same(&profiles, cyrillic, uzbek),
        "Uzbek spelling in swapped order"
    );
    assert!(
        b.same(&profiles, maiden, married),
        "married name with the same SNILS"
    );
}

#[test]
fn two_different_valid_snils_never_merge() {
    let mut b = Builder::population(300);
    let a = b.add(
        "health",
        name("Лисицын", "Артём", Some("Павлович")),
        date(1979, 2, 3),
        vec![id(IdKind::Snils, &snils(800_001))],
    );
    let c = b.add(
        "tax",
        name("Лисицын", "Артём", Some("Павлович")),
        date(1979, 2, 3),
        vec![id(IdKind::Snils, &snils(800_002))],
    );
    let resolution = resolve(b.records.clone());
    assert!(!b.same(&resolution.profiles, a, c));
}

#[test]
fn a_typo_that_breaks_the_checksum_is_not_evidence_but_the_rest_still_links() {
    let mut b = Builder::population(300);
    let good = snils(700_001);
    let mut typo = good.clone();
    typo.replace_range(3..4, if &good[3..4] == "1" { "2" } else { "1" });
    let a = b.add(
        "health",
        name("Гусев", "Тимур", Some("Ильич")),
        date(1966, 6, 6),
        vec![id(IdKind::Snils, &good), address("Тверская 1-1")],
    );
    let c = b.add(
        "tax",
        name("Гусев", "Тимур", Some("Ильич")),
        date(1966, 6, 6),
        vec![id(IdKind::Snils, &typo), address("Тверская 1-1")],
    );
    let profiles = resolve(b.records.clone()).profiles;
    assert!(b.same(&profiles, a, c));
}

#[test]
fn profiles_do_not_depend_on_input_order() {
    let b = Builder::population(300);
    let forward = resolve(b.records.clone()).profiles;
    let mut reversed = b.records.clone();
    reversed.reverse();
    let mut backward = resolve(reversed).profiles;
    backward.reverse();
    assert_eq!(forward, backward);
}

#[test]
fn sex_is_part_of_the_facts() {
    let reference = RecordRef {
        source: SourceId::new("x").unwrap(),
        key: RecordKey::new("1").unwrap(),
        version: 1,
    };
    let facts = RecordFacts::from_attributes(reference, None, &[Attribute::Sex(Sex::Female)]);
    assert_eq!(facts.sex, Some(Sex::Female));
}

#[test]
fn steward_decisions_bind_every_later_run() {
    let mut b = Builder::population(300);
    let phone = id(IdKind::Phone, "+79160000009");
    let x = b.add(
        "tax",
        name("Ткаченко", "Олег", Some("Иванович")),
        date(1970, 1, 2),
        vec![phone.clone()],
    );
    let y = b.add(
        "school",
        name("Ткаченко", "Олег", Some("Иванович")),
        date(1970, 1, 2),
        vec![phone],
    );
    let home = address("Москва, ул. Ленина, д. 5, кв. 7");
    let t1 = b.add(
        "school",
        name("Ткаченко", "Павел", None),
        date(2012, 5, 6),
        vec![home.clone()],
    );
    let t2 = b.add(
        "school",
        name("Ткаченко", "Пётр", None),
        date(2012, 5, 6),
        vec![home],
    );
    let plain = resolve(b.records.clone()).profiles;
    assert!(b.same(&plain, x, y) && !b.same(&plain, t1, t2));

    let key = |i: usize| {
        (
            b.records[i].reference.source.clone(),
            b.records[i].reference.key.clone(),
        )
    };
    let history = crate::History {
        decisions: vec![
            crate::StewardDecision {
                a: key(x),
                b: key(y),
                same: false,
            },
            crate::StewardDecision {
                a: key(t1),
                b: key(t2),
                same: true,
            },
        ],
        ..crate::History::default()
    };
    let decided = crate::resolve_with_history(b.records.clone(), &history);
    assert!(
        !b.same(&decided.profiles, x, y),
        "a steward's 'not the same' holds"
    );
    assert!(
        b.same(&decided.profiles, t1, t2),
        "a steward's 'the same' holds"
    );
    // A decided pair is never queued for review again.
    let refs = |i: usize| b.records[i].reference.clone();
    assert!(
        !decided
            .review
            .iter()
            .any(|r| (r.a == refs(x) && r.b == refs(y)) || (r.a == refs(y) && r.b == refs(x)))
    );
}

fn employment(employer_inn: &str, personnel_number: &str) -> Attribute {
    Attribute::Employment(tessera_model::Employment {
        employer_inn: Some(Identifier::parse(IdKind::Inn, employer_inn)),
        personnel_number: Some(personnel_number.into()),
        ..tessera_model::Employment::default()
    })
}

#[test]
fn twins_with_similar_given_names_stay_apart() {
    let mut b = Builder::population(600);
    let home = address("Москва, Варшавское ш., д. 15, кв. 6");
    let nikita = b.add(
        "school",
        name("Калинин", "Никита", Some("Максимович")),
        date(2013, 10, 12),
        vec![home.clone()],
    );
    let nikolai = b.add(
        "school",
        name("Калинин", "Николай", Some("Максимович")),
        date(2013, 10, 12),
        vec![home],
    );
    let profiles = resolve(b.records.clone()).profiles;
    assert!(
        !b.same(&profiles, nikita, nikolai),
        "Nikita and Nikolai are two names, not a typo"
    );
}

#[test]
fn a_record_with_a_replaced_given_name_joins_through_the_identifier_it_shares() {
    let mut b = Builder::population(600);
    let home = address("Москва, ул. Вавилова, д. 3, кв. 9");
    let phone = id(IdKind::Phone, "+79160007777");
    let card = id(IdKind::Other, "soc_sec_id:4400796");
    let first = b.add(
        "clinic",
        name("Кочергин", "Семён", None),
        date(1936, 7, 8),
        vec![home.clone(), phone.clone(), card.clone()],
    );
    let second = b.add(
        "clinic",
        name("Кочергин", "Семён", None),
        date(1936, 7, 8),
        vec![home.clone(), phone],
    );
    // The clerk wrote another given name, but the identifier is the first record's.
    let garbled = b.add(
        "clinic",
        name("Кочергин", "Тарас", None),
        date(1936, 7, 8),
        vec![home, card],
    );
    let profiles = resolve(b.records.clone()).profiles;
    assert!(b.same(&profiles, first, second));
    assert!(
        b.same(&profiles, first, garbled),
        "one contradicting record pair out of two does not keep a person apart"
    );
}

#[test]
fn an_undated_report_joins_by_a_whole_name_only_one_profile_carries() {
    let mut b = Builder::population(600);
    let dated = b.add(
        "health",
        name("Лисицына", "Алла", Some("Петровна")),
        date(1980, 1, 1),
        vec![id(IdKind::Snils, &snils(600_001))],
    );
    let report = b.add(
        "employer",
        name("Лисицына", "Алла", Some("Петровна")),
        None,
        vec![
            employment("7707083893", "100"),
            id(IdKind::Phone, "+79161110001"),
        ],
    );
    // Without the patronymic the name says too little.
    let dated_short = b.add(
        "health",
        name("Котова", "Вера", Some("Ивановна")),
        date(1975, 2, 2),
        vec![id(IdKind::Snils, &snils(600_002))],
    );
    let report_short = b.add(
        "employer",
        name("Котова", "Вера", None),
        None,
        vec![
            employment("7707083893", "101"),
            id(IdKind::Phone, "+79161110002"),
        ],
    );
    // Two undated profiles under one name: which one is the dated person, the name cannot tell.
    let dated_shared = b.add(
        "health",
        name("Зуева", "Нина", Some("Олеговна")),
        date(1969, 3, 3),
        vec![id(IdKind::Snils, &snils(600_003))],
    );
    let report_one = b.add(
        "employer",
        name("Зуева", "Нина", Some("Олеговна")),
        None,
        vec![
            employment("7707083893", "102"),
            id(IdKind::Phone, "+79161110003"),
        ],
    );
    let report_two = b.add(
        "employer",
        name("Зуева", "Нина", Some("Олеговна")),
        None,
        vec![
            employment("7736050003", "7"),
            id(IdKind::Phone, "+79161110004"),
        ],
    );
    let resolution = resolve(b.records.clone());
    let profiles = &resolution.profiles;
    assert!(b.same(profiles, dated, report), "{:?}", resolution.stats);
    assert!(!b.same(profiles, dated_short, report_short));
    assert!(!b.same(profiles, dated_shared, report_one));
    assert!(!b.same(profiles, dated_shared, report_two));
}

#[test]
fn incremental_resolution_attaches_an_undated_report_by_a_rare_whole_name() {
    let mut b = Builder::population(300);
    let report = b.add(
        "employer",
        name("Лисицына", "Алла", Some("Петровна")),
        None,
        vec![
            employment("7707083893", "100"),
            id(IdKind::Phone, "+79161110001"),
        ],
    );
    let dated = b.add(
        "health",
        name("Лисицына", "Алла", Some("Петровна")),
        date(1980, 1, 1),
        vec![id(IdKind::Snils, &snils(600_001))],
    );
    let model = crate::learn(&b.records);
    let mut incremental = crate::Incremental::new(&model);
    for record in &b.records {
        incremental.resolve(record.clone());
    }
    let roots = incremental.roots();
    assert_eq!(
        roots[report], roots[dated],
        "the batch's unique-name phase, one record at a time"
    );
    assert_ne!(roots[0], roots[report]);
}

#[test]
fn a_namesake_with_another_patronymic_does_not_hide_the_person_but_one_without_does() {
    let mut b = Builder::population(600);
    let dated = b.add(
        "health",
        name("Лисицына", "Алла", Some("Петровна")),
        date(1980, 1, 1),
        vec![id(IdKind::Snils, &snils(600_001))],
    );
    let namesake = b.add(
        "health",
        name("Лисицына", "Алла", Some("Игоревна")),
        date(1961, 5, 5),
        vec![id(IdKind::Snils, &snils(600_004))],
    );
    let report = b.add(
        "employer",
        name("Лисицына", "Алла", Some("Петровна")),
        None,
        vec![
            employment("7707083893", "100"),
            id(IdKind::Phone, "+79161110001"),
        ],
    );
    // A dated namesake whose patronymic is unknown could be the report's person: no attachment.
    let dated_other = b.add(
        "health",
        name("Зуева", "Нина", Some("Олеговна")),
        date(1969, 3, 3),
        vec![id(IdKind::Snils, &snils(600_003))],
    );
    let unknown = b.add("tax", name("Зуева", "Нина", None), date(1990, 4, 4), vec![]);
    let report_other = b.add(
        "employer",
        name("Зуева", "Нина", Some("Олеговна")),
        None,
        vec![
            employment("7707083893", "102"),
            id(IdKind::Phone, "+79161110003"),
        ],
    );
    let profiles = resolve(b.records.clone()).profiles;
    assert!(b.same(&profiles, dated, report));
    assert!(!b.same(&profiles, namesake, report));
    assert!(!b.same(&profiles, dated_other, report_other));
    assert!(!b.same(&profiles, unknown, report_other));
}

#[test]
fn a_source_that_keeps_one_record_per_person_never_gives_a_profile_two_of_its_records() {
    // 1,000 health records, none linking to another: the health fund keeps one per person.
    let mut b = Builder::population(1_000);
    // Two boys with the same full name and birth date, each with his own health record.
    let first = b.add(
        "health",
        name("Соколов", "Александр", Some("Сергеевич")),
        date(2012, 10, 15),
        vec![address("Москва, Можайское ш., д. 108, кв. 123")],
    );
    let second = b.add(
        "health",
        name("Соколов", "Александр", Some("Сергеевич")),
        date(2012, 10, 15),
        vec![address("Москва, Шокальского пр-д, д. 116, кв. 179")],
    );
    let resolution = resolve(b.records.clone());
    assert!(
        !b.same(&resolution.profiles, first, second),
        "{:?}",
        resolution.stats.clustering
    );
    assert!(resolution.stats.clustering.refused_one_record_per_source > 0);
}

#[test]
fn online_resolution_names_profiles_and_search_needs_more_than_a_name() {
    use std::collections::BTreeMap;

    use crate::{LINK_THRESHOLD_BITS, Online, ProfileChange};

    let b = Builder::population(200);
    let batch = resolve(b.records.clone());
    let mut profiles: BTreeMap<tessera_model::ProfileId, Vec<RecordFacts>> = BTreeMap::new();
    for (record, profile) in b.records.iter().zip(&batch.profiles) {
        profiles
            .entry(profile.clone())
            .or_default()
            .push(record.clone());
    }
    let model = crate::learn(&b.records);
    let mut online = Online::new(crate::Incremental::new(&model), Default::default());
    for (profile, records) in profiles {
        online.seed(profile, records);
    }
    // Person 5's health record is record 10 (two records per person).
    let person = |given: &str| {
        let mut extra = Builder {
            records: Vec::new(),
        };
        extra.add(
            "tax",
            name(SURNAMES[5], given, Some(PATRONYMICS[0])),
            date(1955, 6, 8),
            vec![id(IdKind::Snils, &snils(5))],
        );
        extra.records.remove(0)
    };
    let joined = online.resolve(person(GIVEN[0]));
    assert_eq!(joined.profile, batch.profiles[10]);
    assert!(joined.changes.is_empty(), "{:?}", joined.changes);

    let mut stranger = Builder {
        records: Vec::new(),
    };
    stranger.add(
        "tax",
        name("Уникальнов", "Яков", Some("Петрович")),
        date(2001, 1, 1),
        vec![id(IdKind::Snils, &snils(900_000))],
    );
    let alone = online.resolve(stranger.records.remove(0));
    assert!(!batch.profiles.contains(&alone.profile));
    assert_eq!(
        alone.changes,
        vec![ProfileChange::Created {
            profile: alone.profile.clone()
        }]
    );

    // A search by name and birth date finds the person; the same name with another date does not.
    let query = |birth| {
        let mut q = Builder {
            records: Vec::new(),
        };
        q.add("search", name(SURNAMES[5], GIVEN[0], None), birth, vec![]);
        q.records.remove(0)
    };
    let hits = online.search(&query(date(1955, 6, 8)), LINK_THRESHOLD_BITS, 5);
    assert_eq!(
        hits.first().map(|h| &h.profile),
        Some(&batch.profiles[10]),
        "{hits:?}"
    );
    assert!(
        online
            .search(&query(date(1987, 2, 3)), LINK_THRESHOLD_BITS, 5)
            .is_empty()
    );
    assert!(
        online
            .search(&query(None), LINK_THRESHOLD_BITS, 5)
            .is_empty()
    );
}

/// Two processes resolving against one store: each takes in what the other stored before it
/// resolves, so a person's second record joins the profile the other process made for the first.
#[test]
fn an_online_index_that_absorbs_another_ones_results_resolves_as_one() {
    use crate::{Online, ProfileChange};

    let b = Builder::population(120);
    let model = crate::learn(&b.records);
    let seeded = || {
        let mut online = Online::new(crate::Incremental::new(&model), Default::default());
        for (i, record) in b.records.iter().enumerate() {
            online.seed(
                tessera_model::ProfileId::new(format!("p-seed{i:07}")),
                vec![record.clone()],
            );
        }
        online
    };
    let (mut first, mut second) = (seeded(), seeded());
    let newcomer = |source: &str| {
        let mut extra = Builder {
            records: Vec::new(),
        };
        extra.add(
            source,
            name("Пришлов", "Арслан", Some("Бекович")),
            date(1994, 4, 21),
            vec![id(IdKind::Snils, &snils(777_001))],
        );
        extra.records.remove(0)
    };
    let placed = first.resolve(newcomer("migration"));
    assert!(matches!(
        placed.changes.as_slice(),
        [ProfileChange::Created { .. }]
    ));

    // Without taking in the first process's work, the second would start another profile.
    let mut unaware = seeded();
    let apart = unaware.resolve(newcomer("tax"));
    assert_ne!(apart.profile, placed.profile);

    second.absorb(placed.profile.clone(), 2, newcomer("migration"));
    let joined = second.resolve(newcomer("tax"));
    assert_eq!(joined.profile, placed.profile);
    assert!(joined.changes.is_empty(), "{:?}", joined.changes);

    // A merge stored by another process merges here too: the merged id is gone, its records
    // answer to the survivor.
    let (from, into) = (
        tessera_model::ProfileId::new("p-seed0000003".into()),
        tessera_model::ProfileId::new("p-seed0000004".into()),
    );
    second.absorb_merge(&from, &into);
    assert_eq!(second.profile_of(3), Some(&into));
    assert_eq!(second.profile_of(4), Some(&into));
}

#[test]
fn a_stored_model_reads_back_exactly_and_another_form_is_learned_afresh() {
    let b = Builder::population(400);
    let model = crate::learn(&b.records);
    let text = model.to_stored();
    assert_eq!(crate::Model::from_stored(&text), Some(model.clone()));
    // Stored by code whose model had another form: not misread.
    let current = format!("\"format\":{}", crate::model::STORED_FORMAT);
    let older = text.replacen(&current, "\"format\":0", 1);
    assert_ne!(older, text);
    assert_eq!(crate::Model::from_stored(&older), None);
    assert_eq!(
        crate::Model::from_stored(&format!("{{{current},\"model\":{{}}}}")),
        None
    );
    assert_eq!(crate::Model::from_stored("not a model"), None);
}

/// Two boys with one full name and one birth date, each on the health fund's register, and a
/// school list naming one of them without a patronymic: the school record is as like one boy's
/// health record as the other's, so it joins neither (taking the stronger link would give one
/// boy's record to the other as often as not) and the two pairs wait for a steward.
#[test]
fn a_record_as_like_two_records_of_one_register_joins_neither() {
    let mut b = Builder::population(1_000);
    let first = b.smirnov_boy(Some("Александрович"), 700_010);
    let second = b.smirnov_boy(Some("Александрович"), 700_011);
    let pupil = b.add(
        "school",
        name("Смирнов", "Сергей", None),
        date(2011, 7, 10),
        vec![address("Москва, ул. Зеленоградская, д. 70")],
    );
    // The same, for a boy the register holds once: his school record joins him.
    let only = b.add(
        "health",
        name("Воробьёв", "Денис", Some("Максимович")),
        date(2011, 3, 5),
        vec![id(IdKind::Snils, &snils(700_012))],
    );
    let his_pupil = b.add(
        "school",
        name("Воробьёв", "Денис", None),
        date(2011, 3, 5),
        vec![address("Москва, ул. Лесная, д. 8")],
    );
    let resolution = resolve(b.records.clone());
    let profiles = &resolution.profiles;
    let stats = resolution.stats.clustering;
    assert!(
        !b.same(profiles, pupil, first) && !b.same(profiles, pupil, second),
        "the pupil joined one of two namesakes: {stats:?}"
    );
    assert!(stats.ambiguous_links >= 2, "{stats:?}");
    assert!(b.same(profiles, his_pupil, only), "{stats:?}");
    let queued = |x: usize, y: usize| {
        let (rx, ry) = (&b.records[x].reference, &b.records[y].reference);
        resolution
            .review
            .iter()
            .any(|pair| (&pair.a, &pair.b) == (rx, ry) || (&pair.a, &pair.b) == (ry, rx))
    };
    assert!(queued(pupil, first) && queued(pupil, second));
}

/// Two boys with one full name and one birth date on the health fund's register, and a school
/// list naming one of them: the pupil's pair with the first boy is a link, the pair with the
/// second (without his patronymic) stays under the threshold a few bits lower. The pair is as
/// good as a tie (the school's patronymic could be the second boy's, missing from his record): a
/// namesake born the same day is a rival, and the pupil joins neither.
#[test]
fn a_namesake_born_the_same_day_under_the_threshold_still_makes_a_tie() {
    let mut b = Builder::population(1_000);
    let first = b.smirnov_boy(Some("Александрович"), 700_010);
    let second = b.smirnov_boy(None, 700_011);
    let pupil = b.add(
        "school",
        name("Смирнов", "Сергей", Some("Александрович")),
        date(2011, 7, 10),
        vec![address("Москва, ул. Зеленоградская, д. 70")],
    );
    let model = crate::learn(&b.records);
    let (first, second, pupil) = (first as u32, second as u32, pupil as u32);
    // As the batch would pass them: the link at 4.5 bits, the namesake's pair at 1.8.
    let links = [(4.5, first.min(pupil), first.max(pupil))];
    let rivals = [(1.8, second.min(pupil), second.max(pupil))];
    let steward = crate::cluster::StewardPairs::default();
    let cluster = |rivals: &[crate::cluster::Link]| {
        crate::cluster::cluster(&b.records, &model, &links, &[], rivals, &steward)
    };
    let (roots, stats, ambiguous) = cluster(&rivals);
    assert_ne!(roots[pupil as usize], roots[first as usize], "{stats:?}");
    assert_eq!(ambiguous, links, "the link waits for a steward");
    // Without the rival, the link is taken.
    let (roots, stats, _) = cluster(&[]);
    assert_eq!(roots[pupil as usize], roots[first as usize], "{stats:?}");
}

/// Two migrants with one name and one birth date, each registered with his own passport (a
/// source too small to be judged a register), and a health record with neither passport: it is
/// as like one migrant as the other, so it joins neither; nor does it reach one of them through
/// his weaker tax record.
#[test]
fn a_record_as_like_two_passport_holders_joins_neither() {
    let mut b = Builder::population(1_000);
    let passport = |value: &str| id(IdKind::PassportForeign, value);
    let phone = |value: &str| id(IdKind::Phone, value);
    let first = b.add(
        "permits",
        name("SULTONOV", "SHERZOD", None),
        date(1984, 12, 30),
        vec![passport("AB2922820"), phone("+998948522237")],
    );
    let second = b.add(
        "permits",
        name("SULTONOV", "SHERZOD", None),
        date(1984, 12, 30),
        vec![passport("AC1166749"), phone("+79739754187")],
    );
    let seconds_tax = b.add(
        "taxes",
        name("Султонов", "Шерзод", None),
        date(1984, 12, 30),
        vec![passport("AC1166749")],
    );
    let health = b.add(
        "health",
        name("Султонов", "Шерзод", None),
        date(1984, 12, 30),
        vec![id(IdKind::Snils, &snils(700_020))],
    );
    let resolution = resolve(b.records.clone());
    let profiles = &resolution.profiles;
    let stats = resolution.stats.clustering;
    assert!(b.same(profiles, second, seconds_tax), "{stats:?}");
    assert!(!b.same(profiles, first, second), "{stats:?}");
    assert!(
        !b.same(profiles, health, first) && !b.same(profiles, health, second),
        "the health record joined one of two passport holders: {stats:?}"
    );
    assert!(stats.ambiguous_links >= 2, "{stats:?}");
}

/// A given name one typo from a common one says no more than the common name itself: the typo
/// must not make a pair likelier than an exact match would.
#[test]
fn a_typo_in_a_common_name_weighs_no_more_than_the_name() {
    let b = Builder::population(1_000);
    let model = crate::learn(&b.records);
    let mut records = Builder {
        records: Vec::new(),
    };
    let birth = date(2016, 5, 3);
    let health = records.add("health", name("Степанова", GIVEN[0], None), birth, vec![]);
    let exact = records.add("school", name("Степанова", GIVEN[0], None), birth, vec![]);
    let typo: String = {
        let mut letters: Vec<char> = GIVEN[0].chars().collect();
        let last = letters.len() - 1;
        letters.swap(last - 1, last);
        letters.into_iter().collect()
    };
    let typo = records.add("school", name("Степанова", &typo, None), birth, vec![]);
    let given = |other: usize| {
        let explanation =
            crate::explain_pair(&model, &records.records[health], &records.records[other]);
        explanation.evidence[crate::Field::Given as usize].weight
    };
    assert!(
        given(typo) <= given(exact) + 1e-9,
        "one typo {:.2} bits, exact {:.2} bits",
        given(typo),
        given(exact)
    );
}

/// A father's tax registration, with no birth date, under the name and at the address of his
/// namesake son: registered two years before the son was born, it is not the son's. The same
/// registration made after a birth does not say so.
#[test]
fn a_record_observed_before_a_persons_birth_is_not_theirs() {
    let mut b = Builder::population(600);
    let home = address("Москва, Большой Козихинский пер., д. 83, кв. 191");
    let phone = id(IdKind::Phone, "+79299787023");
    let father = b.add_observed(
        "tax",
        name("Иванов", "Александр", Some("Александрович")),
        None,
        date(2012, 12, 13),
        vec![home.clone(), phone.clone()],
    );
    let son = b.add(
        "health",
        name("Иванов", "Александр", Some("Александрович")),
        date(2015, 3, 3),
        vec![home, phone, id(IdKind::Snils, &snils(700_020))],
    );
    let other_home = address("Москва, ул. Профсоюзная, д. 2, кв. 305");
    let other_phone = id(IdKind::Phone, "+79553718454");
    let registered_later = b.add_observed(
        "tax",
        name("Васильев", "Андрей", Some("Андреевич")),
        None,
        date(2016, 6, 1),
        vec![other_home.clone(), other_phone.clone()],
    );
    let born_earlier = b.add(
        "health",
        name("Васильев", "Андрей", Some("Андреевич")),
        date(2015, 3, 3),
        vec![other_home, other_phone, id(IdKind::Snils, &snils(700_021))],
    );
    let resolution = resolve(b.records.clone());
    let profiles = &resolution.profiles;
    assert!(
        !b.same(profiles, father, son),
        "{:?}",
        resolution.stats.clustering
    );
    assert!(b.same(profiles, registered_later, born_earlier));
}

/// Two flatmates named Nurlan Enbekov, and one employer's weekly reports on the second: one
/// week gives his own phone, the next the flat's, which the first Nurlan's records carry. The
/// personnel number says both weeks are one worker's, and it is taken before the shared phone,
/// so the two weeks stay on one profile instead of one going to each Nurlan. (Which Nurlan they
/// join is then the stronger evidence's call; here both are as strong.)
#[test]
fn an_employers_personnel_number_comes_before_a_shared_phone() {
    let mut b = Builder::population(600);
    // Three weeks of reports on 200 of them, one employer, so that the model learns what a
    // personnel number is worth; one week in three gives no phone.
    for p in 0..200u32 {
        let surname = SURNAMES[(p % 12) as usize];
        let given = GIVEN[((p / 12) % 10) as usize];
        for week in 0..3u8 {
            let mut extra = vec![employment("7701234567", &format!("{p:05}"))];
            if week != 1 {
                extra.push(id(IdKind::Phone, &format!("+7916{p:07}")));
            }
            b.add_observed(
                "employer",
                name(surname, given, None),
                None,
                date(2024, 4, 1 + 7 * week),
                extra,
            );
        }
    }
    let flat = id(IdKind::Phone, "+79558286251");
    let own = id(IdKind::Phone, "+79212722012");
    let first = b.add(
        "migration",
        name("ENBEKOV", "NURLAN", None),
        date(1990, 4, 12),
        vec![flat.clone()],
    );
    let first_at_work = b.add_observed(
        "employer",
        name("Энбеков", "Нурлан", None),
        None,
        date(2024, 5, 20),
        vec![flat.clone(), employment("7739537349", "48042999")],
    );
    let second = b.add(
        "migration",
        name("JENBEKOV", "NURLAN", None),
        date(1996, 9, 1),
        vec![own.clone()],
    );
    let own_phone_week = b.add_observed(
        "employer",
        name("Энбеков", "Нурлан", None),
        None,
        date(2024, 3, 11),
        vec![own, employment("5019140498", "51500765")],
    );
    let flat_phone_week = b.add_observed(
        "employer",
        name("Энбеков", "Нурлан", None),
        None,
        date(2024, 3, 18),
        vec![flat, employment("5019140498", "51500765")],
    );
    let resolution = resolve(b.records.clone());
    let profiles = &resolution.profiles;
    let stats = resolution.stats.clustering;
    assert!(b.same(profiles, first, first_at_work), "{stats:?}");
    assert!(
        b.same(profiles, own_phone_week, flat_phone_week),
        "one worker's two weeks split between two persons: {stats:?}"
    );
    assert!(!b.same(profiles, first, second), "{stats:?}");
}

fn parent(surname: &str, given: &str, patronymic: &str) -> Attribute {
    Attribute::Relation(tessera_model::Relation {
        role: tessera_model::RelationRole::Parent,
        name: Some(name(surname, given, Some(patronymic))),
        contact: None,
    })
}

/// A mother and the daughter named after her, at one address: the mother's tax record has no
/// birth date, and the daughter's pupil list, with no patronymic, names the mother as parent.
/// The tax record is the parent's, not the pupil's. A boy named exactly as the father his list
/// names still joins his own dated records: dates judge there.
#[test]
fn a_record_naming_a_parent_is_not_the_parents() {
    let mut b = Builder::population(600);
    let home = address("Москва, Волгоградский пр-т, д. 101, кв. 184");
    let phone = id(IdKind::Phone, "+79607284085");
    let mother = b.add_observed(
        "tax",
        name("Петрова", "Анна", Some("Степановна")),
        None,
        date(2024, 5, 3),
        vec![home.clone(), phone.clone()],
    );
    let pupil = b.add_observed(
        "school",
        name("Петрова", "Анна", None),
        date(2011, 12, 2),
        date(2024, 9, 1),
        vec![
            home.clone(),
            phone.clone(),
            parent("Петрова", "Анна", "Степановна"),
        ],
    );
    let daughter = b.add(
        "health",
        name("Петрова", "Анна", Some("Игоревна")),
        date(2011, 12, 2),
        vec![home, phone, id(IdKind::Snils, &snils(700_030))],
    );
    let other_home = address("Москва, Каширское ш., д. 145, корп. 3, кв. 56");
    let son_at_school = b.add_observed(
        "school",
        name("Смирнов", "Алексей", Some("Алексеевич")),
        date(2010, 12, 16),
        date(2024, 9, 1),
        vec![
            other_home.clone(),
            parent("Смирнов", "Алексей", "Алексеевич"),
        ],
    );
    let son = b.add(
        "health",
        name("Смирнов", "Алексей", Some("Алексеевич")),
        date(2010, 12, 16),
        vec![other_home, id(IdKind::Snils, &snils(700_031))],
    );
    let resolution = resolve(b.records.clone());
    let profiles = &resolution.profiles;
    let stats = resolution.stats.clustering;
    assert!(!b.same(profiles, mother, pupil), "{stats:?}");
    assert!(!b.same(profiles, mother, daughter), "{stats:?}");
    assert!(b.same(profiles, pupil, daughter), "{stats:?}");
    assert!(b.same(profiles, son_at_school, son), "{stats:?}");
}

/// A passport has no check digit, so a mistyped digit leaves another well-formed number: one
/// typo apart, with the name and the birth date agreeing, it is one passport written twice, not
/// two persons. A clearly different number still keeps two records apart, and twins whose
/// passports were issued one after the other (numbers one digit apart) stay two persons.
#[test]
fn a_mistyped_passport_is_not_another_persons_but_another_passport_is() {
    let mut b = Builder::population(300);
    let passport = |number: &str| id(IdKind::PassportForeign, number);
    let person = || name("Рахимов", "Фаррух", Some("Алишерович"));
    let registered = b.add(
        "migration",
        person(),
        date(1991, 4, 17),
        vec![passport("FA1234567")],
    );
    let mistyped = b.add(
        "tax",
        person(),
        date(1991, 4, 17),
        vec![passport("FA1234867")],
    );
    let other = b.add(
        "border",
        person(),
        date(1991, 4, 17),
        vec![passport("AB7654321")],
    );
    let home = address("Москва, ул. Ленина, д. 9, кв. 2");
    let twin_a = b.add(
        "migration",
        name("Юсупов", "Бахром", Some("Каримович")),
        date(1999, 8, 1),
        vec![passport("AA2000001"), home.clone()],
    );
    let twin_b = b.add(
        "tax",
        name("Юсупов", "Бехруз", Some("Каримович")),
        date(1999, 8, 1),
        vec![passport("AA2000002"), home],
    );
    let profiles = resolve(b.records.clone()).profiles;
    assert!(
        b.same(&profiles, registered, mistyped),
        "a typo split a person"
    );
    assert!(
        !b.same(&profiles, registered, other),
        "two passports merged"
    );
    assert!(!b.same(&profiles, mistyped, other), "two passports merged");
    assert!(!b.same(&profiles, twin_a, twin_b), "twins merged");
}

/// A sister's weekly report with her name parts reversed ("Мария Черных", read as surname Мария)
/// carries her brother's phone: read across, the surname agrees and the given names differ, so
/// the report stays off his profile, whichever of the two records is compared first (the
/// source's name decides which comes first). Other residents named Мария, Дмитрий and Черных
/// tell the model which parts are given names.
#[test]
fn a_reversed_name_does_not_hide_a_different_given_name() {
    for reports in ["employer", "weekly_reports"] {
        let mut b = Builder::population(300);
        for (surname, given, year) in [
            ("Черных", "Ольга", 1961),
            ("Соколова", "Мария", 1972),
            ("Белова", "Мария", 1977),
            ("Орлова", "Мария", 1988),
        ] {
            b.add(
                "health",
                name(surname, given, None),
                date(year, 3, 4),
                vec![],
            );
        }
        b.add(
            "health",
            name("Орлов", "Дмитрий", None),
            date(1983, 5, 6),
            vec![],
        );
        let phone = id(IdKind::Phone, "+79857330563");
        let brother = b.add(
            "health",
            name("Черных", "Дмитрий", Some("Андреевич")),
            date(1995, 10, 16),
            vec![phone.clone()],
        );
        let sister = b.add(
            reports,
            name("Мария", "Черных", None),
            None,
            vec![phone, employment("5015232941", "67500629")],
        );
        let profiles = resolve(b.records.clone()).profiles;
        assert!(
            !b.same(&profiles, brother, sister),
            "a sister joined her brother ({reports})"
        );
    }
}

/// Two men with one given name share a flat (its phone and address). One man's weekly reports,
/// all under a surname like his but not his (Каримов, Рахимов), reach the other's health record
/// only through the flat: they stay off his profile. The other man's own reports join him
/// through the same phone.
#[test]
fn a_flatmates_reports_under_another_surname_stay_off_a_mans_profile() {
    let mut b = Builder::population(1000);
    let phone = id(IdKind::Phone, "+79418128827");
    let flat = address("Москва, ул. Ленина, д. 117, корп. 5, кв. 187");
    let man = b.add(
        "health",
        name("Рахимов", "Дилшод", Some("Шерзодович")),
        date(2003, 6, 18),
        vec![phone.clone(), flat.clone(), Attribute::Sex(Sex::Male)],
    );
    let report = |b: &mut Builder, surname: &str, employer: (&str, &str)| {
        b.add(
            "employer",
            name(surname, "Дилшод", None),
            None,
            vec![
                phone.clone(),
                flat.clone(),
                employment(employer.0, employer.1),
            ],
        )
    };
    let own = [
        report(&mut b, "Рахимов", ("5045179734", "10716320")),
        report(&mut b, "Рахимов", ("5045179734", "10716320")),
    ];
    let flatmate = [
        report(&mut b, "Каримов", ("5007855710", "58987437")),
        report(&mut b, "Каримов", ("5007855710", "58987437")),
    ];
    let profiles = resolve(b.records.clone()).profiles;
    for report in own {
        assert!(b.same(&profiles, man, report), "his own report left him");
    }
    assert!(b.same(&profiles, flatmate[0], flatmate[1]));
    assert!(
        !b.same(&profiles, man, flatmate[0]),
        "a flatmate's reports joined him"
    );
}

/// A whole name whose parts always come together (an Uzbek surname with an Uzbek given name) is
/// as common as the two together are, not as the product of their frequencies over a registry
/// of other names: two records of it that agree on nothing but the name and a birth date are
/// namesakes as often as not, and stay apart.
#[test]
fn a_common_whole_name_with_rare_parts_is_weighed_as_common() {
    let mut b = Builder::population(300);
    for p in 0..60u32 {
        b.add(
            "health",
            name("Рахимова", "Дилноза", None),
            date(
                1970 + (p % 30) as i32,
                1 + (p % 12) as u8,
                1 + (p % 27) as u8,
            ),
            vec![id(IdKind::Snils, &snils(900_000 + p))],
        );
    }
    let registered = b.add(
        "tax",
        name("Рахимова", "Дилноза", None),
        date(1983, 12, 26),
        vec![address("Москва, Каширское ш., 100-102")],
    );
    let migrant = b.add(
        "migration",
        name("Рахимова", "Дилноза", None),
        date(1983, 12, 26),
        vec![address("Москва, ул. Школьная, д. 158, кв. 100")],
    );
    let profiles = resolve(b.records.clone()).profiles;
    assert!(!b.same(&profiles, registered, migrant), "namesakes merged");
}

/// `why_apart` names the rule that keeps two profiles apart: two SNILS, twins' given names, a
/// flatmate's surname on a man's profile; and none for two records of one person.
#[test]
fn why_two_profiles_are_apart_is_named() {
    let mut b = Builder::population(300);
    let person = || name("Зябликов", "Аристарх", Some("Феоктистович"));
    let phone = id(IdKind::Phone, "+79161234567");
    let a = b.add(
        "registry",
        person(),
        date(1961, 3, 15),
        vec![id(IdKind::Snils, &snils(500_001))],
    );
    let c = b.add(
        "registry",
        person(),
        date(1961, 3, 15),
        vec![id(IdKind::Snils, &snils(500_002)), phone.clone()],
    );
    let own = b.add("tax", person(), date(1961, 3, 15), vec![phone.clone()]);
    let twin = b.add(
        "tax",
        name("Зябликов", "Игнат", Some("Феоктистович")),
        date(1961, 3, 15),
        vec![phone],
    );
    let model = crate::learn(&b.records);
    let facts = |i: usize| std::slice::from_ref(&b.records[i]);
    assert_eq!(
        crate::why_apart(
            &model,
            facts(a),
            &[b.records[c].clone(), b.records[own].clone()]
        ),
        Some(crate::Apart::StrongIds {
            kind: IdKind::Snils,
            left: snils(500_001),
            right: snils(500_002),
        })
    );
    assert!(matches!(
        crate::why_apart(&model, facts(own), facts(twin)),
        Some(crate::Apart::MostPairsVetoed {
            vetoed: 1,
            pairs: 1,
            example: crate::Veto::GivenNamesDiffer
        })
    ));
    assert_eq!(crate::why_apart(&model, facts(c), facts(own)), None);
}

/// A flat is one flat however a clerk writes it (`д. 97, кв. 402` or `97-402`): a tax record
/// under a name and birth date two migrants share goes to the one registered at its flat, not to
/// the one whose record spells the name as it does.
#[test]
fn a_register_record_joins_the_namesake_registered_at_its_flat() {
    let mut b = Builder::population(300);
    for p in 0..300u32 {
        // Addresses for the model to learn from: each person's, written two ways.
        let street = SURNAMES[(p % 12) as usize];
        let (house, flat) = (1 + p % 97, 1 + p * 3 % 400);
        b.records[2 * p as usize].address = Some(crate::address_key(&format!(
            "ул. {street}ская, д. {house}, кв. {flat}"
        )));
        b.records[2 * p as usize + 1].address = Some(crate::address_key(&format!(
            "{street}ская ул., {house}-{flat}"
        )));
    }
    let registered = b.add(
        "migration",
        name("OMURBEKOV", "ERLAN", None),
        date(1981, 5, 26),
        vec![
            id(IdKind::PassportForeign, "AC4990851"),
            address("г. Москва, ул. Тверская, д. 97, кв. 402"),
        ],
    );
    let namesake = b.add(
        "health",
        name("Омурбеков", "Эрлан", None),
        date(1981, 5, 26),
        vec![address("Москва, Вернадского пр-т, д 76, кв 390")],
    );
    let namesakes_registration = b.add(
        "migration",
        name("OMURBEKOV", "ERLAN", None),
        date(1981, 5, 26),
        vec![
            id(IdKind::PassportForeign, "ID5138928"),
            address("Москва, Вернадского пр-т, д 76, кв 390"),
        ],
    );
    let tax = b.add(
        "tax",
        name("Омурбеков", "Эрлан", None),
        date(1981, 5, 26),
        vec![address("Тверская ул., 97-402")],
    );
    let profiles = resolve(b.records.clone()).profiles;
    assert!(b.same(&profiles, namesake, namesakes_registration));
    assert!(
        !b.same(&profiles, tax, namesake),
        "the tax record went by the spelling"
    );
    assert!(
        b.same(&profiles, tax, registered),
        "the tax record left its flat"
    );
}

/// One worker's weekly reports under a name thousands carry (Karimov Sherzod), with a new phone
/// every week: the name is weighed as common as it is, and the personnel number with it stayed
/// under the link threshold, so a series was split between profiles. One employer's personnel
/// number under one name names one employee; under another name it is a typo. Typos in the
/// given name or the patronymic beside the number stay typos.
#[test]
fn one_employers_personnel_number_under_a_common_name_keeps_the_weeks_together() {
    let mut b = Builder::population(600);
    // The name on 80 dated records of 80 persons, and their reports at other employers.
    for p in 0..80u32 {
        let birth = date(
            1970 + (p % 30) as i32,
            1 + (p % 12) as u8,
            1 + (p % 27) as u8,
        );
        b.add(
            "health",
            name("Каримов", "Шерзод", None),
            birth,
            vec![id(IdKind::Snils, &snils(800_000 + p))],
        );
        for week in 0..2u8 {
            b.add_observed(
                "employer",
                name("Каримов", "Шерзод", None),
                None,
                date(2024, 4, 1 + 7 * week),
                vec![
                    employment("7701234567", &format!("{p:05}")),
                    id(IdKind::Phone, &format!("+7925{p:07}")),
                ],
            );
        }
    }
    let weeks: Vec<usize> = (0..3u8)
        .map(|week| {
            b.add_observed(
                "employer",
                name("Каримов", "Шерзод", None),
                None,
                date(2024, 6, 3 + 7 * week),
                vec![
                    employment("7735629790", "20203828"),
                    id(IdKind::Phone, &format!("+7986314019{week}")),
                ],
            )
        })
        .collect();
    // A week under a mistyped given name: "Шетзод" is two letters from "Шерзод" once
    // transliterated (тз reads as ц), "similar", which beside the number is a typo.
    let typo_week = b.add_observed(
        "employer",
        name("Каримов", "Шетзод", None),
        None,
        date(2024, 6, 24),
        vec![
            employment("7735629790", "20203828"),
            id(IdKind::Phone, "+79863140199"),
        ],
    );
    // Two weeks with the patronymic, one mistyped in its first letter: one typo, close.
    let patronymic_weeks: Vec<usize> = ["Евгеньевич", "Ивгеньевич"]
        .iter()
        .map(|patronymic| {
            b.add_observed(
                "employer",
                name("Каримов", "Шерзод", Some(patronymic)),
                None,
                date(2024, 7, 1),
                vec![
                    employment("7735629790", "20203828"),
                    id(IdKind::Phone, "+79863140190"),
                ],
            )
        })
        .collect();
    // Another man under the same number at that employer: a typo in the number, not him.
    let other = b.add_observed(
        "employer",
        name("Каримов", "Фарход", None),
        None,
        date(2024, 6, 24),
        vec![employment("7735629790", "20203828")],
    );
    let resolution = resolve(b.records.clone());
    let profiles = &resolution.profiles;
    assert!(
        b.same(profiles, weeks[0], weeks[1]) && b.same(profiles, weeks[1], weeks[2]),
        "one worker's weeks split: {:?}",
        resolution.stats.clustering
    );
    assert!(
        b.same(profiles, weeks[0], typo_week),
        "a typo in the name split the weeks"
    );

    assert!(!b.same(profiles, weeks[0], other));
    let model = crate::learn(&b.records);
    let pair = crate::explain_pair(&model, &b.records[weeks[0]], &b.records[weeks[1]]);
    assert!(pair.one_employee && pair.linked);
    let [first, mistyped] = [0, 1].map(|k| &b.records[patronymic_weeks[k]]);
    let pair = crate::explain_pair(&model, first, mistyped);
    assert!(
        pair.veto.is_none() && pair.linked,
        "a typo in the patronymic vetoed the pair: {:?}",
        pair.veto
    );
}
