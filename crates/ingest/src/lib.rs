//! Reading agency exports into source records.
//!
//! A [`Mapping`] (TOML, see `docs/mapping.md`) says how one source's columns or JSON fields become
//! [`tessera_model::SourceRecord`]s. [`read_file`] streams a CSV, NDJSON or JSON-array file in
//! bounded memory and hands every row to a callback, either as a record or as a [`Rejection`] with
//! the row number, the raw row and every reason it failed; [`QuarantineWriter`] keeps those.
//!
//! A problem with the whole file (it is not the encoding the mapping says, it lacks a mapped
//! column, it is empty) is an [`IngestError`] raised before any row is handed over, except for a
//! JSON array broken in the middle, whose earlier elements have been handed over already.
//!
//! This crate does not store anything and does not resolve anything.

mod convert;
mod csv_file;
mod decode;
mod json_file;
mod lines;
mod mapping;
mod quarantine;
mod read;

pub use convert::FieldProblem;
pub use json_file::convert_json;
pub use mapping::{EncodingChoice, Format, Mapping, MappingError, Normaliser};
pub use quarantine::QuarantineWriter;
pub use read::{IngestError, ReadOptions, ReadSummary, Rejection, Row, read_file};
