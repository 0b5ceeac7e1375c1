//! Visiting every current record without holding them all: rows are read through a portal a
//! chunk at a time on the store's runtime and decoded on the calling thread, with at most a few
//! chunks in between (a bounded channel), whatever the number of records.

use deadpool_postgres::Pool;

use super::{RECORD_COLUMNS, raw_record};
use crate::columns::{RawRecord, SCAN_CHUNK, visit_decoded};
use crate::{StoreError, StoredRecord};

/// What the scanning task sends the caller.
enum ScanMessage {
    Rows(Vec<RawRecord>),
    Failed(StoreError),
    Done,
}

/// Reads the current records through a portal, `SCAN_CHUNK` rows at a time, and sends them on;
/// the bounded channel keeps at most a few chunks in memory whatever the table's size.
async fn scan_rows(
    pool: Pool,
    sender: &mut futures::channel::mpsc::Sender<ScanMessage>,
) -> Result<(), StoreError> {
    use futures::SinkExt;
    let mut client = pool.get().await?;
    let transaction = client.build_transaction().read_only(true).start().await?;
    let statement = transaction
        .prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM source_record r LEFT JOIN profile_member pm ON pm.record_id = r.id
             WHERE r.is_current ORDER BY r.id"
        ))
        .await?;
    let portal = transaction.bind(&statement, &[]).await?;
    loop {
        let rows = transaction.query_portal(&portal, SCAN_CHUNK as i32).await?;
        let full = rows.len() == SCAN_CHUNK;
        let raw = rows.iter().map(raw_record).collect::<Result<Vec<_>, _>>()?;
        if !raw.is_empty() && sender.send(ScanMessage::Rows(raw)).await.is_err() {
            // The caller stopped reading (its visit failed); the transaction rolls back.
            return Ok(());
        }
        if !full {
            break;
        }
    }
    transaction.commit().await?;
    Ok(())
}

/// Visits the current version of every record in the order they were stored.
pub(super) fn scan_current(
    runtime: &tokio::runtime::Runtime,
    pool: Pool,
    visit: &mut dyn FnMut(StoredRecord),
) -> Result<(), StoreError> {
    let (mut sender, receiver) = futures::channel::mpsc::channel(1);
    runtime.spawn(async move {
        use futures::SinkExt;
        let message = match scan_rows(pool, &mut sender).await {
            Ok(()) => ScanMessage::Done,
            Err(error) => ScanMessage::Failed(error),
        };
        let _ = sender.send(message).await;
    });
    // Rows are decoded a chunk at a time on every core, here, while the runtime fetches the
    // next chunk. Waiting on the channel with a plain executor works on any thread, inside
    // another runtime too.
    for message in futures::executor::block_on_stream(receiver) {
        match message {
            ScanMessage::Rows(mut raw) => visit_decoded(&mut raw, visit)?,
            ScanMessage::Failed(error) => return Err(error),
            ScanMessage::Done => return Ok(()),
        }
    }
    // The channel closed without `Done`: the scanning task panicked or was cancelled.
    Err(StoreError::PostgresWorkerGone)
}
