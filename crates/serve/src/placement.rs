//! Storing a batch of validated records and placing its new records on profiles under the
//! resolution session: what online ingest (`ingest.rs`) and `tessera worker` (a batch from the
//! ingest queue) both do, written once.
//!
//! [`store_records`] writes through the store's idempotent path (an unchanged record writes
//! nothing). [`place_records`] takes the one resolution session of the database, has the
//! [`ResolverIndex`] take in what other processes stored since it last looked, and then looks at
//! each record's stored versions: a record already on a profile is answered with it and placed
//! no second time (a batch delivered again after a worker died, a record sent twice), a changed
//! record stays on its previous version's profile, and only a record no run has placed yet goes
//! through the online resolver. The assignments are stored before the session closes.
//!
//! Nothing here knows HTTP or NATS.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tessera_model::{ProfileId, SourceRecord};
use tessera_resolve::{Incremental, Online, ProfileChange, RecordFacts, learn};
use tessera_store::{
    Assignment, ImportEnd, ImportStatus, PreparedRecord, ProfileEvent, ResolutionChanges,
    ResolutionOutcome, RunKind, Sealer, Store, StoreError, StoredRecord, WriteCounts,
    arrival_changes, lookup_identifiers,
};

/// The online resolver of one process and the newest resolution run it has taken in.
pub struct ResolverIndex {
    pub(crate) online: Online<'static>,
    pub(crate) seen: u64,
}

impl ResolverIndex {
    /// Builds the index from every stored record: takes the newest batch run's model (learns one
    /// when there is none) and indexes the existing profiles. Blocking; takes seconds on a large
    /// registry.
    pub fn build(store: &dyn Store) -> Result<ResolverIndex, StoreError> {
        let started = Instant::now();
        // Read before the scan: what is stored meanwhile is taken in again later, never missed.
        let seen = store.resolution_head()?;
        let mut by_profile: HashMap<ProfileId, Vec<RecordFacts>> = HashMap::new();
        let stored = store
            .latest_model()?
            .as_deref()
            .and_then(tessera_resolve::Model::from_stored);
        // Every record's facts, kept only to learn a model when no batch run stored one.
        let mut all = Vec::new();
        store.scan_current(&mut |record| {
            let facts = RecordFacts::from_attributes(
                record.reference.clone(),
                record.observed_day(),
                &record.attributes,
            );
            if stored.is_none() {
                all.push(facts.clone());
            }
            if let Some(profile) = record.profile {
                by_profile.entry(profile).or_default().push(facts);
            }
        })?;
        // The model lives as long as the process: the index borrows it. A process builds a few
        // (one more after each batch run stored elsewhere), so the leak is bounded by those.
        let model = stored.unwrap_or_else(|| learn(&all));
        let model: &'static tessera_resolve::Model = Box::leak(Box::new(model));
        drop(all);
        let created = store.profile_ages()?;
        let mut online = Online::new(Incremental::new(model), created);
        let mut profiles: Vec<_> = by_profile.into_iter().collect();
        profiles.sort_by(|a, b| a.0.cmp(&b.0));
        for (profile, records) in profiles {
            online.seed(profile, records);
        }
        tracing::info!(
            records = online.len(),
            seconds = started.elapsed().as_secs_f64(),
            "online resolver ready"
        );
        Ok(ResolverIndex { online, seen })
    }

    /// How many records the index holds.
    pub fn len(&self) -> usize {
        self.online.len()
    }

    pub fn is_empty(&self) -> bool {
        self.online.is_empty()
    }

    /// Takes in what other processes stored after `seen` (see [`Online::absorb`]). Returns
    /// false, having taken in nothing, if a batch run came: then only a rebuild will do.
    pub(crate) fn catch_up(&mut self, changes: &ResolutionChanges) -> bool {
        if changes.rebuild {
            return false;
        }
        let created: HashMap<&ProfileId, u64> = changes
            .events
            .iter()
            .filter_map(|(run, event)| match event {
                ProfileEvent::Created { profile } => Some((profile, *run)),
                _ => None,
            })
            .collect();
        // Run by run: a run's records are on its final profiles, then its merges.
        let mut records = changes.records.iter().peekable();
        let mut events = changes.events.iter().peekable();
        for run in self.seen + 1..=changes.head {
            while let Some((_, record)) = records.next_if(|(r, _)| *r == run) {
                if let Some(profile) = &record.profile {
                    let facts = RecordFacts::from_attributes(
                        record.reference.clone(),
                        record.observed_day(),
                        &record.attributes,
                    );
                    let born = created.get(profile).copied().unwrap_or(run);
                    self.online.absorb(profile.clone(), born, facts);
                }
            }
            while let Some((_, event)) = events.next_if(|(r, _)| *r == run) {
                if let ProfileEvent::Merged { from, into } = event {
                    self.online.absorb_merge(from, into);
                }
            }
        }
        self.seen = self.seen.max(changes.head);
        true
    }
}

/// What placing one record did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementStatus {
    /// New, and now on its profile.
    Resolved,
    /// A new version of a stored record, kept on the previous version's profile.
    Changed,
    /// Already stored as it is, and on a profile (placed by an earlier batch or delivery).
    Unchanged,
}

impl PlacementStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlacementStatus::Resolved => "resolved",
            PlacementStatus::Changed => "changed",
            PlacementStatus::Unchanged => "unchanged",
        }
    }
}

/// One record of a batch, placed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Placed {
    pub status: PlacementStatus,
    /// `source/key`.
    pub record: String,
    pub profile: ProfileId,
    /// The attribute kinds the record holds, for the access log's write entry.
    pub kinds: Vec<String>,
}

