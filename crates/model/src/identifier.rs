//! Typed identifiers, their canonical forms and their check rules.
//!
//! [`Identifier::parse`] never fails: a value that breaks its kind's rule is kept, in the best
//! canonical form we can give it, with [`Validity::Invalid`] and the reason. Import keeps such
//! values (flagged) because a typo in one identifier should not throw away the rest of a row, and
//! resolution treats only valid identifiers as hard evidence.

use serde::{Deserialize, Serialize};

/// The kind of an identifier. Strong kinds identify one person; weak kinds (phone, plate,
/// transport card) are often shared within a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// Insurance account number, 11 digits with a check number.
    Snils,
    /// Taxpayer number: 12 digits for a person, 10 for an organisation, with check digits.
    Inn,
    /// Compulsory health insurance policy, 16 digits.
    Oms,
    /// Russian internal passport: 4-digit series and 6-digit number.
    PassportRf,
    /// A foreign (national or travel) passport: letters and digits.
    PassportForeign,
    /// A labour migrant's work patent number.
    WorkPatent,
    /// A phone number, canonical in E.164.
    Phone,
    /// A car registration plate, folded to Latin look-alike letters.
    CarPlate,
    /// A public-transport card number.
    TransportCard,
    /// Any other typed identifier; the type travels in the value as `type:value`.
    Other,
}

impl IdKind {
    pub const ALL: [IdKind; 10] = [
        IdKind::Snils,
        IdKind::Inn,
        IdKind::Oms,
        IdKind::PassportRf,
        IdKind::PassportForeign,
        IdKind::WorkPatent,
        IdKind::Phone,
        IdKind::CarPlate,
        IdKind::TransportCard,
        IdKind::Other,
    ];

    /// Whether one valid value of this kind belongs to exactly one person, so that two different
    /// valid values of the kind on one profile mean two people.
    pub const fn is_strong(self) -> bool {
        matches!(
            self,
            IdKind::Snils
                | IdKind::Inn
                | IdKind::Oms
                | IdKind::PassportRf
                | IdKind::PassportForeign
                | IdKind::WorkPatent
        )
    }

    /// Whether a value of this kind carries a check digit, so that a mistyped digit leaves an
    /// invalid value. Without one (passports, the OMS policy, the work patent) a typo gives
    /// another well-formed value: two values one typo apart may be one document written twice.
    pub const fn has_check_digit(self) -> bool {
        matches!(self, IdKind::Snils | IdKind::Inn)
    }

    /// The stable name used in mapping files, the store and the CLI (`snils:…`).
    pub const fn name(self) -> &'static str {
        match self {
            IdKind::Snils => "snils",
            IdKind::Inn => "inn",
            IdKind::Oms => "oms",
            IdKind::PassportRf => "passport_rf",
            IdKind::PassportForeign => "passport_foreign",
            IdKind::WorkPatent => "work_patent",
            IdKind::Phone => "phone",
            IdKind::CarPlate => "car_plate",
            IdKind::TransportCard => "transport_card",
            IdKind::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<IdKind> {
        IdKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// Whether an identifier passed the checks defined for its kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum Validity {
    #[default]
    Valid,
    Invalid(String),
}

impl Validity {
    pub fn is_valid(&self) -> bool {
        matches!(self, Validity::Valid)
    }
}

/// One identifier value in canonical form, with the outcome of its checks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identifier {
    pub kind: IdKind,
    pub value: String,
    /// Omitted from the encoding when valid, the common case.
    #[serde(default, skip_serializing_if = "Validity::is_valid")]
    pub validity: Validity,
}

impl Identifier {
    /// Canonicalises `raw` for `kind` and checks it. Never fails; see the module comment.
    pub fn parse(kind: IdKind, raw: &str) -> Identifier {
        let (value, validity) = match kind {
            IdKind::Snils => check_snils(raw),
            IdKind::Inn => check_inn(raw),
            IdKind::Oms => check_digit_count(raw, &[16], "an OMS policy"),
            IdKind::PassportRf => check_digit_count(raw, &[10], "a passport series and number"),
            IdKind::PassportForeign | IdKind::WorkPatent => check_document_number(raw),
            IdKind::Phone => check_phone(raw),
            IdKind::CarPlate => check_car_plate(raw),
            IdKind::TransportCard => check_digit_count(raw, &[9, 10, 16, 19], "a transport card"),
            IdKind::Other => {
                let value = raw.trim().to_string();
                let validity = if value.is_empty() {
                    Validity::Invalid("empty identifier".into())
                } else {
                    Validity::Valid
                };
                (value, validity)
            }
        };
        Identifier {
            kind,
            value,
            validity,
        }
    }

