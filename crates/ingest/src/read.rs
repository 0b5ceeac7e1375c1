//! The entry point for reading one file: open it, decide its encoding, and dispatch to the reader
//! for its format.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use tessera_model::SourceRecord;

use crate::convert::{Converter, FieldProblem};
use crate::mapping::{Format, Mapping};
use crate::{csv_file, decode, json_file};

/// A problem with a whole file. Rows are never reported this way; they go to quarantine.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is empty")]
    Empty { path: PathBuf },
    #[error(
        "{path} is not valid UTF-8 (first bad byte at offset {offset}, line {line}); it looks like {guess}: set encoding = \"{guess}\" in the mapping"
    )]
    NotUtf8 {
        path: PathBuf,
        offset: u64,
        line: u64,
        guess: &'static str,
    },
    #[error(
        "{path} is declared {declared} but is UTF-8 text; reading it as {declared} would garble every letter: set encoding = \"utf-8\""
    )]
    Utf8DeclaredAsSingleByte {
        path: PathBuf,
        declared: &'static str,
    },
    #[error("{path}: cannot tell the encoding (best guess {guess}); declare it in the mapping")]
    UnknownEncoding { path: PathBuf, guess: &'static str },
    #[error("{path} starts with a UTF-16 byte-order mark; save it as UTF-8 or Windows-1251")]
    Utf16 { path: PathBuf },
    #[error(
        "{path}: the mapping reads column(s) {missing:?}, which the header does not have; the header has {header:?}"
    )]
    MissingColumns {
        path: PathBuf,
        missing: Vec<String>,
        header: Vec<String>,
    },
    #[error("{path}: column {column:?} appears more than once in the header")]
    DuplicateColumn { path: PathBuf, column: String },
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error(
        "{path}: JSON syntax error at line {line}, column {column}: {message}; the {elements_before} elements before it were read"
    )]
    JsonSyntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        elements_before: u64,
    },
}

/// How to read a file.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// The observation time for rows whose mapping gives none (usually the import's start).
    pub observed_default: DateTime<Utc>,
    /// Rows longer than this are quarantined with a prefix of their bytes, not held in memory.
    pub max_row_bytes: usize,
    /// Updated with the number of bytes consumed so far, for a progress bar.
    pub bytes_read: Option<Arc<AtomicU64>>,
}

impl ReadOptions {
    pub const DEFAULT_MAX_ROW_BYTES: usize = 1 << 20;

    pub fn new(observed_default: DateTime<Utc>) -> ReadOptions {
        ReadOptions {
            observed_default,
            max_row_bytes: Self::DEFAULT_MAX_ROW_BYTES,
            bytes_read: None,
        }
    }
}

/// A row that could not become a record, with everything needed to fix and re-send it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// One line saying what is wrong.
    pub reason: String,
    /// Per-field problems, when the row was read but its values were wrong.
    pub problems: Vec<FieldProblem>,
    /// The row as text (decoded; lossily if it was not valid in the file's encoding). For a row
    /// over the length limit, only its first `max_row_bytes`.
    pub raw: String,
    /// The row's full length in bytes in the file, when known.
    pub raw_bytes: Option<u64>,
    /// The byte offset of the row in the file, when known, so a cut row can be recovered.
    pub byte_offset: Option<u64>,
}

/// One row of a file: its 1-based number among data rows, the line it starts on (CSV, NDJSON),
/// and the record or the rejection.
#[derive(Clone, Debug)]
pub struct Row {
    pub number: u64,
    pub line: Option<u64>,
    pub outcome: Result<SourceRecord, Rejection>,
}

/// What reading a file did, besides the rows.
#[derive(Clone, Debug, Default)]
pub struct ReadSummary {
    pub rows: u64,
    pub encoding: &'static str,
    /// Things the operator should know that are not errors (a guessed encoding, a mapped JSON
    /// field that never occurred).
    pub notes: Vec<String>,
    /// The callback asked to stop before the end of the file.
    pub stopped: bool,
}

impl Rejection {
    pub(crate) fn of_problems(
        problems: Vec<FieldProblem>,
        raw: String,
        byte_offset: Option<u64>,
    ) -> Rejection {
        let reason = problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let raw_bytes = Some(raw.len() as u64);
        Rejection {
            reason,
            problems,
            raw,
            raw_bytes,
            byte_offset,
        }
    }

    pub(crate) fn of_reason(
        reason: String,
        raw: String,
        raw_bytes: Option<u64>,
        byte_offset: Option<u64>,
    ) -> Rejection {
        Rejection {
            reason,
            problems: Vec::new(),
            raw,
            raw_bytes,
            byte_offset,
        }
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Hands a row to the caller's callback and counts it; notes when the callback asks to stop.
pub(crate) fn emit(
    on_row: &mut dyn FnMut(Row) -> ControlFlow<()>,
    summary: &mut ReadSummary,
    row: Row,
) {
    summary.rows += 1;
    if on_row(row).is_break() {
        summary.stopped = true;
    }
}

/// Reads `path` with `mapping`, handing each row to `on_row` in file order.
pub fn read_file(
    path: &Path,
    mapping: &Mapping,
    options: &ReadOptions,
    on_row: &mut dyn FnMut(Row) -> ControlFlow<()>,
) -> Result<ReadSummary, IngestError> {
    let io_error = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut sample = Vec::with_capacity(decode::SNIFF_BYTES);
    (&mut file)
        .take(decode::SNIFF_BYTES as u64)
        .read_to_end(&mut sample)
        .map_err(io_error)?;
    let whole_file = sample.len() < decode::SNIFF_BYTES;
    if sample.iter().all(u8::is_ascii_whitespace) && whole_file {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    if sample.starts_with(b"\xFF\xFE") || sample.starts_with(b"\xFE\xFF") {
        return Err(IngestError::Utf16 {
            path: path.to_path_buf(),
        });
    }
    let bom = if sample.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    let choice = if bom > 0 {
        crate::EncodingChoice::Utf8
    } else {
        mapping.encoding
    };
    let (encoding, note) = decode::choose(path, choice, &sample[bom..], whole_file)?;
    file.seek(SeekFrom::Start(bom as u64)).map_err(io_error)?;
    let reader = BufReader::with_capacity(1 << 18, file);
    let converter = Converter {
        mapping,
        observed_default: options.observed_default,
    };
    let mut summary = ReadSummary {
        encoding: encoding.name(),
        notes: note.into_iter().collect(),
        ..ReadSummary::default()
    };
    let input = crate::read::Input {
        path,
        reader,
        start_offset: bom as u64,
        encoding,
        options,
    };
    match mapping.format {
        Format::Csv => csv_file::read(input, &converter, &mut summary, on_row)?,
        Format::Ndjson => json_file::read_lines(input, &converter, &mut summary, on_row)?,
        Format::Json => json_file::read_array(input, &converter, &mut summary, on_row)?,
    }
    Ok(summary)
}

/// An opened file positioned after its BOM, with the encoding decided.
pub(crate) struct Input<'a> {
    pub(crate) path: &'a Path,
    pub(crate) reader: BufReader<File>,
    pub(crate) start_offset: u64,
    pub(crate) encoding: decode::TextEncoding,
    pub(crate) options: &'a ReadOptions,
}
