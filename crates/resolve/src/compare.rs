//! Comparing two records field by field into comparison levels.
//!
//! Each field compares into a small number of levels (exact, close, far, missing); the model
//! turns levels into weights. A name from one field may have had its parts in either order, so
//! names are compared both ways and the better reading is kept.

use tessera_model::{DatePrecision, IdKind};

use crate::features::RecordFacts;

/// The fields compared, in the order of [`Comparison::levels`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Surname,
    Given,
    Patronymic,
    BirthDate,
    Sex,
    Contact,
    Employer,
    Address,
    StrongId,
}

impl Field {
    pub const ALL: [Field; 9] = [
        Field::Surname,
        Field::Given,
        Field::Patronymic,
        Field::BirthDate,
        Field::Sex,
        Field::Contact,
        Field::Employer,
        Field::Address,
        Field::StrongId,
    ];
    pub const COUNT: usize = Field::ALL.len();

    pub fn name(self) -> &'static str {
        match self {
            Field::Surname => "surname",
            Field::Given => "given name",
            Field::Patronymic => "patronymic",
            Field::BirthDate => "birth date",
            Field::Sex => "sex",
            Field::Contact => "contact",
            Field::Employer => "employer",
            Field::Address => "address",
            Field::StrongId => "strong identifier",
        }
    }

    /// The names of this field's levels; level 0 is always "missing" (no evidence).
    pub fn level_names(self) -> &'static [&'static str] {
        match self {
            Field::Surname | Field::Given => &[
                "missing",
                "exact",
                "close (one typo, or JW ≥ 0.92)",
                "similar (JW ≥ 0.80, more than one typo)",
                "different",
            ],
            Field::Patronymic => &["missing", "exact", "close (JW ≥ 0.88)", "different"],
            Field::BirthDate => &[
                "missing",
                "exact",
                "near (day/month swap, one digit, or less precise)",
                "same year",
                "different",
            ],
            Field::Sex => &["missing", "same", "different"],
            Field::Contact => &["missing", "shared", "one digit apart", "different"],
            Field::Employer => &[
                "missing",
                "same employer, same personnel number",
                "same employer",
                "different",
                "same employer, different personnel numbers",
            ],
            Field::Address => &[
                "missing",
                "exact",
                "close",
                "sharing most words",
                "different",
            ],
            Field::StrongId => &[
                "none in common",
                "same valid value",
                "different valid values",
                "different other identifiers",
                "other identifiers one digit apart",
                "valid values one typo apart, no check digit",
            ],
        }
    }

    pub fn levels(self) -> usize {
        self.level_names().len()
    }
}

/// Level indices shared by name-like fields.
pub(crate) const EXACT: u8 = 1;
pub(crate) const MISSING: u8 = 0;

/// How the surnames and given names of two records were paired up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NameReading {
    /// Surname with surname, given name with given name.
    #[default]
    Straight,
    /// Across (the first record's surname with the second's given name, and the other way),
    /// each pair named as the first record names its part: how [`compare`] reads them.
    Swapped,
    /// Across, each pair named as the second record names its part: the first record's order
    /// was the reversed one (see `Model::orient`).
    SwappedAsSecond,
}

/// The comparison of two records: one level per field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Comparison {
    pub levels: [u8; Field::COUNT],
    /// How the name parts were paired up.
    pub names: NameReading,
    /// One record names the other's person as a relative (see
    /// [`RecordFacts::names_as_relative`]).
    pub relative: bool,
}

impl Comparison {
    pub fn level(&self, field: Field) -> u8 {
        self.levels[field as usize]
    }

    /// Whether the name parts were compared across (one record's order is the other's reverse).
    pub fn swapped_names(&self) -> bool {
        self.names != NameReading::Straight
    }

    pub(crate) fn strong_conflict(&self) -> bool {
        self.level(Field::StrongId) == 2
    }

    pub(crate) fn strong_agree(&self) -> bool {
        self.level(Field::StrongId) == 1
    }

    /// An agreeing identifier, or another typed identifier one digit from agreeing: evidence
    /// that outweighs one clearly different field.
    pub(crate) fn identifier_supports(&self) -> bool {
        self.strong_agree() || self.level(Field::StrongId) == 4
    }
}

