//! `tessera review`: the steward's desk. Lists the uncertain pairs the last resolution left
//! apart, with the evidence, and records decisions ("the same person" / "not the same") that
//! every later `tessera resolve` respects until they are undone.

use chrono::Utc;
use tessera_model::{RecordKey, SourceId};
use tessera_policy::Action::Review;
use tessera_resolve::{RecordFacts, explain_pair};
use tessera_store::Database;

use crate::explain::{find_record, render_pair, train};
use crate::input_error;

/// What the steward asked for.
pub(crate) enum Action {
    List { limit: usize },
    Decide { a: String, b: String, same: bool },
    Undo { id: i64 },
    Decisions,
}

pub(crate) fn run(
    context: &crate::Settings,
    action: Action,
    purpose: Option<&str>,
) -> anyhow::Result<()> {
    let grant = crate::audit::authorize_cli(context, purpose, tessera_policy::Operation::Read)?;
    let store = context.open_store()?;
    let store = &*store;
    match action {
        Action::List { limit } => list(store, limit, &grant),
        Action::Decide { a, b, same } => {
            let (a, b) = (find_record(store, &a)?, find_record(store, &b)?);
            if a.reference.source == b.reference.source && a.reference.key == b.reference.key {
                return Err(input_error("a decision needs two different records"));
            }
            crate::audit::log_records(store, Review, &grant, &[a.clone(), b.clone()])?;
            let a = (a.reference.source, a.reference.key);
            let b = (b.reference.source, b.reference.key);
            let id = store.record_decision(&a, &b, same, Utc::now())?;
            let verdict = if same {
                "the same person"
            } else {
                "not the same person"
            };
            println!(
                "decision {id}: {}/{} and {}/{} are {verdict}; run `tessera resolve` to apply it (undo: tessera review --undo {id})",
                a.0, a.1, b.0, b.1
            );
            Ok(())
        }
        Action::Undo { id } => {
            if !store.revert_decision(id, Utc::now())? {
                return Err(input_error(format!(
                    "no active decision {id}; see `tessera review --decisions`"
                )));
            }
            println!("decision {id} undone; run `tessera resolve` to apply");
            Ok(())
        }
        Action::Decisions => {
            for d in store.decisions(true)? {
                let verdict = if d.same { "same" } else { "different" };
                let reverted = d
                    .reverted_at
                    .map(|t| format!(" (undone {})", t.format("%Y-%m-%d %H:%M")))
                    .unwrap_or_default();
                println!(
                    "{:>5}  {}/{}  {}/{}  {verdict}  decided {}{reverted}",
                    d.id,
                    d.a.0,
                    d.a.1,
                    d.b.0,
                    d.b.1,
                    d.decided_at.format("%Y-%m-%d %H:%M")
                );
            }
            Ok(())
        }
    }
}

fn list(store: &dyn Database, limit: usize, grant: &tessera_policy::Grant) -> anyhow::Result<()> {
    let queue = store.review_queue(limit)?;
    if queue.is_empty() {
        println!("the review queue is empty (run `tessera resolve` first if you imported since)");
        return Ok(());
    }
    let model = train(store)?;
    for (n, item) in queue.iter().enumerate() {
        let reference = |(source, key): &(SourceId, RecordKey)| format!("{source}/{key}");
        let (a, b) = (
            find_record(store, &reference(&item.a))?,
            find_record(store, &reference(&item.b))?,
        );
        crate::audit::log_records(store, Review, grant, &[a.clone(), b.clone()])?;
        let facts = |r: &tessera_store::StoredRecord| {
            RecordFacts::from_attributes(r.reference.clone(), r.observed_day(), &r.attributes)
        };
        println!("#{} ", n + 1);
        print!(
            "{}",
            render_pair(&a, &b, &explain_pair(&model, &facts(&a), &facts(&b)))
        );
        println!(
            "  decide: tessera review --same {} {}   |   tessera review --different {} {}\n",
            reference(&item.a),
            reference(&item.b),
            reference(&item.a),
            reference(&item.b)
        );
    }
    Ok(())
}
