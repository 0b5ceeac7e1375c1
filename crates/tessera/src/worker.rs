//! `tessera worker`: store and resolve batches from the ingest queue, as many processes as the
//! load needs, on any hosts sharing the database, the keyring and NATS.
//!
//! Each batch is opened with the keyring, stored through the same idempotent path as an import
//! (`tessera_serve::store_records`: an unchanged record writes nothing), and its new records
//! are placed on profiles through the resolution session exactly as online ingest places them
//! (`tessera_serve::place_records`: a record already on a profile is not placed again). Only
//! then is the publisher answered (if it asked) and the batch acknowledged, with a double ack
//! the server confirms. A worker that dies anywhere before that leaves the batch unacknowledged;
//! after `ack_wait` another worker gets it, finds its records stored and placed, writes nothing
//! and acknowledges it. While a batch is worked on, the worker tells the server so every third
//! of `ack_wait`, so a slow batch is not handed to a second worker.
//!
//! Ctrl-C or SIGTERM stop the worker after the batch in hand. Logs name batches, sources and
//! counts, never a record's content.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tessera_jetstream::{Delivery, IngestBatch, IngestQueue, Nats, WorkerConfig};
use tessera_model::SourceRecord;
use tessera_policy::Action;
use tessera_seal::Keyring;
use tessera_serve::{
    KeyringSealer, PlaceError, Placed, PlacementStatus, ResolverIndex, place_records, store_records,
};
use tessera_store::{Database, WriteCounts};

use crate::Settings;

/// How long one pull waits for a batch before looking at the stop signal again.
const PULL_WAIT: Duration = Duration::from_secs(5);
/// How long a batch that failed is left before it is delivered again.
const RETRY_DELAY: Duration = Duration::from_secs(5);
/// How many times a batch is re-placed after the index was found stale, before giving it back.
const PLACE_ATTEMPTS: u32 = 3;

/// Connects to NATS (`--nats`, `--queue-prefix`) and sets up the ingest stream.
pub(crate) async fn open_queue(context: &Settings) -> anyhow::Result<IngestQueue> {
    let nats = Nats::connect(&context.nats, &context.queue_prefix)
        .await
        .context("failed to reach the ingest queue")?;
    IngestQueue::open(&nats)
        .await
        .context("failed to set up the ingest queue")
}

pub(crate) fn run(context: &Settings, config: WorkerConfig) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,tokio_postgres=warn,async_nats=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let store: Arc<dyn Database> = Arc::from(context.open_store()?);
    let keyring = Arc::new(crate::keys::open_keyring(context)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let queue = open_queue(context).await?;
        let worker = queue
            .worker(&config)
            .await
            .context("failed to join the workers")?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            crate::serve::shutdown_signal().await;
            let _ = stop.send(true);
        });
        let mut state = WorkerState {
            store,
            keyring,
            index: None,
        };
        eprintln!(
            "tessera worker: taking batches from the ingest queue at {}; Ctrl-C stops after the batch in hand",
            context.nats
        );
        loop {
            if *stopped.borrow() {
                break;
            }
            let next = tokio::select! {
                _ = stopped.changed() => break,
                next = worker.next(PULL_WAIT) => next,
            };
            let delivery = match next {
                Ok(Some(delivery)) => delivery,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(%error, "cannot pull from the ingest queue; retrying");
                    tokio::time::sleep(RETRY_DELAY).await;
                    continue;
                }
            };
            state = work_on(state, delivery, config.ack_wait).await;
        }
        tracing::info!("worker stopped");
        Ok(())
    })
}

/// What a worker keeps between batches; handed to the blocking pool and back for each batch.
struct WorkerState {
    store: Arc<dyn Database>,
    keyring: Arc<Keyring>,
    /// The online resolver, built at the first batch and again after a batch run elsewhere.
    index: Option<ResolverIndex>,
}

/// What one batch did, for the log line, the access log and the answer.
struct Done {
    counts: WriteCounts,
    placed: Vec<Placed>,
}