/// Whether the Jaro–Winkler similarity of two skeletons (ASCII, so bytes are letters) is at
/// least `threshold`. Given a cutoff, rapidfuzz gives up as soon as the lengths or the letters in
/// common rule it out, which is where most candidate pairs' different names and addresses end.
/// The cutoff sits a hair below the threshold, so that rounding in rapidfuzz's cutoff arithmetic
/// never decides: the similarity itself is compared with the threshold.
fn jaro_winkler_at_least(a: &str, b: &str, threshold: f64) -> Option<f64> {
    rapidfuzz::distance::jaro_winkler::similarity_with_args(
        a.bytes(),
        b.bytes(),
        &rapidfuzz::distance::jaro_winkler::Args::default().score_cutoff(threshold - 1e-9),
    )
    .filter(|&similarity| similarity >= threshold)
}

fn name_level(a: Option<&str>, b: Option<&str>) -> u8 {
    let (Some(a), Some(b)) = (a, b) else {
        return MISSING;
    };
    if a == b {
        return EXACT;
    }
    // One typo (a letter substituted, dropped, added, or two neighbours exchanged) is close
    // whatever Jaro–Winkler says: "nzarov" is Nazarov mistyped, not another surname.
    if one_typo_apart(a, b) {
        return 2;
    }
    match jaro_winkler_at_least(a, b, 0.80) {
        Some(similarity) if similarity >= 0.92 => 2,
        Some(_) => 3,
        None => 4,
    }
}

/// Whether two patronymics clearly differ (the "different" level: not equal, not close).
pub(crate) fn patronymics_differ(a: &str, b: &str) -> bool {
    patronymic_level(Some(a), Some(b)) == 3
}

fn patronymic_level(a: Option<&str>, b: Option<&str>) -> u8 {
    let (Some(a), Some(b)) = (a, b) else {
        return MISSING;
    };
    if a == b {
        EXACT
    } else if one_typo_apart(a, b) || jaro_winkler_at_least(a, b, 0.88).is_some() {
        // As for names: one typo is close whatever Jaro–Winkler says of it ("ivgenevich" for
        // "evgenevich" is 0.86, and its veto split one worker's weekly reports).
        2
    } else {
        3
    }
}

/// Whether two strings of one length differ in exactly one position (a one-key typo).
fn one_character_apart(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count() == 1
}

/// Whether two different strings are one typo apart: one character substituted, dropped or
/// added, or two neighbouring characters exchanged (Damerau–Levenshtein distance 1). Compares
/// bytes: skeletons, identifiers and contacts are ASCII.
pub(crate) fn one_typo_apart(a: &str, b: &str) -> bool {
    bytes_one_typo_apart(a.as_bytes(), b.as_bytes())
}

fn bytes_one_typo_apart(a: &[u8], b: &[u8]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 || a == b {
        return false;
    }
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() < long.len() {
        // One character dropped: the rest lines up one position later.
        return short[prefix..] == long[prefix + 1..];
    }
    let rest = prefix + 1;
    // Substituted: everything after the first difference agrees.
    short[rest..] == long[rest..]
        // Exchanged neighbours.
        || (rest < short.len()
            && short[prefix] == long[rest]
            && short[rest] == long[prefix]
            && short[rest + 1..] == long[rest + 1..])
}

/// Whether two numbers written with the same digit count differ in exactly one digit.
fn one_digit_apart(a: u32, b: u32) -> bool {
    one_character_apart(&format!("{a:02}"), &format!("{b:02}"))
}

fn birth_level(a: &RecordFacts, b: &RecordFacts) -> u8 {
    let (Some(x), Some(y)) = (a.birth, b.birth) else {
        return MISSING;
    };
    if x == y {
        return if x.precision() == DatePrecision::Day {
            EXACT
        } else {
            2
        };
    }
    let (year_x, year_y) = (x.year_value(), y.year_value());
    let full = |d: tessera_model::PartialDate| (d.month_value(), d.day_value());
    match (full(x), full(y)) {
        ((Some(mx), Some(dx)), (Some(my), Some(dy))) => {
            let swapped = year_x == year_y && mx == dy && dx == my;
            let same_year = year_x == year_y;
            let one_typo = [
                (year_x as u32, year_y as u32, mx == my && dx == dy),
                (u32::from(mx), u32::from(my), year_x == year_y && dx == dy),
                (u32::from(dx), u32::from(dy), year_x == year_y && mx == my),
            ]
            .iter()
            .any(|(p, q, rest_equal)| *rest_equal && one_digit_apart(*p, *q));
            if swapped || one_typo {
                2
            } else if same_year {
                3
            } else {
                4
            }
        }
        // One side less precise: compatible if the known parts agree.
        ((mx, _), (my, _)) => {
            let compatible = year_x == year_y && (mx.is_none() || my.is_none() || mx == my);
            if compatible { 2 } else { 4 }
        }
    }
}

