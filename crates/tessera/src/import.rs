//! `tessera import`: stream files through their mapping into the store.
//!
//! Two threads per file: the reader parses, converts and prepares rows (and writes rejected rows
//! to the quarantine file); the writer stores batches, one transaction each. A bounded channel
//! between them keeps memory flat whatever the file size. Each committed batch is durable, so an
//! interrupted import run again finds its committed rows unchanged and stores the rest: every
//! row ends up stored exactly once.

use std::fs;
use std::mem;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use tessera_ingest::{IngestError, Mapping, QuarantineWriter, ReadOptions, read_file};
use tessera_model::SourceId;
use tessera_policy::Action;
use tessera_serve::KeyringSealer;
use tessera_store::{
    AccessStore, ImportEnd, ImportStatus, PreparedRecord, Sealer, Store, WriteCounts,
};

use crate::{Settings, count, input_error};

/// Records per batch handed from the reader to the writer.
const BATCH_SIZE: usize = 8192;

/// Records per write transaction, and its cap in encoded bytes. Record keys arrive in no useful
/// order, so every transaction dirties pages all over the key index and writes each of them to
/// the WAL once: the fewer transactions, the less is written. 65,536 rows cut a 1M-row import
/// from 60k to over 100k rows/s (docs/benchmarks.md); an interruption loses at most one group,
/// which the next run stores.
const COMMIT_ROWS: usize = 65_536;
const COMMIT_BYTES: usize = 64 << 20;

/// What importing one file did.
pub(crate) struct FileReport {
    pub(crate) path: PathBuf,
    pub(crate) source: SourceId,
    pub(crate) encoding: &'static str,
    pub(crate) rows: u64,
    pub(crate) counts: WriteCounts,
    pub(crate) quarantined: u64,
    pub(crate) quarantine_path: Option<PathBuf>,
    pub(crate) notes: Vec<String>,
    pub(crate) elapsed: Duration,
    /// The reason the file could not be (fully) read; rows before it may have been stored.
    pub(crate) failure: Option<IngestError>,
}

impl FileReport {
    pub(crate) fn print(&self) {
        let quarantine = match &self.quarantine_path {
            Some(path) => format!(" → {}", path.display()),
            None => String::new(),
        };
        println!(
            "{}: source {} ({}), {} rows: {} new, {} changed (new version), {} unchanged, {} quarantined{quarantine} [{:.1}s]",
            self.path.display(),
            self.source,
            self.encoding,
            count(self.rows),
            count(self.counts.new),
            count(self.counts.changed),
            count(self.counts.unchanged),
            count(self.quarantined),
            self.elapsed.as_secs_f64(),
        );
        for note in &self.notes {
            println!("  note: {note}");
        }
    }
}

impl FileReport {
    /// Appends the import to the access log: a bulk write of personal data by the operator.
    pub(crate) fn log(&self, store: &dyn AccessStore) -> anyhow::Result<()> {
        crate::audit::log_cli(
            store,
            Action::Import,
            None,
            &[],
            Some(format!(
                "source={} file={} new={} changed={} quarantined={}",
                self.source,
                self.path.display(),
                self.counts.new,
                self.counts.changed,
                self.quarantined
            )),
        )
    }
}

pub(crate) fn load_mapping(path: &Path) -> anyhow::Result<Mapping> {
    let text = fs::read_to_string(path)
        .map_err(|e| input_error(format!("cannot read mapping {}: {e}", path.display())))?;
    Mapping::from_toml(&text)
        .map_err(|e| input_error(format!("invalid mapping {}: {e}", path.display())))
}

