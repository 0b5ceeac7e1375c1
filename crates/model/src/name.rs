//! Person names: the original text as the source wrote it, plus its parsed parts.
//!
//! Sources write names in one field or three, surname first or given name first, in Cyrillic or
//! Latin. [`parse_full_name`] splits a one-field name using the patronymic and surname endings of
//! Russian and Central Asian names. It does not transliterate or normalise spelling; that is the
//! resolver's job, which always has the original text to go back to.

use serde::{Deserialize, Serialize};

/// The writing system a name was recorded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Script {
    Cyrillic,
    Latin,
    Mixed,
    Unknown,
}

impl Script {
    /// The script of `text`, judged by its letters.
    pub fn detect(text: &str) -> Script {
        let (mut cyrillic, mut latin) = (0usize, 0usize);
        for c in text.chars().filter(|c| c.is_alphabetic()) {
            if ('\u{0400}'..='\u{052F}').contains(&c) {
                cyrillic += 1;
            } else if c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c) {
                latin += 1;
            }
        }
        match (cyrillic, latin) {
            (0, 0) => Script::Unknown,
            (_, 0) => Script::Cyrillic,
            (0, _) => Script::Latin,
            _ => Script::Mixed,
        }
    }
}

/// The order of the parts in a one-field name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameOrder {
    /// `Иванов Иван Иванович`, the official Russian order.
    SurnameFirst,
    /// `Иван Иванович Иванов`.
    GivenFirst,
    /// Decide per value from patronymic and surname endings; surname first when in doubt.
    #[default]
    Any,
}

/// A person's name as one source recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PersonName {
    /// The name exactly as the source wrote it (after decoding), parts joined by spaces.
    pub original: String,
    pub script: Script,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub surname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub given: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub patronymic: Option<String>,
}

