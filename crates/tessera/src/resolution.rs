//! `tessera resolve`: read every current record, resolve, and store the profile assignments.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use tessera_model::{Attribute, IdKind};
use tessera_resolve::{
    History, ProfileChange, RecordFacts, ResolveStats, StewardDecision, resolve_with_history,
};
use tessera_store::{
    Assignment, ProfileEvent, RecordId, ResolutionOutcome, ReviewItem, SqliteStore, Store,
};

use crate::count;

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
            "resolved {} records into {} profiles [{:.1}s: read {:.1}s, resolve {:.1}s, store {:.1}s]\n  {} candidate pairs ({} identity blocks over {} records paired through a hub, {} common-name blocks skipped; proposed by {}), {} links at p ≥ 0.95, {} vetoed, {} on names alone\n  {} merges, {} by a name unique among dated profiles; refused: {} for conflicting identifiers, {} for records that contradict each other",
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
            count(s.clustering.merges),
            count(s.clustering.attached_by_unique_name),
            count(s.clustering.refused_strong_conflict),
            count(s.clustering.refused_incoherent),
        );
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

pub(crate) fn run(data_dir: &Path) -> anyhow::Result<ResolveReport> {
    let store = SqliteStore::open(data_dir).context("failed to open the store")?;
    let report = resolve_store(&store)?;
    report.print();
    Ok(report)
}

pub(crate) fn resolve_store(store: &dyn Store) -> anyhow::Result<ResolveReport> {
    let started = Instant::now();
    let mut records: Vec<(RecordId, Vec<(IdKind, String)>)> = Vec::new();
    let mut facts: Vec<RecordFacts> = Vec::new();
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
    let mut history = History {
        previous: Vec::new(),
        created: store.profile_ages().context("failed to read profiles")?,
        decisions,
    };
    store
        .scan_current(&mut |record| {
            let identifiers = record
                .attributes
                .iter()
                .filter_map(|attribute| match attribute {
                    Attribute::Identifier(id) => Some((id.kind, id.value.clone())),
                    _ => None,
                })
                .collect();
            facts.push(RecordFacts::from_attributes(
                record.reference,
                &record.attributes,
            ));
            history.previous.push(record.profile);
            records.push((record.id, identifiers));
        })
        .context("failed to read records")?;
    let loaded = started.elapsed();
    let resolution = resolve_with_history(facts, &history);
    let resolved = started.elapsed();
    let assignments: Vec<Assignment> = records
        .into_iter()
        .zip(resolution.profiles)
        .map(|((record, identifiers), profile)| Assignment {
            record,
            profile,
            identifiers,
        })
        .collect();
    let mut distinct: Vec<_> = assignments.iter().map(|a| &a.profile).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let profiles = distinct.len() as u64;
    let mut changes = IdChanges::default();
    let events: Vec<ProfileEvent> = resolution
        .changes
        .into_iter()
        .map(|change| match change {
            ProfileChange::Created { profile } => {
                changes.created += 1;
                ProfileEvent::Created { profile }
            }
            ProfileChange::Merged { from, into } => {
                changes.merged += 1;
                ProfileEvent::Merged { from, into }
            }
            ProfileChange::Split { from, new } => {
                changes.split += 1;
                ProfileEvent::Split { from, new }
            }
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
    let outcome = ResolutionOutcome {
        finished_at: Utc::now(),
        assignments,
        events,
        review,
    };
    store
        .apply_resolution(&outcome)
        .context("failed to store profiles")?;
    Ok(ResolveReport {
        records: outcome.assignments.len() as u64,
        profiles,
        stats: resolution.stats,
        changes,
        queued,
        elapsed: started.elapsed(),
        phases: [loaded, resolved - loaded, started.elapsed() - resolved],
    })
}
