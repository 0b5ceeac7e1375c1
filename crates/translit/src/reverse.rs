//! Latin → Russian Cyrillic, best effort: renders a name written in Latin letters (a migrant's
//! passport, an ICAO or BGN spelling) the way a Russian clerk would write it.
//!
//! The reverse is not a function of the standards, because their spellings collide ("ia" is Я in
//! ICAO and И+А in "Diana"; "e" is Е in ICAO and Э at a word start in Uzbek). This module reads
//! greedily, longest match first, over one table of digraphs, plus a handful of context rules for
//! single letters. It does not try to recover Ь and Ъ that a standard dropped, nor guess which
//! standard a spelling came from.

use crate::letter_case::{all_caps_flags, push_cased};

/// Latin sequences of two or more characters, longest first where one is a prefix of another.
/// Patterns are lowercase; apostrophe-like marks (’ ʻ ʼ ‘) are matched as "'", the grave accent
/// "`" (GOST) as itself.
const SEQUENCES: &[(&str, &str)] = &[
    ("shch", "щ"),
    ("shh", "щ"),
    ("iia", "ия"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("cz", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("gh", "г"),
    ("ck", "к"),
    ("yu", "ю"),
    ("iu", "ю"),
    ("ya", "я"),
    ("ia", "я"),
    ("ye", "е"),
    ("yo", "ё"),
    ("o'", "у"),
    ("o`", "у"),
    ("g'", "г"),
    ("g`", "г"),
    ("y`", "ы"),
    ("e`", "э"),
    ("``", "ъ"),
];

/// Renders a Latin-letter name in Russian Cyrillic the way a Russian clerk would, keeping case:
/// "Khasanov" → "Хасанов", "Shchukin" → "Щукин", "Yuliya" → "Юлия", "G'ayrat" → "Гайрат".
///
/// Reading is greedy, longest match first: "shch"/"shh" Щ, "zh" Ж, "kh" Х, "ts"/"cz" Ц, "ch" Ч,
/// "sh" Ш, "gh" Г, "yu"/"iu" Ю, "ya"/"ia" Я, "iia" ИЯ, "ye" Е, "yo" Ё, Uzbek "o'" У, "g'" Г, "q" К,
/// "x" Х, "h" Х, GOST "y`" Ы, "e`" Э. Context rules for single letters:
///
/// - "e" at a word start is Э (Uzbek, Tajik and Kyrgyz spelling, where Е would be "ye":
///   "Ergash" → "Эргаш"); elsewhere Е. So an ICAO "Elena" comes back as "Элена".
/// - "y" after a consonant is Ы ("Ryzhkov"), otherwise Й ("Aleksey", "Saydullayev").
/// - "i" at a word end after a vowel is Й ("Aleksei", "Tsoi"); "ii" at a word end is ИЙ ("Dmitrii").
/// - "j" after a vowel and not before one is Й (GOST "Aleksej"); otherwise ДЖ ("Jamshed").
/// - "c" before e, i, y, j is Ц (GOST), otherwise К.
/// - an apostrophe between two letters is Ь after a consonant ("Natal'ya") and Ъ after a vowel
///   (Uzbek "Ma'ruf" → "Маъруф").
///
/// Everything that is not a Latin letter (Cyrillic, digits, punctuation) passes through unchanged.
pub fn to_cyrillic(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = chars.iter().map(|&c| reading_form(c)).collect();
    let caps = all_caps_flags(&chars);
    let mut out = String::with_capacity(text.len() * 2);
    let mut index = 0;
    while index < chars.len() {
        match next_token(&lower, index) {
            Some((consumed, cyrillic)) => {
                push_cased(&mut out, cyrillic, chars[index].is_uppercase(), caps[index]);
                index += consumed;
            }
            None => {
                out.push(chars[index]);
                index += 1;
            }
        }
    }
    out
}

/// A character as the tables read it: lowercased, with apostrophe look-alikes made "'".
fn reading_form(c: char) -> char {
    match c {
        '\u{2019}' | '\u{02BB}' | '\u{02BC}' | '\u{2018}' => '\'',
        _ => c.to_lowercase().next().unwrap_or(c),
    }
}

fn is_latin_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y' | 'ë' | 'ö' | 'ü')
}

fn is_latin_consonant(c: char) -> bool {
    c.is_alphabetic() && !is_latin_vowel(c)
}

fn is_word_boundary(c: Option<char>) -> bool {
    c.is_none_or(|c| !c.is_alphabetic())
}

/// The Cyrillic for the Latin text starting at `index` and how many characters it consumes, or
/// `None` when the character there is not a Latin letter (or mark) this module reads.
fn next_token(lower: &[char], index: usize) -> Option<(usize, &'static str)> {
    for &(latin, cyrillic) in SEQUENCES {
        let length = latin.chars().count();
        let matches = lower
            .get(index..index + length)
            .is_some_and(|window| window.iter().copied().eq(latin.chars()));
        if matches {
            return Some((length, cyrillic));
        }
    }

    let prev = index.checked_sub(1).map(|i| lower[i]);
    let next = lower.get(index + 1).copied();
    let cyrillic = match lower[index] {
        'c' if matches!(next, Some('e' | 'i' | 'y' | 'j')) => "ц",
        'c' => "к",
        'e' if is_word_boundary(prev) => "э",
        'i' if next == Some('i') && is_word_boundary(lower.get(index + 2).copied()) => {
            return Some((2, "ий"));
        }
        'i' if is_word_boundary(next) && prev.is_some_and(is_latin_vowel) => "й",
        'j' if prev.is_some_and(is_latin_vowel) && !next.is_some_and(is_latin_vowel) => "й",
        'j' => "дж",
        'y' if prev.is_some_and(is_latin_consonant) => "ы",
        'y' => "й",
        '\'' | '`'
            if prev.is_some_and(char::is_alphabetic) && next.is_some_and(char::is_alphabetic) =>
        {
            if prev.is_some_and(is_latin_vowel) {
                "ъ"
            } else {
                "ь"
            }
        }
        other => single_letter(other)?,
    };
    Some((1, cyrillic))
}

/// Latin letters that read the same wherever they stand.
fn single_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'a' => "а",
        'b' => "б",
        'd' => "д",
        'e' => "е",
        'f' => "ф",
        'g' => "г",
        'h' => "х",
        'i' => "и",
        'k' => "к",
        'l' => "л",
        'm' => "м",
        'n' => "н",
        'o' => "о",
        'p' => "п",
        'q' => "к",
        'r' => "р",
        's' => "с",
        't' => "т",
        'u' => "у",
        'v' | 'w' => "в",
        'x' => "х",
        'z' => "з",
        // Diacritic letters from other Latin alphabets (Kyrgyz, Turkmen, Kazakh, BGN's ë, ISO 9).
        'ë' => "ё",
        'ö' => "о",
        'ü' => "у",
        'ş' | 'š' => "ш",
        'ç' | 'č' => "ч",
        'ğ' => "г",
        'ñ' => "н",
        'ž' => "ж",
        _ => return None,
    })
}
