//! Identifiers the city's people, households and organisations carry, generated with correct
//! check digits and without repeats, and the several ways clerks write each of them down.
//!
//! Every generator here returns a value that passes its kind's rule (SNILS check number, INN
//! check digits, digit counts, the plate alphabet); breaking a value on purpose is the job of
//! `corrupt.rs`. Numbers come from [`Numbering`], a per-city permutation of the owner's index, so
//! two people never share a SNILS, INN, passport or phone by accident (with random digits a
//! million people would share hundreds, and the resolver would rightly merge them). Sharing on
//! purpose (a family phone, a family car) is decided in `person.rs`. The presentation functions
//! (`write_*`) only change separators and letter scripts, never the identifier itself.

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::person::Origin;

/// Weights of the individual INN's first check digit (over digits 1..=10).
const INN_WEIGHTS_11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
/// Weights of the individual INN's second check digit (over digits 1..=11).
const INN_WEIGHTS_12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
/// Weights of the organisation INN's check digit (over digits 1..=9).
const INN_WEIGHTS_10: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];

/// Moscow and Moscow-region plate region codes.
const PLATE_REGIONS: [&str; 12] = [
    "77", "97", "99", "177", "197", "199", "777", "797", "799", "50", "150", "750",
];

/// The twelve Cyrillic letters allowed on plates, each with its Latin look-alike.
const PLATE_LETTERS: [(char, char); 12] = [
    ('А', 'A'),
    ('В', 'B'),
    ('Е', 'E'),
    ('К', 'K'),
    ('М', 'M'),
    ('Н', 'H'),
    ('О', 'O'),
    ('Р', 'P'),
    ('С', 'C'),
    ('Т', 'T'),
    ('У', 'Y'),
    ('Х', 'X'),
];

/// How many distinct private plates there are: three letters, 999 numbers, our 12 regions.
const PLATE_SPACE: u64 = 12 * 12 * 12 * 999 * 12;

/// The number spaces identifiers are drawn from; each gets its own offset.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Space {
    Snils,
    PersonInn,
    OrganisationInn,
    Oms,
    PassportRf,
    PassportForeign,
    WorkPatent,
    Phone,
    HomePhone,
    TransportCard,
    CarPlate,
}

/// Numbers owners (persons, households, employers) by a permutation of their index: the affine
/// map `index · M + offset (mod size)` with a prime `M`, invertible because `M` shares no factor
/// with any space size used here (their prime factors are 2, 3, 5 and 37). The offsets depend
/// on the seed, so different cities number people differently.
pub(crate) struct Numbering {
    seed: u64,
}

impl Numbering {
    pub(crate) fn new(seed: u64) -> Numbering {
        Numbering { seed }
    }

