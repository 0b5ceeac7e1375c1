//! Choosing a file's text encoding and decoding rows with it.
//!
//! Encodings are decided once per file from its first bytes, and a wrong declaration is refused
//! before any row is stored: a Windows-1251 file declared (or taken) as UTF-8 is invalid UTF-8 and
//! is named as such with a guess of what it is; a UTF-8 file declared as a single-byte code page
//! would decode to mojibake and is refused too. Rows are then decoded one at a time, so a single
//! broken row is quarantined alone.

use std::borrow::Cow;
use std::path::Path;

use encoding_rs::Encoding;

use crate::IngestError;
use crate::mapping::EncodingChoice;

/// How many bytes from the start of a file are sniffed to decide and check the encoding.
pub(crate) const SNIFF_BYTES: usize = 1 << 20;

/// The encoding rows of one file are decoded with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TextEncoding {
    Utf8,
    SingleByte(&'static Encoding),
}

impl TextEncoding {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::SingleByte(encoding) => encoding.name(),
        }
    }

    /// Decodes one row. Only UTF-8 can fail; a single-byte code page maps every byte.
    pub(crate) fn decode(self, bytes: &[u8]) -> Result<Cow<'_, str>, String> {
        match self {
            TextEncoding::Utf8 => std::str::from_utf8(bytes)
                .map(Cow::Borrowed)
                .map_err(|e| format!("invalid UTF-8 at byte {} of the row", e.valid_up_to() + 1)),
            TextEncoding::SingleByte(encoding) => Ok(encoding.decode_without_bom_handling(bytes).0),
        }
    }
}

/// Whether `sample` is UTF-8, allowing a sequence cut off by the end of the sample.
fn sample_is_utf8(sample: &[u8], whole_file: bool) -> Result<(), usize> {
    match std::str::from_utf8(sample) {
        Ok(_) => Ok(()),
        Err(e) if e.error_len().is_none() && !whole_file => Ok(()),
        Err(e) => Err(e.valid_up_to()),
    }
}

fn guess(sample: &[u8], whole_file: bool) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(sample, whole_file);
    detector.guess(None, chardetng::Utf8Detection::Allow)
}

/// Decides the encoding of a file from its first bytes (after any BOM) and the mapping's choice.
pub(crate) fn choose(
    path: &Path,
    choice: EncodingChoice,
    sample: &[u8],
    whole_file: bool,
) -> Result<(TextEncoding, Option<String>), IngestError> {
    let declared = match choice {
        EncodingChoice::Utf8 => Some(TextEncoding::Utf8),
        EncodingChoice::Windows1251 => Some(TextEncoding::SingleByte(encoding_rs::WINDOWS_1251)),
        EncodingChoice::Koi8R => Some(TextEncoding::SingleByte(encoding_rs::KOI8_R)),
        EncodingChoice::Ibm866 => Some(TextEncoding::SingleByte(encoding_rs::IBM866)),
        EncodingChoice::Auto => None,
    };
    let utf8 = sample_is_utf8(sample, whole_file);
    match (declared, utf8) {
        (Some(TextEncoding::Utf8), Ok(())) => Ok((TextEncoding::Utf8, None)),
        (Some(TextEncoding::Utf8), Err(offset)) => Err(IngestError::NotUtf8 {
            path: path.to_path_buf(),
            offset: offset as u64,
            line: line_of(sample, offset),
            guess: guess(sample, whole_file).name(),
        }),
        (Some(single), Ok(())) if !sample.is_ascii() => {
            Err(IngestError::Utf8DeclaredAsSingleByte {
                path: path.to_path_buf(),
                declared: single.name(),
            })
        }
        (Some(single), _) => Ok((single, None)),
        (None, Ok(())) => Ok((TextEncoding::Utf8, None)),
        (None, Err(_)) => {
            let guessed = guess(sample, whole_file);
            if guessed == encoding_rs::UTF_8 || !guessed.is_single_byte() {
                return Err(IngestError::UnknownEncoding {
                    path: path.to_path_buf(),
                    guess: guessed.name(),
                });
            }
            let note = format!(
                "{}: encoding not declared; detected {} (set `encoding` in the mapping to be sure)",
                path.display(),
                guessed.name()
            );
            Ok((TextEncoding::SingleByte(guessed), Some(note)))
        }
    }
}

fn line_of(sample: &[u8], offset: usize) -> u64 {
    1 + sample[..offset.min(sample.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp1251(text: &str) -> Vec<u8> {
        encoding_rs::WINDOWS_1251.encode(text).0.into_owned()
    }

    #[test]
    fn windows_1251_taken_for_utf8_is_refused_with_a_guess() {
        let bytes = cp1251(
            "fio;inn\nИванов Иван Иванович;500100732259\nПетрова Анна Сергеевна;500100732259\n",
        );
        let err = choose(Path::new("tax.csv"), EncodingChoice::Utf8, &bytes, true).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("is not valid UTF-8"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("windows-1251"), "{text}");
    }

    #[test]
    fn utf8_declared_as_windows_1251_is_refused() {
        let bytes = "fio\nИванов Иван\n".as_bytes();
        let err = choose(Path::new("x.csv"), EncodingChoice::Windows1251, bytes, true).unwrap_err();
        assert!(
            matches!(err, IngestError::Utf8DeclaredAsSingleByte { .. }),
            "{err}"
        );
    }

    #[test]
    fn auto_detects_windows_1251_and_says_so() {
        let bytes = cp1251("фамилия;имя\nИванов;Иван\nСмирнова;Мария\nКузнецов;Пётр\n");
        let (encoding, note) =
            choose(Path::new("x.csv"), EncodingChoice::Auto, &bytes, true).unwrap();
        assert_eq!(encoding.name(), "windows-1251");
        assert!(note.unwrap().contains("detected windows-1251"));
        assert_eq!(
            encoding.decode(&bytes).unwrap().lines().nth(1),
            Some("Иванов;Иван")
        );
    }

    #[test]
    fn a_sequence_cut_by_the_sample_end_is_not_an_error() {
        let bytes = "Иван".as_bytes();
        assert!(choose(Path::new("x"), EncodingChoice::Utf8, &bytes[..3], false).is_ok());
        assert!(choose(Path::new("x"), EncodingChoice::Utf8, &bytes[..3], true).is_err());
    }
}
