//! Normalised keys for comparing names and addresses across scripts and spellings.
//!
//! [`name_skeleton`] maps every spelling a clerk could produce of one name (Cyrillic, ICAO 9303,
//! BGN/PCGN, GOST 7.79-B, pre-2014 passports, Uzbek, Tajik and Kyrgyz Latin, Ё written as Е) to
//! one lower-case Latin string, so that the variants compare equal and typos compare close.
//! It is a comparison key, not a spelling anyone would write: Х, KH, X and H all become `h`, the
//! glides in Ю, Я, Й become `i`, Ж, ZH, J and ДЖ become `j` (Uzbek Latin writes Ж as J),
//! doubled letters collapse.

use unicode_normalization::UnicodeNormalization;

/// One Cyrillic letter (already lower case, Central Asian letters folded) as skeleton Latin.
fn skeleton_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'е' | 'ё' | 'э' => "e",
        // Ж is ZH in Russian standards and J in Uzbek Latin, where J is also ДЖ.
        'ж' => "j",
        'з' => "z",
        'и' | 'й' | 'ы' => "i",
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
        'х' => "h",
        'ц' => "c",
        'ч' => "ch",
        'ш' | 'щ' => "sh",
        'ъ' | 'ь' => "",
        'ю' => "iu",
        'я' => "ia",
        _ => return None,
    })
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// Rewrites one Latin word (lower-case ASCII letters) to the skeleton.
fn skeleton_word(word: &str, out: &mut String) {
    let w = word.as_bytes();
    let mut s: Vec<u8> = Vec::with_capacity(w.len());
    let mut i = 0;
    while i < w.len() {
        let rest = &w[i..];
        let prev = s.last().copied();
        let at_start = s.is_empty();
        let (emit, used): (&[u8], usize) = if rest.starts_with(b"shch") {
            (b"sh", 4)
        } else if rest.starts_with(b"shh") {
            (b"sh", 3)
        } else if rest.starts_with(b"dzh") {
            (b"j", 3)
        } else if rest.starts_with(b"dj") {
            (b"j", 2)
        } else if rest.starts_with(b"kh") {
            (b"h", 2)
        } else if rest.starts_with(b"ts") || rest.starts_with(b"tz") || rest.starts_with(b"cz") {
            (b"c", 2)
        } else if rest.starts_with(b"ch") {
            (b"ch", 2)
        } else if rest.starts_with(b"zh") {
            (b"j", 2)
        } else if rest.starts_with(b"sh") {
            (b"sh", 2)
        } else if (rest.starts_with(b"ye") || rest.starts_with(b"ie") || rest.starts_with(b"je"))
            && (at_start || prev.is_some_and(is_vowel))
        {
            // BGN's initial and post-vowel Ye (Yelena, Sergeyevna) is plain E elsewhere.
            (b"e", 2)
        } else if rest.starts_with(b"yo") || rest.starts_with(b"jo") {
            // Ё: Fyodor / Fedor.
            (b"e", 2)
        } else {
            match rest[0] {
                b'x' => (b"h", 1),
                b'q' => (b"k", 1),
                b'w' => (b"v", 1),
                b'y' => (b"i", 1),
                // Й after a vowel (GOST Aleksej); elsewhere J is the Uzbek / English dzh.
                b'j' if prev.is_some_and(is_vowel)
                    && !rest.get(1).copied().is_some_and(is_vowel) =>
                {
                    (b"i", 1)
                }
                b'j' => (b"j", 1),
                _ => (&rest[..1], 1),
            }
        };
        s.extend_from_slice(emit);
        i += used;
    }
    // Collapse doubled letters (Dmitrii / Dmitriy -> dmitri, Anna / Ana).
    s.dedup();
    out.push_str(std::str::from_utf8(&s).unwrap_or_default());
}

