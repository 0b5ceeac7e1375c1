//! Letter case for transliteration in both directions.
//!
//! A Cyrillic letter can become several Latin letters (Щ → "shch") and a Latin digraph can become
//! one or two Cyrillic letters ("dzh" ← Ҷ, "ii" → "ий"). This module decides how such a piece is
//! cased: all capitals inside an all-caps word ("ЩУКИН" → "SHCHUKIN"), only its first letter
//! otherwise ("Щукин" → "Shchukin"). It knows nothing about any alphabet.

/// Whether a character has a case at all (digits, apostrophes and CJK do not).
fn is_cased(c: char) -> bool {
    c.is_uppercase() || c.is_lowercase()
}

/// For every character of `chars`, whether an uppercase letter at that position sits in an
/// all-caps context and so should have its whole multi-letter rendering in capitals.
///
/// A word is a maximal run of alphabetic characters. A word of two or more cased letters is
/// all-caps when all of them are uppercase. A one-letter word (an initial such as "Ю.") has no
/// case pattern of its own, so it follows the whole text: "ИВАНОВ И. Ю." is all caps, "Иванов Ю."
/// is not.
pub(crate) fn all_caps_flags(chars: &[char]) -> Vec<bool> {
    let cased_total = chars.iter().filter(|c| is_cased(**c)).count();
    let text_is_all_caps = cased_total >= 2
        && chars
            .iter()
            .filter(|c| is_cased(**c))
            .all(|c| c.is_uppercase());

    let mut flags = vec![false; chars.len()];
    let mut start = 0;
    while start < chars.len() {
        if !chars[start].is_alphabetic() {
            start += 1;
            continue;
        }
        let end = chars[start..]
            .iter()
            .position(|c| !c.is_alphabetic())
            .map_or(chars.len(), |offset| start + offset);
        let word = &chars[start..end];
        let cased_in_word = word.iter().filter(|c| is_cased(**c)).count();
        let word_is_all_caps = if cased_in_word >= 2 {
            word.iter()
                .filter(|c| is_cased(**c))
                .all(|c| c.is_uppercase())
        } else {
            text_is_all_caps
        };
        flags[start..end].fill(word_is_all_caps);
        start = end;
    }
    flags
}

/// Appends `piece` (written in lower case) to `out`, cased after the source letter it replaces.
pub(crate) fn push_cased(
    out: &mut String,
    piece: &str,
    source_is_upper: bool,
    word_is_all_caps: bool,
) {
    if !source_is_upper {
        out.push_str(piece);
        return;
    }
    if word_is_all_caps {
        out.extend(piece.chars().flat_map(char::to_uppercase));
        return;
    }
    let mut rest = piece.chars();
    if let Some(first) = rest.next() {
        out.extend(first.to_uppercase());
        out.push_str(rest.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(text: &str) -> Vec<bool> {
        all_caps_flags(&text.chars().collect::<Vec<_>>())
    }

    #[test]
    fn words_are_judged_on_their_own() {
        assert_eq!(
            flags("ЩУКИН Ян"),
            [true, true, true, true, true, false, false, false]
        );
    }

    #[test]
    fn initials_follow_the_whole_text() {
        assert!(flags("ИВАНОВ Ю.")[7]);
        assert!(!flags("Иванов Ю.")[7]);
        assert!(!flags("Ю")[0]);
    }

    #[test]
    fn pieces_are_cased_after_their_source() {
        let cases = [
            ("shch", false, false, "shch"),
            ("shch", true, false, "Shch"),
            ("shch", true, true, "SHCH"),
            ("o'", true, false, "O'"),
            ("", true, true, ""),
        ];
        for (piece, upper, all_caps, expected) in cases {
            let mut out = String::new();
            push_cased(&mut out, piece, upper, all_caps);
            assert_eq!(
                out, expected,
                "piece {piece:?} upper={upper} all_caps={all_caps}"
            );
        }
    }
}
