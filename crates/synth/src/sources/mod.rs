//! The five agency exports: what each source knows about whom, in its own layout, script and
//! encoding, with the mapping file that tells the importer how to read it.
//!
//! Households are rendered into a [`ChunkOutput`] (plain strings per source plus the truth rows)
//! by workers; [`Sinks`] then append chunks to the files in household order, so that files are
//! streamed and never held whole in memory. Each source module owns its columns, its coverage
//! (who appears in it) and its mapping text; this module owns only what they share: record
//! numbers, CSV and JSON escaping, Latin spelling of names, and file framing (headers, BOM, the
//! JSON array brackets). Nothing here decides what is wrong with a value; `corrupt.rs` does.

mod employer;
mod health;
mod migration;
mod school;
mod tax;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::Rng;
use tessera_translit::{Standard, to_latin};

use crate::names::russian_spelling;
use crate::person::{Household, Origin, Person};
use crate::{SourceFile, SynthError, World};

/// One of the five generated sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SourceKind {
    Migration,
    Tax,
    Health,
    Employer,
    School,
}

impl SourceKind {
    pub(crate) const ALL: [SourceKind; 5] = [
        SourceKind::Migration,
        SourceKind::Tax,
        SourceKind::Health,
        SourceKind::Employer,
        SourceKind::School,
    ];

    fn position(self) -> usize {
        self as usize
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            SourceKind::Migration => "migration",
            SourceKind::Tax => "tax",
            SourceKind::Health => "health",
            SourceKind::Employer => "employer",
            SourceKind::School => "school",
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            SourceKind::Migration => migration::FILE_NAME,
            SourceKind::Tax => tax::FILE_NAME,
            SourceKind::Health => health::FILE_NAME,
            SourceKind::Employer => employer::FILE_NAME,
            SourceKind::School => school::FILE_NAME,
        }
    }

    fn mapping(self) -> &'static str {
        match self {
            SourceKind::Migration => migration::MAPPING,
            SourceKind::Tax => tax::MAPPING,
            SourceKind::Health => health::MAPPING,
            SourceKind::Employer => employer::MAPPING,
            SourceKind::School => school::MAPPING,
        }
    }

    /// What the file holds before its first record, as text (the tax header is encoded later).
    fn prologue(self) -> &'static str {
        match self {
            SourceKind::Migration => migration::HEADER,
            SourceKind::Tax => tax::HEADER,
            SourceKind::Health => health::HEADER,
            SourceKind::Employer => "",
            SourceKind::School => "[\n",
        }
    }

    fn epilogue(self) -> &'static str {
        match self {
            SourceKind::School => "\n]\n",
            _ => "",
        }
    }
}

/// What one worker rendered for a run of consecutive households.
pub(crate) struct ChunkOutput {
    texts: [String; 5],
    counts: [usize; 5],
    truth: String,
}

impl ChunkOutput {
    pub(crate) fn new() -> ChunkOutput {
        ChunkOutput {
            texts: Default::default(),
            counts: [0; 5],
            truth: String::new(),
        }
    }

    fn text(&mut self, kind: SourceKind) -> &mut String {
        &mut self.texts[kind.position()]
    }

    /// Notes in the truth that `record_id` of `kind` is about `person`.
    fn record(&mut self, kind: SourceKind, record_id: &str, person: &Person) {
        self.counts[kind.position()] += 1;
        self.truth.push_str(kind.name());
        self.truth.push(',');
        self.truth.push_str(record_id);
        self.truth.push(',');
        self.truth.push_str(&person.id());
        self.truth.push('\n');
    }

    /// The chunk as bytes ready to append: the tax text is encoded in Windows-1251.
    pub(crate) fn encode(self) -> Result<EncodedChunk, SynthError> {
        let [migration, tax, health, employer, school] = self.texts;
        let tax = encode_windows_1251(&tax)?;
        Ok(EncodedChunk {
            bytes: [
                migration.into_bytes(),
                tax,
                health.into_bytes(),
                employer.into_bytes(),
                school.into_bytes(),
            ],
            counts: self.counts,
            truth: self.truth.into_bytes(),
        })
    }
}

/// A rendered chunk in the files' own encodings.
pub(crate) struct EncodedChunk {
    bytes: [Vec<u8>; 5],
    counts: [usize; 5],
    truth: Vec<u8>,
}

fn encode_windows_1251(text: &str) -> Result<Vec<u8>, SynthError> {
    let (bytes, _, had_errors) = encoding_rs::WINDOWS_1251.encode(text);
    if had_errors {
        let character = text
            .chars()
            .find(|c| {
                encoding_rs::WINDOWS_1251
                    .encode(c.encode_utf8(&mut [0; 4]))
                    .2
            })
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        return Err(SynthError::Unencodable {
            source_name: SourceKind::Tax.name(),
            character,
        });
    }
    Ok(bytes.into_owned())
}