/// A personnel number identifies an employee within one employer, so at a shared employer it
/// decides: the same number is one person, different numbers are two (namesakes at one employer).
fn employer_level(a: &RecordFacts, b: &RecordFacts) -> u8 {
    if a.employers.is_empty() || b.employers.is_empty() {
        return MISSING;
    }
    if a.staff_numbers.iter().any(|x| b.staff_numbers.contains(x)) {
        return 1;
    }
    let shared: Vec<&String> = a
        .employers
        .iter()
        .filter(|e| b.employers.contains(e))
        .collect();
    if shared.is_empty() {
        return 3;
    }
    let numbered = |staff: &[String], employer: &str| {
        staff.iter().any(|s| s.split('#').next() == Some(employer))
    };
    let both_numbered = shared
        .iter()
        .any(|e| numbered(&a.staff_numbers, e) && numbered(&b.staff_numbers, e));
    if both_numbered { 4 } else { 2 }
}

/// Contacts compare as shared, one digit apart (a typo in a phone or card number) or different.
fn contact_level(a: &[String], b: &[String]) -> u8 {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    if a.iter().any(|x| b.contains(x)) {
        return 1;
    }
    if a.iter().any(|x| b.iter().any(|y| one_typo_apart(x, y))) {
        2
    } else {
        3
    }
}

/// The numbers of an address (house, building, flat, postcode): its runs of digits, in order,
/// one space between them.
struct AddressNumbers {
    /// Inline for any real address; one past [`AddressNumbers::INLINE`] bytes, on the heap.
    inline: [u8; AddressNumbers::INLINE],
    len: usize,
    spilled: Vec<u8>,
}

impl AddressNumbers {
    const INLINE: usize = 64;

    /// Written into a buffer on the stack: two addresses are compared for tens of millions of
    /// candidate pairs, and allocating their numbers was a quarter of the comparison's time.
    fn of(text: &str) -> AddressNumbers {
        let mut numbers = AddressNumbers {
            inline: [0; AddressNumbers::INLINE],
            len: 0,
            spilled: Vec::new(),
        };
        for run in text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|run| !run.is_empty())
        {
            if numbers.len > 0 {
                numbers.push(b" ");
            }
            numbers.push(run.as_bytes());
        }
        numbers
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if self.spilled.is_empty() && end <= AddressNumbers::INLINE {
            self.inline[self.len..end].copy_from_slice(bytes);
        } else {
            if self.spilled.is_empty() {
                self.spilled.extend_from_slice(&self.inline[..self.len]);
            }
            self.spilled.extend_from_slice(bytes);
        }
        self.len = end;
    }

    fn as_bytes(&self) -> &[u8] {
        if self.spilled.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }
}

fn address_level(a: Option<&str>, b: Option<&str>) -> u8 {
    let (Some(a), Some(b)) = (a, b) else {
        return MISSING;
    };
    if a == b {
        return EXACT;
    }
    // Close: the same numbers (house, building, flat, postcode), or one typo in them, and
    // nearly the same words. Neighbours on one street differ in their numbers by more than a
    // typo, which Jaro–Winkler over the whole text hardly sees.
    let (numbers_a, numbers_b) = (AddressNumbers::of(a), AddressNumbers::of(b));
    let (numbers_a, numbers_b) = (numbers_a.as_bytes(), numbers_b.as_bytes());
    // A typo is forgiven in a house and a flat number, not in a lone one- or two-digit number:
    // "29" and "2" are two houses.
    let numbers_agree = numbers_a == numbers_b
        || (numbers_a.len().min(numbers_b.len()) >= 3
            && bytes_one_typo_apart(numbers_a, numbers_b));
    if numbers_agree && jaro_winkler_at_least(a, b, 0.93).is_some() {
        return 2;
    }
    with_words(a, |words_a| {
        with_words(b, |words_b| words_level(words_a, words_b, numbers_agree))
    })
}

