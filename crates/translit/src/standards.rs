//! The letter tables of each transliteration standard, one plain `match` per standard.
//!
//! Each table maps one lowercase Cyrillic letter, given its lowercase neighbours, to its Latin
//! spelling. Context rules are written inline (BGN/PCGN "ye" at a word start, GOST "c"/"cz").
//! A Central Asian letter a standard does not define falls back to the Russian letter clerks use
//! for it (see `central_asian`). Case, words and strings are handled by the caller; this module
//! does not know about them.

use crate::Standard;
use crate::central_asian::fold_letter;

/// The Latin spelling of the lowercase Cyrillic `letter` under `standard`, or `None` when the
/// character is not a Cyrillic letter this crate knows. `prev` and `next` are the neighbouring
/// characters, lowercased and folded to Russian letters; `None` at the ends of the text.
/// An empty string means the letter is dropped (Ь under every standard).
pub(crate) fn romanize(
    standard: Standard,
    letter: char,
    prev: Option<char>,
    next: Option<char>,
) -> Option<&'static str> {
    let native = match standard {
        Standard::Icao9303 => icao_9303(letter),
        Standard::BgnPcgn => bgn_pcgn(letter, prev),
        Standard::Gost779B => gost_779_b(letter, next),
        Standard::OldPassport => old_passport(letter),
        Standard::UzbekLatin => uzbek_latin(letter, prev),
        Standard::TajikLatin => tajik_latin(letter, prev),
        Standard::KyrgyzLatin => kyrgyz_latin(letter),
    };
    native.or_else(|| romanize(standard, fold_letter(letter)?, prev, next))
}

/// Letters every standard in this crate spells the same way.
fn shared(letter: char) -> Option<&'static str> {
    Some(match letter {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'з' => "z",
        'и' => "i",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'ч' => "ch",
        'ш' => "sh",
        'ь' => "",
        _ => return None,
    })
}

/// Whether a Е or Ё at this position is iotated ("ye", "yo"): at the start of a word, or after a
/// vowel, Й, Ъ or Ь. `prev` is already lowercased and folded to Russian.
fn iotated_after(prev: Option<char>) -> bool {
    match prev {
        None => true,
        Some(p) if !p.is_alphabetic() => true,
        Some(p) => matches!(
            p,
            'а' | 'е' | 'ё' | 'и' | 'о' | 'у' | 'ы' | 'э' | 'ю' | 'я' | 'й' | 'ъ' | 'ь'
        ),
    }
}

/// ICAO Doc 9303 (Russian passports since 2014), with the ICAO-style values for the Central Asian
/// letters that Russian documents of Central Asian persons use.
fn icao_9303(letter: char) -> Option<&'static str> {
    Some(match letter {
        'е' | 'ё' | 'э' => "e",
        'ж' => "zh",
        'й' => "i",
        'х' => "kh",
        'ц' => "ts",
        'щ' => "shch",
        'ъ' => "ie",
        'ы' => "y",
        'ю' => "iu",
        'я' => "ia",
        'ў' | 'ӯ' | 'ү' => "u",
        'қ' => "k",
        'ғ' => "g",
        'ҳ' => "kh",
        'ҷ' => "dzh",
        'ӣ' => "i",
        'ң' => "n",
        'ө' => "o",
        _ => return shared(letter),
    })
}

/// BGN/PCGN 1947 without diacritics and without the hard and soft sign marks.
///
/// Е is "ye" and Ё is "yo" at a word start and after a vowel, Й, Ъ or Ь; elsewhere Е is "e" and
/// Ё (the standard's "ë") loses its diaeresis to "e". The signs Ъ (") and Ь (') are dropped.
fn bgn_pcgn(letter: char, prev: Option<char>) -> Option<&'static str> {
    Some(match letter {
        'е' if iotated_after(prev) => "ye",
        'ё' if iotated_after(prev) => "yo",
        'е' | 'ё' | 'э' => "e",
        'ж' => "zh",
        'й' => "y",
        'х' => "kh",
        'ц' => "ts",
        'щ' => "shch",
        'ъ' => "",
        'ы' => "y",
        'ю' => "yu",
        'я' => "ya",
        'ҷ' => "dzh",
        _ => return shared(letter),
    })
}

