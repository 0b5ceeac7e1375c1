//! `tessera resolve`: read every current record, resolve, and store the profile assignments.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use tessera_model::{Attribute, IdKind};
use tessera_resolve::{RecordFacts, resolve};
use tessera_store::{Assignment, RecordId, SqliteStore, Store};

use crate::count;

pub(crate) struct ResolveReport {
    pub(crate) records: u64,
    pub(crate) profiles: u64,
    pub(crate) refused_joins: u64,
    pub(crate) elapsed: Duration,
}

pub(crate) fn run(data_dir: &Path) -> anyhow::Result<ResolveReport> {
    let store = SqliteStore::open(data_dir).context("failed to open the store")?;
    let report = resolve_store(&store)?;
    println!(
        "resolved {} records into {} profiles ({} joins refused: they would have put two different valid identifiers of one kind on a profile) [{:.1}s]",
        count(report.records),
        count(report.profiles),
        count(report.refused_joins),
        report.elapsed.as_secs_f64()
    );
    Ok(report)
}

pub(crate) fn resolve_store(store: &dyn Store) -> anyhow::Result<ResolveReport> {
    let started = Instant::now();
    let mut records: Vec<(RecordId, Vec<(IdKind, String)>)> = Vec::new();
    let mut facts: Vec<RecordFacts> = Vec::new();
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
            records.push((record.id, identifiers));
        })
        .context("failed to read records")?;
    let resolution = resolve(&facts);
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
    store
        .replace_profiles(&assignments)
        .context("failed to store profiles")?;
    Ok(ResolveReport {
        records: assignments.len() as u64,
        profiles,
        refused_joins: resolution.refused_joins,
        elapsed: started.elapsed(),
    })
}
