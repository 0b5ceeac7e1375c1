//! Stable profile ids: giving a new clustering the ids of the profiles it continues.
//!
//! An id, once given out, keeps pointing at the same person. A new cluster takes over the ids of
//! the previous profiles it holds most of; when it takes over several (a merge), the oldest id
//! survives and the others redirect to it. A previous profile that is now spread over several
//! clusters (a split) keeps its id with the part holding most of its records; the other parts
//! get new ids. A cluster that continues no previous profile gets a new id derived from its
//! smallest member, so re-running on unchanged records gives every profile the id it had.
//!
//! The clustering itself never looks at previous ids: profiles are a function of the records;
//! only their names carry history.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;

use tessera_model::ProfileId;

use crate::batch::profile_id_for;
use crate::features::RecordFacts;

/// What happened to a profile in one resolution run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProfileChange {
    Created {
        profile: ProfileId,
    },
    /// `from` was merged into `into`; `from` now redirects to `into`.
    Merged {
        from: ProfileId,
        into: ProfileId,
    },
    /// Records of `from` left it and became (part of) the new profile `new`.
    Split {
        from: ProfileId,
        new: ProfileId,
    },
}

/// Names clusters. `roots[i]` is the cluster of record `i`, `previous[i]` its profile before this
/// run, and `created[p]` the run in which profile `p` was created (smaller is older).
pub fn assign_stable_ids(
    records: &[RecordFacts],
    roots: &[u32],
    previous: &[Option<ProfileId>],
    created: &HashMap<ProfileId, u64>,
) -> (Vec<ProfileId>, Vec<ProfileChange>) {
    // How many records of each previous profile each cluster holds.
    let mut holdings: BTreeMap<&ProfileId, BTreeMap<u32, u64>> = BTreeMap::new();
    for (i, old) in previous.iter().enumerate() {
        if let Some(old) = old {
            *holdings
                .entry(old)
                .or_default()
                .entry(roots[i])
                .or_default() += 1;
        }
    }
    // The cluster holding most of each previous profile (the smallest root on a tie) inherits it.
    let mut inherits: BTreeMap<u32, Vec<&ProfileId>> = BTreeMap::new();
    for (old, clusters) in &holdings {
        let (&heir, _) = clusters
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .expect("a previous profile has at least one record");
        inherits.entry(heir).or_default().push(old);
    }
    // The smallest member of each cluster (records arrive in canonical order), by root: roots
    // are record positions, so a vector indexed by root replaces a map over millions.
    let mut smallest: Vec<Option<usize>> = vec![None; roots.len()];
    for (i, &root) in roots.iter().enumerate() {
        smallest[root as usize].get_or_insert(i);
    }

    let mut taken: HashSet<ProfileId> = created.keys().cloned().collect();
    let mut names: Vec<Option<ProfileId>> = vec![None; roots.len()];
    let mut changes = Vec::new();
    for (root, first) in smallest
        .iter()
        .enumerate()
        .filter_map(|(root, first)| Some((root as u32, (*first)?)))
    {
        let name = match inherits.get(&root) {
            Some(olds) => {
                let survivor = olds
                    .iter()
                    .min_by_key(|id| {
                        (
                            created.get(**id).copied().unwrap_or(u64::MAX),
                            (**id).clone(),
                        )
                    })
                    .expect("a cluster inherits at least one id");
                for other in olds.iter().filter(|id| **id != *survivor) {
                    changes.push(ProfileChange::Merged {
                        from: (*other).clone(),
                        into: (*survivor).clone(),
                    });
                }
                (*survivor).clone()
            }
            None => {
                let mut id = profile_id_for(&records[first].reference);
                let mut n = 1u32;
                while taken.contains(&id) {
                    id = ProfileId::new(format!(
                        "{}-{n}",
                        profile_id_for(&records[first].reference)
                    ));
                    n += 1;
                }
                taken.insert(id.clone());
                changes.push(ProfileChange::Created {
                    profile: id.clone(),
                });
                for (old, clusters) in &holdings {
                    if clusters.contains_key(&root) {
                        changes.push(ProfileChange::Split {
                            from: (*old).clone(),
                            new: id.clone(),
                        });
                    }
                }
                id
            }
        };
        names[root as usize] = Some(name);
    }
    changes.par_sort_unstable();
    let ids = roots
        .iter()
        .map(|&root| {
            names[root as usize]
                .clone()
                .expect("every root is named: a root is a member of its own cluster")
        })
        .collect();
    (ids, changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_model::{RecordKey, RecordRef, SourceId};

    fn records(n: usize) -> Vec<RecordFacts> {
        (0..n)
            .map(|i| {
                RecordFacts::empty(RecordRef {
                    source: SourceId::new("s").unwrap(),
                    key: RecordKey::new(&format!("{i:03}")).unwrap(),
                    version: 1,
                })
            })
            .collect()
    }

    fn p(id: &str) -> ProfileId {
        ProfileId::new(id.into())
    }

    #[test]
    fn unchanged_clusters_keep_their_ids() {
        let recs = records(4);
        let roots = [0, 0, 2, 2];
        let (first, changes) =
            assign_stable_ids(&recs, &roots, &[None, None, None, None], &HashMap::new());
        assert_eq!(changes.len(), 2);
        let created: HashMap<ProfileId, u64> = first.iter().map(|id| (id.clone(), 1)).collect();
        let previous: Vec<Option<ProfileId>> = first.iter().cloned().map(Some).collect();
        let (second, changes) = assign_stable_ids(&recs, &roots, &previous, &created);
        assert_eq!(first, second);
        assert!(changes.is_empty());
    }

    #[test]
    fn on_a_merge_the_older_id_survives() {
        let recs = records(3);
        let previous = [Some(p("young")), Some(p("old")), Some(p("old"))];
        let created = HashMap::from([(p("young"), 5), (p("old"), 2)]);
        let (ids, changes) = assign_stable_ids(&recs, &[0, 0, 0], &previous, &created);
        assert_eq!(ids, [p("old"), p("old"), p("old")]);
        assert_eq!(
            changes,
            [ProfileChange::Merged {
                from: p("young"),
                into: p("old")
            }]
        );
    }

    #[test]
    fn on_a_split_the_larger_part_keeps_the_id() {
        let recs = records(3);
        let previous = [Some(p("a")), Some(p("a")), Some(p("a"))];
        let created = HashMap::from([(p("a"), 1)]);
        let (ids, changes) = assign_stable_ids(&recs, &[0, 1, 1], &previous, &created);
        assert_eq!((&ids[1], &ids[2]), (&p("a"), &p("a")));
        assert_ne!(ids[0], p("a"));
        assert_eq!(
            changes,
            [
                ProfileChange::Created {
                    profile: ids[0].clone()
                },
                ProfileChange::Split {
                    from: p("a"),
                    new: ids[0].clone()
                }
            ]
        );
    }

    #[test]
    fn a_new_id_never_reuses_a_retired_one() {
        let recs = records(2);
        let derived = profile_id_for(&recs[0].reference);
        // The derived id of record 0 belongs to an old profile that now continues elsewhere.
        let previous = [None, Some(derived.clone())];
        let created = HashMap::from([(derived.clone(), 1)]);
        let (ids, _) = assign_stable_ids(&recs, &[0, 1], &previous, &created);
        assert_eq!(ids[1], derived);
        assert_ne!(ids[0], derived);
    }
}