async fn work_on(state: WorkerState, delivery: Delivery, ack_wait: Duration) -> WorkerState {
    let id = match delivery.id() {
        Ok(id) => id,
        Err(error) => {
            // Not a batch this crate published; it can never be processed.
            tracing::error!(%error, "dropping a message that is not an ingest batch");
            let _ = delivery.ack().await;
            return state;
        }
    };
    let batch = match delivery.open(&state.keyring) {
        Ok(batch) => batch,
        Err(error) => {
            // Another keyring (a worker configured apart from the importers) or a damaged body:
            // give it back for a worker that can open it, and say so loudly.
            tracing::error!(batch = id.as_str(), %error, "cannot open a batch; giving it back");
            let _ = delivery.give_back(RETRY_DELAY * 6).await;
            return state;
        }
    };
    let attempt = delivery.attempt();
    if attempt > 1 {
        tracing::info!(batch = id.as_str(), attempt, "batch delivered again");
    }
    let source = batch.source.to_string();
    let mut work = tokio::task::spawn_blocking(move || {
        let mut state = state;
        let done = store_and_place(&mut state, &batch);
        (state, done)
    });
    let mut ticks = tokio::time::interval((ack_wait / 3).max(Duration::from_millis(200)));
    ticks.tick().await;
    let joined = loop {
        tokio::select! {
            joined = &mut work => break joined,
            _ = ticks.tick() => {
                if let Err(error) = delivery.in_progress().await {
                    tracing::warn!(batch = id.as_str(), %error, "cannot extend the batch's ack wait");
                }
            }
        }
    };
    let Ok((state, done)) = joined else {
        // The blocking task panicked, taking the state with it: nothing sensible remains.
        tracing::error!(batch = id.as_str(), "the batch's work panicked; stopping");
        std::process::exit(1);
    };
    match done {
        Ok(done) => {
            let resolved = done
                .placed
                .iter()
                .filter(|p| p.status == PlacementStatus::Resolved)
                .count();
            match delivery.ack().await {
                Ok(()) => tracing::info!(
                    batch = id.as_str(),
                    source,
                    attempt,
                    records = done.placed.len(),
                    new = done.counts.new,
                    changed = done.counts.changed,
                    unchanged = done.counts.unchanged,
                    resolved,
                    "batch done"
                ),
                // Stored and placed, but the server may deliver it again: then the next worker
                // finds everything in place and writes nothing.
                Err(error) => {
                    tracing::warn!(batch = id.as_str(), %error, "cannot acknowledge a done batch")
                }
            }
            // Answered only once acknowledged, so that a publisher told "done" finds the batch
            // gone from the queue. A worker that dies in between leaves the publisher waiting
            // for nothing: it answers 503 `batch_queued`, and sending again finds it stored.
            if let Err(error) = delivery.reply(&state.keyring, &done.placed).await {
                tracing::warn!(batch = id.as_str(), %error, "cannot answer the publisher");
            }
        }
        Err(error) => {
            tracing::error!(batch = id.as_str(), source, error = %format!("{error:#}"), "batch failed; giving it back");
            let _ = delivery.give_back(RETRY_DELAY).await;
        }
    }
    state
}

/// Stores the batch, places its records and logs the write. Blocking.
fn store_and_place(state: &mut WorkerState, batch: &IngestBatch) -> anyhow::Result<Done> {
    let store = state.store.as_ref();
    let records = batch.to_records();
    let refs: Vec<&SourceRecord> = records.iter().collect();
    let counts = store_records(
        store,
        &KeyringSealer(&state.keyring),
        &batch.origin,
        &refs,
        refs.len() as u64,
    )
    .context("failed to store the batch")?;
    let mut attempts = 0;
    let placed = loop {
        let index = match &mut state.index {
            Some(index) => index,
            empty => empty
                .insert(ResolverIndex::build(store).context("failed to build the resolver index")?),
        };
        match place_records(store, index, &refs) {
            Ok(placed) => break placed,
            Err(PlaceError::IndexStale(error)) if attempts + 1 < PLACE_ATTEMPTS => {
                attempts += 1;
                if let Some(error) = error {
                    tracing::warn!(%error, "placements not stored; rebuilding the resolver index");
                } else {
                    tracing::info!(
                        "a batch resolution was stored elsewhere; rebuilding the resolver index"
                    );
                }
                state.index = None;
            }
            Err(error) => {
                state.index = None;
                return Err(error).context("failed to place the batch's records");
            }
        }
    };
    let written: Vec<_> = placed
        .iter()
        .filter(|p| p.status != PlacementStatus::Unchanged)
        .map(|p| (p.profile.clone(), p.kinds.clone()))
        .collect();
    crate::audit::log_cli(
        store,
        Action::Ingest,
        None,
        &written,
        Some(format!("source={} origin={}", batch.source, batch.origin)),
    )?;
    Ok(Done { counts, placed })
}
