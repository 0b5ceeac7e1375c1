//! Clustering scored pairs into profiles without chaining strangers.
//!
//! Links above the threshold are taken strongest first. Two clusters merge only if the merged
//! profile stays coherent as a whole: it would not hold two different valid values of one strong
//! identifier kind, no more of the record pairs across the two clusters are vetoed
//! (clearly different given names, birth dates or sex) than not, and the evidence of the other cross
//! pairs (their weights without the prior) is, on average, not against the merge. So a family sharing a phone and an address, or a child's record carrying a parent's
//! phone, does not pull two people into one profile through one weak link.

use std::collections::{HashMap, HashSet};

use tessera_model::IdKind;

use crate::compare::compare;
use crate::features::RecordFacts;
use crate::model::Model;

/// A scored link between two records: `(weight in bits, i, j)` with `i < j`.
pub(crate) type Link = (f64, u32, u32);

/// Cross pairs checked per side when two clusters merge; larger clusters are checked on an
/// evenly spread sample of this many members.
const COHERENCE_SAMPLE: usize = 24;

/// What clustering did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClusterStats {
    pub links_considered: u64,
    pub merges: u64,
    /// Merges refused because the profile would hold two values of one strong identifier kind.
    pub refused_strong_conflict: u64,
    /// Merges refused because records across the two clusters contradict each other.
    pub refused_incoherent: u64,
    /// Profiles without a birth date attached by a name that exactly one dated profile carries.
    pub attached_by_unique_name: u64,
    /// Merges a steward asked for ("the same person").
    pub steward_merges: u64,
    /// Merges refused because a steward said "not the same person".
    pub refused_by_steward: u64,
}

/// A steward's decisions, as pairs of record positions.
#[derive(Clone, Debug, Default)]
pub(crate) struct StewardPairs {
    pub(crate) same: Vec<(u32, u32)>,
    pub(crate) different: Vec<(u32, u32)>,
}

pub(crate) struct Clusters {
    parent: Vec<u32>,
    members: Vec<Vec<u32>>,
    strong: Vec<Vec<(IdKind, String)>>,
    /// Whether any record of the cluster has a birth date.
    dated: Vec<bool>,
    /// Records a steward said are not this cluster's person.
    apart: Vec<Vec<u32>>,
}

/// Why two clusters are to be merged: it decides how much contradiction the merge tolerates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grounds {
    /// A steward said "the same", or an earlier run put the records on one profile: no
    /// coherence check, only strong-identifier conflicts and a steward's "not the same" refuse.
    Decided,
    /// A corroborated link: refused when most cross pairs are vetoed (a garbled record is
    /// outvoted by the person's other records) or the other cross pairs' evidence is against.
    Link,
    /// Only a name that one dated profile carries: refused by any vetoed cross pair, since the
    /// name is all the evidence there is.
    UniqueName,
}

pub(crate) enum Merge {
    Done,
    Already,
    StrongConflict,
    Incoherent,
    StewardApart,
}

/// The two name parts in a fixed order, so that swapped orders meet.
pub(crate) fn name_key(record: &RecordFacts) -> Option<(&str, &str)> {
    let (s, g) = (record.surname.as_deref()?, record.given.as_deref()?);
    Some(if s <= g { (s, g) } else { (g, s) })
}

impl Clusters {
    pub(crate) fn new() -> Clusters {
        Clusters {
            parent: Vec::new(),
            members: Vec::new(),
            strong: Vec::new(),
            dated: Vec::new(),
            apart: Vec::new(),
        }
    }

    /// Adds a record as a cluster of its own; returns its position.
    pub(crate) fn push(&mut self, record: &RecordFacts) -> u32 {
        let i = self.parent.len() as u32;
        self.parent.push(i);
        self.members.push(vec![i]);
        self.strong.push(record.strong_ids.clone());
        self.dated.push(record.birth.is_some());
        self.apart.push(Vec::new());
        i
    }