/// Renders every record the sources hold about the members of `household`.
pub(crate) fn render_household(
    household: &Household,
    world: &World,
    rng: &mut impl Rng,
    out: &mut ChunkOutput,
) {
    for person in &household.members {
        migration::render(person, household, rng, out);
        tax::render(person, household, rng, out);
        health::render(person, rng, out);
        employer::render(person, household, world, rng, out);
        school::render(person, household, rng, out);
    }
}

/// The open output files, appended to chunk by chunk.
pub(crate) struct Sinks {
    files: Vec<(SourceKind, PathBuf, BufWriter<File>)>,
    counts: [usize; 5],
    truth_path: PathBuf,
    truth: BufWriter<File>,
    first_school_object: bool,
}

fn create(path: &Path) -> Result<BufWriter<File>, SynthError> {
    let file = File::create(path).map_err(|source| SynthError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

fn write_all(writer: &mut BufWriter<File>, path: &Path, bytes: &[u8]) -> Result<(), SynthError> {
    writer.write_all(bytes).map_err(|source| SynthError::Write {
        path: path.to_path_buf(),
        source,
    })
}

impl Sinks {
    /// Creates the data files and the truth file in `out_dir` and writes their prologues.
    pub(crate) fn create(out_dir: &Path) -> Result<Sinks, SynthError> {
        let mut files = Vec::with_capacity(5);
        for kind in SourceKind::ALL {
            let path = out_dir.join(kind.file_name());
            let mut writer = create(&path)?;
            let prologue = match kind {
                SourceKind::Tax => encode_windows_1251(kind.prologue())?,
                // The health insurer's export starts with a UTF-8 byte order mark.
                SourceKind::Health => {
                    [b"\xEF\xBB\xBF".as_slice(), kind.prologue().as_bytes()].concat()
                }
                _ => kind.prologue().as_bytes().to_vec(),
            };
            write_all(&mut writer, &path, &prologue)?;
            files.push((kind, path, writer));
        }
        let truth_path = out_dir.join("truth.csv");
        let mut truth = create(&truth_path)?;
        write_all(&mut truth, &truth_path, b"source,record_id,person_id\n")?;
        Ok(Sinks {
            files,
            counts: [0; 5],
            truth_path,
            truth,
            first_school_object: true,
        })
    }

    pub(crate) fn append(&mut self, chunk: EncodedChunk) -> Result<(), SynthError> {
        for ((kind, path, writer), bytes) in self.files.iter_mut().zip(chunk.bytes) {
            let mut bytes = bytes.as_slice();
            if *kind == SourceKind::School && !bytes.is_empty() {
                // Every school object is preceded by ",\n"; the first one in the file is not.
                if self.first_school_object {
                    bytes = bytes.get(school::SEPARATOR.len()..).unwrap_or_default();
                }
                self.first_school_object = false;
            }
            write_all(writer, path, bytes)?;
        }
        for (total, count) in self.counts.iter_mut().zip(chunk.counts) {
            *total += count;
        }
        write_all(&mut self.truth, &self.truth_path, &chunk.truth)
    }

    /// Closes the files, writes the mapping files and reports what was written.
    pub(crate) fn finish(self, out_dir: &Path) -> Result<(Vec<SourceFile>, PathBuf), SynthError> {
        let mut sources = Vec::with_capacity(5);
        for (kind, path, mut writer) in self.files {
            write_all(&mut writer, &path, kind.epilogue().as_bytes())?;
            writer.flush().map_err(|source| SynthError::Write {
                path: path.clone(),
                source,
            })?;
            let mapping_path = out_dir.join(format!("{}.mapping.toml", kind.name()));
            std::fs::write(&mapping_path, kind.mapping()).map_err(|source| SynthError::Write {
                path: mapping_path.clone(),
                source,
            })?;
            sources.push(SourceFile {
                source: kind.name().to_string(),
                data_path: path,
                mapping_path,
                records: self.counts[kind.position()],
            });
        }
        let mut truth = self.truth;
        truth.flush().map_err(|source| SynthError::Write {
            path: self.truth_path.clone(),
            source,
        })?;
        Ok((sources, self.truth_path))
    }
}

/// A record number unique within a source: the person and the record's ordinal among that
/// person's records, scrambled by an invertible affine map modulo 10^12 so that numbers do not
/// reveal who is who. Unique for fewer than 6·10^10 persons and 16 records per person.
fn record_number(kind: SourceKind, person_index: usize, ordinal: u8) -> u64 {
    const MODULUS: u64 = 1_000_000_000_000;
    // Odd and not a multiple of 5, hence invertible modulo 10^12.
    const MULTIPLIER: u64 = 792_394_397_291;
    let slot = (person_index as u64 * 16 + u64::from(ordinal)) % MODULUS;
    let offset = 104_729 * (kind.position() as u64 + 1);
    let product = u128::from(slot) * u128::from(MULTIPLIER) + u128::from(offset);
    // The remainder is below 10^12, so it fits in u64.
    (product % u128::from(MODULUS)) as u64
}

/// Appends `value` as one CSV field, quoted when it holds the delimiter, a quote or a newline.
fn push_csv_field(out: &mut String, value: &str, delimiter: char) {
    if value.contains([delimiter, '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Appends one CSV line.
fn push_csv_line(out: &mut String, fields: &[&str], delimiter: char) {
    for (position, field) in fields.iter().enumerate() {
        if position > 0 {
            out.push(delimiter);
        }
        push_csv_field(out, field, delimiter);
    }
    out.push('\n');
}

/// Appends `value` as a JSON string literal.
fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `"key":"value"` pairs as a JSON object.
fn push_json_object(out: &mut String, pairs: &[(&str, JsonValue<'_>)]) {
    out.push('{');
    for (position, (key, value)) in pairs.iter().enumerate() {
        if position > 0 {
            out.push(',');
        }
        push_json_string(out, key);
        out.push(':');
        match value {
            JsonValue::Text(text) => push_json_string(out, text),
            JsonValue::Object(inner) => push_json_object(out, inner),
        }
    }
    out.push('}');
}

/// A JSON value as the sources write them: every scalar is a string.
enum JsonValue<'a> {
    Text(&'a str),
    Object(&'a [(&'a str, JsonValue<'a>)]),
}

/// The Latin standard a clerk (or the passport office) used for one record of a person of
/// `origin`. Uzbek names are often in the Uzbek Latin alphabet; everyone else's in one of the
/// Russian passport systems.
fn latin_standard(rng: &mut impl Rng, origin: Origin) -> Standard {
    if origin == Origin::Uzbekistan && rng.random_bool(0.6) {
        return Standard::UzbekLatin;
    }
    match rng.random_range(0..20) {
        0..10 => Standard::Icao9303,
        10..16 => Standard::OldPassport,
        16..19 => Standard::BgnPcgn,
        _ => Standard::Gost779B,
    }
}

/// A name part (national Cyrillic spelling) in Latin under `standard`. Uzbek Latin reads the
/// Uzbek letters; the Russian systems read the Russian-clerk spelling, as Russian offices did.
fn latin_name(text: &str, origin: Origin, standard: Standard) -> String {
    if standard == Standard::UzbekLatin && origin == Origin::Uzbekistan {
        to_latin(text, standard)
    } else {
        to_latin(&russian_spelling(text), standard)
    }
}

/// Passport style: Latin names in capitals, sometimes in title case.
fn passport_case(rng: &mut impl Rng, text: String) -> String {
    if rng.random_bool(0.8) {
        return text.to_uppercase();
    }
    let mut out = String::with_capacity(text.len());
    let mut word_start = true;
    for c in text.chars() {
        if word_start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        word_start = c == ' ' || c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let mut out = String::new();
        push_csv_line(&mut out, &["a", "b,c", "say \"hi\"", ""], ',');
        assert_eq!(out, "a,\"b,c\",\"say \"\"hi\"\"\",\n");
        out.clear();
        push_csv_line(&mut out, &["г. Москва, ул. Ленина", "x"], ';');
        assert_eq!(out, "г. Москва, ул. Ленина;x\n");
    }

    #[test]
    fn json_objects_nest_and_escape() {
        let mut out = String::new();
        let inner = [("name", JsonValue::Text("ООО «Ромашка» \"1\""))];
        push_json_object(
            &mut out,
            &[
                ("id", JsonValue::Text("7")),
                ("org", JsonValue::Object(&inner)),
            ],
        );
        let parsed: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(parsed["org"]["name"], "ООО «Ромашка» \"1\"");
    }

    #[test]
    fn record_numbers_do_not_collide() {
        let mut seen = std::collections::HashSet::new();
        for index in 0..5000 {
            for ordinal in 0..16 {
                assert!(seen.insert(record_number(SourceKind::Health, index, ordinal)));
            }
        }
    }

    #[test]
    fn passport_case_capitalises_words() {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(4);
        let forms: std::collections::BTreeSet<String> = (0..40)
            .map(|_| passport_case(&mut rng, "rajabov abdu-salom".to_string()))
            .collect();
        let expected: std::collections::BTreeSet<String> =
            ["RAJABOV ABDU-SALOM", "Rajabov Abdu-Salom"]
                .into_iter()
                .map(String::from)
                .collect();
        assert_eq!(forms, expected);
    }
}
