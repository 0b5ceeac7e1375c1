//! Batch resolution: every record at once, from facts to profiles.
//!
//! Records are first put in a canonical order (by source, key, version), so that every later step
//! (blocking, training, the order links are taken in, profile ids) depends only on the records,
//! never on the order the caller gave them in.

use std::collections::HashMap;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use tessera_model::{ProfileId, RecordRef};

use crate::blocking::{BlockingStats, candidate_pairs};
use crate::cluster::{ClusterStats, Link, cluster};
use crate::compare::{Comparison, Field, compare};
use crate::features::RecordFacts;
use crate::model::Model;
use crate::stable_ids::{ProfileChange, assign_stable_ids};

/// A pair is linked when its match weight is at least this many bits: a posterior match
/// probability of 0.95.
pub const LINK_THRESHOLD_BITS: f64 = 4.25;

/// What a resolution run measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ResolveStats {
    pub records: u64,
    pub blocking: BlockingStats,
    /// Candidate pairs at or above the link threshold and not vetoed.
    pub links: u64,
    /// Candidate pairs at or above the threshold that a veto kept apart.
    pub vetoed_links: u64,
    /// Candidate pairs at or above the threshold on names (and employer) alone, not linked.
    pub uncorroborated_links: u64,
    pub clustering: ClusterStats,
}

/// The outcome of a resolution run.
#[derive(Clone, Debug)]
pub struct Resolution {
    /// The profile of each input record, in input order.
    pub profiles: Vec<ProfileId>,
    /// Profiles created, merged and split relative to the previous run.
    pub changes: Vec<ProfileChange>,
    pub stats: ResolveStats,
    pub model: Model,
}

/// What the previous runs left: each record's profile before this run (in input order) and the
/// run in which each existing profile was created.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub previous: Vec<Option<ProfileId>>,
    pub created: HashMap<ProfileId, u64>,
}

/// The profile id of a cluster: derived from its smallest member reference, so it is the same on
/// every run over the same records.
pub(crate) fn profile_id_for(reference: &RecordRef) -> ProfileId {
    let digest = Sha256::digest(format!("{}/{}", reference.source, reference.key).as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    ProfileId::new(format!("p-{hex}"))
}

/// Resolves records into profiles, as a first run with no history.
pub fn resolve(records: Vec<RecordFacts>) -> Resolution {
    resolve_with_history(records, &History::default())
}

/// Resolves records into profiles, naming them so that ids given out before stay with their
/// persons (see `stable_ids`).
pub fn resolve_with_history(records: Vec<RecordFacts>, history: &History) -> Resolution {
    let n = records.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| records[a].reference.cmp(&records[b].reference));
    let mut slots: Vec<Option<RecordFacts>> = records.into_iter().map(Some).collect();
    let records: Vec<RecordFacts> = order
        .iter()
        .map(|&i| slots[i].take().expect("each index once"))
        .collect();

    let (pairs, blocking) = candidate_pairs(&records);
    let comparisons: Vec<Comparison> = pairs
        .par_iter()
        .map(|&(i, j)| compare(&records[i as usize], &records[j as usize]))
        .collect();
    let model = Model::train(&records, &comparisons);

    // Corroborated pairs above the threshold are links. Pairs that agree exactly on surname and
    // given name and nothing else are name links, whatever their weight: for them, what counts
    // is whether the name is unique among dated profiles (see `cluster`).
    let scored: Vec<(f64, u32, u32, crate::model::PairScore, bool)> = pairs
        .par_iter()
        .zip(comparisons.par_iter())
        .filter_map(|(&(i, j), comparison)| {
            let score = model.score(&records[i as usize], &records[j as usize], comparison);
            let names_exact =
                comparison.level(Field::Surname) == 1 && comparison.level(Field::Given) == 1;
            let keep = score.weight >= LINK_THRESHOLD_BITS || (names_exact && !score.corroborated);
            keep.then_some((score.weight, i, j, score, names_exact))
        })
        .collect();
    let above = |s: &&(f64, u32, u32, crate::model::PairScore, bool)| s.0 >= LINK_THRESHOLD_BITS;
    let vetoed_links = scored
        .iter()
        .filter(above)
        .filter(|s| s.3.veto.is_some())
        .count() as u64;
    let uncorroborated_links = scored
        .iter()
        .filter(above)
        .filter(|s| s.3.veto.is_none() && !s.3.corroborated)
        .count() as u64;
    let by_strength =
        |a: &Link, b: &Link| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2));
    let (mut links, mut name_links): (Vec<Link>, Vec<Link>) = (Vec::new(), Vec::new());
    for (w, i, j, score, names_exact) in scored {
        match (score.veto, score.corroborated) {
            (None, true) if w >= LINK_THRESHOLD_BITS => links.push((w, i, j)),
            (None, false) if names_exact => name_links.push((w, i, j)),
            _ => {}
        }
    }
    links.par_sort_unstable_by(by_strength);
    name_links.par_sort_unstable_by(by_strength);

    let (roots, clustering) = cluster(&records, &model, &links, &name_links);
    let previous: Vec<Option<ProfileId>> = order
        .iter()
        .map(|&original| history.previous.get(original).cloned().flatten())
        .collect();
    let (canonical_ids, changes) = assign_stable_ids(&records, &roots, &previous, &history.created);
    let mut profiles = vec![ProfileId::new(String::new()); n];
    for (position, &original) in order.iter().enumerate() {
        profiles[original] = canonical_ids[position].clone();
    }
    let stats = ResolveStats {
        records: n as u64,
        blocking,
        links: links.len() as u64,
        vetoed_links,
        uncorroborated_links,
        clustering,
    };
    Resolution {
        profiles,
        changes,
        stats,
        model,
    }
}