impl PersonName {
    /// A name given in separate parts; empty parts become `None`.
    pub fn from_parts(
        surname: Option<&str>,
        given: Option<&str>,
        patronymic: Option<&str>,
    ) -> PersonName {
        let clean = |part: Option<&str>| part.map(collapse_spaces).filter(|p| !p.is_empty());
        let (surname, given, patronymic) = (clean(surname), clean(given), clean(patronymic));
        let original = [&surname, &given, &patronymic]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        PersonName {
            script: Script::detect(&original),
            original,
            surname,
            given,
            patronymic,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.original.is_empty()
    }
}

fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Words that follow a father's name in Central Asian patronymics ("Akbar ugli", "Акбар кизи").
const PATRONYMIC_PARTICLES: [&str; 16] = [
    "угли", "ўғли", "уғли", "оглы", "огли", "кизи", "қизи", "кызы", "уулу", "ugli", "o'g'li",
    "ogli", "ogly", "qizi", "kizi", "kyzy",
];

const PATRONYMIC_ENDINGS: &[&str] = &[
    "ович",
    "евич",
    "ьич",
    // The irregular ones, from fathers' names in -а/-я: Никитич, Кузьмич, Лукич, Фомич, Саввич.
    "итич",
    "ьмич",
    "укич",
    "омич",
    "ввич",
    "itich",
    "'mich",
    "kuzmich",
    "lukich",
    "fomich",
    "savvich",
    "овна",
    "евна",
    "ична",
    "инична",
    "ovich",
    "evich",
    "ovna",
    "evna",
    "ichna",
    "ovic",
    "yevich",
];

const SURNAME_ENDINGS: [&str; 26] = [
    "ов", "ова", "ев", "ева", "ёв", "ёва", "ин", "ина", "ский", "ская", "цкий", "цкая", "зода",
    "ov", "ova", "ev", "eva", "in", "ina", "skiy", "skii", "sky", "skaya", "zoda", "zade", "uulu",
];

fn is_patronymic(token: &str) -> bool {
    let lower = token.to_lowercase();
    let last_word = lower.rsplit(' ').next().unwrap_or(&lower);
    PATRONYMIC_PARTICLES.contains(&last_word)
        || PATRONYMIC_ENDINGS.iter().any(|e| lower.ends_with(e))
}

fn looks_like_surname(token: &str) -> bool {
    let lower = token.to_lowercase();
    SURNAME_ENDINGS
        .iter()
        .any(|e| lower.ends_with(e) && lower.chars().count() > e.chars().count() + 1)
}

/// Splits a one-field name into surname, given name and patronymic.
pub fn parse_full_name(text: &str, order: NameOrder) -> PersonName {
    let mut tokens: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
    {
        let particle = PATRONYMIC_PARTICLES.contains(&word.to_lowercase().as_str());
        match tokens.last_mut() {
            Some(previous) if particle => {
                previous.push(' ');
                previous.push_str(word);
            }
            _ => tokens.push(word.to_string()),
        }
    }
    let original = collapse_spaces(&text.replace(',', " "));
    let order = match order {
        NameOrder::Any => guess_order(&tokens),
        fixed => fixed,
    };
    let part = |i: usize| tokens.get(i).map(String::as_str);
    let rest = |from: usize| (tokens.len() > from).then(|| tokens[from..].join(" "));
    let (surname, given, patronymic) = match (order, tokens.len()) {
        (_, 0) => (None, None, None),
        (_, 1) => (part(0).map(str::to_string), None, None),
        (NameOrder::GivenFirst, 2) => (
            part(1).map(str::to_string),
            part(0).map(str::to_string),
            None,
        ),
        (NameOrder::GivenFirst, n) => (
            part(n - 1).map(str::to_string),
            part(0).map(str::to_string),
            Some(tokens[1..n - 1].join(" ")),
        ),
        (_, _) => (
            part(0).map(str::to_string),
            part(1).map(str::to_string),
            rest(2),
        ),
    };
    PersonName {
        script: Script::detect(&original),
        original,
        surname,
        given,
        patronymic,
    }
}

fn guess_order(tokens: &[String]) -> NameOrder {
    let n = tokens.len();
    if n < 2 {
        return NameOrder::SurnameFirst;
    }
    if n >= 3 {
        if is_patronymic(&tokens[n - 1]) {
            return NameOrder::SurnameFirst;
        }
        if is_patronymic(&tokens[1]) {
            return NameOrder::GivenFirst;
        }
    }
    let first = looks_like_surname(&tokens[0]);
    let last = looks_like_surname(&tokens[n - 1]);
    if last && !first {
        NameOrder::GivenFirst
    } else {
        NameOrder::SurnameFirst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, order: NameOrder, expect: [Option<&str>; 3]) {
        let name = parse_full_name(text, order);
        let got = [
            name.surname.as_deref(),
            name.given.as_deref(),
            name.patronymic.as_deref(),
        ];
        assert_eq!(got, expect, "{text:?} {order:?}");
    }

    #[test]
    fn one_field_names_in_either_order() {
        use NameOrder::*;
        check(
            "Иванов Иван Иванович",
            Any,
            [Some("Иванов"), Some("Иван"), Some("Иванович")],
        );
        check(
            "Иван Иванович Иванов",
            Any,
            [Some("Иванов"), Some("Иван"), Some("Иванович")],
        );
        check(
            "ИВАНОВА  МАРИЯ ПЕТРОВНА",
            Any,
            [Some("ИВАНОВА"), Some("МАРИЯ"), Some("ПЕТРОВНА")],
        );
        check(
            "Rustam Karimov",
            Any,
            [Some("Karimov"), Some("Rustam"), None],
        );
        check(
            "KARIMOV RUSTAM",
            Any,
            [Some("KARIMOV"), Some("RUSTAM"), None],
        );
        check(
            "Karimov Rustam Akbar ugli",
            Any,
            [Some("Karimov"), Some("Rustam"), Some("Akbar ugli")],
        );
        check(
            "Рустам Акбар угли Каримов",
            Any,
            [Some("Каримов"), Some("Рустам"), Some("Акбар угли")],
        );
        check(
            "Ivan Petrov",
            SurnameFirst,
            [Some("Ivan"), Some("Petrov"), None],
        );
        check(
            "Petrov, Ivan",
            GivenFirst,
            [Some("Ivan"), Some("Petrov"), None],
        );
        check(
            "Константин Никитич Соколов",
            Any,
            [Some("Соколов"), Some("Константин"), Some("Никитич")],
        );
        check(
            "Konstantin Nikitich Sokolov",
            Any,
            [Some("Sokolov"), Some("Konstantin"), Some("Nikitich")],
        );
        check(
            "Пётр Кузьмич Бабич",
            Any,
            [Some("Бабич"), Some("Пётр"), Some("Кузьмич")],
        );
        check(
            "Бабич Иван Петрович",
            Any,
            [Some("Бабич"), Some("Иван"), Some("Петрович")],
        );
        check("Саидов", Any, [Some("Саидов"), None, None]);
        check("  ", Any, [None, None, None]);
    }

    #[test]
    fn scripts_are_detected() {
        assert_eq!(Script::detect("Иванов"), Script::Cyrillic);
        assert_eq!(Script::detect("O'g'li Qodirov"), Script::Latin);
        assert_eq!(Script::detect("Ивanов"), Script::Mixed);
        assert_eq!(Script::detect("Ҳасанов Ғайрат"), Script::Cyrillic);
        assert_eq!(Script::detect("123"), Script::Unknown);
    }

    #[test]
    fn parts_join_into_original() {
        let name = PersonName::from_parts(Some(" Иванов "), Some("Иван"), Some(""));
        assert_eq!(name.original, "Иванов Иван");
        assert_eq!(name.patronymic, None);
        assert_eq!(name.script, Script::Cyrillic);
    }
}
