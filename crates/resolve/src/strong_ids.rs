//! Resolution by strong identifiers, with cannot-links.
//!
//! Union–find over records, joined along shared valid strong identifiers in a fixed order (by
//! identifier kind, then value). Each cluster remembers its one value per strong kind; a join that
//! would give a cluster two different values of one kind is refused, so a SNILS typed onto a
//! relative's record cannot chain two people who also have their own, different SNILS.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use tessera_model::{Attribute, IdKind, ProfileId, RecordRef};

/// What the resolver needs to know about one record.
#[derive(Clone, Debug)]
pub struct RecordFacts {
    pub reference: RecordRef,
    /// Valid strong identifiers only; invalid ones are not evidence.
    pub strong_ids: Vec<(IdKind, String)>,
}

impl RecordFacts {
    /// Takes the valid strong identifiers out of a record's attributes.
    pub fn from_attributes(reference: RecordRef, attributes: &[Attribute]) -> RecordFacts {
        let mut strong_ids: Vec<(IdKind, String)> = attributes
            .iter()
            .filter_map(|attribute| match attribute {
                Attribute::Identifier(id) if id.kind.is_strong() && id.validity.is_valid() => {
                    Some((id.kind, id.value.clone()))
                }
                _ => None,
            })
            .collect();
        strong_ids.sort();
        strong_ids.dedup();
        RecordFacts {
            reference,
            strong_ids,
        }
    }
}

/// The outcome of a resolution run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The profile of each input record, in input order.
    pub profiles: Vec<ProfileId>,
    /// Joins refused because they would have given a profile two values of one strong kind.
    pub refused_joins: u64,
}

const STRONG_KINDS: [IdKind; 6] = [
    IdKind::Snils,
    IdKind::Inn,
    IdKind::Oms,
    IdKind::PassportRf,
    IdKind::PassportForeign,
    IdKind::WorkPatent,
];

fn kind_slot(kind: IdKind) -> Option<usize> {
    STRONG_KINDS.iter().position(|k| *k == kind)
}

struct Clusters<'a> {
    parent: Vec<usize>,
    /// For each root, its value of each strong kind.
    values: Vec<[Option<&'a str>; STRONG_KINDS.len()]>,
}

impl<'a> Clusters<'a> {
    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Joins the clusters of `a` and `b` unless they hold different values of a strong kind.
    fn join(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return true;
        }
        let conflict = self.values[ra]
            .iter()
            .zip(&self.values[rb])
            .any(|(x, y)| matches!((x, y), (Some(x), Some(y)) if x != y));
        if conflict {
            return false;
        }
        // Keep the smaller index as root so the outcome does not depend on join order details.
        let (root, child) = if ra < rb { (ra, rb) } else { (rb, ra) };
        for slot in 0..STRONG_KINDS.len() {
            if self.values[root][slot].is_none() {
                self.values[root][slot] = self.values[child][slot];
            }
        }
        self.parent[child] = root;
        true
    }
}

