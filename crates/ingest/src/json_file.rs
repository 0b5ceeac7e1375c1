//! NDJSON (one object per line) and JSON-array files.
//!
//! NDJSON is read a line at a time, so a broken line is quarantined alone. A JSON array is
//! streamed element by element through serde's sequence access, so memory holds one element, not
//! the file; a syntax error in the middle cannot be stepped over, so it ends the file with an
//! [`IngestError::JsonSyntax`] naming the place, after the elements before it were handed over.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::Value;

use crate::IngestError;
use crate::convert::Converter;
use crate::decode::TextEncoding;
use crate::lines::LineReader;
use crate::mapping::Input as FieldInput;
use crate::read::{Input, ReadSummary, Rejection, Row, emit};

/// The value at a dotted path (`student.surname`, `phones.0`) of a JSON object.
fn lookup<'v>(object: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(object, |value, step| match value {
        Value::Object(map) => map.get(step),
        Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn as_text(value: &Value) -> Result<Option<Cow<'_, str>>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(Cow::Borrowed(s))),
        Value::Number(n) => Ok(Some(Cow::Owned(n.to_string()))),
        Value::Bool(b) => Ok(Some(Cow::Borrowed(if *b { "true" } else { "false" }))),
        Value::Array(_) => Err("holds an array, expected a single value".into()),
        Value::Object(_) => Err("holds an object, expected a single value".into()),
    }
}

/// Converts one JSON value and notes which mapped paths it had.
fn convert_object(
    converter: &Converter<'_>,
    value: &Value,
    seen: &mut HashSet<usize>,
) -> Result<tessera_model::SourceRecord, Vec<crate::FieldProblem>> {
    let fields = &converter.mapping.fields;
    for (i, field) in fields.iter().enumerate() {
        if let FieldInput::Column(path) = &field.input
            && lookup(value, path).is_some()
        {
            seen.insert(i);
        }
    }
    converter.convert(|i| match &fields[i].input {
        FieldInput::Column(path) => lookup(value, path)
            .map(as_text)
            .transpose()
            .map(Option::flatten),
        FieldInput::Constant(_) => Ok(None),
    })
}