/// The skeleton of a name (or any words): see the module comment.
pub fn name_skeleton(text: &str) -> String {
    let mut lower = text.nfkc().collect::<String>().to_lowercase();
    // Uzbek Latin writes Ў as O' (with any of several apostrophes); clerks write it as У.
    for apostrophe in ['\'', '‘', '’', 'ʻ', 'ʼ', '`'] {
        lower = lower.replace(&format!("o{apostrophe}"), "u");
    }
    let folded = tessera_translit::fold_central_asian(&lower);
    let mut latin = String::with_capacity(folded.len() + 4);
    for c in folded.chars() {
        if let Some(letters) = skeleton_letter(c) {
            latin.push_str(letters);
        } else if c.is_ascii_alphabetic() {
            latin.push(c.to_ascii_lowercase());
        } else if c.is_alphabetic() {
            // Accented Latin (Kyrgyz ö, ü) and other letters: drop the accent if ASCII remains.
            latin.extend(c.to_string().nfd().filter(char::is_ascii_alphabetic));
        } else if c.is_whitespace() || c == '-' {
            latin.push(' ');
        }
        // Apostrophes, backticks and punctuation vanish: G'ayrat, Natal'ya, Cy`gankov.
    }
    let mut out = String::with_capacity(latin.len());
    for word in latin.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        skeleton_word(word, &mut out);
    }
    out
}

/// A comparison key for an address: lower case, Ё as Е, the usual abbreviations of street-type
/// and unit words dropped, numbers and names kept in order. Numbers written together are taken
/// apart, so that every way a clerk writes one flat gives one key: `д. 97, корп. 3, кв. 402`,
/// `д 97 к3 кв 402` and `97к3-402` are all `97 3 402`.
pub fn address_key(text: &str) -> String {
    const NOISE: [&str; 32] = [
        "г",
        "город",
        "ул",
        "улица",
        "д",
        "дом",
        "кв",
        "квартира",
        "пр",
        "пр-т",
        "просп",
        "проспект",
        "пр-д",
        "проезд",
        "пер",
        "переулок",
        "ш",
        "шоссе",
        "б-р",
        "бульвар",
        "пл",
        "площадь",
        "наб",
        "набережная",
        "корп",
        "корпус",
        "к",
        "стр",
        "строение",
        "с",
        "обл",
        "область",
    ];
    let lower = text.to_lowercase().replace('ё', "е");
    let mut key = String::with_capacity(lower.len());
    for word in lower.split(|c: char| c.is_whitespace() || c == ',' || c == '.') {
        for part in address_parts(word) {
            if !part.is_empty() && !NOISE.contains(&part) {
                if !key.is_empty() {
                    key.push(' ');
                }
                key.push_str(part);
            }
        }
    }
    key
}

