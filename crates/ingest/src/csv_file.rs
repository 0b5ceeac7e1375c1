//! CSV files: logical rows (quoted fields may span lines), the header, and field splitting.
//!
//! Lines are grouped into a row while a quoted field is open (an odd number of quote bytes so far).
//! A quote that never closes would otherwise swallow the rest of the file into one field; instead,
//! when a row that spans lines ends at the end of the file, grows past [`MAX_LINES_PER_ROW`] or
//! has the wrong number of fields, only its first line is quarantined and the lines after it are
//! read again as rows of their own. Nothing is swallowed.

use std::collections::VecDeque;
use std::io::BufRead;
use std::ops::ControlFlow;

use csv_core::{ReadRecordResult, ReaderBuilder};

use crate::IngestError;
use crate::convert::Converter;
use crate::lines::{LineInfo, LineReader};
use crate::mapping::Input as FieldInput;
use crate::read::{Input, ReadSummary, Rejection, Row, emit};

/// A quoted field may hold line breaks, but no real field holds this many.
const MAX_LINES_PER_ROW: usize = 64;

/// Splits one complete row into fields with csv-core.
struct FieldSplitter {
    reader: csv_core::Reader,
    input: Vec<u8>,
    output: Vec<u8>,
    ends: Vec<usize>,
    count: usize,
}

impl FieldSplitter {
    fn new(delimiter: u8) -> FieldSplitter {
        FieldSplitter {
            reader: ReaderBuilder::new().delimiter(delimiter).build(),
            input: Vec::new(),
            output: vec![0; 1024],
            ends: vec![0; 64],
            count: 0,
        }
    }

    /// Splits `row` (one logical row of UTF-8 text, without its final line break).
    fn split(&mut self, row: &str) {
        self.input.clear();
        self.input.extend_from_slice(row.as_bytes());
        self.input.push(b'\n');
        if self.output.len() < self.input.len() {
            self.output.resize(self.input.len(), 0);
        }
        let (mut in_pos, mut out_pos, mut end_pos) = (0, 0, 0);
        loop {
            let (result, n_in, n_out, n_end) = self.reader.read_record(
                &self.input[in_pos..],
                &mut self.output[out_pos..],
                &mut self.ends[end_pos..],
            );
            in_pos += n_in;
            out_pos += n_out;
            end_pos += n_end;
            match result {
                ReadRecordResult::OutputFull => {
                    let len = self.output.len();
                    self.output.resize(len * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                // The input ends with a line break, so a record always completes; InputEmpty
                // can only come from an unterminated quote, which the caller ruled out.
                ReadRecordResult::Record | ReadRecordResult::InputEmpty | ReadRecordResult::End => {
                    break;
                }
            }
        }
        self.count = end_pos;
        self.reader.reset();
    }

    fn len(&self) -> usize {
        self.count
    }

    fn field(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let bytes = &self.output[start..self.ends[i]];
        // The row was valid UTF-8 and csv-core splits only at ASCII delimiters and quotes.
        std::str::from_utf8(bytes).unwrap_or_default()
    }
}

/// A physical line held for grouping or re-reading.
struct HeldLine {
    info: LineInfo,
    bytes: Vec<u8>,
}

struct Lines<R> {
    reader: LineReader<R>,
    pushed_back: VecDeque<HeldLine>,
}

impl<R: BufRead> Lines<R> {
    fn next(&mut self) -> std::io::Result<Option<HeldLine>> {
        if let Some(line) = self.pushed_back.pop_front() {
            return Ok(Some(line));
        }
        let mut bytes = Vec::new();
        Ok(self
            .reader
            .next_line(&mut bytes)?
            .map(|info| HeldLine { info, bytes }))
    }
}

fn quote_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'"').count()
}

/// A logical row: its first line and the bytes of all its lines joined by `\n`.
enum Logical {
    Row {
        first: LineInfo,
        bytes: Vec<u8>,
        continuation: Vec<HeldLine>,
    },
    TooLong {
        first: LineInfo,
        prefix: Vec<u8>,
        total: u64,
    },
    BrokenQuote {
        first: HeldLine,
    },
}

fn next_logical<R: BufRead>(lines: &mut Lines<R>) -> std::io::Result<Option<Logical>> {
    let first = loop {
        match lines.next()? {
            None => return Ok(None),
            Some(line)
                if line.bytes.iter().all(u8::is_ascii_whitespace)
                    && line.info.cut_at_total.is_none() =>
            {
                continue;
            }
            Some(line) => break line,
        }
    };
    if let Some(total) = first.info.cut_at_total {
        return Ok(Some(Logical::TooLong {
            first: first.info,
            prefix: first.bytes,
            total,
        }));
    }
    let mut bytes = first.bytes.clone();
    let mut continuation: Vec<HeldLine> = Vec::new();
    let mut quotes = quote_count(&bytes);
    while quotes % 2 == 1 {
        let next = if continuation.len() < MAX_LINES_PER_ROW {
            lines.next()?
        } else {
            None
        };
        match next {
            Some(line) if line.info.cut_at_total.is_none() => {
                bytes.push(b'\n');
                bytes.extend_from_slice(&line.bytes);
                quotes += quote_count(&line.bytes);
                continuation.push(line);
            }
            other => {
                // The quote never closes: re-read everything after the first line.
                continuation.extend(other);
                for line in continuation.into_iter().rev() {
                    lines.pushed_back.push_front(line);
                }
                return Ok(Some(Logical::BrokenQuote { first }));
            }
        }
    }
    Ok(Some(Logical::Row {
        first: first.info,
        bytes,
        continuation,
    }))
}

