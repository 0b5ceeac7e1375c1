//! `tessera eval`: score the stored profiles against a truth file.

use std::collections::HashMap;
use std::path::Path;

use tessera_resolve::{Evaluation, evaluate};
use tessera_store::Store;

use crate::{Settings, count, input_error};

/// An evaluation plus how the store and the truth file lined up.
pub(crate) struct TruthReport {
    pub(crate) evaluation: Evaluation,
    /// Truth rows with no current record in the store (quarantined or never imported).
    pub(crate) missing_from_store: u64,
    /// Stored records the truth file does not mention.
    pub(crate) missing_from_truth: u64,
    /// Stored records with no profile yet.
    pub(crate) unresolved: u64,
}

pub(crate) fn run(context: &Settings, truth: &Path) -> anyhow::Result<()> {
    let store = context.open_store()?;
    let store = &*store;
    let report = against_truth(store, truth)?;
    print!("{}", report.render());
    Ok(())
}

/// Reads `source,record_id,person_id` rows into a map.
fn read_truth(path: &Path) -> anyhow::Result<HashMap<(String, String), String>> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| input_error(format!("cannot read truth file {}: {e}", path.display())))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            input_error(format!(
                "truth file {} has no column {name:?} (needs source,record_id,person_id)",
                path.display()
            ))
        })
    };
    let (source, record, person) = (
        column("source")?,
        column("record_id")?,
        column("person_id")?,
    );
    let mut truth = HashMap::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| {
            input_error(format!("truth file {} row {}: {e}", path.display(), i + 2))
        })?;
        truth.insert(
            (row[source].to_string(), row[record].to_string()),
            row[person].to_string(),
        );
    }
    Ok(truth)
}

pub(crate) fn against_truth(store: &dyn Store, truth_path: &Path) -> anyhow::Result<TruthReport> {
    let truth = read_truth(truth_path)?;
    let mut pairs = Vec::with_capacity(truth.len());
    let (mut missing_from_truth, mut unresolved, mut matched) = (0u64, 0u64, 0u64);
    store.scan_current(&mut |record| {
        let key = (
            record.reference.source.as_str().to_string(),
            record.reference.key.as_str().to_string(),
        );
        let Some(person) = truth.get(&key) else {
            missing_from_truth += 1;
            return;
        };
        matched += 1;
        // An unresolved record is its own profile: it has been linked to no one.
        let profile = match record.profile {
            Some(profile) => profile.as_str().to_string(),
            None => {
                unresolved += 1;
                format!("unresolved:{}/{}", key.0, key.1)
            }
        };
        pairs.push((profile, person.as_str()));
    })?;
    Ok(TruthReport {
        evaluation: evaluate(pairs),
        missing_from_store: truth.len() as u64 - matched,
        missing_from_truth,
        unresolved,
    })
}

impl TruthReport {
    pub(crate) fn render(&self) -> String {
        let e = &self.evaluation;
        let mut out = format!(
            "records scored        {} ({} persons in {} profiles)\n\
             pairwise              precision {:.4}  recall {:.4}  F1 {:.4}   ({} of {} predicted pairs correct, {} true pairs)\n\
             B-cubed               precision {:.4}  recall {:.4}  F1 {:.4}\n\
             over-merged profiles  {} (profiles holding records of 2+ persons)\n\
             split persons         {} (persons spread over 2+ profiles)\n",
            count(e.records),
            count(e.persons),
            count(e.profiles),
            e.precision,
            e.recall,
            e.f1,
            count(e.correct_pairs),
            count(e.predicted_pairs),
            count(e.true_pairs),
            e.bcubed_precision,
            e.bcubed_recall,
            e.bcubed_f1,
            count(e.over_merged_profiles),
            count(e.split_persons),
        );
        if self.missing_from_store > 0 {
            out.push_str(&format!(
                "not in the store      {} truth rows (quarantined or not imported)\n",
                count(self.missing_from_store)
            ));
        }
        if self.missing_from_truth > 0 {
            out.push_str(&format!(
                "not in the truth      {} stored records (not scored)\n",
                count(self.missing_from_truth)
            ));
        }
        if self.unresolved > 0 {
            out.push_str(&format!(
                "unresolved            {} records (scored as singletons; run `tessera resolve`)\n",
                count(self.unresolved)
            ));
        }
        out
    }
}
