//! `tessera resolve`: read every current record, resolve, and store the profile assignments.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use rayon::prelude::*;
use tessera_model::{IdKind, ProfileId};
use tessera_resolve::{
    History, Incremental, Model, ProfileChange, RecordFacts, ResolveStats, StewardDecision,
    apply_order, assign_stable_ids, learn, resolve_with_history,
};
use tessera_store::{
    Assignment, NewChange, ProfileEvent, RecordId, ResolutionOutcome, ReviewItem, RunKind, Store,
    StoredRecord, arrival_changes, lookup_identifiers, may_change_on_arrival,
};

use crate::{Settings, count};

/// Records whose facts are extracted together, in parallel.
const FACTS_CHUNK: usize = 8192;

pub(crate) struct ResolveReport {
    pub(crate) records: u64,
    pub(crate) profiles: u64,
    pub(crate) stats: ResolveStats,
    pub(crate) elapsed: Duration,
    /// Reading the records, resolving them, storing the profiles.
    pub(crate) phases: [Duration; 3],
    pub(crate) changes: IdChanges,
    /// Uncertain pairs left for a steward.
    pub(crate) queued: u64,
}

/// How profile ids changed relative to the previous run.
#[derive(Default)]
pub(crate) struct IdChanges {
    pub(crate) created: u64,
    pub(crate) merged: u64,
    pub(crate) split: u64,
}

impl IdChanges {
    fn count(&mut self, change: &ProfileChange) {
        match change {
            ProfileChange::Created { .. } => self.created += 1,
            ProfileChange::Merged { .. } => self.merged += 1,
            ProfileChange::Split { .. } => self.split += 1,
        }
    }
}

impl ResolveReport {
    pub(crate) fn print(&self) {
        let s = &self.stats;
        let families: Vec<String> = tessera_resolve::KEY_FAMILIES
            .iter()
            .zip(s.blocking.pairs_by_family)
            .filter(|(_, pairs)| *pairs > 0)
            .map(|(family, pairs)| format!("{family} {}", count(pairs)))
            .collect();
        println!(
            "resolved {} records into {} profiles [{:.1}s: read {:.1}s, resolve {:.1}s, store {:.1}s]\n  {} candidate pairs ({} identity blocks over {} records paired through a hub, {} common-name blocks skipped; proposed by {}), {} links at p ≥ 0.95, {} vetoed, {} on names alone, {} dropped as ambiguous (as strong to another person's record)\n  {} merges, {} by a name unique among dated profiles, {} by a steward; refused: {} for conflicting identifiers, {} for records that contradict each other, {} by a steward",
            count(self.records),
            count(self.profiles),
            self.elapsed.as_secs_f64(),
            self.phases[0].as_secs_f64(),
            self.phases[1].as_secs_f64(),
            self.phases[2].as_secs_f64(),
            count(s.blocking.candidate_pairs),
            count(s.blocking.oversized_blocks),
            tessera_resolve::MAX_BLOCK,
            count(s.blocking.skipped_blocks),
            families.join(", "),
            count(s.links),
            count(s.vetoed_links),
            count(s.uncorroborated_links),
            count(s.clustering.ambiguous_links),
            count(s.clustering.merges),
            count(s.clustering.attached_by_unique_name),
            count(s.clustering.steward_merges),
            count(s.clustering.refused_strong_conflict),
            count(s.clustering.refused_incoherent),
            count(s.clustering.refused_by_steward),
        );
        let timings: Vec<String> = s
            .timings
            .named()
            .iter()
            .map(|(phase, took)| format!("{phase} {:.1}s", took.as_secs_f64()))
            .collect();
        println!("  resolve phases: {}", timings.join(", "));
        println!(
            "  profile ids: {} new, {} merged into an older profile (the old id redirects), {} split off; every other id kept",
            count(self.changes.created),
            count(self.changes.merged),
            count(self.changes.split),
        );
        println!(
            "  {} uncertain pairs wait for a steward: `tessera review`",
            count(self.queued)
        );
    }
}

pub(crate) fn run(context: &Settings) -> anyhow::Result<ResolveReport> {
    let store = context.open_store()?;
    let store = &*store;
    let report = resolve_store(store)?;
    report.print();
    Ok(report)
}

/// The current records, read once for resolution, aligned by position.
pub(crate) struct Loaded {
    pub(crate) facts: Vec<RecordFacts>,
    pub(crate) ids: Vec<RecordId>,
    pub(crate) identifiers: Vec<Vec<(IdKind, String)>>,
    /// Each record's profile before this run: its own, or for a new version of a record on a
    /// profile, that profile (the record's person did not change by being corrected).
    pub(crate) previous: Vec<Option<ProfileId>>,
    /// Whether the record (this version) is on a profile already; a new version is not, and
    /// needs storing on one even where its profile does not change.
    pub(crate) placed: Vec<bool>,
    /// The records no run has placed that may change the profile they land on (a dismissal, a
    /// permit's end; an address, once profiles exist): the run's change events come from them.
    pub(crate) arriving: Vec<StoredRecord>,
}

