//! `tessera explain`: why two records are (or are not) one person, and why a profile holds what
//! it holds, evidence by evidence, in bits.
//!
//! The weights shown are the model's that made the profiles: the one the newest batch run stored.
//! Before any batch run the model is learned from the current records, exactly as `tessera
//! resolve` would learn it (training is deterministic).

use tessera_model::{ProfileId, SourceId};
use tessera_resolve::{
    LINK_THRESHOLD_BITS, Model, PairExplanation, RecordFacts, explain_pair, learn, why_apart,
};
use tessera_store::{Store, StoredRecord};

use crate::input_error;

/// Records of a profile explained pair by pair, at most.
const MAX_PROFILE_RECORDS: usize = 12;

pub(crate) fn run(
    context: &crate::Settings,
    first: &str,
    second: Option<&str>,
    purpose: Option<&str>,
) -> anyhow::Result<()> {
    let grant = crate::audit::authorize_cli(context, purpose, tessera_policy::Operation::Read)?;
    let store = context.open_store()?;
    let store = &*store;
    let records = match second {
        Some(second) => vec![find_record(store, first)?, find_record(store, second)?],
        None => {
            let records = store.profile_records(&ProfileId::new(first.to_string()))?;
            if records.is_empty() {
                return Err(input_error(format!(
                    "no profile {first:?}; explain a profile id (p-…) or two records (source/key source/key)"
                )));
            }
            records
        }
    };
    crate::audit::log_records(store, tessera_policy::Action::Explain, &grant, &records)?;
    let model = train(store)?;
    let facts = facts_of(&records);
    if second.is_some() {
        let explanation = explain_pair(&model, &facts[0], &facts[1]);
        print!("{}", render_pair(&records[0], &records[1], &explanation));
        if explanation.linked
            && let (Some(left), Some(right)) = (&records[0].profile, &records[1].profile)
            && left != right
        {
            println!("  {}", why_apart_line(store, &grant, &model, left, right)?);
        }
        return Ok(());
    }
    println!("profile {first}: {} records", records.len());
    let shown = records.len().min(MAX_PROFILE_RECORDS);
    for i in 0..shown {
        // The strongest evidence tying this record to another record of the profile.
        let best = (0..shown)
            .filter(|&j| j != i)
            .map(|j| (j, explain_pair(&model, &facts[i], &facts[j])))
            .max_by(|a, b| a.1.total.total_cmp(&b.1.total));
        match best {
            Some((j, e)) => println!(
                "  {:<36} strongest tie: {:+6.1} bits to {}{}",
                records[i].reference.to_string(),
                e.total,
                records[j].reference,
                e.veto
                    .map(|v| format!(" (vetoed: {})", v.reason()))
                    .unwrap_or_default()
            ),
            None => println!("  {} (alone)", records[i].reference),
        }
    }
    if records.len() > shown {
        println!("  … and {} more records", records.len() - shown);
    }
    println!("explain any two of them: tessera explain <source/key> <source/key>");
    Ok(())
}

/// Why two profiles, a link between whose records passes on its own, were kept apart: the
/// profile-level rule that refuses them, judged on all their records (which this reads, and
/// logs), or that none does as they stand.
fn why_apart_line(
    store: &dyn tessera_store::Database,
    grant: &tessera_policy::Grant,
    model: &Model,
    left: &ProfileId,
    right: &ProfileId,
) -> anyhow::Result<String> {
    let left_records = store.profile_records(left)?;
    let right_records = store.profile_records(right)?;
    for records in [&left_records, &right_records] {
        crate::audit::log_records(store, tessera_policy::Action::Explain, grant, records)?;
    }
    Ok(
        match why_apart(model, &facts_of(&left_records), &facts_of(&right_records)) {
            Some(apart) => format!("kept apart: {}", apart.reason()),
            None => "kept apart by none of the profile-level rules as the two profiles stand: by \
                 a steward's decision, a source that keeps one record per person, a record as \
                 like two such records, or the order in which the run took its links"
                .to_string(),
        },
    )
}

/// What the resolver compares of each stored record.
fn facts_of(records: &[StoredRecord]) -> Vec<RecordFacts> {
    records
        .iter()
        .map(|r| RecordFacts::from_attributes(r.reference.clone(), r.observed_day(), &r.attributes))
        .collect()
}

pub(crate) fn find_record(store: &dyn Store, reference: &str) -> anyhow::Result<StoredRecord> {
    let (source, key) = reference.split_once('/').ok_or_else(|| {
        input_error(format!(
            "{reference:?} is not a record reference; write source/key, e.g. tax/7701"
        ))
    })?;
    let source = SourceId::new(source).map_err(|e| input_error(format!("{reference:?}: {e}")))?;
    store
        .record_versions(&source, key)?
        .pop()
        .ok_or_else(|| input_error(format!("no record {reference}")))
}

/// The model that made the profiles: the one the newest batch run stored; before any batch run
/// (or when it was stored by code with another model), learned exactly as `tessera resolve`
/// would learn it, without resolving anything.
pub(crate) fn train(store: &dyn Store) -> anyhow::Result<Model> {
    if let Some(model) = store
        .latest_model()?
        .as_deref()
        .and_then(Model::from_stored)
    {
        return Ok(model);
    }
    Ok(learn(&crate::resolution::load(store)?.facts))
}

pub(crate) fn render_pair(a: &StoredRecord, b: &StoredRecord, e: &PairExplanation) -> String {
    let mut out = format!("{}  vs  {}\n", a.reference, b.reference);
    out.push_str(&format!(
        "  {:<34} {:>+7.2} bits\n",
        "prior: two random records are one", e.prior
    ));
    for f in &e.evidence {
        let values = match (&f.left, &f.right) {
            (Some(l), Some(r)) if l == r => l.clone(),
            (Some(l), Some(r)) => format!("{l} | {r}"),
            (Some(l), None) => format!("{l} | –"),
            (None, Some(r)) => format!("– | {r}"),
            (None, None) => "–".to_string(),
        };
        out.push_str(&format!(
            "  {:<18} {:<16} {:>+7.2}   {}\n",
            f.field.name(),
            f.level,
            f.weight,
            values
        ));
    }
    out.push_str(&format!(
        "  {:<34} {:>+7.2} bits  (p = {:.4})\n",
        "total", e.total, e.probability
    ));
    let verdict = match (e.veto, e.linked) {
        (Some(veto), _) => format!("not the same person: {}", veto.reason()),
        (None, true) if e.total < LINK_THRESHOLD_BITS && e.one_employee => {
            "linked: one employer's personnel number under one name names one employee".to_string()
        }
        (None, true) => "linked".to_string(),
        (None, false) if e.total >= LINK_THRESHOLD_BITS => {
            "not linked on its own: only names agree (a name alone is never enough)".to_string()
        }
        (None, false) => format!("not linked on its own: below {LINK_THRESHOLD_BITS} bits"),
    };
    out.push_str(&format!("  decision: {verdict}\n"));
    if a.profile.is_some() && a.profile == b.profile {
        out.push_str(&format!(
            "  both are on profile {}\n",
            a.profile.as_ref().map(|p| p.as_str()).unwrap_or("")
        ));
    } else {
        out.push_str("  they are on different profiles\n");
    }
    out
}