    /// Merges the clusters of `i` and `j` if the result stays coherent; says what happened.
    /// How much contradiction is tolerated depends on the [`Grounds`]; a strong-identifier
    /// conflict or a steward's "not the same" always refuses.
    pub(crate) fn try_merge(
        &mut self,
        records: &[RecordFacts],
        model: &Model,
        i: u32,
        j: u32,
        grounds: Grounds,
    ) -> Merge {
        let (ra, rb) = (self.find(i), self.find(j));
        if ra == rb {
            return Merge::Already;
        }
        let kept_apart = |this: &mut Clusters, from: u32, to: u32| {
            let apart = this.apart[from as usize].clone();
            apart.into_iter().any(|x| this.find(x) == to)
        };
        if kept_apart(self, ra, rb) || kept_apart(self, rb, ra) {
            return Merge::StewardApart;
        }
        if strong_conflict(&self.strong[ra as usize], &self.strong[rb as usize]) {
            return Merge::StrongConflict;
        }
        if grounds != Grounds::Decided
            && let Some(refusal) = self.incoherent(records, model, ra, rb, grounds)
        {
            return refusal;
        }
        self.merge(ra, rb);
        Merge::Done
    }

    /// Why merging clusters `ra` and `rb` would make a profile contradict itself, if it would.
    fn incoherent(
        &self,
        records: &[RecordFacts],
        model: &Model,
        ra: u32,
        rb: u32,
        grounds: Grounds,
    ) -> Option<Merge> {
        let (mut weight_sum, mut pairs, mut vetoed) = (0.0, 0u32, 0u32);
        for a in sample(&self.members[ra as usize]) {
            for b in sample(&self.members[rb as usize]) {
                let (x, y) = (&records[a as usize], &records[b as usize]);
                let comparison = compare(x, y);
                match crate::model::veto(&comparison) {
                    Some(crate::model::Veto::StrongIdConflict) => {
                        return Some(Merge::StrongConflict);
                    }
                    Some(_) => vetoed += 1,
                    None => weight_sum += model.evidence(x, y, &comparison),
                }
                pairs += 1;
            }
        }
        // A record with a garbled or replaced name or date should not keep a person's records
        // apart, but when most of the cross pairs say "different people", they are. Twins and
        // namesakes contradict each other on every record, a garbled record only on its own.
        let agreeing = pairs - vetoed;
        let contradicted = match grounds {
            Grounds::UniqueName => vetoed > 0,
            Grounds::Decided | Grounds::Link => vetoed > agreeing,
        };
        if contradicted || weight_sum / f64::from(agreeing.max(1)) < 0.0 {
            return Some(Merge::Incoherent);
        }
        None
    }

    fn merge(&mut self, ra: u32, rb: u32) {
        // Merge the smaller cluster into the larger.
        let (root, child) = if self.members[ra as usize].len() >= self.members[rb as usize].len() {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let moved = std::mem::take(&mut self.members[child as usize]);
        self.members[root as usize].extend(moved);
        let moved_ids = std::mem::take(&mut self.strong[child as usize]);
        let root_ids = &mut self.strong[root as usize];
        for id in moved_ids {
            if !root_ids.contains(&id) {
                root_ids.push(id);
            }
        }
        self.dated[root as usize] |= self.dated[child as usize];
        let moved_apart = std::mem::take(&mut self.apart[child as usize]);
        self.apart[root as usize].extend(moved_apart);
        self.parent[child as usize] = root;
    }

    /// Whether any record of the cluster rooted at `root` has a birth date.
    pub(crate) fn is_dated(&self, root: u32) -> bool {
        self.dated[root as usize]
    }

    pub(crate) fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let grandparent = self.parent[self.parent[i as usize] as usize];
            self.parent[i as usize] = grandparent;
            i = grandparent;
        }
        i
    }
}

fn sample(members: &[u32]) -> impl Iterator<Item = u32> + '_ {
    let step = members.len().div_ceil(COHERENCE_SAMPLE).max(1);
    members.iter().step_by(step).copied()
}

fn strong_conflict(a: &[(IdKind, String)], b: &[(IdKind, String)]) -> bool {
    a.iter()
        .any(|(kind, value)| b.iter().any(|(k, v)| k == kind && v != value))
}

