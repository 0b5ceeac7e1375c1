//! Batch resolution: every record at once, from facts to profiles.
//!
//! Records are first put in a canonical order (by source, key, version), so that every later step
//! (blocking, training, the order links are taken in, profile ids) depends only on the records,
//! never on the order the caller gave them in.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use tessera_model::{ProfileId, RecordKey, RecordRef, SourceId};

use crate::blocking::{BlockingStats, candidate_pairs};
use crate::cluster::{ClusterStats, Link, StewardPairs, cluster};
use crate::compare::{Comparison, EXACT, Field};
use crate::features::RecordFacts;
use crate::model::Model;
use crate::prefetch::compare_pairs;
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
    pub timings: PhaseTimings,
}

/// Where a batch run's time went, phase by phase (wall time, each phase on every core).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhaseTimings {
    /// Canonical order and candidate pairs.
    pub blocking: Duration,
    /// Comparing every candidate pair field by field.
    pub comparing: Duration,
    /// Learning the model (u from random pairs, m by expectation–maximisation).
    pub learning: Duration,
    /// Scoring and classifying the pairs, sorting the links.
    pub scoring: Duration,
    /// Clustering the links into profiles and choosing the review queue.
    pub clustering: Duration,
    /// Stable profile ids.
    pub naming: Duration,
}

impl PhaseTimings {
    /// The phases with their names, in the order they run.
    pub fn named(&self) -> [(&'static str, Duration); 6] {
        [
            ("blocking", self.blocking),
            ("comparing", self.comparing),
            ("learning", self.learning),
            ("scoring", self.scoring),
            ("clustering", self.clustering),
            ("naming", self.naming),
        ]
    }
}

/// Measures consecutive phases: each call returns the time since the previous one.
struct Lap(Instant);

impl Lap {
    fn next(&mut self) -> Duration {
        let now = Instant::now();
        let lap = now - self.0;
        self.0 = now;
        lap
    }
}

/// The outcome of a resolution run.
#[derive(Clone, Debug)]
pub struct Resolution {
    /// The profile of each input record, in input order.
    pub profiles: Vec<ProfileId>,
    /// Profiles created, merged and split relative to the previous run.
    pub changes: Vec<ProfileChange>,
    /// Uncertain pairs left on different profiles, strongest first, for a steward.
    pub review: Vec<ReviewPair>,
    pub stats: ResolveStats,
    pub model: Model,
}

/// What the previous runs left: each record's profile before this run (in input order), the
/// run in which each existing profile was created, and the steward's decisions in force.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub previous: Vec<Option<ProfileId>>,
    pub created: HashMap<ProfileId, u64>,
    pub decisions: Vec<StewardDecision>,
}

/// A steward's decision on two records, by source and key, so that it holds for every later
/// version of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StewardDecision {
    pub a: (SourceId, RecordKey),
    pub b: (SourceId, RecordKey),
    pub same: bool,
}

/// An uncertain pair: evidence leans towards one person (p ≥ 0.5) but not enough to link
/// (p < 0.95), or only names agree. A steward should look.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewPair {
    pub a: RecordRef,
    pub b: RecordRef,
    pub weight: f64,
}

/// Pairs whose weight is at least this (p ≥ 0.5) and not linked go to the review queue.
pub const REVIEW_FLOOR_BITS: f64 = 0.0;

/// The review queue holds at most this many pairs, the strongest first.
pub const MAX_REVIEW_PAIRS: usize = 10_000;