/// GOST 7.79-2000 system B.
///
/// Ц is "c" before the Latin letters i, e, y, j (that is, before И, Е, Э, Ы, Й, Ё, Ю, Я, whose
/// spellings start with one of them) and "cz" otherwise: Цыганков → "Cy`gankov", Цой → "Czoj".
/// Ы and Э keep the standard's grave accent ("y`", "e`") because it is what tells them from И and
/// Е; the signs Ъ ("``") and Ь ("`") are dropped like in every other standard here.
fn gost_779_b(letter: char, next: Option<char>) -> Option<&'static str> {
    Some(match letter {
        'е' => "e",
        'ё' => "yo",
        'ж' => "zh",
        'й' => "j",
        'х' => "x",
        'ц' => match next {
            Some('е' | 'ё' | 'и' | 'й' | 'ы' | 'э' | 'ю' | 'я' | 'e' | 'i' | 'y' | 'j') => {
                "c"
            }
            _ => "cz",
        },
        'щ' => "shh",
        'ъ' => "",
        'ы' => "y`",
        'э' => "e`",
        'ю' => "yu",
        'я' => "ya",
        'ҷ' => "dzh",
        _ => return shared(letter),
    })
}

/// Russian passports of 1997–2010 (the MVD scheme before ICAO): Ю "yu", Я "ya", Й "y", Е and Ё
/// always "e", signs dropped.
fn old_passport(letter: char) -> Option<&'static str> {
    Some(match letter {
        'е' | 'ё' | 'э' => "e",
        'ж' => "zh",
        'й' => "y",
        'х' => "kh",
        'ц' => "ts",
        'щ' => "shch",
        'ъ' => "",
        'ы' => "y",
        'ю' => "yu",
        'я' => "ya",
        'ҷ' => "dzh",
        _ => return shared(letter),
    })
}

/// The Uzbek Latin alphabet of 1995.
///
/// Е is "ye" where Uzbek spelling writes it so (word start, after a vowel, Й, Ъ or Ь); Ъ is the
/// tutuq belgisi "'"; the Russian-only letters follow Uzbek practice for loanwords (Щ "sh",
/// Ы "i", Ц "ts"). Ҷ, which Uzbek lacks, is "j" like the Uzbek Ж.
fn uzbek_latin(letter: char, prev: Option<char>) -> Option<&'static str> {
    Some(match letter {
        'е' if iotated_after(prev) => "ye",
        'е' | 'э' => "e",
        'ё' => "yo",
        'ж' | 'ҷ' => "j",
        'й' => "y",
        'х' => "x",
        'ц' => "ts",
        'щ' => "sh",
        'ъ' => "'",
        'ы' => "i",
        'ю' => "yu",
        'я' => "ya",
        'ў' => "o'",
        'қ' => "q",
        'ғ' => "g'",
        'ҳ' => "h",
        _ => return shared(letter),
    })
}

/// Tajik names in Latin letters: the Tajik letters Ғ "gh", Ӣ "i", Қ "q", Ӯ "u", Ҳ "h", Ҷ "j",
/// the Russian letters as in BGN/PCGN except that Ё is always "yo".
fn tajik_latin(letter: char, prev: Option<char>) -> Option<&'static str> {
    Some(match letter {
        'ғ' => "gh",
        'ӣ' => "i",
        'қ' => "q",
        'ӯ' => "u",
        'ҳ' => "h",
        'ҷ' => "j",
        'ё' => "yo",
        _ => return bgn_pcgn(letter, prev),
    })
}

/// Kyrgyz names in Latin letters as Kyrgyz passports write them: Ң "ng", Ө "o", Ү "u", Ж "j",
/// Х "kh", Й "y", Ю "yu", Я "ya", Ё "yo", Е always "e" ("Ermek", "Jeenbekov").
fn kyrgyz_latin(letter: char) -> Option<&'static str> {
    Some(match letter {
        'ң' => "ng",
        'ө' => "o",
        'ү' => "u",
        'ж' | 'ҷ' => "j",
        'ё' => "yo",
        _ => return old_passport(letter),
    })
}
