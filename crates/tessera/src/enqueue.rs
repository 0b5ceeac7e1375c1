//! `tessera import --queue`: read and validate files as `tessera import` does, but publish the
//! validated records to the ingest queue for `tessera worker` processes instead of storing them.
//!
//! Rows are read, converted and validated here, and rejected rows go to the same quarantine file
//! as a direct import; only the records travel, in batches of one source (at most
//! `--batch-records`, and at most half the server's message limit in bytes), each sealed with
//! the keyring. A batch's id comes from its content, so an importer run again after a crash
//! publishes nothing the stream already holds. The command returns once the stream has
//! acknowledged every batch; storing and resolving happen in the workers, through the same
//! idempotent store path as a direct import. This process never opens the database.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use tessera_ingest::{IngestError, Mapping, QuarantineWriter, ReadOptions, read_file};
use tessera_jetstream::{BatchId, IngestBatch, IngestQueue, QueueError};
use tessera_seal::Keyring;

use crate::import::{load_mapping, quarantine_path};
use crate::{Settings, count, input_error};

/// What queueing one file did.
struct QueuedFile {
    path: PathBuf,
    source: String,
    encoding: &'static str,
    rows: u64,
    records: u64,
    batches: u64,
    /// Batches the stream already held (an earlier run of the same import).
    duplicates: u64,
    quarantined: u64,
    quarantine_path: Option<PathBuf>,
    elapsed: Duration,
    failure: Option<IngestError>,
}

impl QueuedFile {
    fn print(&self) {
        let quarantine = match &self.quarantine_path {
            Some(path) => format!(" → {}", path.display()),
            None => String::new(),
        };
        println!(
            "{}: source {} ({}), {} rows: {} records queued in {} batches ({} already queued), {} quarantined{quarantine} [{:.1}s]",
            self.path.display(),
            self.source,
            self.encoding,
            count(self.rows),
            count(self.records),
            count(self.batches),
            count(self.duplicates),
            count(self.quarantined),
            self.elapsed.as_secs_f64(),
        );
    }
}

pub(crate) fn run(
    context: &Settings,
    mapping_path: &Path,
    files: &[PathBuf],
    batch_records: usize,
) -> anyhow::Result<()> {
    let mapping = load_mapping(mapping_path)?;
    let keyring = crate::keys::open_keyring(context)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let queue = runtime.block_on(crate::worker::open_queue(context))?;
    let publisher = Publisher {
        runtime: &runtime,
        queue: &queue,
        keyring: &keyring,
        batch_records,
        max_bytes: queue.max_batch_bytes(),
    };
    let (mut batches, mut records, mut failures) = (0, 0, Vec::new());
    for file in files {
        let report = publisher.queue_file(&context.data_dir, &mapping, file)?;
        report.print();
        batches += report.batches;
        records += report.records;
        if let Some(failure) = report.failure {
            if files.len() > 1 {
                eprintln!("error: {failure}");
            }
            failures.push(failure);
        }
    }
    println!(
        "queued {} records in {} batches; `tessera worker` processes store and resolve them",
        count(records),
        count(batches)
    );
    match failures.len() {
        0 => Ok(()),
        1 if files.len() == 1 => Err(input_error(failures.remove(0).to_string())),
        n => Err(input_error(format!(
            "{n} of {} files could not be read; see above",
            files.len()
        ))),
    }
}

struct Publisher<'a> {
    runtime: &'a tokio::runtime::Runtime,
    queue: &'a IngestQueue,
    keyring: &'a Keyring,
    batch_records: usize,
    max_bytes: usize,
}

impl Publisher<'_> {
    /// Publishes one batch and waits for the stream's acknowledgement; true if the stream
    /// already held it.
    fn publish(&self, batch: &IngestBatch) -> Result<bool, QueueError> {
        let id = BatchId::of_content(batch);
        let published = self
            .runtime
            .block_on(self.queue.publish(self.keyring, batch, &id))?;
        Ok(published.duplicate)
    }

    /// Reads one file and publishes its valid records. File-level read problems are returned in
    /// the report, queue failures as `Err` (batches published before stay queued).
    fn queue_file(
        &self,
        data_dir: &Path,
        mapping: &Mapping,
        path: &Path,
    ) -> anyhow::Result<QueuedFile> {
        let started = Instant::now();
        let options = ReadOptions::new(Utc::now());
        let mut quarantine =
            QuarantineWriter::new(quarantine_path(data_dir, &mapping.source, path), path);
        let origin = format!("import:{}", path.display());
        let fresh = || IngestBatch::new(mapping.source.clone(), origin.clone());
        let mut batch = fresh();
        let mut batch_bytes = 0;
        let (mut rows, mut records, mut batches, mut duplicates) = (0u64, 0u64, 0u64, 0u64);
        let mut failure: Option<anyhow::Error> = None;
        let mut flush =
            |batch: &mut IngestBatch, batch_bytes: &mut usize| -> Result<(), QueueError> {
                if batch.is_empty() {
                    return Ok(());
                }
                let duplicate = self.publish(batch)?;
                batches += 1;
                records += batch.len() as u64;
                duplicates += u64::from(duplicate);
                *batch = fresh();
                *batch_bytes = 0;
                Ok(())
            };
        let result = read_file(path, mapping, &options, &mut |row| {
            rows += 1;
            match &row.outcome {
                Ok(record) => {
                    let len = IngestBatch::encoded_len(record);
                    let full =
                        batch.len() >= self.batch_records || batch_bytes + len > self.max_bytes;
                    if full && let Err(e) = flush(&mut batch, &mut batch_bytes) {
                        failure = Some(e.into());
                        return ControlFlow::Break(());
                    }
                    batch.push(record);
                    batch_bytes += len;
                }
                Err(rejection) => {
                    if let Err(e) = quarantine.write(&row, rejection) {
                        failure = Some(anyhow::Error::new(e).context(format!(
                            "failed to write the quarantine file {}",
                            quarantine.path().display()
                        )));
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        });
        if let Some(failure) = failure {
            return Err(failure.context(format!("failed to queue rows of {}", path.display())));
        }
        flush(&mut batch, &mut batch_bytes)
            .with_context(|| format!("failed to queue rows of {}", path.display()))?;
        let quarantined = quarantine.written();
        let quarantine_path = quarantine.finish().with_context(|| {
            format!(
                "failed to finish the quarantine file for {}",
                path.display()
            )
        })?;
        let (encoding, failure) = match result {
            Ok(summary) => (summary.encoding, None),
            Err(e) => ("-", Some(e)),
        };
        Ok(QueuedFile {
            path: path.to_path_buf(),
            source: mapping.source.to_string(),
            encoding,
            rows,
            records,
            batches,
            duplicates,
            quarantined,
            quarantine_path,
            elapsed: started.elapsed(),
            failure,
        })
    }
}
