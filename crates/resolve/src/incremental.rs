//! Incremental resolution: one new record at a time, against the profiles already built, without
//! re-running the batch.
//!
//! The same rules as the batch, applied to one record: its blocking keys find candidates in an
//! in-memory key index (blocks over the size limit behave as in the batch: identity keys
//! through a hub, common names not at all); each candidate is scored with the batch's model;
//! links are taken as the batch takes them (those that name their person, by an identifier or
//! an employer's personnel number, first; each tier strongest first), each merging the new
//! record's cluster into a candidate's profile only if the profile stays coherent. A record that
//! links to two profiles joins them, under the same coherence rule. What the batch does in a second phase (attaching a dateless
//! profile by a whole name that exactly one dated and one undated profile carry) is done here
//! each time a record under that name arrives, against the registry as it is then: a namesake
//! arriving later cannot undo an attachment, so the next batch run may judge differently.
//! Which sources keep one record per person (registers, see `cluster.rs`) is judged from all
//! of a batch run's links, so record by record it is not applied, nor is the tie between two
//! persons' records (a register's, or two with different passports or SNILS) that keeps a
//! record off both; the next batch run applies them.

use std::collections::HashMap;

use crate::blocking::{HUB_SIZE, IDENTITY_FAMILIES, MAX_BLOCK, NAME_PAIR_FAMILY, keys_of};
use crate::cluster::{Clusters, Grounds, Merge, name_key};
use crate::compare::compare;
use crate::features::RecordFacts;
use crate::model::Model;
use crate::model::{corroborated, identifies};

/// What resolving one record did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub candidates: u32,
    pub links: u32,
    /// Profiles the record joined (0: it starts a profile of its own; 2+: it joined them).
    pub joined: u32,
}

/// An index of records and their profiles that new records are resolved against.
pub struct Incremental<'m> {
    model: &'m Model,
    records: Vec<RecordFacts>,
    keys: HashMap<u64, Vec<u32>>,
    /// The records under each (surname, given name), for the unique-name attachment.
    names: HashMap<(String, String), Vec<u32>>,
    clusters: Clusters,
}

impl<'m> Incremental<'m> {
    pub fn new(model: &'m Model) -> Incremental<'m> {
        Incremental {
            model,
            records: Vec::new(),
            keys: HashMap::new(),
            names: HashMap::new(),
            clusters: Clusters::new(),
        }
    }

    /// Adds records that already form one profile (from an earlier run), without resolving them.
    pub fn seed(&mut self, profile: Vec<RecordFacts>) {
        let mut first = None;
        for record in profile {
            let i = self.add(record);
            match first {
                None => first = Some(i),
                // Force: an earlier run decided these are one person.
                Some(f) => {
                    let _ =
                        self.clusters
                            .try_merge(&self.records, self.model, f, i, Grounds::Decided);
                }
            }
        }
    }

    /// Adds a record as a profile of its own without resolving it; returns its position.
    pub fn push(&mut self, record: RecordFacts) -> u32 {
        self.add(record)
    }

    /// The records carrying `record`'s (surname, given name): the only ones besides its
    /// candidates whose profiles resolving it can join (by the unique-name attachment).
    pub fn namesakes(&self, record: &RecordFacts) -> Vec<u32> {
        name_key(record)
            .and_then(|(a, b)| self.names.get(&(a.to_string(), b.to_string())))
            .cloned()
            .unwrap_or_default()
    }

    /// Puts the records at `i` and `j` on one profile, unconditionally: the store says so.
    pub fn join(&mut self, i: u32, j: u32) {
        self.clusters.join(i, j);
    }

    fn add(&mut self, record: RecordFacts) -> u32 {
        let i = self.clusters.push(&record);
        for key in keys_of(&record) {
            self.keys.entry(key).or_default().push(i);
        }
        if let Some((a, b)) = name_key(&record) {
            let key = (a.to_string(), b.to_string());
            self.names.entry(key).or_default().push(i);
        }
        self.records.push(record);
        i
    }

    /// The batch's unique-name phase for the name of record `i`, on the registry as it is now:
    /// if exactly one dated profile and one undated profile carry the name, and a record of each
    /// agrees with the other on the whole name (patronymic included) and on nothing else, the
    /// two profiles merge unless any of their records contradict each other. A name shared by
    /// many records is common, as in the batch, and never attaches.
    fn attach_by_unique_name(&mut self, i: u32) -> bool {
        let record = &self.records[i as usize];
        let Some((a, b)) = name_key(record) else {
            return false;
        };
        let Some(carriers) = self.names.get(&(a.to_string(), b.to_string())) else {
            return false;
        };
        let carriers = carriers.clone();
        let on_dated_profile: Vec<bool> = carriers
            .iter()
            .map(|&c| {
                let root = self.clusters.find(c);
                self.clusters.is_dated(root)
            })
            .collect();
        // The first pair, in arrival order, of a record on an undated profile and a dated record
        // that agree on the whole name and on nothing else.
        let mut pair = None;
        'search: for (&x, &x_dated) in carriers.iter().zip(&on_dated_profile) {
            let rx = &self.records[x as usize];
            if x_dated || rx.patronymic.is_none() {
                continue;
            }
            for &y in &carriers {
                let ry = &self.records[y as usize];
                if ry.birth.is_none() || rx.patronymic != ry.patronymic {
                    continue;
                }
                let comparison = compare(rx, ry);
                if self.model.score(rx, ry, &comparison).veto.is_none()
                    && !corroborated(&comparison)
                {
                    pair = Some((x, y));
                    break 'search;
                }
            }
        }
        let Some((x, y)) = pair else {
            return false;
        };
        if !self
            .clusters
            .named_uniquely(&self.records, self.model, &carriers, (x, y))
        {
            return false;
        }
        matches!(
            self.clusters
                .try_merge(&self.records, self.model, x, y, Grounds::UniqueName),
            Merge::Done
        )
    }

