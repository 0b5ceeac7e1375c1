//! Folding of Uzbek, Tajik, Kyrgyz (and Kazakh) Cyrillic letters into the Russian letters that
//! Russian clerks write for them: Ў → У, Қ → К, Ғ → Г, Ҳ → Х, Ҷ → Дж, and so on.
//!
//! The fold is lossy on purpose: it is how the same person's name looks in a Russian agency's
//! record, so the resolver can compare "Ҳасанов" with "Хасанов". It does not touch Russian letters,
//! does not transliterate, and does not guess a person's nationality.

use crate::letter_case::{all_caps_flags, push_cased};

/// The Russian letter that stands for a lowercase Central Asian letter, for use as context and as a
/// fallback by the transliteration tables; `None` for every other character.
///
/// Ҷ folds to "ч" here because context only needs one letter of the same class (a consonant); the
/// public fold writes it "дж", and every standard has its own entry for it.
pub(crate) fn fold_letter(letter: char) -> Option<char> {
    Some(match letter {
        'ў' | 'ӯ' | 'ү' | 'ұ' => 'у',
        'қ' => 'к',
        'ғ' => 'г',
        'ҳ' | 'һ' => 'х',
        'ҷ' => 'ч',
        'ӣ' | 'і' => 'и',
        'ң' => 'н',
        'ө' => 'о',
        'ә' => 'а',
        _ => return None,
    })
}

/// Rewrites Uzbek, Tajik, Kyrgyz and Kazakh Cyrillic letters into the Russian letters clerks use,
/// keeping letter case: "Ҳасанов" → "Хасанов", "Ўлмас" → "Улмас", "Раҷабов" → "Раджабов".
///
/// The letters folded are Ў Ӯ Ү Ұ → У, Қ → К, Ғ → Г, Ҳ Һ → Х, Ӣ І → И, Ң → Н, Ө → О, Ә → А, and
/// Ҷ → Дж (the Tajik /dʒ/, which Russian writes "дж": Ҷамшед → Джамшед). Everything else,
/// including Russian letters, passes through unchanged.
pub fn fold_central_asian(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let caps = all_caps_flags(&chars);
    let mut out = String::with_capacity(text.len());
    for (index, &c) in chars.iter().enumerate() {
        let lower = c.to_lowercase().next().unwrap_or(c);
        if lower == 'ҷ' {
            push_cased(&mut out, "дж", c.is_uppercase(), caps[index]);
            continue;
        }
        match fold_letter(lower) {
            Some(russian) if c.is_uppercase() => out.extend(russian.to_uppercase()),
            Some(russian) => out.push(russian),
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(fold_central_asian(input), expected, "input {input:?}");
    }

    #[test]
    fn folds_central_asian_letters_into_russian() {
        check("Ҳасанов", "Хасанов");
        check("Ўлмас", "Улмас");
        check("Қодиров", "Кодиров");
        check("Ғайрат", "Гайрат");
        check("Ғафуров", "Гафуров");
        check("Раҳимӣ", "Рахими");
        check("Ӯрунов", "Урунов");
        check("Өмүрбеков", "Омурбеков");
        check("Жаңыл", "Жаныл");
        check("Әлия Ұлан Һ", "Алия Улан Х");
        check("ЎЛМАС ҚОДИРОВ", "УЛМАС КОДИРОВ");
    }

    #[test]
    fn tajik_jim_becomes_russian_dzh() {
        check("Раҷабов", "Раджабов");
        check("Ҷамшед", "Джамшед");
        check("ҶАМШЕД", "ДЖАМШЕД");
        check("Ҷ.", "Дж.");
    }

    #[test]
    fn leaves_everything_else_alone() {
        check(
            "Щукин Юлия-Мария 1990, Smith",
            "Щукин Юлия-Мария 1990, Smith",
        );
        check("", "");
    }
}
