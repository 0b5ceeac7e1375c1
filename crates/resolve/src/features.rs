//! What the resolver compares: one record's normalised facts.
//!
//! Built once per record from its attributes: name parts as skeletons (see `normalise`), birth
//! date, sex, valid strong identifiers, the record's own valid contacts (phones, car plates,
//! transport cards), employers (with the employee's personnel number there), an address key, and
//! what dates the person's age without a birth date: the day the source observed the record, a
//! pupil's school grade, and whether the record reports the person at work. Invalid identifiers
//! and relations (a parent's phone on a child's school record) are left out on purpose: they are
//! not evidence about this person. A relative's whole name is kept, as evidence about whom the
//! record is not.

use std::cell::RefCell;
use std::collections::HashMap;

use tessera_model::{Attribute, IdKind, PartialDate, RecordRef, Sex};

use crate::normalise::{address_key, name_skeleton};

/// Words that end Central Asian patronymics ("Akbar ugli"), in skeleton form.
const PATRONYMIC_PARTICLES: [&str; 4] = ["ugli", "ogli", "kizi", "ulu"];

/// The normalised facts of one record.
#[derive(Clone, Debug)]
pub struct RecordFacts {
    pub reference: RecordRef,
    pub(crate) surname: Option<String>,
    pub(crate) given: Option<String>,
    pub(crate) patronymic: Option<String>,
    pub(crate) birth: Option<PartialDate>,
    pub(crate) sex: Option<Sex>,
    /// Valid strong identifiers, sorted.
    pub(crate) strong_ids: Vec<(IdKind, String)>,
    /// Other typed identifiers (`type:value`): agreement is identity evidence like a strong
    /// identifier's, but disagreement proves nothing, since their typo rate is unknown.
    pub(crate) other_ids: Vec<String>,
    /// Phones, car plates and transport cards: contacts often shared within a family.
    pub(crate) contacts: Vec<String>,
    pub(crate) employers: Vec<String>,
    /// `employer INN#personnel number`: one employee of one employer.
    pub(crate) staff_numbers: Vec<String>,
    pub(crate) address: Option<String>,
    /// The day the source observed the record (a report's week, a pupil list's date; the import
    /// day when the source does not say), if the caller knows it.
    pub(crate) observed: Option<PartialDate>,
    /// A pupil's school grade (1 to 11), read from the class the source gives (`7Б`).
    pub(crate) school_grade: Option<u8>,
    /// Whether the record reports the person at work for an employer (an employment naming an
    /// employer or a personnel number): whichever source sends it, not only the employers'.
    pub(crate) employment: bool,
    /// The whole names (surname, given name and patronymic; see [`whole_name_key`]) of the
    /// persons the record names as relatives (a pupil's parent), each someone else: at most
    /// [`MAX_RELATIVES`], unused slots 0. Behind one thin pointer, since few records name
    /// anyone and there are millions of records.
    pub(crate) relatives: Option<Box<[u64; MAX_RELATIVES]>>,
}

/// Relatives kept per record: a pupil's two parents and two guardians.
const MAX_RELATIVES: usize = 4;

/// Hashes whole names: fixed seed, so the same on every run.
const NAME_HASHER: foldhash::fast::FixedState =
    foldhash::fast::FixedState::with_seed(0x7265_6c61_7469_7665);

/// One number for a whole name, its two name parts in a fixed order (as `cluster::name_key`
/// puts them) and the patronymic; `None` without all three.
fn whole_name_key(
    surname: Option<&str>,
    given: Option<&str>,
    patronymic: Option<&str>,
) -> Option<u64> {
    use std::hash::BuildHasher;
    let (surname, given, patronymic) = (surname?, given?, patronymic?);
    let (first, second) = if surname <= given {
        (surname, given)
    } else {
        (given, surname)
    };
    Some(NAME_HASHER.hash_one((first, second, patronymic)))
}

/// A patronymic's skeleton without the particles that end Central Asian ones ("Akbar ugli").
fn patronymic_skeleton(text: Option<&str>) -> Option<String> {
    skeleton(text).and_then(|p| {
        let kept: Vec<&str> = p
            .split(' ')
            .filter(|w| !PATRONYMIC_PARTICLES.contains(w))
            .collect();
        (!kept.is_empty()).then(|| kept.join(" "))
    })
}

/// How many distinct names each thread remembers the skeleton of before it starts afresh.
const SKELETON_CACHE_LIMIT: usize = 1 << 16;

thread_local! {
    /// Skeletons already computed on this thread. Names repeat (a city of a million has a few
    /// thousand surnames and given names), and a skeleton (NFKC, folding, rewriting) costs far
    /// more than a lookup. A cache, so it changes no result.
    static SKELETONS: RefCell<HashMap<Box<str>, Option<String>>> = RefCell::new(HashMap::new());
}

fn skeleton(text: Option<&str>) -> Option<String> {
    let text = text?;
    SKELETONS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(known) = cache.get(text) {
            return known.clone();
        }
        let computed = Some(name_skeleton(text)).filter(|s| !s.is_empty());
        if cache.len() >= SKELETON_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(text.into(), computed.clone());
        computed
    })
}