/// Calls `f` with the words of `text` (split at spaces), kept on the stack for any real address.
fn with_words<R>(text: &str, f: impl FnOnce(&[&str]) -> R) -> R {
    const INLINE: usize = 32;
    let mut inline = [""; INLINE];
    let mut count = 0;
    let mut words = text.split(' ');
    for word in words.by_ref() {
        if count == INLINE {
            let mut all = inline.to_vec();
            all.push(word);
            all.extend(words);
            return f(&all);
        }
        inline[count] = word;
        count += 1;
    }
    f(&inline[..count])
}

/// The address level from the words two different addresses share: each word matching if
/// Jaro–Winkler ≥ 0.9 (a typo inside a word), as a share of the shorter address: a missing or
/// swapped part of an address is not a different one.
fn words_level(words_a: &[&str], words_b: &[&str], numbers_agree: bool) -> u8 {
    let shorter = words_a.len().min(words_b.len());
    // Decide on exact words where that settles it; unrelated addresses (most pairs) share at
    // most a word or two, and the word-by-word Jaro–Winkler is only for the band between.
    let exact = words_a.iter().filter(|x| words_b.contains(x)).count();
    if exact * 3 < shorter
        || (exact * 3 < shorter * 2 && similar_words(words_a, words_b) * 3 < shorter * 2)
    {
        return 4;
    }
    // Where numbers are half the words or more, the rest must agree on their own: a shared house
    // and flat number would outvote a different street ("москва первомайская 53 296" against
    // "москва можайское 53 296" shares three words of four). In a longer address (street,
    // suburb, state: FEBRL's) the words outvote the numbers, and one garbled word is a typo.
    let named = |word: &&str| !word.bytes().all(|b| b.is_ascii_digit());
    let street_a: Vec<&str> = words_a.iter().copied().filter(named).collect();
    let street_b: Vec<&str> = words_b.iter().copied().filter(named).collect();
    let numbers_dominate = |street: &[&str], words: &[&str]| street.len() * 2 <= words.len();
    if (numbers_dominate(&street_a, words_a) || numbers_dominate(&street_b, words_b))
        && similar_words(&street_a, &street_b) * 3 < street_a.len().min(street_b.len()) * 2
    {
        return 4;
    }
    if numbers_agree { 2 } else { 3 }
}

/// How many of `words_a` are in `words_b`, each exactly or with Jaro–Winkler ≥ 0.9 (a typo
/// inside a word).
fn similar_words(words_a: &[&str], words_b: &[&str]) -> usize {
    words_a
        .iter()
        .filter(|x| {
            words_b
                .iter()
                .any(|y| x == &y || jaro_winkler_at_least(x, y, 0.9).is_some())
        })
        .count()
}

/// The strong-identifier level of two valid values of one kind that are one typo apart, where
/// the kind has no check digit to catch the typo: one document mistyped (a migrant's passport on
/// one of his registrations), or two documents issued one after the other (twins' passports).
/// Not a cannot-link, and not support enough to outweigh a different given name.
const STRONG_ONE_TYPO_APART: u8 = 5;

/// Whether two valid values of one strong kind are two documents, and so two persons: they
/// differ, and not by one typo in a kind that has no check digit to catch it.
pub(crate) fn strong_values_conflict(kind: IdKind, a: &str, b: &str) -> bool {
    a != b && (kind.has_check_digit() || !one_typo_apart(a, b))
}