/// The parts of one written word of an address: a word with a number in it is cut where digits
/// meet letters, and at a hyphen or slash beside a digit (`97к3-402` is `97`, `к`, `3`, `402`);
/// a word without one (`пр-т`) stays whole.
fn address_parts(word: &str) -> Vec<&str> {
    if !word.bytes().any(|b| b.is_ascii_digit()) {
        return vec![word];
    }
    let mut parts = Vec::new();
    let mut start = 0;
    let mut previous: Option<char> = None;
    for (at, c) in word.char_indices() {
        if c == '-' || c == '/' {
            parts.push(&word[start..at]);
            start = at + c.len_utf8();
            previous = None;
            continue;
        }
        if let Some(p) = previous
            && p.is_ascii_digit() != c.is_ascii_digit()
        {
            parts.push(&word[start..at]);
            start = at;
        }
        previous = Some(c);
    }
    parts.push(&word[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_translit::{Standard, to_latin};

    /// Every spelling in a row must have the same skeleton.
    fn same(spellings: &[&str]) {
        let first = name_skeleton(spellings[0]);
        for s in spellings {
            assert_eq!(name_skeleton(s), first, "{s:?} vs {:?}", spellings[0]);
        }
    }

    #[test]
    fn transliteration_variants_share_a_skeleton() {
        same(&["Хасанов", "XASANOV", "Khasanov", "Hasanov", "Ҳасанов"]);
        same(&["Раджабов", "Radzhabov", "Rajabov", "RADJABOV"]);
        same(&["Юлия", "Iuliia", "Yuliya", "Yulia"]);
        same(&["Мария", "Mariia", "Mariya", "Maria"]);
        same(&["Наталья", "Natalia", "Natal'ya", "Natalya"]);
        same(&["Алексей", "Aleksei", "Aleksey", "Aleksej"]);
        same(&["Елена", "Elena", "Yelena"]);
        same(&["Сергеевна", "Sergeevna", "Sergeyevna"]);
        same(&["Фёдор", "Федор", "Fedor", "Fyodor"]);
        same(&["Щукин", "Shchukin", "Shhukin"]);
        same(&["Цыганков", "Tsygankov", "Cy`gankov", "Cygankov"]);
        same(&["Дмитрий", "Dmitrii", "Dmitriy", "Dmitrij"]);
        same(&["Ғайрат", "G'ayrat", "Gayrat", "Гайрат"]);
        same(&["Қодиров", "Qodirov", "Kodirov", "Кодиров"]);
        same(&["Йўлдошев", "Yo'ldoshev", "Йулдошев", "Yoʻldoshev"]);
        same(&["Ўлмас", "O'lmas", "Улмас"]);
        same(&["Ҷамшед", "Jamshed", "Джамшед", "Dzhamshed"]);
        same(&["Жуков", "Zhukov", "ZHUKOV", "Jukov"]);
    }

    #[test]
    fn every_standard_agrees_with_the_cyrillic() {
        for name in [
            "Щукин",
            "Юлия",
            "Хасанов",
            "Журавлёва",
            "Алексей",
            "Цой",
            "Ярослав",
            "Ҳасанов",
            "Қодиров",
        ] {
            for standard in Standard::ALL {
                let latin = to_latin(name, standard);
                assert_eq!(
                    name_skeleton(&latin),
                    name_skeleton(name),
                    "{name} {standard:?}: {latin}"
                );
            }
        }
    }

    #[test]
    fn different_names_stay_different() {
        assert_ne!(name_skeleton("Иван"), name_skeleton("Илья"));
        assert_ne!(name_skeleton("Иванов"), name_skeleton("Иванова"));
        assert_eq!(name_skeleton("Иванов  Иван"), "ivanov ivan");
    }

    #[test]
    fn addresses_drop_abbreviations() {
        assert_eq!(
            address_key("г. Москва, пр-т Андропова, д. 60, кв. 154"),
            address_key("Г МОСКВА, ПРОСПЕКТ АНДРОПОВА, ДОМ 60, КВАРТИРА 154")
        );
        assert_eq!(address_key("Москва, Зелёная ул д 27"), "москва зеленая 27");
    }

    #[test]
    fn one_flat_written_every_way_has_one_key() {
        let flat = "тверская 97 3 402";
        for written in [
            "Тверская ул., 97к3-402",
            "ул. Тверская, д. 97, корп. 3, кв. 402",
            "улица Тверская, дом 97, корпус 3, квартира 402",
            "Тверская ул д 97 к3 кв 402",
            "Тверская ул. 97/3-402",
        ] {
            assert_eq!(address_key(written), flat, "{written}");
        }
        assert_eq!(address_key("Тверская ул., 97-402"), "тверская 97 402");
        assert_eq!(
            address_key("Москва, проезд Шокальского, дом 51"),
            address_key("г. Москва, пр-д Шокальского, д. 51")
        );
        // Words without numbers keep their hyphens; a house letter stays, apart.
        assert_eq!(
            address_key("пр-т Мира-Северный, д 12а"),
            "мира-северный 12 а"
        );
    }
}