/// The profile id of a cluster: derived from its smallest member reference, so it is the same on
/// every run over the same records.
pub(crate) fn profile_id_for(reference: &RecordRef) -> ProfileId {
    let digest = Sha256::digest(format!("{}/{}", reference.source, reference.key).as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    ProfileId::new(format!("p-{hex}"))
}

/// Flags of what scoring decided about a candidate pair (see [`classify`]).
const LINK: u8 = 1;
const NAME_LINK: u8 = 2;
const UNCERTAIN: u8 = 4;
const VETOED_ABOVE: u8 = 8;
const UNCORROBORATED_ABOVE: u8 = 16;
/// A link that names its person (see [`crate::model::identifies`]): taken before the others.
const IDENTIFIED: u8 = 32;
/// An uncertain pair that agrees exactly on surname, given name and birth date: a namesake born
/// the same day, a rival to the record's link to another (see `cluster`'s tie between two
/// persons' records).
const RIVAL: u8 = 64;

/// What a pair's score makes of it: a link (corroborated, above the threshold, no veto), a name
/// link (names exact and nothing else agrees), an uncertain pair for the review queue (not
/// vetoed, p ≥ 0.5, not a link), a rival among those ([`RIVAL`]); and, for the statistics,
/// whether it was above the threshold but vetoed or uncorroborated. 0: nothing to keep.
fn classify(score: &crate::model::PairScore, comparison: &Comparison) -> u8 {
    let names_exact = comparison.level(Field::Surname) == 1 && comparison.level(Field::Given) == 1;
    let above = score.weight >= LINK_THRESHOLD_BITS;
    let mut class = 0;
    match (score.veto, score.corroborated) {
        (None, _) if score.links() => {
            class |= LINK;
            if crate::model::identifies(comparison) {
                class |= IDENTIFIED;
            }
        }
        (None, corroborated) => {
            if !corroborated && names_exact {
                class |= NAME_LINK;
            }
            if score.weight >= REVIEW_FLOOR_BITS {
                class |= UNCERTAIN;
                if [Field::BirthDate, Field::Surname, Field::Given]
                    .iter()
                    .all(|&field| comparison.level(field) == EXACT)
                {
                    class |= RIVAL;
                }
            }
            if above && !corroborated {
                class |= UNCORROBORATED_ABOVE;
            }
        }
        (Some(_), _) if above => class |= VETOED_ABOVE,
        (Some(_), _) => {}
    }
    class
}

/// Rearranges `items` in place so that position `k` holds what was at `order[k]`, by following
/// the permutation's cycles: no second copy of millions of records.
pub fn apply_order<T>(items: &mut [T], order: &[usize]) {
    let mut placed = vec![false; order.len()];
    for start in 0..order.len() {
        let mut k = start;
        while !placed[k] {
            placed[k] = true;
            let from = order[k];
            if from == start {
                break;
            }
            items.swap(k, from);
            k = from;
        }
    }
}

/// Learns the model exactly as a batch run over `records` would, without clustering: for
/// resolving new records one at a time against these.
pub fn learn(records: &[RecordFacts]) -> Model {
    // Records already in canonical order (as `tessera resolve --incremental` passes them) are
    // used as they are: a copy of millions of records is gigabytes.
    let canonical: std::borrow::Cow<'_, [RecordFacts]> =
        if records.is_sorted_by(|a, b| a.reference < b.reference) {
            std::borrow::Cow::Borrowed(records)
        } else {
            let mut copy = records.to_vec();
            copy.sort_by(|a, b| a.reference.cmp(&b.reference));
            std::borrow::Cow::Owned(copy)
        };
    let (pairs, _) = candidate_pairs(&canonical);
    let comparisons = compare_pairs(&canonical, &pairs);
    Model::train(&canonical, &comparisons)
}

/// Resolves records into profiles, as a first run with no history.
pub fn resolve(records: Vec<RecordFacts>) -> Resolution {
    resolve_with_history(records, &History::default())
}

/// Resolves records into profiles, naming them so that ids given out before stay with their
/// persons (see `stable_ids`).
pub fn resolve_with_history(records: Vec<RecordFacts>, history: &History) -> Resolution {
    let n = records.len();
    let mut lap = Lap(Instant::now());
    let mut timings = PhaseTimings::default();
    // Sorted on compact keys (in `RecordRef`'s order, ties by input position) rather than by
    // reaching into millions of records from the comparator.
    let mut keys: Vec<(&str, &str, u32, usize)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let reference = &r.reference;
            (
                reference.source.as_str(),
                reference.key.as_str(),
                reference.version,
                i,
            )
        })
        .collect();
    keys.par_sort_unstable();
    let order: Vec<usize> = keys.into_iter().map(|key| key.3).collect();
    let mut records = records;
    apply_order(&mut records, &order);

    let (pairs, blocking) = candidate_pairs(&records);
    timings.blocking = lap.next();
    let comparisons = compare_pairs(&records, &pairs);
    timings.comparing = lap.next();
    let model = Model::train(&records, &comparisons);
    timings.learning = lap.next();

    // Corroborated pairs above the threshold are links. Pairs that agree exactly on surname and
    // given name and nothing else are name links, whatever their weight: for them, what counts
    // is whether the name is unique among dated profiles (see `cluster`). Each pair is kept
    // only with what was decided about it, so that tens of millions of candidates do not each
    // hold a full score.
    let classified: Vec<(f64, u32, u32, u8)> = pairs
        .par_iter()
        .zip(comparisons.par_iter())
        .filter_map(|(&(i, j), comparison)| {
            let score = model.score(&records[i as usize], &records[j as usize], comparison);
            let class = classify(&score, comparison);
            (class != 0).then_some((score.weight, i, j, class))
        })
        .collect();
    drop(comparisons);
    drop(pairs);
    let count = |flag: u8| classified.iter().filter(|c| c.3 & flag != 0).count() as u64;
    let vetoed_links = count(VETOED_ABOVE);
    let uncorroborated_links = count(UNCORROBORATED_ABOVE);
    let by_strength =
        |a: &Link, b: &Link| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2));
    let mut identified: Vec<Link> = Vec::new();
    let mut links: Vec<Link> = Vec::new();
    let mut name_links: Vec<Link> = Vec::new();
    let mut uncertain: Vec<Link> = Vec::new();
    let mut rivals: Vec<Link> = Vec::new();
    for (w, i, j, class) in classified {
        if class & IDENTIFIED != 0 {
            identified.push((w, i, j));
        } else if class & LINK != 0 {
            links.push((w, i, j));
        }
        if class & NAME_LINK != 0 {
            name_links.push((w, i, j));
        }
        if class & UNCERTAIN != 0 {
            uncertain.push((w, i, j));
        }
        if class & RIVAL != 0 {
            rivals.push((w, i, j));
        }
    }
    uncertain.par_sort_unstable_by(by_strength);
    identified.par_sort_unstable_by(by_strength);
    links.par_sort_unstable_by(by_strength);
    // The links that name their person first, each tier strongest first.
    identified.append(&mut links);
    let links = identified;
    name_links.par_sort_unstable_by(by_strength);
    timings.scoring = lap.next();

    // A steward's decisions, by source and key, as record positions (the index only when
    // there are decisions: over millions of records it is not free).
    let position: HashMap<(&SourceId, &RecordKey), u32> = if history.decisions.is_empty() {
        HashMap::new()
    } else {
        records
            .iter()
            .enumerate()
            .map(|(i, r)| ((&r.reference.source, &r.reference.key), i as u32))
            .collect()
    };
    let mut steward = StewardPairs::default();
    let mut decided: HashSet<(u32, u32)> = HashSet::new();
    for decision in &history.decisions {
        let (Some(&i), Some(&j)) = (
            position.get(&(&decision.a.0, &decision.a.1)),
            position.get(&(&decision.b.0, &decision.b.1)),
        ) else {
            continue;
        };
        decided.insert((i.min(j), i.max(j)));
        if decision.same {
            steward.same.push((i, j))
        } else {
            steward.different.push((i, j))
        }
    }

    let (roots, clustering, ambiguous) =
        cluster(&records, &model, &links, &name_links, &rivals, &steward);
    // A link left out as ambiguous is exactly what a steward should look at.
    if !ambiguous.is_empty() {
        uncertain.extend(ambiguous);
        uncertain.par_sort_unstable_by(by_strength);
    }
    let mut review: Vec<ReviewPair> = uncertain
        .into_iter()
        .filter(|&(_, i, j)| roots[i as usize] != roots[j as usize] && !decided.contains(&(i, j)))
        .take(MAX_REVIEW_PAIRS)
        .map(|(weight, i, j)| ReviewPair {
            a: records[i as usize].reference.clone(),
            b: records[j as usize].reference.clone(),
            weight,
        })
        .collect();
    review.shrink_to_fit();
    timings.clustering = lap.next();
    let previous: Vec<Option<ProfileId>> = order
        .iter()
        .map(|&original| history.previous.get(original).cloned().flatten())
        .collect();
    let (canonical_ids, changes) = assign_stable_ids(&records, &roots, &previous, &history.created);
    let mut profiles = vec![ProfileId::new(String::new()); n];
    for (id, &original) in canonical_ids.into_iter().zip(&order) {
        profiles[original] = id;
    }
    timings.naming = lap.next();
    // Freeing millions of records' strings takes seconds; the caller can store the result
    // meanwhile.
    rayon::spawn(move || drop(records));
    let stats = ResolveStats {
        records: n as u64,
        blocking,
        links: links.len() as u64,
        vetoed_links,
        uncorroborated_links,
        clustering,
        timings,
    };
    Resolution {
        profiles,
        changes,
        review,
        stats,
        model,
    }
}

#[cfg(test)]
mod order_tests {
    use super::*;
    use tessera_model::{RecordKey, SourceId};

    #[test]
    fn into_order_applies_the_permutation() {
        let record = |key: &str| {
            RecordFacts::empty(RecordRef {
                source: SourceId::new("s").unwrap(),
                key: RecordKey::new(key).unwrap(),
                version: 1,
            })
        };
        let keys = ["d", "a", "e", "c", "b", "f"];
        let records: Vec<RecordFacts> = keys.iter().map(|k| record(k)).collect();
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by_key(|&i| keys[i]);
        let mut sorted = records;
        apply_order(&mut sorted, &order);
        let got: Vec<&str> = sorted.iter().map(|r| r.reference.key.as_str()).collect();
        assert_eq!(got, ["a", "b", "c", "d", "e", "f"]);
    }
}
