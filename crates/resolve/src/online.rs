//! Online resolution: records arriving one by one (through the API) get a profile id at once,
//! and a person can be searched for by name and birth date.
//!
//! [`Online`] wraps an [`Incremental`] index with the ids of its profiles. Resolving a record
//! places it exactly as `Incremental::resolve` does, then names the result the way a batch run
//! would (`stable_ids.rs`): a record that joins one profile takes its id; one that joins
//! several merges them into the oldest id, and the others redirect to it; one that joins none
//! starts a profile named after it. Search scores a query, built from the same facts as a
//! record, against the candidates its blocking keys find, with the same model, and returns only
//! profiles whose evidence passes a floor: a surname alone never finds anyone.
//!
//! Several processes may resolve against one store. Each keeps its own `Online`, and before it
//! resolves it takes in what the others stored since ([`Online::absorb`],
//! [`Online::absorb_merge`]): the store, not the index, decides which profile a record is on.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tessera_model::ProfileId;

use crate::batch::profile_id_for;
use crate::compare::compare;
use crate::features::RecordFacts;
use crate::incremental::{Incremental, Placement};
use crate::stable_ids::ProfileChange;

/// What resolving one record online did.
#[derive(Clone, Debug, PartialEq)]
pub struct OnlinePlacement {
    pub profile: ProfileId,
    pub placement: Placement,
    /// Created, or merged profiles (each `from` now redirects to `into`).
    pub changes: Vec<ProfileChange>,
}

/// One profile found by a search, with the strongest evidence any of its records gave.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchHit {
    pub profile: ProfileId,
    /// The match weight in bits of the best-scoring record of the profile.
    pub weight: f64,
}

/// An incremental index whose profiles have ids.
pub struct Online<'m> {
    index: Incremental<'m>,
    /// The id of each profile, by its current root position.
    names: HashMap<u32, ProfileId>,
    /// The run each id was created in (smaller is older); ids created online count as newest.
    created: HashMap<ProfileId, u64>,
    taken: BTreeSet<ProfileId>,
    /// A record position on each live profile, to find the profile's cluster by its id.
    members: HashMap<ProfileId, u32>,
}

impl<'m> Online<'m> {
    /// `created` gives the creation run of every existing profile id, as the store keeps it.
    pub fn new(index: Incremental<'m>, created: HashMap<ProfileId, u64>) -> Online<'m> {
        let taken = created.keys().cloned().collect();
        Online {
            index,
            names: HashMap::new(),
            created,
            taken,
            members: HashMap::new(),
        }
    }

    /// Adds the records of one existing profile, under its id.
    pub fn seed(&mut self, profile: ProfileId, records: Vec<RecordFacts>) {
        if records.is_empty() {
            return;
        }
        let start = self.index.records().len() as u32;
        self.index.seed(records);
        let root = self.index.root(start);
        self.taken.insert(profile.clone());
        self.members.insert(profile.clone(), start);
        self.names.insert(root, profile);
    }

    /// Takes in a record that another process stored on `profile` (created in run
    /// `created_run` if it is new here): the record joins that profile's cluster, unresolved.
    pub fn absorb(&mut self, profile: ProfileId, created_run: u64, record: RecordFacts) {
        let position = self.index.push(record);
        match self.members.get(&profile).copied() {
            Some(member) => {
                let old_root = self.index.root(member);
                self.names.remove(&old_root);
                self.index.join(member, position);
                let root = self.index.root(position);
                self.names.insert(root, profile);
            }
            None => {
                self.created.entry(profile.clone()).or_insert(created_run);
                self.taken.insert(profile.clone());
                self.members.insert(profile.clone(), position);
                let root = self.index.root(position);
                self.names.insert(root, profile);
            }
        }
    }

    /// Takes in a merge another process stored: `from` joins `into` and is no longer a profile.
    pub fn absorb_merge(&mut self, from: &ProfileId, into: &ProfileId) {
        let (Some(a), Some(b)) = (
            self.members.get(from).copied(),
            self.members.get(into).copied(),
        ) else {
            return;
        };
        for position in [a, b] {
            let root = self.index.root(position);
            self.names.remove(&root);
        }
        self.index.join(a, b);
        let root = self.index.root(a);
        self.names.insert(root, into.clone());
        self.members.remove(from);
    }

    /// The profile a record position is on, by id.
    pub fn profile_of(&mut self, position: u32) -> Option<&ProfileId> {
        let root = self.index.root(position);
        self.names.get(&root)
    }

    /// Resolves a new record against everything so far and names its profile.
    pub fn resolve(&mut self, record: RecordFacts) -> OnlinePlacement {
        let reference = record.reference.clone();
        // Every profile the record can join: its candidates' and, through the unique-name
        // attachment, its namesakes'.
        let mut reachable = self.index.candidates(&record);
        reachable.extend(self.index.namesakes(&record));
        let before: BTreeSet<u32> = reachable.into_iter().map(|c| self.index.root(c)).collect();
        let placement = self.index.resolve(record);
        let position = self.index.records().len() as u32 - 1;
        let root = self.index.root(position);
        // The profiles the record joined: candidates' profiles that now share its root.
        let mut joined: Vec<ProfileId> = Vec::new();
        for old_root in before {
            if self.index.root(old_root) == root
                && let Some(name) = self.names.remove(&old_root)
            {
                joined.push(name);
            }
        }
        let mut changes = Vec::new();
        let profile = match joined
            .iter()
            .min_by_key(|id| {
                (
                    self.created.get(*id).copied().unwrap_or(u64::MAX),
                    (*id).clone(),
                )
            })
            .cloned()
        {
            Some(survivor) => {
                for other in joined.iter().filter(|id| **id != survivor) {
                    self.members.remove(other);
                    changes.push(ProfileChange::Merged {
                        from: other.clone(),
                        into: survivor.clone(),
                    });
                }
                survivor
            }
            None => {
                let base = profile_id_for(&reference);
                let mut id = base.clone();
                let mut n = 1u32;
                while self.taken.contains(&id) {
                    id = ProfileId::new(format!("{base}-{n}"));
                    n += 1;
                }
                self.taken.insert(id.clone());
                changes.push(ProfileChange::Created {
                    profile: id.clone(),
                });
                id
            }
        };
        self.names.insert(root, profile.clone());
        self.members.entry(profile.clone()).or_insert(position);
        OnlinePlacement {
            profile,
            placement,
            changes,
        }
    }

    /// The profiles whose records score at least `min_weight` bits against `query` with no veto
    /// and with evidence beyond the names, strongest first, at most `limit`.
    pub fn search(&mut self, query: &RecordFacts, min_weight: f64, limit: usize) -> Vec<SearchHit> {
        let model = self.index.model();
        let mut best: BTreeMap<u32, f64> = BTreeMap::new();
        for candidate in self.index.candidates(query) {
            let record = &self.index.records()[candidate as usize];
            let score = model.score(query, record, &compare(query, record));
            if score.weight < min_weight || score.veto.is_some() || !score.corroborated {
                continue;
            }
            let root = self.index.root(candidate);
            let entry = best.entry(root).or_insert(f64::NEG_INFINITY);
            *entry = entry.max(score.weight);
        }
        let mut hits: Vec<SearchHit> = best
            .into_iter()
            .filter_map(|(root, weight)| {
                self.names.get(&root).map(|profile| SearchHit {
                    profile: profile.clone(),
                    weight,
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then(a.profile.cmp(&b.profile))
        });
        hits.truncate(limit);
        hits
    }

    /// How many records the index holds.
    pub fn len(&self) -> usize {
        self.index.records().len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.records().is_empty()
    }
}
