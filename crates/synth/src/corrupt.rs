//! The mistakes clerks and forms make, applied to clean values at fixed, named rates.
//!
//! Every rate lives in this file so that one look tells how dirty the city is. The corruptions
//! are the ones the resolver must survive: typos in names, Ё written as Е, letter case and
//! spacing, day and month exchanged, empty fields, a wrong digit in an identifier. They never
//! produce an impossible date or an unknown code (the importer would quarantine the row, which
//! tests the importer, not the resolver), and they never touch a record key. Transliteration
//! variants and name order are not corruptions: each source picks those as its clerks do.

use rand::Rng;

use crate::calendar::Date;

/// Chance that a name field gets one typo (a letter substituted, dropped, doubled or two
/// neighbours exchanged).
pub(crate) const NAME_TYPO: f64 = 0.04;
/// Chance that a name or address containing Ё is written with Е. Deliberately above the other
/// rates: most Russian registries drop the dots more often than they keep them.
pub(crate) const YO_AS_YE: f64 = 0.30;
/// Chance that a name field is written in all capitals or all lower case.
pub(crate) const CASE_CHANGE: f64 = 0.05;
/// Chance of a doubled inner space or a stray space at either end of a text field.
pub(crate) const EXTRA_SPACES: f64 = 0.03;
/// Chance that a source with separate name columns has surname and given name exchanged.
pub(crate) const SWAPPED_NAME_PARTS: f64 = 0.03;
/// Chance that a birth date has day and month exchanged (only when both are 12 or less and the
/// result is a different real date).
pub(crate) const DAY_MONTH_SWAP: f64 = 0.03;
/// Chance that an optional field is left empty.
pub(crate) const MISSING_VALUE: f64 = 0.05;
/// Chance that an identifier has one digit changed, which usually breaks its check digits.
pub(crate) const IDENTIFIER_TYPO: f64 = 0.02;

/// Letters that are confused with each other in handwriting, hearing or typing.
const CONFUSABLE: &[(char, char)] = &[
    ('е', 'и'),
    ('а', 'о'),
    ('и', 'ы'),
    ('т', 'д'),
    ('с', 'з'),
    ('ш', 'щ'),
    ('е', 'э'),
    ('в', 'ф'),
    ('б', 'п'),
    ('г', 'к'),
    ('л', 'д'),
    ('i', 'y'),
    ('e', 'a'),
    ('k', 'q'),
    ('s', 'z'),
    ('u', 'o'),
    ('h', 'x'),
    ('j', 'y'),
];

/// Whether an optional field is to be left empty.
pub(crate) fn missing(rng: &mut impl Rng) -> bool {
    rng.random_bool(MISSING_VALUE)
}

/// A name (one part or a whole name) as some clerk typed it.
pub(crate) fn name(rng: &mut impl Rng, clean: &str) -> String {
    let mut text = if clean.contains(['ё', 'Ё']) && rng.random_bool(YO_AS_YE) {
        clean.replace('ё', "е").replace('Ё', "Е")
    } else {
        clean.to_string()
    };
    if rng.random_bool(NAME_TYPO) {
        text = typo(rng, &text);
    }
    if rng.random_bool(CASE_CHANGE) {
        text = if rng.random_bool(0.7) {
            text.to_uppercase()
        } else {
            text.to_lowercase()
        };
    }
    spaces(rng, &mut text);
    text
}

/// An address with Ё dropped and stray spaces at the usual rates; addresses get no typos, which
/// the resolver does not compare letter by letter.
pub(crate) fn address(rng: &mut impl Rng, clean: String) -> String {
    let mut text = if clean.contains(['ё', 'Ё']) && rng.random_bool(YO_AS_YE) {
        clean.replace('ё', "е").replace('Ё', "Е")
    } else {
        clean
    };
    if rng.random_bool(CASE_CHANGE) {
        text = text.to_uppercase();
    }
    spaces(rng, &mut text);
    text
}

/// Doubles one inner space, or adds one at either end.
fn spaces(rng: &mut impl Rng, text: &mut String) {
    if !rng.random_bool(EXTRA_SPACES) {
        return;
    }
    let inner: Vec<usize> = text.match_indices(' ').map(|(at, _)| at).collect();
    match (inner.is_empty(), rng.random_range(0..3)) {
        (false, 0) => {
            let at = inner[rng.random_range(0..inner.len())];
            text.insert(at, ' ');
        }
        (_, 1) => text.insert(0, ' '),
        _ => text.push(' '),
    }
}