/// The profile id of a cluster: derived from its smallest member reference, so it is the same
/// on every run over the same records.
fn profile_id_for(reference: &RecordRef) -> ProfileId {
    let digest = Sha256::digest(format!("{}/{}", reference.source, reference.key).as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    ProfileId::new(format!("p-{hex}"))
}

/// The strong-identifier values a record vouches for, one per kind. A record that itself holds
/// two values of one kind vouches for neither of them.
fn vouched_values(facts: &RecordFacts) -> [Option<&str>; STRONG_KINDS.len()] {
    let mut values = [None; STRONG_KINDS.len()];
    let mut conflicting = [false; STRONG_KINDS.len()];
    for (kind, value) in &facts.strong_ids {
        let Some(slot) = kind_slot(*kind) else {
            continue;
        };
        match values[slot] {
            None => values[slot] = Some(value.as_str()),
            Some(existing) if existing != value => conflicting[slot] = true,
            Some(_) => {}
        }
    }
    for slot in 0..STRONG_KINDS.len() {
        if conflicting[slot] {
            values[slot] = None;
        }
    }
    values
}

/// Resolves records into profiles by strong identifiers.
pub fn resolve(records: &[RecordFacts]) -> Resolution {
    // Work on positions in a canonical order so the outcome does not depend on the caller's.
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&a, &b| records[a].reference.cmp(&records[b].reference));
    let values: Vec<_> = order
        .iter()
        .map(|&index| vouched_values(&records[index]))
        .collect();

    let mut groups: BTreeMap<(IdKind, &str), Vec<usize>> = BTreeMap::new();
    for (position, record_values) in values.iter().enumerate() {
        for (slot, value) in record_values.iter().enumerate() {
            if let Some(value) = value {
                groups
                    .entry((STRONG_KINDS[slot], value))
                    .or_default()
                    .push(position);
            }
        }
    }
    let mut clusters = Clusters {
        parent: (0..records.len()).collect(),
        values,
    };
    let mut refused_joins = 0;
    for members in groups.values() {
        for &member in &members[1..] {
            if !clusters.join(members[0], member) {
                refused_joins += 1;
            }
        }
    }

    let mut profiles = vec![ProfileId::new(String::new()); records.len()];
    for (position, &index) in order.iter().enumerate() {
        let root = clusters.find(position);
        profiles[index] = profile_id_for(&records[order[root]].reference);
    }
    Resolution {
        profiles,
        refused_joins,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_model::{Identifier, RecordKey, SourceId};

    fn facts(source: &str, key: &str, ids: &[(IdKind, &str)]) -> RecordFacts {
        let reference = RecordRef {
            source: SourceId::new(source).unwrap(),
            key: RecordKey::new(key).unwrap(),
            version: 1,
        };
        let attributes: Vec<Attribute> = ids
            .iter()
            .map(|(kind, value)| Attribute::Identifier(Identifier::parse(*kind, value)))
            .collect();
        RecordFacts::from_attributes(reference, &attributes)
    }

    fn same(resolution: &Resolution, a: usize, b: usize) -> bool {
        resolution.profiles[a] == resolution.profiles[b]
    }

    #[test]
    fn shared_strong_identifiers_join_and_invalid_ones_do_not() {
        let records = vec![
            facts(
                "tax",
                "1",
                &[
                    (IdKind::Snils, "112-233-445 95"),
                    (IdKind::Inn, "500100732259"),
                ],
            ),
            facts("health", "9", &[(IdKind::Snils, "11223344595")]),
            facts("migration", "5", &[(IdKind::Inn, "500100732259")]),
            // A SNILS with a broken check number is not evidence.
            facts("school", "3", &[(IdKind::Snils, "112-233-445 96")]),
            facts("school", "4", &[(IdKind::Snils, "112-233-445 96")]),
        ];
        let resolution = resolve(&records);
        assert!(same(&resolution, 0, 1) && same(&resolution, 0, 2));
        assert!(!same(&resolution, 0, 3) && !same(&resolution, 3, 4));
        assert_eq!(resolution.refused_joins, 0);
    }

    #[test]
    fn two_different_valid_snils_never_merge() {
        // A relative's SNILS typed onto record 1 would chain two people through the shared INN.
        let records = vec![
            facts(
                "tax",
                "1",
                &[
                    (IdKind::Inn, "500100732259"),
                    (IdKind::Snils, "112-233-445 95"),
                ],
            ),
            facts(
                "health",
                "2",
                &[
                    (IdKind::Inn, "500100732259"),
                    (IdKind::Snils, "001-001-999 65"),
                ],
            ),
        ];
        let resolution = resolve(&records);
        assert!(!same(&resolution, 0, 1));
        assert_eq!(resolution.refused_joins, 1);
    }

    #[test]
    fn profiles_do_not_depend_on_input_order() {
        let records = vec![
            facts("a", "1", &[(IdKind::Snils, "112-233-445 95")]),
            facts(
                "b",
                "2",
                &[
                    (IdKind::Snils, "112-233-445 95"),
                    (IdKind::Inn, "500100732259"),
                ],
            ),
            facts("c", "3", &[(IdKind::Inn, "500100732259")]),
            facts("d", "4", &[(IdKind::Inn, "7707083893")]),
        ];
        let forward = resolve(&records);
        let mut reversed_input = records.clone();
        reversed_input.reverse();
        let mut backward = resolve(&reversed_input).profiles;
        backward.reverse();
        assert_eq!(forward.profiles, backward);
        assert_eq!(forward.profiles[0], profile_id_for(&records[0].reference));
    }
}