    /// The value as people write it: SNILS as `XXX-XXX-XXX YY`, the rest canonical.
    pub fn display_value(&self) -> String {
        if self.kind == IdKind::Snils && self.value.len() == 11 && self.value.is_ascii() {
            let v = &self.value;
            return format!("{}-{}-{} {}", &v[0..3], &v[3..6], &v[6..9], &v[9..11]);
        }
        self.value.clone()
    }
}

fn digits_of(raw: &str) -> String {
    raw.chars().filter(char::is_ascii_digit).collect()
}

/// Keeps the digits if the value holds only digits and separators; otherwise keeps the trimmed
/// original so that the quarantine-free record still shows what the source said.
fn digits_or_original(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    let only_digits_and_separators = trimmed
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '/' | '\u{a0}'));
    if only_digits_and_separators {
        Ok(digits_of(trimmed))
    } else {
        Err(trimmed.to_string())
    }
}

fn check_digit_count(raw: &str, lengths: &[usize], what: &str) -> (String, Validity) {
    match digits_or_original(raw) {
        Ok(digits) if lengths.contains(&digits.len()) => (digits, Validity::Valid),
        Ok(digits) => {
            let reason = format!("{what} has {} digits, expected {lengths:?}", digits.len());
            (digits, Validity::Invalid(reason))
        }
        Err(original) => (
            original,
            Validity::Invalid(format!("{what} must hold only digits")),
        ),
    }
}

/// The SNILS check number for the first nine digits, per the Pension Fund rule.
pub fn snils_check_number(first_nine: &[u8; 9]) -> u32 {
    let sum: u32 = first_nine
        .iter()
        .zip((1..=9).rev())
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match sum {
        0..=99 => sum,
        100 | 101 => 0,
        _ => match sum % 101 {
            100 => 0,
            rest => rest,
        },
    }
}

fn check_snils(raw: &str) -> (String, Validity) {
    let digits = match digits_or_original(raw) {
        Ok(digits) => digits,
        Err(original) => {
            return (
                original,
                Validity::Invalid("a SNILS must hold only digits".into()),
            );
        }
    };
    if digits.len() != 11 {
        let reason = format!("a SNILS has 11 digits, found {}", digits.len());
        return (digits, Validity::Invalid(reason));
    }
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    let first_nine: [u8; 9] = [d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8]];
    let number: u64 = digits[..9].parse().unwrap_or(0);
    // Numbers up to 001-001-998 were issued before the check rule and are not checked.
    if number <= 1_001_998 {
        return (digits, Validity::Valid);
    }
    let expected = snils_check_number(&first_nine);
    let given = u32::from(d[9]) * 10 + u32::from(d[10]);
    if expected == given {
        (digits, Validity::Valid)
    } else {
        let reason = format!("SNILS check number is {given:02}, expected {expected:02}");
        (digits, Validity::Invalid(reason))
    }
}

fn weighted_check(digits: &[u8], weights: &[u32]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    // The remainder mod 11 is below 11 and mod 10 below 10, so the cast cannot truncate.
    ((sum % 11) % 10) as u8
}

