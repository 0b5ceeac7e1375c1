//! Cyrillic ↔ Latin transliteration of person names under the standards that Russian and Central
//! Asian documents have used, so that one person's many Latin spellings can be produced (by the
//! synthetic data generator) and recognised as one name (by the resolver).
//!
//! - [`to_latin`] spells Cyrillic text under one [`Standard`]; [`latin_variants`] under all of them.
//! - [`to_cyrillic`] renders a Latin name the way a Russian clerk would write it (best effort).
//! - [`fold_central_asian`] rewrites Uzbek, Tajik, Kyrgyz and Kazakh letters into Russian ones.
//!
//! Rendering choices shared by every standard: the output keeps letter case ("Щукин" →
//! "Shchukin", "ЩУКИН" → "SHCHUKIN"); characters that are not Cyrillic letters (spaces, hyphens,
//! digits, Latin letters) pass through unchanged; the soft sign Ь is always dropped, and so is the
//! hard sign Ъ except where a standard spells it with letters (ICAO "ie", Uzbek "'"). The only
//! non-letter marks in the output are GOST's grave accent in "y`" (Ы) and "e`" (Э) and the Uzbek
//! apostrophe in "o'", "g'" and "'" (Ъ); a resolver is expected to normalise them away.
//!
//! The crate does no IO, has no dependencies and does not normalise text beyond composing the
//! decomposed Cyrillic letters Й, Ё, Ў, Ӣ and Ӯ; deciding which spellings are "close" is the
//! resolver's job.

mod central_asian;
mod letter_case;
mod reverse;
mod standards;

pub use central_asian::fold_central_asian;
pub use reverse::to_cyrillic;

use letter_case::{all_caps_flags, push_cased};

/// A transliteration standard (Cyrillic → Latin).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Standard {
    /// ICAO Doc 9303, as used in Russian passports since 2014 (Ю "iu", Я "ia", Й "i", Ъ "ie").
    Icao9303,
    /// BGN/PCGN 1947 for Russian, without diacritics (Е "ye" at a word start and after vowels).
    BgnPcgn,
    /// GOST 7.79-2000 system B (Х "x", Щ "shh", Й "j", Ц "c"/"cz", Ы "y`", Э "e`").
    Gost779B,
    /// Russian passports of 1997–2010, before ICAO (Ю "yu", Я "ya", Й "y").
    OldPassport,
    /// Uzbek Latin alphabet (1995), for names written in Uzbek Cyrillic (Ў "o'", Қ "q", Х "x").
    UzbekLatin,
    /// Tajik names in Latin letters (Ғ "gh", Қ "q", Ҳ "h", Ҷ "j").
    TajikLatin,
    /// Kyrgyz names in Latin letters as Kyrgyz passports write them (Ң "ng", Ж "j", Ү "u").
    KyrgyzLatin,
}

impl Standard {
    /// Every standard, in declaration order.
    pub const ALL: [Standard; 7] = [
        Standard::Icao9303,
        Standard::BgnPcgn,
        Standard::Gost779B,
        Standard::OldPassport,
        Standard::UzbekLatin,
        Standard::TajikLatin,
        Standard::KyrgyzLatin,
    ];
}

/// Transliterates `text` from Cyrillic to Latin under `standard`, keeping letter case.
///
/// Russian letters and the Uzbek, Tajik, Kyrgyz and Kazakh letters are transliterated; a Central
/// Asian letter that a standard does not define is spelled like the Russian letter clerks write
/// for it (under BGN/PCGN, Қ is spelled like К). Every other character, including Cyrillic letters
/// of other languages, passes through unchanged.
pub fn to_latin(text: &str, standard: Standard) -> String {
    let chars = compose_cyrillic(text);
    let caps = all_caps_flags(&chars);
    let context_at = |index: usize| chars.get(index).map(|&c| context_letter(c));
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    for (index, &c) in chars.iter().enumerate() {
        let letter = c.to_lowercase().next().unwrap_or(c);
        let prev = index.checked_sub(1).and_then(context_at);
        let next = context_at(index + 1);
        match standards::romanize(standard, letter, prev, next) {
            Some(latin) => push_cased(&mut out, latin, c.is_uppercase(), caps[index]),
            None => out.push(c),
        }
    }
    out
}

/// The distinct Latin spellings of `text` under every [`Standard`], sorted and deduplicated.
///
/// For "Юлия" this gives "Iuliia" (ICAO), "Yuliya" (BGN/PCGN, GOST, old passports, …) and the
/// other standards' spellings, so a generator can pick a realistic clerk spelling and a resolver
/// test can check that they all compare close. GOST's "y`" and "e`" are included as GOST writes
/// them.
pub fn latin_variants(text: &str) -> Vec<String> {
    let mut variants: Vec<String> = Standard::ALL
        .iter()
        .map(|&standard| to_latin(text, standard))
        .collect();
    variants.sort();
    variants.dedup();
    variants
}

/// A neighbouring character as the letter tables see it: lowercased, and a Central Asian letter
/// folded to its Russian letter, so that context rules ("after a vowel") are written once.
fn context_letter(c: char) -> char {
    let lower = c.to_lowercase().next().unwrap_or(c);
    central_asian::fold_letter(lower).unwrap_or(lower)
}

/// The characters of `text` with decomposed Cyrillic letters composed, so that text exported in
/// NFD (И + combining breve) transliterates like its composed form (Й).
fn compose_cyrillic(text: &str) -> Vec<char> {
    const COMBINING_BREVE: char = '\u{0306}';
    const COMBINING_DIAERESIS: char = '\u{0308}';
    const COMBINING_MACRON: char = '\u{0304}';

    let mut chars: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        let composed = match (chars.last(), c) {
            (Some('и'), COMBINING_BREVE) => Some('й'),
            (Some('И'), COMBINING_BREVE) => Some('Й'),
            (Some('у'), COMBINING_BREVE) => Some('ў'),
            (Some('У'), COMBINING_BREVE) => Some('Ў'),
            (Some('е'), COMBINING_DIAERESIS) => Some('ё'),
            (Some('Е'), COMBINING_DIAERESIS) => Some('Ё'),
            (Some('и'), COMBINING_MACRON) => Some('ӣ'),
            (Some('И'), COMBINING_MACRON) => Some('Ӣ'),
            (Some('у'), COMBINING_MACRON) => Some('ӯ'),
            (Some('У'), COMBINING_MACRON) => Some('Ӯ'),
            _ => None,
        };
        match composed {
            Some(letter) => {
                chars.pop();
                chars.push(letter);
            }
            None => chars.push(c),
        }
    }
    chars
}

#[cfg(test)]
mod tests;