    /// The records already added that share a blocking key with `record`, as the batch would
    /// pair them, in position order.
    pub fn candidates(&self, record: &RecordFacts) -> Vec<u32> {
        let mut found = Vec::new();
        for key in keys_of(record) {
            let Some(block) = self.keys.get(&key) else {
                continue;
            };
            let family = key >> 56;
            let block: &[u32] = if block.len() < MAX_BLOCK {
                block
            } else if IDENTITY_FAMILIES.contains(&family) {
                &block[..HUB_SIZE]
            } else {
                continue;
            };
            for &c in block {
                let mixed = self.records[c as usize].birth.is_some() != record.birth.is_some();
                if family != NAME_PAIR_FAMILY || mixed {
                    found.push(c);
                }
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Resolves one new record against everything added so far, then adds it.
    pub fn resolve(&mut self, record: RecordFacts) -> Placement {
        let candidates = self.candidates(&record);
        // As in the batch: the links that name their person first, each tier strongest first.
        let mut links: Vec<(bool, f64, u32)> = candidates
            .iter()
            .filter_map(|&c| {
                let other = &self.records[c as usize];
                let comparison = compare(&record, other);
                let score = self.model.score(&record, other, &comparison);
                score
                    .links()
                    .then_some((identifies(&comparison), score.weight, c))
            })
            .collect();
        links.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)));
        let i = self.add(record);
        let mut joined = 0;
        for &(_, _, c) in &links {
            if matches!(
                self.clusters
                    .try_merge(&self.records, self.model, i, c, Grounds::Link),
                Merge::Done
            ) {
                joined += 1;
            }
        }
        if self.attach_by_unique_name(i) {
            joined += 1;
        }
        Placement {
            candidates: candidates.len() as u32,
            links: links.len() as u32,
            joined,
        }
    }

    /// The profile (cluster root position) of the record at position `i`.
    pub fn root(&mut self, i: u32) -> u32 {
        self.clusters.find(i)
    }

    /// The learned model records are scored with.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// The profile (cluster root position) of every record, in the order they were added.
    pub fn roots(&mut self) -> Vec<u32> {
        (0..self.records.len() as u32)
            .map(|i| self.clusters.find(i))
            .collect()
    }

    /// The records in the order they were added.
    pub fn records(&self) -> &[RecordFacts] {
        &self.records
    }
}