/// Whether a 10-digit (organisation) or 12-digit (person) INN has correct check digits.
pub fn inn_is_valid(digits: &str) -> bool {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    match d.len() {
        10 => weighted_check(&d[..9], &[2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[9],
        12 => {
            weighted_check(&d[..10], &[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[10]
                && weighted_check(&d[..11], &[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[11]
        }
        _ => false,
    }
}

fn check_inn(raw: &str) -> (String, Validity) {
    match digits_or_original(raw) {
        Ok(digits) if digits.len() != 10 && digits.len() != 12 => {
            let reason = format!("an INN has 10 or 12 digits, found {}", digits.len());
            (digits, Validity::Invalid(reason))
        }
        Ok(digits) if inn_is_valid(&digits) => (digits, Validity::Valid),
        Ok(digits) => (digits, Validity::Invalid("INN check digit mismatch".into())),
        Err(original) => (
            original,
            Validity::Invalid("an INN must hold only digits".into()),
        ),
    }
}

fn check_document_number(raw: &str) -> (String, Validity) {
    let value: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{a0}' | '№'))
        .flat_map(char::to_uppercase)
        .collect();
    let validity = if value.len() < 5 || value.len() > 20 {
        Validity::Invalid(format!(
            "a document number has 5 to 20 characters, found {}",
            value.chars().count()
        ))
    } else if !value.chars().all(|c| c.is_alphanumeric()) {
        Validity::Invalid("a document number holds only letters and digits".into())
    } else {
        Validity::Valid
    };
    (value, validity)
}

/// Country calling codes of the countries whose numbers Tessera meets most, with the length of
/// the national significant number.
const CALLING_CODES: [(&str, usize); 7] = [
    ("7", 10),
    ("998", 9),
    ("992", 9),
    ("996", 9),
    ("994", 9),
    ("374", 8),
    ("375", 9),
];

fn check_phone(raw: &str) -> (String, Validity) {
    let trimmed = raw.trim();
    let international = trimmed.starts_with('+') || trimmed.starts_with("00");
    let mut digits = digits_of(trimmed);
    if trimmed.starts_with("00") {
        digits.drain(..2);
    }
    if !international {
        // Russian national forms: 8 (XXX) XXX-XX-XX, or ten digits without the trunk prefix.
        if digits.len() == 11 && digits.starts_with('8') {
            digits.replace_range(..1, "7");
        } else if digits.len() == 10 && digits.starts_with('9') {
            digits.insert(0, '7');
        }
    }
    for (code, national_len) in CALLING_CODES {
        if digits.starts_with(code) && digits.len() == code.len() + national_len {
            return (format!("+{digits}"), Validity::Valid);
        }
    }
    if (8..=15).contains(&digits.len()) && international {
        return (format!("+{digits}"), Validity::Valid);
    }
    (
        digits,
        Validity::Invalid(format!("not a recognisable phone number: {trimmed:?}")),
    )
}

/// Folds a Cyrillic plate letter to its Latin look-alike; plates use only these twelve.
fn fold_plate_letter(c: char) -> char {
    match c {
        'А' => 'A',
        'В' => 'B',
        'Е' => 'E',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'У' => 'Y',
        'Х' => 'X',
        other => other,
    }
}

fn check_car_plate(raw: &str) -> (String, Validity) {
    let value: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .map(fold_plate_letter)
        .collect();
    // Private cars: letter, three digits, two letters, a region of two or three digits.
    let chars: Vec<char> = value.chars().collect();
    let plate_letter = |c: &char| "ABEKMHOPCTYX".contains(*c);
    let shape_ok = (chars.len() == 8 || chars.len() == 9)
        && plate_letter(&chars[0])
        && chars[1..4].iter().all(char::is_ascii_digit)
        && chars[4..6].iter().all(plate_letter)
        && chars[6..].iter().all(char::is_ascii_digit);
    let validity = if shape_ok {
        Validity::Valid
    } else {
        Validity::Invalid("not a Russian car plate (A123BC77)".into())
    };
    (value, validity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: IdKind, raw: &str, value: &str, valid: bool) {
        let id = Identifier::parse(kind, raw);
        assert_eq!(id.value, value, "{kind:?} {raw:?}");
        assert_eq!(
            id.validity.is_valid(),
            valid,
            "{kind:?} {raw:?}: {:?}",
            id.validity
        );
    }

    #[test]
    fn snils_check_numbers() {
        // The worked example of the Pension Fund: 112-233-445 95.
        check(IdKind::Snils, "112-233-445 95", "11223344595", true);
        check(IdKind::Snils, "11223344595", "11223344595", true);
        check(IdKind::Snils, "112-233-445 96", "11223344596", false);
        // Numbers up to 001-001-998 predate the rule and are not checked.
        check(IdKind::Snils, "001-001-998 00", "00100199800", true);
        // 001-001-999: sum = 1*7 + 1*4 + 9*3 + 9*2 + 9*1 = 65.
        check(IdKind::Snils, "001-001-999 65", "00100199965", true);
        check(IdKind::Snils, "001-001-999 66", "00100199966", false);
        check(IdKind::Snils, "1234", "1234", false);
        check(IdKind::Snils, "12a-233-445 95", "12a-233-445 95", false);
    }

    #[test]
    fn snils_sum_rules() {
        // Below 100 the sum is the check number; 100 and 101 give 00; above, the sum mod 101,
        // with 100 giving 00. Weights run 9..1.
        assert_eq!(snils_check_number(&[0, 0, 0, 0, 0, 0, 0, 0, 0]), 0);
        assert_eq!(snils_check_number(&[1, 1, 2, 2, 3, 3, 4, 4, 5]), 95);
        assert_eq!(snils_check_number(&[2, 2, 2, 2, 2, 2, 2, 2, 2]), 90); // sum 90
        assert_eq!(snils_check_number(&[3, 2, 2, 2, 2, 2, 2, 2, 2]), 99); // sum 99
        assert_eq!(snils_check_number(&[9; 9]), 1); // sum 405 = 4 * 101 + 1
        assert_eq!(snils_check_number(&[3, 2, 2, 2, 2, 2, 2, 2, 3]), 0); // sum 100
        assert_eq!(snils_check_number(&[3, 2, 2, 2, 2, 2, 2, 2, 4]), 0); // sum 101
        assert_eq!(snils_check_number(&[3, 2, 2, 2, 2, 2, 2, 2, 5]), 1); // sum 102
    }

    #[test]
    fn inn_check_digits() {
        // Personal INN examples with correct check digits.
        check(IdKind::Inn, "500100732259", "500100732259", true);
        check(IdKind::Inn, "7707083893", "7707083893", true); // Sberbank, organisation.
        check(IdKind::Inn, "500100732258", "500100732258", false);
        check(IdKind::Inn, "7707083894", "7707083894", false);
        check(IdKind::Inn, "77070838", "77070838", false);
        assert!(!inn_is_valid("50010073225x"));
    }

    #[test]
    fn phones_become_e164() {
        check(IdKind::Phone, "8 (916) 123-45-67", "+79161234567", true);
        check(IdKind::Phone, "+7 916 123 45 67", "+79161234567", true);
        check(IdKind::Phone, "9161234567", "+79161234567", true);
        check(IdKind::Phone, "+998 90 123 45 67", "+998901234567", true);
        check(IdKind::Phone, "00992 93 555 12 34", "+992935551234", true);
        check(IdKind::Phone, "12345", "12345", false);
    }

    #[test]
    fn plates_fold_cyrillic_to_latin() {
        check(IdKind::CarPlate, "А123ВС77", "A123BC77", true);
        check(IdKind::CarPlate, "a 123 bc 777", "A123BC777", true);
        check(IdKind::CarPlate, "Ж123ВС77", "Ж123BC77", false);
    }

    #[test]
    fn documents_and_digit_counts() {
        check(IdKind::PassportRf, "45 10 123456", "4510123456", true);
        check(IdKind::PassportRf, "4510 12345", "451012345", false);
        check(IdKind::Oms, "7751234567890123", "7751234567890123", true);
        check(IdKind::PassportForeign, "fa 1234567", "FA1234567", true);
        check(IdKind::PassportForeign, "12", "12", false);
    }

    #[test]
    fn snils_display_form() {
        let id = Identifier::parse(IdKind::Snils, "11223344595");
        assert_eq!(id.display_value(), "112-233-445 95");
    }
}