/// Reads every current record; facts (name skeletons above all) are extracted on every core, a
/// chunk at a time, in order.
pub(crate) fn load(store: &dyn Store) -> anyhow::Result<Loaded> {
    // Before the first run every profile is new, and a new profile's address is no change:
    // keeping every record's attributes for nothing would double a first run's memory.
    let profiles_exist = store.resolution_head()? > 0;
    let today = Utc::now().date_naive();
    let mut loaded = Loaded {
        facts: Vec::new(),
        ids: Vec::new(),
        identifiers: Vec::new(),
        previous: Vec::new(),
        placed: Vec::new(),
        arriving: Vec::new(),
    };
    let mut chunk: Vec<StoredRecord> = Vec::with_capacity(FACTS_CHUNK);
    let mut flush = |chunk: &mut Vec<StoredRecord>| {
        let extracted: Vec<RecordFacts> = chunk
            .par_iter()
            .map(|r| {
                RecordFacts::from_attributes(r.reference.clone(), r.observed_day(), &r.attributes)
            })
            .collect();
        loaded.facts.extend(extracted);
        for record in chunk.drain(..) {
            loaded.ids.push(record.id);
            loaded
                .identifiers
                .push(lookup_identifiers(&record.attributes));
            if record.profile.is_none()
                && may_change_on_arrival(&record.attributes, profiles_exist, today)
            {
                loaded.arriving.push(record.clone());
            }
            loaded.placed.push(record.profile.is_some());
            loaded.previous.push(record.profile);
        }
    };
    store
        .scan_current(&mut |record| {
            chunk.push(record);
            if chunk.len() == FACTS_CHUNK {
                flush(&mut chunk);
            }
        })
        .context("failed to read records")?;
    flush(&mut chunk);
    // New versions of records already on a profile: few per run, looked up one by one.
    for (i, facts) in loaded.facts.iter().enumerate() {
        if loaded.previous[i].is_none() && facts.reference.version > 1 {
            let versions = store
                .record_versions(&facts.reference.source, facts.reference.key.as_str())
                .context("failed to read a record's earlier versions")?;
            loaded.previous[i] = versions
                .iter()
                .rev()
                .find(|v| v.reference.version < facts.reference.version)
                .and_then(|v| v.profile.clone());
        }
    }
    Ok(loaded)
}

/// How many times a run starts over when another process stored a resolution while it ran.
const ATTEMPTS: u32 = 3;

/// Stores `outcome` unless a resolution run was stored after `head`, the newest run when this
/// one read the records: then its view is stale, nothing is stored, and the answer is `None`.
fn apply_unless_moved(
    store: &dyn Store,
    head: u64,
    outcome: &ResolutionOutcome,
) -> anyhow::Result<Option<u64>> {
    let mut session = store
        .begin_resolution()
        .context("failed to start storing the resolution")?;
    if session.changes_since(head)?.head != head {
        return Ok(None);
    }
    let run = session.apply(outcome).context("failed to store profiles")?;
    session.commit().context("failed to store profiles")?;
    Ok(Some(run))
}

/// Runs `attempt` until it is not overtaken by another process's resolution, at most
/// [`ATTEMPTS`] times.
fn until_not_overtaken<T>(
    mut attempt: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    for _ in 0..ATTEMPTS {
        if let Some(done) = attempt()? {
            return Ok(done);
        }
        eprintln!("another process stored a resolution while this one ran; resolving again");
    }
    anyhow::bail!(
        "other processes stored resolutions while this one ran, {ATTEMPTS} times; run it again \
         when they are quieter"
    )
}

/// A batch run over every current record, stored only if no other resolution overtook it.
pub(crate) fn resolve_store(store: &dyn Store) -> anyhow::Result<ResolveReport> {
    until_not_overtaken(|| resolve_once(store))
}