    /// A number in `0..size`, different for different indices below `size`.
    fn number(&self, space: Space, index: usize, size: u64) -> u64 {
        const MULTIPLIER: u128 = 2_654_435_761;
        let mut z = self.seed ^ (space as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let offset = u128::from((z ^ (z >> 29)) % size);
        let index = index as u128 % u128::from(size);
        // The remainder is below `size`, a u64.
        ((index * MULTIPLIER + offset) % u128::from(size)) as u64
    }
}

/// A four-digit tax office code: 7701..7750 in Moscow, 5001..5050 in the region.
fn tax_office(number: u64) -> u64 {
    if number < 50 {
        7701 + number
    } else {
        5001 + number % 50
    }
}

fn digit_values(digits: &str) -> Vec<u8> {
    digits.bytes().map(|b| b.wrapping_sub(b'0')).collect()
}

fn push_check_digit(out: &mut String, weights: &[u32]) {
    let check = inn_check_digit(&digit_values(out), weights);
    out.push(char::from(b'0' + check));
}

/// The SNILS check number of the first nine digits: the weighted sum (weights 9..1) if below 100,
/// 00 for 100 and 101, otherwise the sum mod 101 with 100 again written 00.
pub(crate) fn snils_check_number(first_nine: &[u8]) -> u32 {
    let sum: u32 = first_nine
        .iter()
        .zip((1..=9u32).rev())
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match sum {
        0..=99 => sum,
        100 | 101 => 0,
        _ => (sum % 101) % 100,
    }
}

/// The 11-digit SNILS of person `index`, with a correct check number; the body is at least
/// 100-000-000, far above 001-001-998, so that the check applies. Unique below 9·10^8 persons.
pub(crate) fn snils(numbering: &Numbering, index: usize) -> String {
    let body = 100_000_000 + numbering.number(Space::Snils, index, 900_000_000);
    let mut out = format!("{body:09}");
    let check = snils_check_number(&digit_values(&out));
    out.push_str(&format!("{check:02}"));
    out
}

/// `(Σ d_i·w_i mod 11) mod 10`, the INN check digit rule.
pub(crate) fn inn_check_digit(digits: &[u8], weights: &[u32]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    // Below 10 after `mod 10`, so the narrowing cannot truncate.
    ((sum % 11) % 10) as u8
}

/// The 12-digit INN of person `index`: a Moscow-area tax office, a six-digit serial and both
/// check digits. Unique below 10^8 persons.
pub(crate) fn person_inn(numbering: &Numbering, index: usize) -> String {
    let body = numbering.number(Space::PersonInn, index, 100_000_000);
    let mut out = format!("{:04}{:06}", tax_office(body / 1_000_000), body % 1_000_000);
    push_check_digit(&mut out, &INN_WEIGHTS_11);
    push_check_digit(&mut out, &INN_WEIGHTS_12);
    out
}

/// The 10-digit INN of organisation `index`, with its check digit. Unique below 10^7.
pub(crate) fn organisation_inn(numbering: &Numbering, index: usize) -> String {
    let body = numbering.number(Space::OrganisationInn, index, 10_000_000);
    let mut out = format!("{:04}{:05}", tax_office(body / 100_000), body % 100_000);
    push_check_digit(&mut out, &INN_WEIGHTS_10);
    out
}

/// The 16-digit OMS policy of person `index`, from a Moscow or a Moscow-region insurer.
pub(crate) fn oms(rng: &mut impl Rng, numbering: &Numbering, index: usize) -> String {
    let region = if rng.random_bool(0.8) { "77" } else { "50" };
    format!(
        "{region}{:014}",
        numbering.number(Space::Oms, index, 100_000_000_000_000)
    )
}

/// The internal passport of person `index`: a Moscow series (45xx, or 46xx for the region) and
/// number. Unique below 10^8 persons.
pub(crate) fn passport_rf(rng: &mut impl Rng, numbering: &Numbering, index: usize) -> String {
    let region = if rng.random_bool(0.8) { "45" } else { "46" };
    format!(
        "{region}{:08}",
        numbering.number(Space::PassportRf, index, 100_000_000)
    )
}

/// The national passport of person `index` in the shape the issuing country uses. Unique below
/// 10^7 persons.
pub(crate) fn passport_foreign(
    rng: &mut impl Rng,
    numbering: &Numbering,
    index: usize,
    origin: Origin,
) -> String {
    let series: &[&str] = match origin {
        Origin::Uzbekistan => &["AA", "AB", "AC", "AD", "FA"],
        Origin::Tajikistan => &["40", "41"],
        Origin::Kyrgyzstan => &["AC", "AN", "ID"],
        Origin::Russia => &["75", "76"],
    };
    let series = series.choose(rng).copied().unwrap_or("AA");
    format!(
        "{series}{:07}",
        numbering.number(Space::PassportForeign, index, 10_000_000)
    )
}

/// The work patent of person `index`: the issuing region, the year of issue and a serial.
/// Unique below 10^8 persons.
pub(crate) fn work_patent(rng: &mut impl Rng, numbering: &Numbering, index: usize) -> String {
    let region = if rng.random_bool(0.85) { "77" } else { "50" };
    let year = rng.random_range(19..=24);
    format!(
        "{region}{year}{:08}",
        numbering.number(Space::WorkPatent, index, 100_000_000)
    )
}

/// The Russian mobile number of person `index`, E.164 without the plus (`79XXXXXXXXX`).
/// Unique below 10^9 persons.
pub(crate) fn phone_russian(numbering: &Numbering, index: usize) -> String {
    format!(
        "79{:09}",
        numbering.number(Space::Phone, index, 1_000_000_000)
    )
}

/// The home-country mobile number of migrant `index`, E.164 without the plus. Unique below 10^6
/// persons for Kyrgyz numbers (three-digit operator codes) and 10^7 for the others.
pub(crate) fn phone_home_country(
    rng: &mut impl Rng,
    numbering: &Numbering,
    index: usize,
    origin: Origin,
) -> String {
    let (code, operators): (&str, &[&str]) = match origin {
        Origin::Uzbekistan => ("998", &["90", "91", "93", "94", "97", "99"]),
        Origin::Tajikistan => ("992", &["90", "91", "92", "93", "98"]),
        Origin::Kyrgyzstan => ("996", &["555", "700", "770", "505"]),
        Origin::Russia => return phone_russian(numbering, index),
    };
    let operator = operators.choose(rng).copied().unwrap_or("90");
    let width = 9 - operator.len();
    let size = 10u64.pow(width as u32);
    let number = numbering.number(Space::HomePhone, index, size);
    format!("{code}{operator}{number:0width$}")
}

/// The plate of household `index`'s car, in Cyrillic: letter, three digits, two letters,
/// region (`А123ВС77`). Unique below about 2·10^7 households.
pub(crate) fn car_plate(numbering: &Numbering, index: usize) -> String {
    let mut rest = numbering.number(Space::CarPlate, index, PLATE_SPACE);
    let mut take = |base: u64| {
        let digit = rest % base;
        rest /= base;
        // Below `base`, at most 999, so the narrowing cannot truncate.
        digit as usize
    };
    let region = PLATE_REGIONS[take(12)];
    let number = take(999) + 1;
    let letters = [take(12), take(12), take(12)].map(|at| PLATE_LETTERS[at].0);
    format!(
        "{}{number:03}{}{}{region}",
        letters[0], letters[1], letters[2]
    )
}

/// The Troika transport card of person `index`, ten digits. Unique below 10^9 persons.
pub(crate) fn transport_card(rng: &mut impl Rng, numbering: &Numbering, index: usize) -> String {
    let first = if rng.random_bool(0.5) { '0' } else { '1' };
    format!(
        "{first}{:09}",
        numbering.number(Space::TransportCard, index, 1_000_000_000)
    )
}

/// Writes a SNILS as `XXX-XXX-XXX YY` or as bare digits.
pub(crate) fn write_snils(rng: &mut impl Rng, digits: &str, out: &mut String) {
    if digits.len() != 11 || !digits.is_ascii() || rng.random_bool(0.3) {
        out.push_str(digits);
        return;
    }
    out.push_str(&digits[0..3]);
    out.push('-');
    out.push_str(&digits[3..6]);
    out.push('-');
    out.push_str(&digits[6..9]);
    out.push(' ');
    out.push_str(&digits[9..11]);
}

/// Writes an E.164 number (given without the plus) in one of the forms people type.
pub(crate) fn write_phone(rng: &mut impl Rng, e164: &str, out: &mut String) {
    let russian = e164.len() == 11 && e164.starts_with('7') && e164.is_ascii();
    if !russian {
        if e164.is_ascii() && e164.len() > 5 && rng.random_bool(0.4) {
            let (code, rest) = e164.split_at(3);
            let (operator, number) = rest.split_at(2);
            out.push_str(&format!("+{code} {operator} {number}"));
        } else if rng.random_bool(0.1) {
            out.push_str("00");
            out.push_str(e164);
        } else {
            out.push('+');
            out.push_str(e164);
        }
        return;
    }
    let (operator, number) = (&e164[1..4], &e164[4..]);
    match rng.random_range(0..5) {
        0 => out.push_str(&format!("+7{operator}{number}")),
        1 => out.push_str(&format!(
            "+7 {operator} {}-{}-{}",
            &number[..3],
            &number[3..5],
            &number[5..]
        )),
        2 => out.push_str(&format!(
            "8 ({operator}) {}-{}-{}",
            &number[..3],
            &number[3..5],
            &number[5..]
        )),
        3 => out.push_str(&format!("8{operator}{number}")),
        _ => out.push_str(&format!("{operator}{number}")),
    }
}

/// Writes a passport series and number as `4510 123456`, `45 10 123456` or ten digits.
pub(crate) fn write_passport_rf(rng: &mut impl Rng, digits: &str, out: &mut String) {
    if digits.len() != 10 || !digits.is_ascii() {
        out.push_str(digits);
        return;
    }
    match rng.random_range(0..3) {
        0 => out.push_str(&format!("{} {}", &digits[..4], &digits[4..])),
        1 => out.push_str(&format!(
            "{} {} {}",
            &digits[..2],
            &digits[2..4],
            &digits[4..]
        )),
        _ => out.push_str(digits),
    }
}

/// Writes a plate in Cyrillic, or typed with Latin look-alikes, sometimes with spaces.
pub(crate) fn write_car_plate(rng: &mut impl Rng, plate: &str, out: &mut String) {
    let latin = rng.random_bool(0.3);
    let spaced = rng.random_bool(0.1);
    for (position, c) in plate.chars().enumerate() {
        if spaced && (position == 1 || position == 4 || position == 6) {
            out.push(' ');
        }
        let written = if latin {
            PLATE_LETTERS
                .iter()
                .find(|(cyrillic, _)| *cyrillic == c)
                .map_or(c, |(_, look_alike)| *look_alike)
        } else {
            c
        };
        out.push(written);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn snils_check_number_follows_the_pension_fund_rule() {
        // The Pension Fund's worked example: 112-233-445 95.
        assert_eq!(snils_check_number(&[1, 1, 2, 2, 3, 3, 4, 4, 5]), 95);
        assert_eq!(snils_check_number(&[3, 2, 2, 2, 2, 2, 2, 2, 3]), 0); // sum 100
        assert_eq!(snils_check_number(&[3, 2, 2, 2, 2, 2, 2, 2, 4]), 0); // sum 101
        assert_eq!(snils_check_number(&[3, 2, 2, 2, 2, 2, 2, 2, 5]), 1); // sum 102
        assert_eq!(snils_check_number(&[9; 9]), 1); // sum 405 = 4 * 101 + 1
        // A sum of 201 is 100 mod 101, which is written 00: 9·9 + 9·8 + 6·7 + 1·6 = 201.
        assert_eq!(snils_check_number(&[9, 9, 6, 1, 0, 0, 0, 0, 0]), 0);
    }

    #[test]
    fn inn_examples_from_the_tax_service() {
        let check = |inn: &str| {
            let d = digit_values(inn);
            match d.len() {
                10 => inn_check_digit(&d[..9], &INN_WEIGHTS_10) == d[9],
                12 => {
                    inn_check_digit(&d[..10], &INN_WEIGHTS_11) == d[10]
                        && inn_check_digit(&d[..11], &INN_WEIGHTS_12) == d[11]
                }
                _ => false,
            }
        };
        assert!(check("500100732259"));
        assert!(check("7707083893"));
        assert!(!check("500100732258"));
        assert!(!check("7707083894"));
    }

    #[test]
    fn plates_use_only_the_plate_alphabet_and_never_repeat() {
        let numbering = Numbering::new(7);
        let mut seen = std::collections::HashSet::new();
        for index in 0..20_000 {
            let plate = car_plate(&numbering, index);
            let chars: Vec<char> = plate.chars().collect();
            assert!(chars.len() == 8 || chars.len() == 9, "{plate}");
            let letter = |c: char| "АВЕКМНОРСТУХ".contains(c);
            assert!(
                letter(chars[0]) && letter(chars[4]) && letter(chars[5]),
                "{plate}"
            );
            assert!(chars[1..4].iter().all(char::is_ascii_digit), "{plate}");
            assert_ne!(chars[1..4], ['0'; 3], "{plate}");
            assert!(seen.insert(plate));
        }
    }

    #[test]
    fn person_identifiers_are_valid_and_unique() {
        let numbering = Numbering::new(42);
        let mut seen = std::collections::HashSet::new();
        for index in 0..20_000 {
            let snils = snils(&numbering, index);
            let d = digit_values(&snils);
            assert_eq!(d.len(), 11);
            assert_eq!(
                snils_check_number(&d[..9]),
                u32::from(d[9]) * 10 + u32::from(d[10])
            );
            let inn = person_inn(&numbering, index);
            let d = digit_values(&inn);
            assert_eq!(d.len(), 12);
            assert_eq!(inn_check_digit(&d[..10], &INN_WEIGHTS_11), d[10]);
            assert_eq!(inn_check_digit(&d[..11], &INN_WEIGHTS_12), d[11]);
            assert!(seen.insert(snils) && seen.insert(inn));
            assert!(seen.insert(phone_russian(&numbering, index)));
        }
    }

    #[test]
    fn phones_have_the_national_length() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let numbering = Numbering::new(8);
        for origin in [
            Origin::Russia,
            Origin::Uzbekistan,
            Origin::Tajikistan,
            Origin::Kyrgyzstan,
        ] {
            let phone = phone_home_country(&mut rng, &numbering, 3, origin);
            let expected = if origin == Origin::Russia { 11 } else { 12 };
            assert_eq!(phone.len(), expected, "{phone}");
        }
    }
}