/// Why a batch could not be placed.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A record of the batch was not stored (the caller stores before it places).
    #[error("record {record} has no stored version")]
    NoVersion { record: String },
    /// A batch run was stored by another process, or this process's placements could not be
    /// committed: the index no longer matches the store and must be built again. Nothing of
    /// this batch's placement was stored.
    #[error("the resolver index is out of date and must be rebuilt{}", .0.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    IndexStale(Option<StoreError>),
}

/// Stores the records as one import run named `origin` (e.g. `api:<client>`, `queue:<file>`).
pub fn store_records(
    store: &dyn Store,
    sealer: &dyn Sealer,
    origin: &str,
    records: &[&SourceRecord],
    rows_read: u64,
) -> Result<WriteCounts, StoreError> {
    let Some(first) = records.first() else {
        return Ok(WriteCounts::default());
    };
    let import = store.begin_import(&first.source, origin, Utc::now())?;
    let prepared: Vec<PreparedRecord> = records
        .iter()
        .map(|r| PreparedRecord::new(r, sealer))
        .collect();
    let counts = store.write_records(import, &prepared)?;
    store.finish_import(
        import,
        &ImportEnd {
            finished_at: Utc::now(),
            status: ImportStatus::Done,
            rows_read,
            counts,
            quarantined: 0,
            quarantine_path: None,
        },
    )?;
    Ok(counts)
}

/// Places stored records on profiles (see the module documentation), in the given order; one
/// [`Placed`] per record.
pub fn place_records(
    store: &dyn Store,
    index: &mut ResolverIndex,
    records: &[&SourceRecord],
) -> Result<Vec<Placed>, PlaceError> {
    // The one resolution in progress across every process on the database: take in what the
    // others stored, then place this batch and store it before anyone else may.
    let mut session = store.begin_resolution()?;
    let changes = session.changes_since(index.seen)?;
    if !index.catch_up(&changes) {
        return Err(PlaceError::IndexStale(None));
    }
    let online = &mut index.online;
    let mut placed = Vec::with_capacity(records.len());
    let mut assignments = Vec::new();
    let mut events = Vec::new();
    // The records this run places, which no run had placed: what may change their profiles.
    let mut arrived: Vec<(StoredRecord, ProfileId)> = Vec::new();
    for record in records {
        // Once a record is placed the index is ahead of the store: a failure from here on
        // leaves it stale.
        let versions = store
            .record_versions(&record.source, record.key.as_str())
            .map_err(|e| PlaceError::IndexStale(Some(e)))?;
        let Some(current) = versions.last() else {
            return Err(PlaceError::NoVersion {
                record: format!("{}/{}", record.source, record.key),
            });
        };
        let kinds: Vec<String> = record
            .attributes
            .iter()
            .map(|a| a.kind().name().to_string())
            .collect();
        // The profile the record's previous version was on, if any: a changed record stays there.
        let previous = versions
            .len()
            .checked_sub(2)
            .and_then(|i| versions[i].profile.clone());
        let (status, profile) = match (&current.profile, previous) {
            (Some(profile), _) => (PlacementStatus::Unchanged, profile.clone()),
            (None, Some(profile)) => {
                assignments.push(Assignment {
                    record: current.id,
                    profile: profile.clone(),
                    identifiers: lookup_identifiers(&current.attributes),
                });
                (PlacementStatus::Changed, profile)
            }
            (None, None) => {
                let facts = RecordFacts::from_attributes(
                    current.reference.clone(),
                    current.observed_day(),
                    &current.attributes,
                );
                let outcome = online.resolve(facts);
                assignments.push(Assignment {
                    record: current.id,
                    profile: outcome.profile.clone(),
                    identifiers: lookup_identifiers(&current.attributes),
                });
                events.extend(outcome.changes.into_iter().map(|change| match change {
                    ProfileChange::Created { profile } => ProfileEvent::Created { profile },
                    ProfileChange::Merged { from, into } => ProfileEvent::Merged { from, into },
                    ProfileChange::Split { from, new } => ProfileEvent::Split { from, new },
                }));
                (PlacementStatus::Resolved, outcome.profile)
            }
        };
        if status != PlacementStatus::Unchanged {
            arrived.push((current.clone(), profile.clone()));
        }
        placed.push(Placed {
            status,
            record: format!("{}/{}", record.source, record.key),
            profile,
            kinds,
        });
    }
    if !assignments.is_empty() {
        // What this run placed: its records, on how many profiles. (Counting the whole
        // registry here would cost a scan per batch, under the session every process waits for.)
        let touched: HashSet<&ProfileId> = assignments.iter().map(|a| &a.profile).collect();
        let profiles = touched.len() as u64;
        let arrived: Vec<(&StoredRecord, &ProfileId)> =
            arrived.iter().map(|(r, p)| (r, p)).collect();
        let changes = arrival_changes(store, &arrived, &events, Utc::now().date_naive())
            .map_err(|e| PlaceError::IndexStale(Some(e)))?;
        let applied = session.apply(&ResolutionOutcome {
            kind: RunKind::Online,
            finished_at: Utc::now(),
            records: assignments.len() as u64,
            profiles,
            assignments,
            events,
            // The review queue belongs to the batch run; keep it as it is.
            review: None,
            changes,
            model: None,
        });
        // From here on the index holds placements the store may not: any failure means rebuild.
        let run = applied.map_err(|e| PlaceError::IndexStale(Some(e)))?;
        session
            .commit()
            .map_err(|e| PlaceError::IndexStale(Some(e)))?;
        index.seen = run;
    }
    Ok(placed)
}