impl RecordFacts {
    /// Extracts the facts of a record from its attributes; `observed` is the day the source
    /// observed it (`None` for what was never observed, such as a search query).
    pub fn from_attributes(
        reference: RecordRef,
        observed: Option<PartialDate>,
        attributes: &[Attribute],
    ) -> RecordFacts {
        let mut facts = RecordFacts::empty(reference);
        facts.observed = observed;
        let mut relatives: Vec<u64> = Vec::new();
        for attribute in attributes {
            match attribute {
                Attribute::Name(name) if facts.surname.is_none() && facts.given.is_none() => {
                    facts.surname = skeleton(name.surname.as_deref());
                    facts.given = skeleton(name.given.as_deref());
                    facts.patronymic = patronymic_skeleton(name.patronymic.as_deref());
                }
                Attribute::Relation(relation) => {
                    let key = relation.name.as_ref().and_then(|name| {
                        whole_name_key(
                            skeleton(name.surname.as_deref()).as_deref(),
                            skeleton(name.given.as_deref()).as_deref(),
                            patronymic_skeleton(name.patronymic.as_deref()).as_deref(),
                        )
                    });
                    relatives.extend(key);
                }
                Attribute::BirthDate(date) if facts.birth.is_none() => facts.birth = Some(*date),
                Attribute::Sex(sex) if facts.sex.is_none() => facts.sex = Some(*sex),
                Attribute::Identifier(id) if id.validity.is_valid() => {
                    if id.kind.is_strong() {
                        facts.strong_ids.push((id.kind, id.value.clone()));
                    } else if id.kind == IdKind::Other {
                        facts.other_ids.push(id.value.clone());
                    } else if matches!(
                        id.kind,
                        IdKind::Phone | IdKind::CarPlate | IdKind::TransportCard
                    ) {
                        facts
                            .contacts
                            .push(format!("{}:{}", id.kind.name(), id.value));
                    }
                }
                Attribute::Employment(job) => {
                    facts.employment |= job.employer_inn.is_some()
                        || job
                            .employer_name
                            .as_deref()
                            .is_some_and(|n| !n.trim().is_empty())
                        || job
                            .personnel_number
                            .as_deref()
                            .is_some_and(|n| !n.trim().is_empty());
                    if let Some(inn) = job.employer_inn.as_ref().filter(|i| i.validity.is_valid()) {
                        facts.employers.push(inn.value.clone());
                        if let Some(number) = job
                            .personnel_number
                            .as_deref()
                            .map(str::trim)
                            .filter(|n| !n.is_empty())
                        {
                            facts.staff_numbers.push(format!("{}#{number}", inn.value));
                        }
                    }
                }
                Attribute::Education(education) if facts.school_grade.is_none() => {
                    facts.school_grade = education.level.as_deref().and_then(school_grade);
                }
                Attribute::Address(address) if facts.address.is_none() => {
                    facts.address = Some(address_key(&address.text)).filter(|a| !a.is_empty());
                }
                _ => {}
            }
        }
        facts.strong_ids.sort();
        facts.strong_ids.dedup();
        facts.other_ids.sort();
        facts.other_ids.dedup();
        facts.contacts.sort();
        facts.contacts.dedup();
        facts.employers.sort();
        facts.employers.dedup();
        facts.staff_numbers.sort();
        facts.staff_numbers.dedup();
        if !relatives.is_empty() {
            let mut kept = [0u64; MAX_RELATIVES];
            for (slot, key) in kept.iter_mut().zip(relatives) {
                *slot = key;
            }
            facts.relatives = Some(Box::new(kept));
        }
        facts
    }

    /// A record with no facts yet.
    pub(crate) fn empty(reference: RecordRef) -> RecordFacts {
        RecordFacts {
            reference,
            surname: None,
            given: None,
            patronymic: None,
            birth: None,
            sex: None,
            strong_ids: Vec::new(),
            other_ids: Vec::new(),
            contacts: Vec::new(),
            employers: Vec::new(),
            staff_numbers: Vec::new(),
            address: None,
            observed: None,
            school_grade: None,
            employment: false,
            relatives: None,
        }
    }

    /// The record's whole name as one number (see [`whole_name_key`]).
    fn whole_name(&self) -> Option<u64> {
        whole_name_key(
            self.surname.as_deref(),
            self.given.as_deref(),
            self.patronymic.as_deref(),
        )
    }

    /// Whether this record names, as a relative, the person of `other`, a record with no birth
    /// date under exactly that whole name: a pupil list naming "Петрова Анна Степановна" as
    /// the parent, and a tax record of Анна Степановна Петрова. With a birth date, the dates
    /// judge instead: a son named exactly as the father he names is still himself.
    pub(crate) fn names_as_relative(&self, other: &RecordFacts) -> bool {
        let Some(relatives) = self.relatives.as_deref() else {
            return false;
        };
        other.birth.is_none()
            && other
                .whole_name()
                .is_some_and(|name| name != 0 && relatives.contains(&name))
    }

    pub(crate) fn birth_year(&self) -> Option<i32> {
        self.birth.map(|d| d.year_value())
    }
}

/// The grade of a school class as Russian and Central Asian schools write it: a number from 1 to
/// 11, then at most one letter for the parallel class, with or without a space or a hyphen
/// (`7Б`, `7 Б`, `7-A`, `11`). Anything else (`bachelor`, `12`, `7 класс`) is no grade: a level
/// that is not a class says nothing about age. A bare number is read as a grade too, so a source
/// that writes a university course there must not map it to the class.
pub(crate) fn school_grade(class: &str) -> Option<u8> {
    let class = class.trim();
    let digits = class
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(class.len());
    if digits == 0 || digits > 2 {
        return None;
    }
    let grade: u8 = class[..digits].parse().ok()?;
    if !(1..=11).contains(&grade) {
        return None;
    }
    let rest = class[digits..].trim_start();
    let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    let mut letters = rest.chars();
    match (letters.next(), letters.next()) {
        (None, _) => Some(grade),
        (Some(letter), None) if letter.is_alphabetic() => Some(grade),
        _ => None,
    }
}