fn strong_level(a: &RecordFacts, b: &RecordFacts) -> u8 {
    let mut agree = false;
    let mut typo = false;
    for (kind, value) in &a.strong_ids {
        for (other_kind, other_value) in &b.strong_ids {
            if kind == other_kind {
                if value == other_value {
                    agree = true;
                } else if strong_values_conflict(*kind, value, other_value) {
                    return 2;
                } else {
                    typo = true;
                }
            }
        }
    }
    if agree || a.other_ids.iter().any(|x| b.other_ids.contains(x)) {
        return 1;
    }
    if typo {
        return STRONG_ONE_TYPO_APART;
    }
    // Other identifiers of the same type that differ: evidence against (or, one digit apart, a
    // typo), never a cannot-link.
    let same_type = |x: &String, y: &String| x.split(':').next() == y.split(':').next();
    if a.other_ids
        .iter()
        .any(|x| b.other_ids.iter().any(|y| one_typo_apart(x, y)))
    {
        4
    } else if a
        .other_ids
        .iter()
        .any(|x| b.other_ids.iter().any(|y| same_type(x, y)))
    {
        3
    } else {
        MISSING
    }
}

/// Name levels are better when lower (exact = 1) except 0 = missing; this ranks a reading.
fn name_badness(level: u8) -> u8 {
    if level == MISSING { 3 } else { level }
}