fn resolve_once(store: &dyn Store) -> anyhow::Result<Option<ResolveReport>> {
    let started = Instant::now();
    let head = store.resolution_head()?;
    let decisions = store
        .decisions(false)
        .context("failed to read steward decisions")?
        .into_iter()
        .map(|d| StewardDecision {
            a: d.a,
            b: d.b,
            same: d.same,
        })
        .collect();
    let created = store.profile_ages().context("failed to read profiles")?;
    let Loaded {
        facts,
        ids,
        identifiers,
        previous,
        placed,
        arriving,
    } = load(store)?;
    let history = History {
        previous,
        created,
        decisions,
    };
    let loaded = started.elapsed();
    let resolution = resolve_with_history(facts, &history);
    let resolved = started.elapsed();
    let total = ids.len() as u64;
    let profiles = distinct_profiles(&resolution.profiles);
    let assignments = changed_assignments(
        ids.into_iter().zip(identifiers),
        &history.previous,
        &placed,
        resolution.profiles,
    );
    let mut changes = IdChanges::default();
    let events: Vec<ProfileEvent> = resolution
        .changes
        .into_iter()
        .map(|change| {
            changes.count(&change);
            profile_event(change)
        })
        .collect();
    let review: Vec<ReviewItem> = resolution
        .review
        .into_iter()
        .map(|pair| ReviewItem {
            a: (pair.a.source, pair.a.key),
            b: (pair.b.source, pair.b.key),
            weight: pair.weight,
        })
        .collect();
    let queued = review.len() as u64;
    let arrived = changes_of(store, &arriving, &assignments, &events)?;
    let outcome = ResolutionOutcome {
        kind: RunKind::Batch,
        finished_at: Utc::now(),
        records: total,
        profiles,
        assignments,
        events,
        review: Some(review),
        changes: arrived,
        model: Some(resolution.model.to_stored()),
    };
    let stored = apply_unless_moved(store, head, &outcome)?;
    // Freeing millions of assignments takes a second or two; nothing waits for it.
    rayon::spawn(move || drop(outcome));
    if stored.is_none() {
        return Ok(None);
    }
    Ok(Some(ResolveReport {
        records: total,
        profiles,
        stats: resolution.stats,
        changes,
        queued,
        elapsed: started.elapsed(),
        phases: [loaded, resolved - loaded, started.elapsed() - resolved],
    }))
}

/// `tessera resolve --incremental`: resolves the records that no run has resolved yet one at a
/// time against the existing profiles, without re-clustering anything, and reports how long each
/// record took. With no profiles yet, every record is resolved this way, in canonical order.
pub(crate) fn run_incremental(context: &Settings) -> anyhow::Result<()> {
    let store = context.open_store()?;
    let store = &*store;
    until_not_overtaken(|| incremental_once(store))
}

fn incremental_once(store: &dyn Store) -> anyhow::Result<Option<()>> {
    let started = Instant::now();
    let head = store.resolution_head()?;
    let mut loaded = load(store)?;
    into_canonical_order(&mut loaded);
    let mut resolved: BTreeMap<&ProfileId, Vec<usize>> = BTreeMap::new();
    let mut fresh: Vec<usize> = Vec::new();
    for (i, previous) in loaded.previous.iter().enumerate() {
        match previous {
            Some(profile) => resolved.entry(profile).or_default().push(i),
            None => fresh.push(i),
        }
    }
    // The newest batch run's model, which made the profiles these records join; before any
    // batch run, learned from the records (in canonical order, so `learn` needs no copy).
    let stored = store
        .latest_model()?
        .as_deref()
        .and_then(Model::from_stored);
    let stored_model = stored.is_some();
    let model = stored.unwrap_or_else(|| learn(&loaded.facts));
    let learned = started.elapsed();

    // Index the existing profiles, then resolve each new record on its own. The index takes
    // the records over instead of copies: each record is handed over exactly once, since a
    // record is either on one existing profile or fresh.
    let mut slots: Vec<Option<RecordFacts>> = std::mem::take(&mut loaded.facts)
        .into_iter()
        .map(Some)
        .collect();
    let mut take = |i: usize| slots[i].take().expect("each record is handed over once");
    let mut incremental = Incremental::new(&model);
    let mut order: Vec<usize> = Vec::with_capacity(loaded.ids.len());
    for members in resolved.values() {
        incremental.seed(members.iter().map(|&i| take(i)).collect());
        order.extend(members);
    }
    let indexed = started.elapsed();
    let mut latencies: Vec<Duration> = Vec::with_capacity(fresh.len());
    let (mut joined, mut alone) = (0u64, 0u64);
    for &i in &fresh {
        let one = Instant::now();
        let placement = incremental.resolve(take(i));
        latencies.push(one.elapsed());
        order.push(i);
        if placement.joined > 0 {
            joined += 1
        } else {
            alone += 1
        }
    }
    let resolving = started.elapsed() - indexed;

    let roots = incremental.roots();
    let previous: Vec<Option<ProfileId>> =
        order.iter().map(|&i| loaded.previous[i].clone()).collect();
    let placed: Vec<bool> = order.iter().map(|&i| loaded.placed[i]).collect();
    let created = store.profile_ages()?;
    let (ids, changes) = assign_stable_ids(incremental.records(), &roots, &previous, &created);
    let ordered = order
        .iter()
        .map(|&i| (loaded.ids[i], loaded.identifiers[i].clone()));
    let profiles = distinct_profiles(&ids);
    let records = ids.len() as u64;
    let assignments = changed_assignments(ordered, &previous, &placed, ids);
    let events: Vec<ProfileEvent> = changes.into_iter().map(profile_event).collect();
    let changes = changes_of(store, &loaded.arriving, &assignments, &events)?;
    let outcome = ResolutionOutcome {
        kind: RunKind::Incremental,
        finished_at: Utc::now(),
        records,
        profiles,
        assignments,
        events,
        // The review queue belongs to the batch run; keep it as it is.
        review: None,
        changes,
        model: None,
    };
    if apply_unless_moved(store, head, &outcome)?.is_none() {
        return Ok(None);
    }

    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "resolved {} new records one at a time against {} existing profiles: {} joined a profile, {} started one [{:.1}s: {} {:.1}s, index {:.1}s, resolve {:.1}s]",
        count(fresh.len() as u64),
        count(resolved.len() as u64),
        count(joined),
        count(alone),
        started.elapsed().as_secs_f64(),
        if stored_model {
            "read (the last batch run's model)"
        } else {
            "read and learn"
        },
        learned.as_secs_f64(),
        (indexed - learned).as_secs_f64(),
        resolving.as_secs_f64(),
    );
    if !latencies.is_empty() {
        println!(
            "  per record: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {:.0} records/s",
            percentile(0.50).as_secs_f64() * 1e3,
            percentile(0.99).as_secs_f64() * 1e3,
            latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            fresh.len() as f64 / resolving.as_secs_f64().max(1e-9),
        );
    }
    Ok(Some(()))
}

