//! Appending to the access log without making reads slow: group commit.
//!
//! Each request hands its entry to one writer thread and waits for it to be committed before it
//! answers, so no response leaves before its read is logged. The writer takes every entry that
//! is waiting (up to [`MAX_BATCH`]) and appends them in one transaction, so under load one
//! commit serves many requests. If the log cannot be written, the request fails: a read that
//! cannot be logged is not served.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use tessera_policy::{AccessEntry, chain_hash};
use tessera_store::{AccessStore, NewAccess};
use tokio::sync::oneshot;

use crate::error::ApiError;

/// The most entries one transaction appends.
const MAX_BATCH: usize = 4096;
/// How many entries may wait for the writer before requests wait to hand theirs over.
const QUEUE: usize = 16_384;

struct Pending {
    entry: NewAccess,
    done: oneshot::Sender<Result<u64, String>>,
}

/// The handle requests append through. Dropping the last one stops the writer after it has
/// written everything handed over.
pub(crate) struct AuditLog {
    queue: Option<SyncSender<Pending>>,
    writer: Option<JoinHandle<()>>,
}

impl AuditLog {
    pub(crate) fn start(store: Arc<dyn AccessStore>) -> AuditLog {
        let (queue, pending) = sync_channel::<Pending>(QUEUE);
        let writer = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_batches(store.as_ref(), pending))
            .expect("the operating system can start a thread");
        AuditLog {
            queue: Some(queue),
            writer: Some(writer),
        }
    }

    /// Appends one entry and waits until it is committed; returns its sequence number.
    pub(crate) async fn append(&self, entry: &AccessEntry) -> Result<u64, ApiError> {
        let seqs = self.append_all(std::slice::from_ref(entry)).await?;
        seqs.first()
            .copied()
            .ok_or_else(|| ApiError::internal("the access log returned no sequence number"))
    }

    /// Appends entries and waits until all of them are committed (usually in one transaction).
    pub(crate) async fn append_all(&self, entries: &[AccessEntry]) -> Result<Vec<u64>, ApiError> {
        let queue = self
            .queue
            .as_ref()
            .ok_or_else(|| ApiError::internal("the access log is closed"))?
            .clone();
        let mut waiting = Vec::with_capacity(entries.len());
        let mut pendings = Vec::with_capacity(entries.len());
        for entry in entries {
            let (done, committed) = oneshot::channel();
            waiting.push(committed);
            pendings.push(Pending {
                entry: NewAccess {
                    entry: entry.to_json(),
                    profile: entry.profile.clone().map(tessera_model::ProfileId::new),
                },
                done,
            });
        }
        // The queue is bounded: when the writer falls behind, try without blocking first, and
        // wait off the async threads only when it is full.
        let mut rest = Vec::new();
        for pending in pendings {
            match queue.try_send(pending) {
                Ok(()) => {}
                Err(std::sync::mpsc::TrySendError::Full(pending)) => rest.push(pending),
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                    return Err(ApiError::internal("the access-log writer stopped"));
                }
            }
        }
        if !rest.is_empty() {
            tokio::task::spawn_blocking(move || rest.into_iter().try_for_each(|p| queue.send(p)))
                .await
                .map_err(ApiError::internal)?
                .map_err(|_| ApiError::internal("the access-log writer stopped"))?;
        }
        let mut seqs = Vec::with_capacity(waiting.len());
        for committed in waiting {
            let seq = committed
                .await
                .map_err(|_| ApiError::internal("the access-log writer stopped"))?
                .map_err(ApiError::internal)?;
            seqs.push(seq);
        }
        metrics::counter!("tessera_access_log_entries_total").increment(seqs.len() as u64);
        Ok(seqs)
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn write_batches(store: &dyn AccessStore, pending: Receiver<Pending>) {
    while let Ok(first) = pending.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let entries: Vec<NewAccess> = batch.iter().map(|p| p.entry.clone()).collect();
        metrics::histogram!("tessera_access_log_batch_size").record(batch.len() as f64);
        match store.append_access(&entries, chain_hash) {
            Ok(seqs) => {
                for (p, seq) in batch.into_iter().zip(seqs) {
                    let _ = p.done.send(Ok(seq));
                }
            }
            Err(error) => {
                let message = format!("cannot append to the access log: {error}");
                tracing::error!(%message);
                for p in batch {
                    let _ = p.done.send(Err(message.clone()));
                }
            }
        }
    }
}
