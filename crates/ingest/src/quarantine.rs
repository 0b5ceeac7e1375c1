//! The quarantine file: every row that did not become a record, with its place and reasons.
//!
//! One NDJSON line per rejected row: the file, row number, line, byte offset, reason, per-field
//! problems and the raw row. The file is created on the first rejection only; when a re-import of
//! the same file rejects nothing, the stale quarantine file from before is removed.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Rejection, Row};

#[derive(Serialize)]
struct Entry<'a> {
    file: &'a str,
    row: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_offset: Option<u64>,
    reason: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<Problem<'a>>,
    raw: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_bytes: Option<u64>,
}

#[derive(Serialize)]
struct Problem<'a> {
    column: &'a str,
    target: &'a str,
    reason: &'a str,
}

/// Writes rejected rows of one import of one file.
pub struct QuarantineWriter {
    path: PathBuf,
    source_file: String,
    out: Option<BufWriter<File>>,
    written: u64,
}

impl QuarantineWriter {
    /// Prepares to write rejections of `source_file` to `path`; nothing is created yet.
    pub fn new(path: PathBuf, source_file: &Path) -> QuarantineWriter {
        QuarantineWriter {
            path,
            source_file: source_file.display().to_string(),
            out: None,
            written: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn write(&mut self, row: &Row, rejection: &Rejection) -> io::Result<()> {
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                if let Some(dir) = self.path.parent() {
                    fs::create_dir_all(dir)?;
                }
                self.out.insert(BufWriter::new(File::create(&self.path)?))
            }
        };
        let entry = Entry {
            file: &self.source_file,
            row: row.number,
            line: row.line,
            byte_offset: rejection.byte_offset,
            reason: &rejection.reason,
            problems: rejection
                .problems
                .iter()
                .map(|p| Problem {
                    column: &p.column,
                    target: &p.target,
                    reason: &p.reason,
                })
                .collect(),
            raw: &rejection.raw,
            raw_bytes: rejection.raw_bytes,
        };
        serde_json::to_writer(&mut *out, &entry)?;
        out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    /// Flushes the file, or removes a stale one when this import rejected nothing.
    pub fn finish(self) -> io::Result<Option<PathBuf>> {
        match self.out {
            Some(mut out) => {
                out.flush()?;
                out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                Ok(Some(self.path))
            }
            None => {
                match fs::remove_file(&self.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
                Ok(None)
            }
        }
    }
}