/// Converts one JSON object as one row of `mapping`'s source, as the importer would: what the API's
/// online ingest uses. A CSV source's columns are the object's keys.
pub fn convert_json(
    mapping: &crate::Mapping,
    value: &Value,
    observed_default: chrono::DateTime<chrono::Utc>,
) -> Result<tessera_model::SourceRecord, Vec<crate::FieldProblem>> {
    if !value.is_object() {
        return Err(vec![crate::FieldProblem {
            column: "(record)".into(),
            target: "(record)".into(),
            reason: format!("expected a JSON object, found {}", json_kind(value)),
        }]);
    }
    let converter = Converter {
        mapping,
        observed_default,
    };
    convert_object(&converter, value, &mut HashSet::new())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn note_unseen(
    converter: &Converter<'_>,
    seen: &HashSet<usize>,
    rows: u64,
    summary: &mut ReadSummary,
) {
    if rows == 0 {
        return;
    }
    for (i, field) in converter.mapping.fields.iter().enumerate() {
        if let FieldInput::Column(path) = &field.input
            && !seen.contains(&i)
        {
            summary.notes.push(format!(
                "mapped field {path:?} ({}) occurs in no row of the file",
                field.target_text
            ));
        }
    }
}

pub(crate) fn read_lines(
    input: Input<'_>,
    converter: &Converter<'_>,
    summary: &mut ReadSummary,
    on_row: &mut dyn FnMut(Row) -> ControlFlow<()>,
) -> Result<(), IngestError> {
    let path = input.path;
    let max = input.options.max_row_bytes;
    let mut reader = LineReader::new(
        input.reader,
        input.start_offset,
        max,
        input.options.bytes_read.clone(),
    );
    let mut buf = Vec::new();
    let mut number = 0;
    let mut seen = HashSet::new();
    while let Some(info) = reader
        .next_line(&mut buf)
        .map_err(|source| IngestError::Io {
            path: path.to_path_buf(),
            source,
        })?
    {
        if buf.iter().all(u8::is_ascii_whitespace) && info.cut_at_total.is_none() {
            continue;
        }
        number += 1;
        let reject = |reason: String, raw: String, bytes: u64| {
            Rejection::of_reason(reason, raw, Some(bytes), Some(info.offset))
        };
        let outcome = if let Some(total) = info.cut_at_total {
            Err(reject(
                format!(
                    "line is {total} bytes, over the limit of {max}; the raw row holds its first bytes only"
                ),
                String::from_utf8_lossy(&buf).into_owned(),
                total,
            ))
        } else {
            match input.encoding.decode(&buf) {
                Err(reason) => Err(reject(
                    reason,
                    String::from_utf8_lossy(&buf).into_owned(),
                    buf.len() as u64,
                )),
                Ok(text) => match serde_json::from_str::<Value>(&text) {
                    Err(e) => Err(reject(
                        format!("not JSON: {e}"),
                        text.into_owned(),
                        buf.len() as u64,
                    )),
                    Ok(value @ Value::Object(_)) => convert_object(converter, &value, &mut seen)
                        .map_err(|problems| {
                            Rejection::of_problems(problems, text.into_owned(), Some(info.offset))
                        }),
                    Ok(_) => Err(reject(
                        "line is JSON but not an object".into(),
                        text.into_owned(),
                        buf.len() as u64,
                    )),
                },
            }
        };
        emit(
            on_row,
            summary,
            Row {
                number,
                line: Some(info.number),
                outcome,
            },
        );
        if summary.stopped {
            return Ok(());
        }
    }
    note_unseen(converter, &seen, number, summary);
    Ok(())
}

/// Counts bytes read for the progress bar.
struct CountingReader<R> {
    inner: R,
    count: u64,
    progress: Option<Arc<AtomicU64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if let Some(progress) = &self.progress {
            progress.store(self.count, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// Hands each element of a JSON array to a callback as it is parsed.
struct Elements<'a, 'c> {
    on_element: &'a mut dyn FnMut(Value) -> ControlFlow<()>,
    count: &'c mut u64,
}

impl<'de> DeserializeSeed<'de> for Elements<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            *self.count += 1;
            if (self.on_element)(value).is_break() {
                return Ok(());
            }
        }
        Ok(())
    }
}

pub(crate) fn read_array(
    input: Input<'_>,
    converter: &Converter<'_>,
    summary: &mut ReadSummary,
    on_row: &mut dyn FnMut(Row) -> ControlFlow<()>,
) -> Result<(), IngestError> {
    let path = input.path;
    if let TextEncoding::SingleByte(encoding) = input.encoding {
        return Err(IngestError::Format {
            path: path.to_path_buf(),
            reason: format!(
                "a JSON file must be UTF-8 (RFC 8259), not {}",
                encoding.name()
            ),
        });
    }
    let reader = CountingReader {
        inner: input.reader,
        count: input.start_offset,
        progress: input.options.bytes_read.clone(),
    };
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let mut number = 0u64;
    let mut seen = HashSet::new();
    let mut on_element = |value: Value| -> ControlFlow<()> {
        let outcome = if value.is_object() {
            convert_object(converter, &value, &mut seen)
                .map_err(|problems| Rejection::of_problems(problems, value.to_string(), None))
        } else {
            let raw = value.to_string();
            let bytes = raw.len() as u64;
            Err(Rejection::of_reason(
                "array element is not an object".into(),
                raw,
                Some(bytes),
                None,
            ))
        };
        number += 1;
        emit(
            on_row,
            summary,
            Row {
                number,
                line: None,
                outcome,
            },
        );
        if summary.stopped {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let mut count = 0u64;
    let result = Elements {
        on_element: &mut on_element,
        count: &mut count,
    }
    .deserialize(&mut deserializer);
    let result = result.and_then(|()| {
        if summary.stopped {
            Ok(())
        } else {
            deserializer.end()
        }
    });
    match result {
        Ok(()) => {
            note_unseen(converter, &seen, count, summary);
            Ok(())
        }
        Err(e) if e.is_io() => Err(IngestError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        }),
        Err(e) => Err(IngestError::JsonSyntax {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string(),
            elements_before: count,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_reach_nested_values() {
        let value: Value = serde_json::json!({"student": {"surname": "Иванов", "age": 12}, "phones": ["+7", null]});
        assert_eq!(
            lookup(&value, "student.surname"),
            Some(&Value::String("Иванов".into()))
        );
        assert_eq!(
            as_text(lookup(&value, "student.age").unwrap())
                .unwrap()
                .as_deref(),
            Some("12")
        );
        assert_eq!(lookup(&value, "phones.1"), Some(&Value::Null));
        assert_eq!(lookup(&value, "student.name"), None);
        assert!(as_text(lookup(&value, "student").unwrap()).is_err());
    }
}