/// One typo in a random word of at least three letters: a substitution, deletion, doubling or
/// transposition. The word never becomes empty.
fn typo(rng: &mut impl Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_alphabetic())
        .collect();
    if letters.len() < 3 {
        return text.to_string();
    }
    // Avoid the first letter: initials are rarely mistyped, and blocking keys rely on them less
    // than on the rest, so typos there would be unrealistically hard.
    let at = letters[rng.random_range(1..letters.len())];
    match rng.random_range(0..4) {
        0 => chars[at] = substitute(rng, chars[at]),
        1 if chars.iter().filter(|c| c.is_alphabetic()).count() > 3 => {
            chars.remove(at);
        }
        2 if at + 1 < chars.len() && chars[at + 1].is_alphabetic() => chars.swap(at, at + 1),
        _ => chars.insert(at, chars[at]),
    }
    chars.into_iter().collect()
}

/// A letter confused with `c` when one is known, otherwise a neighbour in the same alphabet.
fn substitute(rng: &mut impl Rng, c: char) -> char {
    let upper = c.is_uppercase();
    let lower = c.to_lowercase().next().unwrap_or(c);
    let confused = CONFUSABLE.iter().find_map(|&(a, b)| {
        if a == lower {
            Some(b)
        } else if b == lower {
            Some(a)
        } else {
            None
        }
    });
    let replacement = confused.unwrap_or_else(|| {
        let alphabet: &[char] = if lower.is_ascii() {
            &['a', 'e', 'i', 'o', 'u', 'n', 'r', 's', 't', 'l']
        } else {
            &['а', 'е', 'и', 'о', 'у', 'н', 'р', 'с', 'т', 'л']
        };
        let index = rng.random_range(0..alphabet.len());
        if alphabet[index] == lower {
            alphabet[(index + 1) % alphabet.len()]
        } else {
            alphabet[index]
        }
    });
    if upper {
        replacement.to_uppercase().next().unwrap_or(replacement)
    } else {
        replacement
    }
}

/// A birth date as recorded: sometimes with day and month exchanged, when that is still a real,
/// different date.
pub(crate) fn birth_date(rng: &mut impl Rng, date: Date) -> Date {
    match date.day_month_swapped() {
        Some(swapped) if rng.random_bool(DAY_MONTH_SWAP) => swapped,
        _ => date,
    }
}

/// An identifier as typed: sometimes one digit is replaced by another.
pub(crate) fn identifier(rng: &mut impl Rng, written: String) -> String {
    if !rng.random_bool(IDENTIFIER_TYPO) {
        return written;
    }
    let digits: Vec<usize> = written
        .char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(at, _)| at)
        .collect();
    if digits.is_empty() {
        return written;
    }
    let at = digits[rng.random_range(0..digits.len())];
    let old = written.as_bytes()[at] - b'0';
    let new = (old + rng.random_range(1..10u8)) % 10;
    let mut out = written;
    out.replace_range(at..=at, &char::from(b'0' + new).to_string());
    out
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn typos_change_one_letter_and_keep_the_word() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..2000 {
            let typed = typo(&mut rng, "Иванов");
            let length = typed.chars().count();
            assert!((5..=7).contains(&length), "{typed}");
            assert!(typed.starts_with('И'), "{typed}");
        }
        assert_eq!(typo(&mut rng, "Ли"), "Ли");
    }

    #[test]
    fn identifier_typos_change_exactly_one_digit() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let mut changed = 0;
        for _ in 0..5000 {
            let typed = identifier(&mut rng, "112-233-445 95".to_string());
            let differences = typed
                .bytes()
                .zip("112-233-445 95".bytes())
                .filter(|(a, b)| a != b)
                .count();
            assert!(differences <= 1, "{typed}");
            assert_eq!(typed.len(), 14);
            changed += differences;
        }
        // About IDENTIFIER_TYPO of 5000.
        assert!((50..=160).contains(&changed), "{changed}");
    }

    #[test]
    fn swapped_dates_stay_real() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let date = Date::new(1985, 12, 31).expect("real date");
        for _ in 0..1000 {
            assert_eq!(birth_date(&mut rng, date), date);
        }
    }
}
