//! The city's people as they really are (the truth behind every record): who they are, when they
//! were born, which identifiers they hold, whom they live with, where they work and study.
//!
//! [`build_household`] fills in one planned household from its own random stream. It makes the
//! hard cases the resolver must get right: families sharing an address, a phone and a car;
//! children whose school record carries a parent's phone; twins (same surname, birth date and
//! address, different given names — two people); wives whose older records carry their maiden
//! surname; unrelated migrants registered at one flat. Namesakes need no planting: the Zipf name
//! pools make them common. Nothing here writes a record or introduces an error; sources and
//! `corrupt.rs` do.

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::World;
use crate::calendar::{Date, TODAY};
use crate::ids;
use crate::names;
use crate::places::Address;
use crate::plan::{HouseholdKind, HouseholdPlan};

/// Where a person comes from; everyone who is not from Russia is a labour migrant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Origin {
    Russia,
    Uzbekistan,
    Tajikistan,
    Kyrgyzstan,
}

impl Origin {
    pub(crate) fn is_migrant(self) -> bool {
        self != Origin::Russia
    }

    /// The ISO 3166 alpha-3 code of the citizenship.
    pub(crate) fn alpha3(self) -> &'static str {
        match self {
            Origin::Russia => "RUS",
            Origin::Uzbekistan => "UZB",
            Origin::Tajikistan => "TJK",
            Origin::Kyrgyzstan => "KGZ",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Sex {
    Male,
    Female,
}

/// A name in its national Cyrillic spelling.
#[derive(Clone, Debug)]
pub(crate) struct Name {
    pub(crate) surname: String,
    pub(crate) given: &'static str,
    pub(crate) patronymic: Option<String>,
}

/// A surname given up on marriage, and the day it stopped being used.
#[derive(Clone, Debug)]
pub(crate) struct Maiden {
    pub(crate) surname: String,
    pub(crate) until: Date,
}

/// A job reported by the employer over consecutive weeks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Job {
    pub(crate) employer: usize,
    pub(crate) position: &'static str,
    pub(crate) first_week: u8,
    pub(crate) weeks: u8,
}

/// Weekly employer reports cover this many weeks, starting on [`first_report_week`].
pub(crate) const REPORT_WEEKS: u8 = 24;

/// The Monday of the first reported week.
pub(crate) fn first_report_week() -> Date {
    Date::new(2024, 3, 4).unwrap_or(TODAY)
}

#[derive(Clone, Debug)]
pub(crate) struct Person {
    /// The generator's own id, dense from 0; written as `P000123`.
    pub(crate) index: usize,
    pub(crate) origin: Origin,
    pub(crate) sex: Sex,
    pub(crate) birth: Date,
    pub(crate) name: Name,
    pub(crate) maiden: Option<Maiden>,
    /// Positions of the parents in the household's member list; empty for adults.
    pub(crate) parents: Vec<usize>,
    pub(crate) snils: Option<String>,
    pub(crate) inn: Option<String>,
    pub(crate) oms: Option<String>,
    pub(crate) passport_rf: Option<String>,
    pub(crate) passport_foreign: Option<String>,
    pub(crate) work_patent: Option<String>,
    /// A Russian mobile number, E.164 without the plus.
    pub(crate) phone: Option<String>,
    /// A migrant's number in the home country, E.164 without the plus.
    pub(crate) home_phone: Option<String>,
    pub(crate) transport_card: Option<String>,
    pub(crate) drives: bool,
    pub(crate) job: Option<Job>,
    /// An ICD-10 code the health insurer holds, a special category of data.
    pub(crate) diagnosis: Option<&'static str>,
    /// When a migrant entered the country.
    pub(crate) arrived: Option<Date>,
}

impl Person {
    pub(crate) fn id(&self) -> String {
        format!("P{:06}", self.index)
    }

    pub(crate) fn is_child(&self) -> bool {
        self.birth.age_on(TODAY) < 18
    }

    /// The surname a record observed on `date` carries.
    pub(crate) fn surname_on(&self, date: Date) -> &str {
        match &self.maiden {
            Some(maiden) if date < maiden.until => &maiden.surname,
            _ => &self.name.surname,
        }
    }