pub(crate) fn read(
    input: Input<'_>,
    converter: &Converter<'_>,
    summary: &mut ReadSummary,
    on_row: &mut dyn FnMut(Row) -> ControlFlow<()>,
) -> Result<(), IngestError> {
    let path = input.path;
    let io_error = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let encoding = input.encoding;
    let max_row_bytes = input.options.max_row_bytes;
    let mut lines = Lines {
        reader: LineReader::new(
            input.reader,
            input.start_offset,
            max_row_bytes,
            input.options.bytes_read.clone(),
        ),
        pushed_back: VecDeque::new(),
    };
    let mapping = converter.mapping;
    let mut splitter = FieldSplitter::new(mapping.delimiter);

    // The header decides which column each field reads.
    let header: Vec<String> = if mapping.header {
        match next_logical(&mut lines).map_err(io_error)? {
            Some(Logical::Row { bytes, .. }) => {
                let text = encoding
                    .decode(&bytes)
                    .map_err(|reason| IngestError::Format {
                        path: path.to_path_buf(),
                        reason: format!("header row: {reason}"),
                    })?;
                splitter.split(&text);
                (0..splitter.len())
                    .map(|i| splitter.field(i).trim().to_string())
                    .collect()
            }
            Some(_) => {
                return Err(IngestError::Format {
                    path: path.to_path_buf(),
                    reason: "the header row is over the row length limit or has an unclosed quote"
                        .into(),
                });
            }
            None => {
                return Err(IngestError::Empty {
                    path: path.to_path_buf(),
                });
            }
        }
    } else {
        Vec::new()
    };
    let column_of = |name: &str| -> Option<usize> {
        if mapping.header {
            header.iter().position(|h| h == name)
        } else {
            name.parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .map(|n| n - 1)
        }
    };
    let mut field_columns: Vec<Option<usize>> = Vec::with_capacity(mapping.fields.len());
    let mut missing = Vec::new();
    for field in &mapping.fields {
        match &field.input {
            FieldInput::Constant(_) => field_columns.push(None),
            FieldInput::Column(name) => match column_of(name) {
                Some(index) => {
                    if mapping.header && header.iter().filter(|h| *h == name).count() > 1 {
                        return Err(IngestError::DuplicateColumn {
                            path: path.to_path_buf(),
                            column: name.clone(),
                        });
                    }
                    field_columns.push(Some(index));
                }
                None => {
                    missing.push(name.clone());
                    field_columns.push(None);
                }
            },
        }
    }
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns {
            path: path.to_path_buf(),
            missing,
            header,
        });
    }
    let expected_fields = if mapping.header {
        Some(header.len())
    } else {
        None
    };

    let mut number = 0u64;
    while let Some(logical) = next_logical(&mut lines).map_err(io_error)? {
        number += 1;
        let row = match logical {
            Logical::TooLong { first, prefix, total } => Row {
                number,
                line: Some(first.number),
                outcome: Err(Rejection::of_reason(
                    format!("row is {total} bytes, over the limit of {max_row_bytes}; the raw row holds its first bytes only"),
                    String::from_utf8_lossy(&prefix).into_owned(),
                    Some(total),
                    Some(first.offset),
                )),
            },
            Logical::BrokenQuote { first } => Row {
                number,
                line: Some(first.info.number),
                outcome: Err(Rejection::of_reason(
                    "a quoted field opens on this line and never closes; the lines after it were read as rows of their own".into(),
                    lossy(encoding, &first.bytes),
                    Some(first.bytes.len() as u64),
                    Some(first.info.offset),
                )),
            },
            Logical::Row { first, bytes, continuation } => {
                let text = match encoding.decode(&bytes) {
                    Ok(text) => text,
                    Err(reason) => {
                        let rejection = Rejection::of_reason(reason, lossy(encoding, &bytes), Some(bytes.len() as u64), Some(first.offset));
                        emit(on_row, summary, Row { number, line: Some(first.number), outcome: Err(rejection) });
                        if summary.stopped {
                            return Ok(());
                        }
                        continue;
                    }
                };
                splitter.split(&text);
                let fields = splitter.len();
                match expected_fields {
                    Some(expected) if fields != expected && !continuation.is_empty() => {
                        // Most likely a stray quote joined lines that are rows of their own.
                        let first_line_len = bytes.iter().position(|b| *b == b'\n').unwrap_or(bytes.len());
                        for line in continuation.into_iter().rev() {
                            lines.pushed_back.push_front(line);
                        }
                        Row {
                            number,
                            line: Some(first.number),
                            outcome: Err(Rejection::of_reason(
                                format!("a quote on this line joins it with the next lines into a row of {fields} fields, but the header has {expected}; the lines after it were read as rows of their own"),
                                lossy(encoding, &bytes[..first_line_len]),
                                Some(first_line_len as u64),
                                Some(first.offset),
                            )),
                        }
                    }
                    Some(expected) if fields != expected => Row {
                        number,
                        line: Some(first.number),
                        outcome: Err(Rejection::of_reason(
                            format!("row has {fields} fields, the header has {expected}"),
                            text.into_owned(),
                            Some(bytes.len() as u64),
                            Some(first.offset),
                        )),
                    },
                    _ => {
                        let outcome = converter
                            .convert(|i| {
                                Ok(field_columns[i].and_then(|c| (c < fields).then(|| splitter.field(c).into())))
                            })
                            .map_err(|problems| Rejection::of_problems(problems, text.to_string(), Some(first.offset)));
                        Row { number, line: Some(first.number), outcome }
                    }
                }
            }
        };
        emit(on_row, summary, row);
        if summary.stopped {
            return Ok(());
        }
    }
    Ok(())
}

fn lossy(encoding: crate::decode::TextEncoding, bytes: &[u8]) -> String {
    match encoding.decode(bytes) {
        Ok(text) => text.into_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}