/// Clusters records given their links `(weight, i, j)`, sorted strongest first: `links` are
/// corroborated, `name_links` agree on names alone. Returns the cluster root of every record.
///
/// Phase one merges along `links`. Phase two attaches a profile with no birth date (typically an
/// employer's weekly reports) along a name-only link to a dated profile, but only when the two
/// records agree on the whole name, patronymic included; that dated profile is the one and only
/// dated profile in the whole registry with that surname and given name, and the undated
/// profile the only one without a date; and no record across the two contradicts another: a
/// name that is unique among dated profiles identifies its person.
pub(crate) fn cluster(
    records: &[RecordFacts],
    model: &Model,
    links: &[Link],
    name_links: &[Link],
    steward: &StewardPairs,
) -> (Vec<u32>, ClusterStats) {
    let n = records.len();
    let mut clusters = Clusters {
        parent: (0..n as u32).collect(),
        members: (0..n as u32).map(|i| vec![i]).collect(),
        strong: records.iter().map(|r| r.strong_ids.clone()).collect(),
        dated: records.iter().map(|r| r.birth.is_some()).collect(),
        apart: vec![Vec::new(); n],
    };
    let mut stats = ClusterStats::default();
    // A steward's decisions come first: "not the same" binds every later merge, and "the same"
    // merges before any link is looked at.
    for &(i, j) in &steward.different {
        clusters.apart[i as usize].push(j);
        clusters.apart[j as usize].push(i);
    }
    for &(i, j) in &steward.same {
        match clusters.try_merge(records, model, i, j, Grounds::Decided) {
            Merge::Done => stats.steward_merges += 1,
            Merge::StewardApart => stats.refused_by_steward += 1,
            Merge::StrongConflict => stats.refused_strong_conflict += 1,
            Merge::Already | Merge::Incoherent => {}
        }
    }
    for &(_, i, j) in links {
        stats.links_considered += 1;
        match clusters.try_merge(records, model, i, j, Grounds::Link) {
            Merge::Done => stats.merges += 1,
            Merge::Already => {}
            Merge::StrongConflict => stats.refused_strong_conflict += 1,
            Merge::Incoherent => stats.refused_incoherent += 1,
            Merge::StewardApart => stats.refused_by_steward += 1,
        }
    }

    // How many distinct dated profiles carry each name, over every record, not only candidates:
    // blocking skips the pairs of common names, so links alone would undercount them.
    // Likewise the profiles holding a record without a birth date under each name: a name one
    // dated profile carries identifies its person only if one undated profile carries it too.
    // Two undated profiles under one name (two employers' reports, each with its own personnel
    // number and phone), or a dated profile that already holds undated records under the name,
    // are two namesakes, and which of them the dated profile is, the name cannot tell.
    let mut dated_profiles: HashMap<(&str, &str), HashSet<u32>> = HashMap::new();
    let mut undated_carriers: HashMap<(&str, &str), HashSet<u32>> = HashMap::new();
    for (i, record) in records.iter().enumerate() {
        if let Some(key) = name_key(record) {
            let root = clusters.find(i as u32);
            if clusters.dated[root as usize] {
                dated_profiles.entry(key).or_default().insert(root);
            }
            if record.birth.is_none() {
                undated_carriers.entry(key).or_default().insert(root);
            }
        }
    }
    for &(_, i, j) in name_links {
        // The whole name, patronymic included: surname and given name alone recur too often
        // (a parent's namesake child, a worker whose own dated records are missing).
        let patronymic = records[i as usize].patronymic.as_deref();
        if patronymic.is_none() || patronymic != records[j as usize].patronymic.as_deref() {
            continue;
        }
        let (ri, rj) = (clusters.find(i), clusters.find(j));
        let (undated, dated) = match (clusters.dated[ri as usize], clusters.dated[rj as usize]) {
            (false, true) => (i, rj),
            (true, false) => (j, ri),
            _ => continue,
        };
        let Some(key) = name_key(&records[undated as usize]) else {
            continue;
        };
        let undated_root = clusters.find(undated);
        let unique = dated_profiles
            .get(&key)
            .is_some_and(|roots| roots.len() == 1 && roots.contains(&dated))
            && undated_carriers
                .get(&key)
                .is_some_and(|roots| roots.len() == 1 && roots.contains(&undated_root));
        if unique
            && matches!(
                clusters.try_merge(records, model, i, j, Grounds::UniqueName),
                Merge::Done
            )
        {
            stats.attached_by_unique_name += 1;
            let root = clusters.find(i);
            // The merged profile is dated now; keep the uniqueness table pointing at its root.
            for table in [&mut dated_profiles, &mut undated_carriers] {
                if let Some(roots) = table.get_mut(&key) {
                    roots.clear();
                    roots.insert(root);
                }
            }
        }
    }
    let roots = (0..n as u32).map(|i| clusters.find(i)).collect();
    (roots, stats)
}