pub(crate) fn run(
    context: &Settings,
    mapping_path: &Path,
    files: &[PathBuf],
) -> anyhow::Result<()> {
    let data_dir = context.data_dir.as_path();
    let mapping = load_mapping(mapping_path)?;
    let store = context.open_store()?;
    let store = &*store;
    let keyring = crate::keys::open_keyring(context)?;
    let sealer = KeyringSealer(&keyring);
    let mut failures = Vec::new();
    for file in files {
        let report = import_file(store, data_dir, &mapping, file, true, &sealer)?;
        report.log(store)?;
        if report.rows > 0 || report.failure.is_none() {
            report.print();
        }
        if let Some(failure) = report.failure {
            if files.len() > 1 {
                eprintln!("error: {failure}");
            }
            failures.push(failure);
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 if files.len() == 1 => Err(input_error(failures.remove(0).to_string())),
        n => Err(input_error(format!(
            "{n} of {} files could not be read; see above",
            files.len()
        ))),
    }
}

/// Where rejected rows of `file` go: stable per file, so re-importing replaces, not appends.
pub(crate) fn quarantine_path(data_dir: &Path, source: &SourceId, file: &Path) -> PathBuf {
    let absolute = fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let digest = Sha256::digest(absolute.to_string_lossy().as_bytes());
    let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    data_dir
        .join("quarantine")
        .join(source.as_str())
        .join(format!("{stem}-{tag}.ndjson"))
}

fn progress_bar(len: u64, file: &Path, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(file.display().to_string());
    bar
}

/// Imports one file. File-level read problems are returned in the report, store failures as `Err`.
pub(crate) fn import_file(
    store: &dyn Store,
    data_dir: &Path,
    mapping: &Mapping,
    path: &Path,
    show_progress: bool,
    sealer: &dyn Sealer,
) -> anyhow::Result<FileReport> {
    let started = Instant::now();
    let started_at = Utc::now();
    let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let import = store.begin_import(&mapping.source, &path.display().to_string(), started_at)?;
    let bytes_read = Arc::new(AtomicU64::new(0));
    let options = ReadOptions {
        bytes_read: Some(bytes_read.clone()),
        ..ReadOptions::new(started_at)
    };
    let bar = progress_bar(size, path, show_progress);
    let (sender, receiver) = sync_channel::<Vec<PreparedRecord>>(4);
    let mut quarantine =
        QuarantineWriter::new(quarantine_path(data_dir, &mapping.source, path), path);

    let (read_result, rows, quarantine_failure, write_result) = thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut batch = Vec::with_capacity(BATCH_SIZE);
            let mut rows = 0u64;
            let mut quarantine_failure = None;
            let result = read_file(path, mapping, &options, &mut |row| {
                rows += 1;
                match &row.outcome {
                    Ok(record) => {
                        batch.push(PreparedRecord::new(record, sealer));
                        if batch.len() >= BATCH_SIZE && sender.send(mem::take(&mut batch)).is_err()
                        {
                            return ControlFlow::Break(());
                        }
                    }
                    Err(rejection) => {
                        if let Err(e) = quarantine.write(&row, rejection) {
                            quarantine_failure = Some(e);
                            return ControlFlow::Break(());
                        }
                    }
                }
                ControlFlow::Continue(())
            });
            if !batch.is_empty() {
                // If the writer has stopped, it has reported why; nothing more to do here.
                let _ = sender.send(batch);
            }
            drop(sender);
            (result, rows, quarantine_failure)
        });
        let mut counts = WriteCounts::default();
        let mut write_result = Ok(());
        let mut group: Vec<PreparedRecord> = Vec::new();
        let mut group_bytes = 0;
        let mut batches = receiver.iter().peekable();
        while let Some(batch) = batches.next() {
            group_bytes += batch.iter().map(PreparedRecord::encoded_len).sum::<usize>();
            group.extend(batch);
            let last = batches.peek().is_none();
            if group.len() < COMMIT_ROWS && group_bytes < COMMIT_BYTES && !last {
                continue;
            }
            match store.write_records(import, &group) {
                Ok(written) => counts += written,
                Err(e) => {
                    write_result = Err(e);
                    break;
                }
            }
            group.clear();
            group_bytes = 0;
            bar.set_position(bytes_read.load(Ordering::Relaxed));
        }
        drop(batches);
        drop(receiver);
        let (result, rows, quarantine_failure) =
            reader.join().expect("the reader thread does not panic");
        (
            result,
            rows,
            quarantine_failure,
            write_result.map(|()| counts),
        )
    });
    bar.finish_and_clear();

    let quarantined = quarantine.written();
    let fail = |reason: String| ImportEnd {
        finished_at: Utc::now(),
        status: ImportStatus::Failed(reason),
        rows_read: rows,
        counts: WriteCounts::default(),
        quarantined,
        quarantine_path: None,
    };
    let counts = match write_result {
        Ok(counts) => counts,
        Err(e) => {
            store.finish_import(import, &fail(e.to_string()))?;
            return Err(e).context(format!("failed to store rows of {}", path.display()));
        }
    };
    if let Some(e) = quarantine_failure {
        store.finish_import(import, &fail(e.to_string()))?;
        return Err(e).context(format!(
            "failed to write the quarantine file {}",
            quarantine.path().display()
        ));
    }
    let quarantine_path = quarantine.finish().with_context(|| {
        format!(
            "failed to finish the quarantine file for {}",
            path.display()
        )
    })?;
    let (status, encoding, notes, failure) = match read_result {
        Ok(summary) => (ImportStatus::Done, summary.encoding, summary.notes, None),
        Err(e) => (
            ImportStatus::Failed(e.to_string()),
            "-",
            Vec::new(),
            Some(e),
        ),
    };
    store.finish_import(
        import,
        &ImportEnd {
            finished_at: Utc::now(),
            status,
            rows_read: rows,
            counts,
            quarantined,
            quarantine_path: quarantine_path.as_ref().map(|p| p.display().to_string()),
        },
    )?;
    Ok(FileReport {
        path: path.to_path_buf(),
        source: mapping.source.clone(),
        encoding,
        rows,
        counts,
        quarantined,
        quarantine_path,
        notes,
        elapsed: started.elapsed(),
        failure,
    })
}
