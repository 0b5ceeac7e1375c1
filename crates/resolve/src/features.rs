//! What the resolver compares: one record's normalised facts.
//!
//! Built once per record from its attributes: name parts as skeletons (see `normalise`), birth
//! date, sex, valid strong identifiers, the record's own valid contacts (phones, car plates,
//! transport cards), employers (with the employee's personnel number there) and an address key. Invalid identifiers and relations (a parent's phone on a child's school record) are left
//! out on purpose: they are not evidence about this person.

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
    /// Extracts the facts of a record from its attributes.
    pub fn from_attributes(reference: RecordRef, attributes: &[Attribute]) -> RecordFacts {
        let mut facts = RecordFacts::empty(reference);
        for attribute in attributes {
            match attribute {
                Attribute::Name(name) if facts.surname.is_none() && facts.given.is_none() => {
                    facts.surname = skeleton(name.surname.as_deref());
                    facts.given = skeleton(name.given.as_deref());
                    facts.patronymic = skeleton(name.patronymic.as_deref()).and_then(|p| {
                        let kept: Vec<&str> = p
                            .split(' ')
                            .filter(|w| !PATRONYMIC_PARTICLES.contains(w))
                            .collect();
                        (!kept.is_empty()).then(|| kept.join(" "))
                    });
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
        }
    }

    pub(crate) fn birth_year(&self) -> Option<i32> {
        self.birth.map(|d| d.year_value())
    }
}
