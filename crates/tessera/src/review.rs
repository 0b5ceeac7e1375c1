//! `tessera review`: the steward's desk. Lists the uncertain pairs the last resolution left
//! apart, with the evidence, and records decisions ("the same person" / "not the same") that
//! every later `tessera resolve` respects until they are undone.

use std::path::Path;

use anyhow::Context;
use chrono::Utc;
use tessera_model::{RecordKey, SourceId};
use tessera_resolve::{RecordFacts, explain_pair};
use tessera_store::{RecordAddress, SqliteStore, Store};

use crate::explain::{find_record, render_pair, train};
use crate::input_error;

/// What the steward asked for.
pub(crate) enum Action {
    List { limit: usize },
    Decide { a: String, b: String, same: bool },
    Undo { id: i64 },
    Decisions,
}

pub(crate) fn run(data_dir: &Path, action: Action) -> anyhow::Result<()> {
    let store = SqliteStore::open(data_dir).context("failed to open the store")?;
    match action {
        Action::List { limit } => list(&store, limit),
        Action::Decide { a, b, same } => {
            let (a, b) = (address(&store, &a)?, address(&store, &b)?);
            if a == b {
                return Err(input_error("a decision needs two different records"));
            }
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

/// A record that exists, as the source and key a decision is kept by.
fn address(store: &dyn Store, reference: &str) -> anyhow::Result<RecordAddress> {
    let record = find_record(store, reference)?;
    Ok((record.reference.source, record.reference.key))
}

fn list(store: &dyn Store, limit: usize) -> anyhow::Result<()> {
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
        let facts = |r: &tessera_store::StoredRecord| {
            RecordFacts::from_attributes(r.reference.clone(), &r.attributes)
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