    /// The school grade (1..=11) on [`TODAY`], for school-age children.
    pub(crate) fn school_grade(&self) -> Option<u8> {
        // Children go to first grade in the September after they turn seven... or at seven on
        // 1 September at the latest.
        let cohort = if (self.birth.month(), self.birth.day()) <= (9, 1) {
            self.birth.year()
        } else {
            self.birth.year() + 1
        };
        let grade = TODAY.year() - cohort - 6;
        u8::try_from(grade)
            .ok()
            .filter(|grade| (1..=11).contains(grade))
    }
}

/// The people at one address, and what they share.
#[derive(Clone, Debug)]
pub(crate) struct Household {
    pub(crate) address: Address,
    pub(crate) members: Vec<Person>,
    pub(crate) car_plate: Option<String>,
    pub(crate) school: u16,
    pub(crate) class_letter: char,
}

impl Household {
    /// The number the family gives as its contact: the first adult's phone.
    pub(crate) fn family_phone(&self) -> Option<&str> {
        self.members
            .iter()
            .filter(|person| !person.is_child())
            .find_map(|person| person.phone.as_deref())
    }
}

/// Chance that one birth in a family with two or more children is of twins; far above the real
/// rate because twins are a hard case the tests and benchmarks must meet.
const TWIN_CHANCE: f64 = 0.10;
/// Chance that a Russian wife took her husband's surname (her older records keep the maiden one).
const TOOK_HUSBANDS_SURNAME: f64 = 0.85;

const RUSSIAN_POSITIONS: &[&str] = &[
    "менеджер",
    "инженер",
    "бухгалтер",
    "водитель",
    "программист",
    "продавец",
    "врач",
    "учитель",
    "юрист",
    "охранник",
    "экономист",
    "администратор",
];
const MIGRANT_POSITIONS: &[&str] = &[
    "разнорабочий",
    "курьер",
    "водитель",
    "повар",
    "уборщик",
    "штукатур",
    "продавец",
    "грузчик",
    "монтажник",
];
const ADULT_DIAGNOSES: &[&str] = &[
    "E11", "I10", "J45", "K29", "M54", "E66", "I25", "G43", "F32",
];
const CHILD_DIAGNOSES: &[&str] = &["J45", "L20", "H52", "E10", "G40"];

fn date(year: i32, month: u8, day: u8) -> Date {
    Date::new(year, month, day).unwrap_or(TODAY)
}

fn random_sex(rng: &mut impl Rng, male_share: f64) -> Sex {
    if rng.random_bool(male_share) {
        Sex::Male
    } else {
        Sex::Female
    }
}

/// Fills in the household `plan` describes, from `rng` alone (see `plan.rs` for why).
pub(crate) fn build_household(
    plan: &HouseholdPlan,
    world: &World,
    rng: &mut impl Rng,
) -> Household {
    let origin = plan.origin;
    let mut members: Vec<Person> = Vec::with_capacity(plan.size());
    let latest_adult_birth = TODAY.add_years(-19);
    match plan.kind {
        HouseholdKind::Single | HouseholdKind::SharedFlat { .. } => {
            let count = if let HouseholdKind::SharedFlat { count } = plan.kind {
                count
            } else {
                1
            };
            for _ in 0..count {
                let (from, male_share) = if origin.is_migrant() {
                    (date(1975, 1, 1), 0.8)
                } else {
                    (date(1960, 1, 1), 0.5)
                };
                let sex = random_sex(rng, male_share);
                let birth = Date::random_between(rng, from, latest_adult_birth);
                members.push(new_person(world, rng, origin, sex, birth, None));
            }
        }
        HouseholdKind::Pensioners { count: 1 } => {
            let birth = Date::random_between(rng, date(1938, 1, 1), date(1962, 12, 31));
            let sex = random_sex(rng, 0.35);
            members.push(new_person(world, rng, origin, sex, birth, None));
        }
        HouseholdKind::Couple | HouseholdKind::Pensioners { .. } => {
            let (from, to) = match (plan.kind, origin.is_migrant()) {
                (HouseholdKind::Pensioners { .. }, _) => (date(1938, 1, 1), date(1962, 12, 31)),
                (_, true) => (date(1978, 1, 1), date(2003, 12, 31)),
                (_, false) => (date(1955, 1, 1), date(2001, 12, 31)),
            };
            let husband_birth = Date::random_between(rng, from, to);
            let wife_birth = husband_birth
                .add_days(rng.random_range(-730..=2555))
                .min(latest_adult_birth);
            let marriage_from = husband_birth.max(wife_birth).add_years(19);
            let marriage = Date::random_between(rng, marriage_from, TODAY.add_days(-60));
            add_couple(
                world,
                rng,
                origin,
                husband_birth,
                wife_birth,
                marriage,
                &mut members,
            );
        }
        HouseholdKind::Family { children } | HouseholdKind::SingleParent { children } => {
            let two_parents = matches!(plan.kind, HouseholdKind::Family { .. });
            let eldest_from = if origin.is_migrant() {
                date(2008, 1, 1)
            } else {
                date(2006, 9, 2)
            };
            let eldest_to = if children > 1 {
                date(2016, 12, 31)
            } else {
                TODAY.add_days(-90)
            };
            let eldest = Date::random_between(rng, eldest_from, eldest_to);
            let mother_birth = eldest.add_days(-rng.random_range(19 * 365..=36 * 365));
            if two_parents {
                // Fathers are mostly a little older, and at least 19 at the eldest's birth.
                let father_birth = mother_birth
                    .add_days(rng.random_range(-8 * 365..=2 * 365))
                    .min(eldest.add_years(-19));
                let marriage = Date::random_between(
                    rng,
                    mother_birth.max(father_birth).add_years(18),
                    eldest.add_days(-60),
                );
                add_couple(
                    world,
                    rng,
                    origin,
                    father_birth,
                    mother_birth,
                    marriage,
                    &mut members,
                );
            } else {
                let (sex, birth) = if rng.random_bool(0.85) {
                    (Sex::Female, mother_birth)
                } else {
                    (
                        Sex::Male,
                        mother_birth.add_days(rng.random_range(0..=5 * 365)),
                    )
                };
                members.push(new_person(world, rng, origin, sex, birth, None));
            }
            add_children(world, rng, origin, eldest, children, &mut members);
        }
    }
    for (offset, person) in members.iter_mut().enumerate() {
        person.index = plan.first_person + offset;
        assign_identifiers(world, rng, person);
    }
    let car_chance = match (plan.kind, origin.is_migrant()) {
        (HouseholdKind::SharedFlat { .. }, _) => 0.03,
        (_, true) => 0.10,
        (HouseholdKind::Couple | HouseholdKind::Family { .. }, false) => 0.55,
        (HouseholdKind::Pensioners { .. }, false) => 0.25,
        _ => 0.30,
    };
    let car_plate = rng
        .random_bool(car_chance)
        .then(|| ids::car_plate(&world.numbering, plan.index));
    if car_plate.is_some() {
        let mut adults = members.iter_mut().filter(|person| !person.is_child());
        if let Some(first) = adults.next() {
            first.drives = true;
        }
        for other in adults {
            other.drives = rng.random_bool(0.35);
        }
    }
    Household {
        address: Address::random(rng),
        members,
        car_plate,
        school: world.places.pick_school(rng),
        class_letter: ['А', 'Б', 'В', 'Г', 'Д']
            .choose(rng)
            .copied()
            .unwrap_or('А'),
    }
}

/// A person with a random name of their origin (the father's given name, if known, gives the
/// patronymic) and a job fitting their age and origin. Identifiers come later, once the
/// person's index is final (see [`assign_identifiers`]).
fn new_person(
    world: &World,
    rng: &mut impl Rng,
    origin: Origin,
    sex: Sex,
    birth: Date,
    father: Option<&str>,
) -> Person {
    let surname = world.names.surname(rng, origin, sex);
    let given = world.names.given(rng, origin, sex);
    let father = father.unwrap_or_else(|| world.names.given(rng, origin, Sex::Male));
    let patronymic = names::patronymic(rng, origin, father, sex);
    let mut person = Person {
        index: 0,
        origin,
        sex,
        birth,
        name: Name {
            surname,
            given,
            patronymic,
        },
        maiden: None,
        parents: Vec::new(),
        snils: None,
        inn: None,
        oms: None,
        passport_rf: None,
        passport_foreign: None,
        work_patent: None,
        phone: None,
        home_phone: None,
        transport_card: None,
        drives: false,
        job: None,
        diagnosis: None,
        arrived: None,
    };
    assign_job(world, rng, &mut person);
    let (diagnoses, chance) = if person.is_child() {
        (CHILD_DIAGNOSES, 0.05)
    } else {
        (ADULT_DIAGNOSES, 0.10)
    };
    person.diagnosis = if rng.random_bool(chance) {
        diagnoses.choose(rng).copied()
    } else {
        None
    };
    person
}

/// A husband and wife at positions 0 and 1. A Russian wife usually took the husband's surname on
/// `marriage`; a Central Asian wife does half the time, and her documents here postdate it.
fn add_couple(
    world: &World,
    rng: &mut impl Rng,
    origin: Origin,
    husband_birth: Date,
    wife_birth: Date,
    marriage: Date,
    members: &mut Vec<Person>,
) {
    let husband = new_person(world, rng, origin, Sex::Male, husband_birth, None);
    let mut wife = new_person(world, rng, origin, Sex::Female, wife_birth, None);
    let takes_name = if origin.is_migrant() {
        0.5
    } else {
        TOOK_HUSBANDS_SURNAME
    };
    if rng.random_bool(takes_name) {
        let married = names::gendered_surname(&husband.name.surname, Sex::Female);
        let maiden = std::mem::replace(&mut wife.name.surname, married);
        if !origin.is_migrant() && maiden != wife.name.surname {
            wife.maiden = Some(Maiden {
                surname: maiden,
                until: marriage,
            });
        }
    }
    members.push(husband);
    members.push(wife);
}

/// Children born from `eldest` on, one to four years apart, sometimes twins. With two parents
/// (positions 0 and 1) they take the father's surname; with one, the parent's.
fn add_children(
    world: &World,
    rng: &mut impl Rng,
    origin: Origin,
    eldest: Date,
    count: u8,
    members: &mut Vec<Person>,
) {
    let parents: Vec<usize> = (0..members.len()).collect();
    let father_given = members
        .iter()
        .find(|person| person.sex == Sex::Male)
        .map(|father| father.name.given);
    // The family surname in its masculine form: the father's, or the single parent's.
    let family_surname = members
        .first()
        .map(|parent| names::masculine_surname(&parent.name.surname));
    // Many Central Asian families name their children after the father's given name (Акбар →
    // Акбаров); a family follows one custom for all its children.
    let named_after_father = origin.is_migrant() && rng.random_bool(0.3);
    let twins_at = (count >= 2 && rng.random_bool(TWIN_CHANCE)).then(|| rng.random_range(1..count));
    let latest_birth = TODAY.add_days(-30);
    let mut birth = eldest;
    let mut previous_given: Option<&'static str> = None;
    for number in 0..count {
        let twin = twins_at == Some(number);
        if number > 0 && !twin {
            birth = birth
                .add_days(rng.random_range(365..=4 * 365))
                .min(latest_birth);
        }
        let sex = random_sex(rng, 0.5);
        let mut child = new_person(world, rng, origin, sex, birth, father_given);
        // A twin gets a different given name from the sibling born the same day.
        while twin && Some(child.name.given) == previous_given {
            child.name.given = world.names.given(rng, origin, sex);
        }
        child.name.surname = match (father_given, &family_surname) {
            (Some(given), _) if named_after_father => names::surname_from_father(given, sex),
            (_, Some(surname)) => names::gendered_surname(surname, sex),
            (_, None) => child.name.surname.clone(),
        };
        child.parents.clone_from(&parents);
        previous_given = Some(child.name.given);
        members.push(child);
    }
}

/// Gives `person` (whose index is final) the documents of their origin and age.
fn assign_identifiers(world: &World, rng: &mut impl Rng, person: &mut Person) {
    let (numbering, index) = (&world.numbering, person.index);
    let age = person.birth.age_on(TODAY);
    let child = age < 18;
    if person.origin == Origin::Russia {
        person.snils = rng.random_bool(0.98).then(|| ids::snils(numbering, index));
        person.inn = rng
            .random_bool(if child { 0.30 } else { 0.92 })
            .then(|| ids::person_inn(numbering, index));
        person.oms = Some(ids::oms(rng, numbering, index));
        person.passport_rf = (age >= 14).then(|| ids::passport_rf(rng, numbering, index));
        if !child {
            person.phone = rng
                .random_bool(0.97)
                .then(|| ids::phone_russian(numbering, index));
            person.transport_card = rng
                .random_bool(0.40)
                .then(|| ids::transport_card(rng, numbering, index));
        }
        return;
    }
    if child {
        person.passport_foreign = rng
            .random_bool(0.7)
            .then(|| ids::passport_foreign(rng, numbering, index, person.origin));
        person.oms = rng
            .random_bool(0.35)
            .then(|| ids::oms(rng, numbering, index));
        person.snils = rng.random_bool(0.15).then(|| ids::snils(numbering, index));
        return;
    }
    person.passport_foreign = Some(ids::passport_foreign(rng, numbering, index, person.origin));
    // Citizens of Kyrgyzstan, a Eurasian Economic Union member, work without a patent.
    if person.origin != Origin::Kyrgyzstan && rng.random_bool(0.85) {
        person.work_patent = Some(ids::work_patent(rng, numbering, index));
    }
    person.inn = rng
        .random_bool(0.40)
        .then(|| ids::person_inn(numbering, index));
    let snils_chance = if person.inn.is_some() { 0.70 } else { 0.12 };
    person.snils = rng
        .random_bool(snils_chance)
        .then(|| ids::snils(numbering, index));
    let oms_chance = if person.origin == Origin::Kyrgyzstan {
        0.55
    } else {
        0.08
    };
    person.oms = rng
        .random_bool(oms_chance)
        .then(|| ids::oms(rng, numbering, index));
    person.phone = rng
        .random_bool(0.85)
        .then(|| ids::phone_russian(numbering, index));
    if person.phone.is_none() || rng.random_bool(0.40) {
        person.home_phone = Some(ids::phone_home_country(
            rng,
            numbering,
            index,
            person.origin,
        ));
    }
    person.transport_card = rng
        .random_bool(0.45)
        .then(|| ids::transport_card(rng, numbering, index));
    person.arrived = Some(
        Date::random_between(rng, date(2019, 1, 1), date(2024, 2, 1))
            .max(person.birth.add_years(18)),
    );
}

fn assign_job(world: &World, rng: &mut impl Rng, person: &mut Person) {
    let age = person.birth.age_on(first_report_week());
    let reported_chance = match (person.origin.is_migrant(), age) {
        (_, ..18) | (_, 65..) => 0.0,
        (true, _) => 0.90,
        (false, _) => 0.55,
    };
    if !rng.random_bool(reported_chance) {
        return;
    }
    let migrant = person.origin.is_migrant();
    let positions = if migrant {
        MIGRANT_POSITIONS
    } else {
        RUSSIAN_POSITIONS
    };
    let first_week = rng.random_range(0..REPORT_WEEKS);
    let most_weeks = if migrant { 5 } else { 4 };
    let weeks = rng
        .random_range(1..=most_weeks)
        .min(REPORT_WEEKS - first_week);
    person.job = Some(Job {
        employer: world.places.pick_employer(rng, migrant),
        position: positions.choose(rng).copied().unwrap_or("разнорабочий"),
        first_week,
        weeks,
    });
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::ids::Numbering;
    use crate::names::NamePools;
    use crate::places::Places;
    use crate::plan::Planner;

    fn households(persons: usize) -> Vec<Household> {
        let numbering = Numbering::new(11);
        let world = World {
            names: NamePools::new(),
            places: Places::new(11, &numbering),
            numbering,
        };
        Planner::new(persons, 11)
            .map(|plan| {
                build_household(
                    &plan,
                    &world,
                    &mut ChaCha8Rng::seed_from_u64(plan.index as u64),
                )
            })
            .collect()
    }

    #[test]
    fn twins_share_surname_and_birth_but_not_given_name() {
        let mut twins = 0;
        for household in households(5000) {
            let children: Vec<&Person> = household
                .members
                .iter()
                .filter(|person| !person.parents.is_empty())
                .collect();
            for (at, first) in children.iter().enumerate() {
                for second in &children[at + 1..] {
                    if first.birth == second.birth {
                        twins += 1;
                        assert_ne!(first.index, second.index);
                        assert_ne!(first.name.given, second.name.given);
                        if first.sex == second.sex {
                            assert_eq!(first.name.surname, second.name.surname);
                        }
                    }
                }
            }
        }
        assert!(twins >= 5, "{twins}");
    }

    #[test]
    fn children_take_the_family_surname_and_the_fathers_patronymic() {
        for household in households(3000) {
            let father = household
                .members
                .iter()
                .find(|person| person.parents.is_empty() && person.sex == Sex::Male);
            for child in household
                .members
                .iter()
                .filter(|person| !person.parents.is_empty())
            {
                assert!(child.is_child(), "{child:?}");
                let (Some(father), Origin::Russia) = (father, child.origin) else {
                    continue;
                };
                assert_eq!(
                    names::masculine_surname(&child.name.surname),
                    father.name.surname
                );
                let patronymic = child.name.patronymic.as_deref().unwrap_or_default();
                assert!(
                    patronymic.starts_with(&father.name.given[..2]),
                    "{patronymic} of {}",
                    father.name.given
                );
            }
        }
    }

    #[test]
    fn married_women_keep_their_maiden_surname_in_older_records() {
        let women: Vec<Person> = households(3000)
            .into_iter()
            .flat_map(|household| household.members)
            .filter(|person| person.maiden.is_some())
            .collect();
        assert!(women.len() > 100, "{}", women.len());
        for woman in &women {
            let Some(maiden) = &woman.maiden else {
                continue;
            };
            assert_eq!(woman.sex, Sex::Female);
            assert_eq!(woman.surname_on(maiden.until.add_days(-1)), maiden.surname);
            assert_eq!(woman.surname_on(maiden.until), woman.name.surname);
            assert!(
                maiden.until <= TODAY && maiden.until > woman.birth.add_years(17),
                "{woman:?}"
            );
        }
    }

    #[test]
    fn russians_hold_their_documents_and_migrants_theirs() {
        for person in households(3000)
            .iter()
            .flat_map(|household| &household.members)
        {
            let adult = !person.is_child();
            if person.origin == Origin::Russia {
                assert!(person.oms.is_some() && person.passport_foreign.is_none());
                assert_eq!(
                    person.passport_rf.is_some(),
                    person.birth.age_on(TODAY) >= 14
                );
            } else {
                assert!(person.passport_rf.is_none());
                assert!(person.passport_foreign.is_some() || !adult);
                if person.origin == Origin::Kyrgyzstan {
                    assert!(person.work_patent.is_none());
                }
                assert!(!adult || person.phone.is_some() || person.home_phone.is_some());
            }
        }
    }

    #[test]
    fn school_grades_follow_the_first_of_september() {
        let grade = |year, month, day| {
            let mut person = households(1).remove(0).members.remove(0);
            person.birth = Date::new(year, month, day).expect("real date");
            person.school_grade()
        };
        assert_eq!(grade(2017, 9, 1), Some(1));
        assert_eq!(grade(2017, 9, 2), None);
        assert_eq!(grade(2006, 9, 2), Some(11));
        assert_eq!(grade(2006, 9, 1), None);
        assert_eq!(grade(2010, 1, 15), Some(8));
    }
}