/// Puts the loaded records in canonical order (by reference), keeping their columns aligned.
fn into_canonical_order(loaded: &mut Loaded) {
    let mut order: Vec<usize> = (0..loaded.facts.len()).collect();
    order.par_sort_by(|&a, &b| loaded.facts[a].reference.cmp(&loaded.facts[b].reference));
    apply_order(&mut loaded.facts, &order);
    apply_order(&mut loaded.ids, &order);
    apply_order(&mut loaded.identifiers, &order);
    apply_order(&mut loaded.previous, &order);
    apply_order(&mut loaded.placed, &order);
}

/// The assignments a run must store: records whose profile changed (the lookup already has
/// their identifiers) and records no run had placed (with their identifiers).
fn changed_assignments(
    rows: impl Iterator<Item = (RecordId, Vec<(IdKind, String)>)>,
    previous: &[Option<ProfileId>],
    placed: &[bool],
    profiles: Vec<ProfileId>,
) -> Vec<Assignment> {
    rows.zip(previous.iter().zip(placed))
        .zip(profiles)
        .filter_map(|(((record, identifiers), (previous, &placed)), profile)| {
            if !placed {
                Some(Assignment {
                    record,
                    profile,
                    identifiers,
                })
            } else if previous.as_ref() != Some(&profile) {
                Some(Assignment {
                    record,
                    profile,
                    identifiers: Vec::new(),
                })
            } else {
                None
            }
        })
        .collect()
}

/// What the records arriving in a run change on the profiles they land on, judged today.
fn changes_of(
    store: &dyn Store,
    arriving: &[StoredRecord],
    assignments: &[Assignment],
    events: &[ProfileEvent],
) -> anyhow::Result<Vec<NewChange>> {
    if arriving.is_empty() {
        return Ok(Vec::new());
    }
    let placed: HashMap<RecordId, &ProfileId> = assignments
        .iter()
        .map(|assignment| (assignment.record, &assignment.profile))
        .collect();
    let arrived: Vec<(&StoredRecord, &ProfileId)> = arriving
        .iter()
        .filter_map(|record| Some((record, *placed.get(&record.id)?)))
        .collect();
    arrival_changes(store, &arrived, events, Utc::now().date_naive())
        .context("failed to read the profiles new records land on")
}

fn distinct_profiles(profiles: &[ProfileId]) -> u64 {
    let mut distinct: Vec<&ProfileId> = profiles.iter().collect();
    distinct.par_sort_unstable();
    distinct.dedup();
    distinct.len() as u64
}

fn profile_event(change: ProfileChange) -> ProfileEvent {
    match change {
        ProfileChange::Created { profile } => ProfileEvent::Created { profile },
        ProfileChange::Merged { from, into } => ProfileEvent::Merged { from, into },
        ProfileChange::Split { from, new } => ProfileEvent::Split { from, new },
    }
}