/// Compares two records.
pub fn compare(a: &RecordFacts, b: &RecordFacts) -> Comparison {
    let straight = (
        name_level(a.surname.as_deref(), b.surname.as_deref()),
        name_level(a.given.as_deref(), b.given.as_deref()),
    );
    let badness = |(s, g): (u8, u8)| name_badness(s) + name_badness(g);
    // No reading is better than 2 and the swapped one must win by more than 1, so when the
    // straight reading is 3 or better the swapped one is not computed.
    let swapped = (badness(straight) > 3).then(|| {
        (
            name_level(a.surname.as_deref(), b.given.as_deref()),
            name_level(a.given.as_deref(), b.surname.as_deref()),
        )
    });
    let use_swapped = swapped.is_some_and(|swapped| badness(swapped) + 1 < badness(straight));
    // Read across, which pair is the given names depends on whose order was right, and the
    // parts do not say: the pairs are named as the first record names its parts, and
    // `Model::orient` decides by how common each value is as a surname and as a given name.
    let (surname, given, names) = match swapped {
        Some((first, second)) if use_swapped => (first, second, NameReading::Swapped),
        _ => (straight.0, straight.1, NameReading::Straight),
    };
    let mut levels = [0u8; Field::COUNT];
    levels[Field::Surname as usize] = surname;
    levels[Field::Given as usize] = given;
    levels[Field::Patronymic as usize] =
        patronymic_level(a.patronymic.as_deref(), b.patronymic.as_deref());
    levels[Field::BirthDate as usize] = birth_level(a, b);
    levels[Field::Sex as usize] = match (a.sex, b.sex) {
        (Some(x), Some(y)) if x == y => 1,
        (Some(_), Some(_)) => 2,
        _ => MISSING,
    };
    levels[Field::Contact as usize] = contact_level(&a.contacts, &b.contacts);
    levels[Field::Employer as usize] = employer_level(a, b);
    levels[Field::Address as usize] = address_level(a.address.as_deref(), b.address.as_deref());
    levels[Field::StrongId as usize] = strong_level(a, b);
    Comparison {
        levels,
        names,
        relative: a.names_as_relative(b) || b.names_as_relative(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_model::PartialDate;

    fn person(surname: &str, given: &str, birth: Option<PartialDate>) -> RecordFacts {
        let reference = tessera_model::RecordRef {
            source: tessera_model::SourceId::new("test").unwrap(),
            key: tessera_model::RecordKey::new("1").unwrap(),
            version: 1,
        };
        let mut facts = RecordFacts::empty(reference);
        facts.surname = Some(crate::name_skeleton(surname));
        facts.given = Some(crate::name_skeleton(given));
        facts.birth = birth;
        facts
    }

    fn day(y: i32, m: u8, d: u8) -> Option<PartialDate> {
        Some(PartialDate::day(y, m, d).unwrap())
    }

    #[test]
    fn birth_dates_know_their_error_patterns() {
        let level =
            |a, b| compare(&person("x", "y", a), &person("x", "y", b)).level(Field::BirthDate);
        assert_eq!(level(day(1990, 2, 28), day(1990, 2, 28)), 1);
        assert_eq!(level(day(1990, 3, 4), day(1990, 4, 3)), 2, "day/month swap");
        assert_eq!(level(day(1990, 3, 4), day(1990, 3, 7)), 2, "one digit");
        assert_eq!(
            level(day(1990, 3, 4), day(1991, 3, 4)),
            2,
            "one digit of the year"
        );
        assert_eq!(
            level(day(1990, 3, 4), Some(PartialDate::year(1990).unwrap())),
            2,
            "less precise"
        );
        assert_eq!(level(day(1990, 3, 4), day(1990, 11, 25)), 3, "same year");
        assert_eq!(level(day(1990, 3, 4), day(1985, 11, 25)), 4);
        assert_eq!(level(day(1990, 3, 4), None), 0);
    }

    #[test]
    fn one_typo_covers_substitution_deletion_insertion_and_transposition() {
        for (a, b) in [
            ("nazarov", "nzarov"),
            ("nazarov", "nazzarov"),
            ("nazarov", "nazarof"),
            ("vlasova", "vlaosva"),
            ("6892786", "6892768"),
            ("ab", "ba"),
        ] {
            assert!(one_typo_apart(a, b), "{a} {b}");
            assert!(one_typo_apart(b, a), "{b} {a}");
        }
        for (a, b) in [
            ("nazarov", "nazarov"),
            ("nikita", "nikolai"),
            ("abcd", "badc"),
            ("abc", "abcde"),
        ] {
            assert!(!one_typo_apart(a, b), "{a} {b}");
        }
    }

    #[test]
    fn neighbours_on_one_street_are_not_close_addresses() {
        let level = |a: &str, b: &str| address_level(Some(a), Some(b));
        assert_eq!(level("москва садовая 71 287", "москва садовая 83 к4 11"), 4);
        assert_eq!(level("москва садовая 71 287", "москва садовоя 71 287"), 2);
        assert_eq!(level("москва садовая 71 287", "москва садовая 71 12"), 3);
        assert_eq!(
            level("москва первомайская 53 296", "москва можайское 53 296"),
            4,
            "two streets, one house and flat number"
        );
        assert_eq!(
            level("москва дмитровское 29", "москва большая дмитровка 2"),
            3,
            "street names alike, two houses: at most sharing words, not close"
        );
        assert_eq!(
            level(
                "9 tunney crescent argyle toorak vic 5031",
                "9 tunney crescent toorak vic 5013"
            ),
            2,
            "a postcode typo in an otherwise shared address"
        );
    }

    #[test]
    fn an_addresss_numbers_are_its_digit_runs_however_long() {
        let joined = |text: &str| {
            text.split(|c: char| !c.is_ascii_digit())
                .filter(|run| !run.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let long = "д. 1 ".repeat(40) + "кв. 123456789";
        for text in [
            "москва садовая 71 к4 287",
            "без номеров",
            "",
            "101000, москва, 3-я улица строителей, 25",
            long.as_str(),
        ] {
            assert_eq!(
                AddressNumbers::of(text).as_bytes(),
                joined(text).as_bytes(),
                "{text}"
            );
        }
        assert!(joined(&long).len() > AddressNumbers::INLINE);
    }

    #[test]
    fn an_addresss_words_are_all_seen_however_many() {
        let many = "дом ".repeat(40) + "конец";
        for text in ["москва садовая 71 287", "", "одно", many.as_str()] {
            let words: Vec<&str> = text.split(' ').collect();
            with_words(text, |seen| assert_eq!(seen, words.as_slice(), "{text}"));
        }
    }

    #[test]
    fn names_compare_across_scripts_and_order() {
        let c = compare(
            &person("Хасанов", "Рустам", None),
            &person("Rustam", "KHASANOV", None),
        );
        assert!(c.swapped_names());
        assert_eq!((c.level(Field::Surname), c.level(Field::Given)), (1, 1));
        let twins = compare(
            &person("Иванов", "Иван", None),
            &person("Иванов", "Илья", None),
        );
        assert_eq!(
            (twins.level(Field::Surname), twins.level(Field::Given)),
            (1, 4)
        );
        let typo = compare(
            &person("Кузнецова", "Анна", None),
            &person("Кузнецова", "Ана", None),
        );
        assert_eq!(typo.level(Field::Given), 1, "doubled letters collapse");
        let typo = compare(
            &person("Кузнецова", "Анна", None),
            &person("Кузнецвоа", "Анна", None),
        );
        assert!(matches!(typo.level(Field::Surname), 2 | 3));
    }
}
