//! The Fellegi–Sunter model: match weights per comparison level, learned from the data.
//!
//! `u` (how often a level occurs between two random records) is counted on a deterministic sample
//! of random pairs; `m` (how often it occurs between two records of one person) and the prior
//! match rate among candidate pairs are estimated by expectation–maximisation over the candidate
//! pairs, with `u` held fixed, as Splink does. Exact name agreement is weighted by the frequency
//! of the name (term-frequency adjustment): sharing "Иванов" says less than sharing "Ўлмасов".
//!
//! On top of the weights sit vetoes: evidence that two records are different people whatever the
//! weights say (two different valid values of a strong identifier; clearly different given names,
//! birth dates or sex, unless a shared valid strong identifier says otherwise).

use std::collections::HashMap;

use crate::compare::{Comparison, EXACT, Field, MISSING, NameReading};
use crate::features::RecordFacts;

/// The name level "similar": alike, but more than one typo apart.
const SIMILAR_NAME: u8 = 3;
/// The name level "close": one typo apart, or Jaro–Winkler ≥ 0.92.
const CLOSE_NAME: u8 = 2;

/// The most levels any field has.
pub(crate) const MAX_LEVELS: usize = 6;

/// Why a pair is not a match whatever its weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Veto {
    /// Two different valid values of one strong identifier kind.
    StrongIdConflict,
    /// The same valid strong identifier, but given names and birth dates both clearly differ: a
    /// typo that happens to make another person's valid number.
    IdentifierCollision,
    GivenNamesDiffer,
    PatronymicsDiffer,
    PersonnelNumbersDiffer,
    BirthDatesDiffer,
    SexDiffers,
    /// One record names the other's person as a relative.
    NamedAsRelative,
}

impl Veto {
    pub fn reason(self) -> &'static str {
        match self {
            Veto::StrongIdConflict => "two different valid values of one strong identifier",
            Veto::IdentifierCollision => {
                "same identifier, but given names and birth dates clearly differ: a typo that made another person's number"
            }
            Veto::GivenNamesDiffer => {
                "given names differ by more than a typo and no identifier is shared"
            }
            Veto::PatronymicsDiffer => "patronymics clearly differ and no identifier is shared",
            Veto::PersonnelNumbersDiffer => "one employer gives them different personnel numbers",
            Veto::BirthDatesDiffer => "birth dates clearly differ and no identifier is shared",
            Veto::SexDiffers => "sex differs and no identifier is shared",
            Veto::NamedAsRelative => {
                "one names the other's whole name as a relative (a pupil's parent), and the other has no birth date"
            }
        }
    }
}

/// The decision on one pair: its match weight in bits, any veto, and whether anything besides
/// the names (and a shared employer) agrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairScore {
    pub weight: f64,
    pub veto: Option<Veto>,
    pub corroborated: bool,
    /// Whether the two records name one employee (see [`one_employee`]).
    pub one_employee: bool,
}

impl PairScore {
    /// The decision on a pair of total weight `weight` (prior included) and this (oriented)
    /// comparison.
    pub fn new(weight: f64, comparison: &Comparison) -> PairScore {
        PairScore {
            weight,
            veto: veto(comparison),
            corroborated: corroborated(comparison),
            one_employee: one_employee(comparison),
        }
    }

    /// Whether the pair on its own links its two records: no veto, and either corroborated at
    /// [`crate::LINK_THRESHOLD_BITS`] or more, or one employee's (a personnel number under the
    /// commonest name outweighs the name's frequency).
    pub fn links(&self) -> bool {
        self.veto.is_none()
            && (self.one_employee
                || (self.corroborated && self.weight >= crate::batch::LINK_THRESHOLD_BITS))
    }
}

/// Whether two records name one employee: the same personnel number at the same employer, under
/// one name (the surname exact or one typo off, the given name at most similar: a typo that
/// transliteration makes two). An employer gives each of its employees their own number, as the
/// pension fund gives each insured person a SNILS; the same number under another name is a typo
/// in it. A name as common as Karimov Sherzod is weighed so low that the number and the name
/// together stayed under the threshold, and a worker's weekly reports were split between two
/// profiles.
pub fn one_employee(comparison: &Comparison) -> bool {
    comparison.level(Field::Employer) == 1
        && matches!(comparison.level(Field::Surname), 1 | 2)
        && matches!(comparison.level(Field::Given), EXACT..=SIMILAR_NAME)
}

/// Whether a pair agrees on something other than names and employer: a valid strong identifier,
/// a birth date (exact or near), a contact (phone, plate, card; or one digit apart), a personnel
/// number at the same employer, or an address. Namesakes are common, often at one
/// employer, so a name alone never links two records, however rare it is.
pub fn corroborated(comparison: &Comparison) -> bool {
    comparison.identifier_supports()
        || matches!(comparison.level(Field::BirthDate), 1 | 2)
        || matches!(comparison.level(Field::Contact), 1 | 2)
        || comparison.level(Field::Employer) == 1
        || matches!(comparison.level(Field::Address), 1 | 2)
}

/// Whether a pair's evidence names one person rather than a household or a workplace: an agreeing
/// identifier, or one employer's personnel number. A shared phone or address is a family's or
/// flatmates' as often as one person's, and a link that rests on it is judged after the person's
/// own records have come together (see `cluster`).
pub fn identifies(comparison: &Comparison) -> bool {
    comparison.identifier_supports() || comparison.level(Field::Employer) == 1
}

/// Learned parameters.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Model {
    pub m: [[f64; MAX_LEVELS]; Field::COUNT],
    pub u: [[f64; MAX_LEVELS]; Field::COUNT],
    /// The share of candidate pairs that are matches, as EM estimates it.
    pub prior: f64,
    /// The probability that two records drawn at random are one person: the prior every score
    /// starts from. Derived from `prior` and the share of all pairs that blocking kept, on the
    /// assumption that blocking keeps (nearly) every true match.
    pub prior_all_pairs: f64,
    pub em_iterations: u32,
    /// `log2(m / u)` per field and level; 0 for "missing".
    weights: [[f64; MAX_LEVELS]; Field::COUNT],
    surname_tf: HashMap<String, f64>,
    given_tf: HashMap<String, f64>,
    /// The frequencies of whole names (surname and given name together, keyed by
    /// [`name_pair_key`]) on at least [`MIN_NAME_PAIR_RECORDS`] records. Surnames and given
    /// names are not independent: Rahimova and Dilnoza are both Uzbek, and the two together are
    /// many times commoner than the product of their frequencies over a mostly Russian registry.
    name_pair_tf: HashMap<u64, f64>,
    /// How many records the model was learned from.
    records: usize,
}

/// A whole name on fewer records than this is weighed by its parts' frequencies alone.
const MIN_NAME_PAIR_RECORDS: u64 = 8;

const NAME_PAIR_HASHER: foldhash::fast::FixedState =
    foldhash::fast::FixedState::with_seed(0x6e61_6d65_7061_6972);

/// The key of a whole name in [`Model`]'s table of whole-name frequencies.
fn name_pair_key(surname: &str, given: &str) -> u64 {
    use std::hash::BuildHasher;
    NAME_PAIR_HASHER.hash_one((surname, given))
}

/// The frequencies of whole names on at least [`MIN_NAME_PAIR_RECORDS`] records, among the
/// records that carry both parts.
fn name_pair_frequencies(records: &[RecordFacts]) -> HashMap<u64, f64> {
    let mut counts: HashMap<u64, u64> = HashMap::new();
    let mut total = 0u64;
    for record in records {
        if let (Some(surname), Some(given)) = (&record.surname, &record.given) {
            *counts.entry(name_pair_key(surname, given)).or_default() += 1;
            total += 1;
        }
    }
    counts
        .into_iter()
        .filter(|&(_, n)| n >= MIN_NAME_PAIR_RECORDS)
        .map(|(key, n)| (key, n as f64 / total as f64))
        .collect()
}

const RANDOM_PAIRS: usize = 400_000;

/// The version of the form [`Model::to_stored`] writes. Raise it whenever `Model`'s fields or
/// [`Field`]'s levels change, so that a model stored by older code is learned afresh instead of
/// misread.
pub(crate) const STORED_FORMAT: u32 = 2;

/// A model as it is stored: its parameters, with the form they are in.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored<M> {
    format: u32,
    model: M,
}

/// The weight, in pseudo-pairs, of the initial `m` values in every EM step: a Dirichlet prior.
/// With thousands of matched pairs on a field it is negligible; on a field that matched pairs
/// rarely both carry (a patronymic when one source writes none) it keeps `m` near a sensible
/// value instead of letting EM learn that agreement means a non-match.
const M_PRIOR_PAIRS: f64 = 50.0;
const MAX_EM_ITERATIONS: u32 = 25;

/// A small deterministic generator for sampling random pairs (splitmix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn initial_m() -> [[f64; MAX_LEVELS]; Field::COUNT] {
    let mut m = [[0.0; MAX_LEVELS]; Field::COUNT];
    for field in Field::ALL {
        let row: &[f64] = match field {
            Field::Surname | Field::Given => &[0.0, 0.85, 0.08, 0.04, 0.03],
            Field::Patronymic => &[0.0, 0.85, 0.1, 0.05],
            Field::BirthDate => &[0.0, 0.85, 0.1, 0.03, 0.02],
            Field::Sex => &[0.0, 0.98, 0.02],
            Field::Contact => &[0.0, 0.7, 0.05, 0.25],
            Field::Employer => &[0.0, 0.6, 0.2, 0.19, 0.01],
            Field::Address => &[0.0, 0.6, 0.15, 0.1, 0.15],
            Field::StrongId => &[0.0, 0.88, 0.01, 0.06, 0.04, 0.01],
        };
        m[field as usize][..row.len()].copy_from_slice(row);
    }
    m
}

fn term_frequencies<'a>(values: impl Iterator<Item = &'a str>) -> HashMap<String, f64> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut total = 0u64;
    for value in values {
        *counts.entry(value).or_default() += 1;
        total += 1;
    }
    counts
        .into_iter()
        .map(|(v, n)| (v.to_string(), n as f64 / total.max(1) as f64))
        .collect()
}

impl Model {
    /// The model as text (JSON), to be stored with the batch run that learned it: what later
    /// incremental runs, explanations and a starting server score with, instead of learning again
    /// from every record. Floating-point values round-trip exactly (serde_json's `float_roundtrip`):
    /// a model read back scores every pair as the one learned.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(&Stored {
            format: STORED_FORMAT,
            model: self,
        })
        .expect("a model is plain numbers and strings")
    }

    /// A model from [`Model::to_stored`]'s text; `None` when the text is of another form (older
    /// code stored it) or unreadable, so that the caller learns the model afresh.
    pub fn from_stored(text: &str) -> Option<Model> {
        let stored: Stored<Model> = serde_json::from_str(text).ok()?;
        (stored.format == STORED_FORMAT).then_some(stored.model)
    }

    /// Learns the model from the records and the comparisons of their candidate pairs.
    pub fn train(records: &[RecordFacts], comparisons: &[Comparison]) -> Model {
        let u = estimate_u(records);
        let m_prior = initial_m();
        let mut model = Model {
            m: m_prior,
            u,
            prior: 0.1,
            prior_all_pairs: 0.1,
            em_iterations: 0,
            weights: [[0.0; MAX_LEVELS]; Field::COUNT],
            surname_tf: term_frequencies(records.iter().filter_map(|r| r.surname.as_deref())),
            given_tf: term_frequencies(records.iter().filter_map(|r| r.given.as_deref())),
            name_pair_tf: name_pair_frequencies(records),
            records: records.len(),
        };
        model.refresh_weights();
        // EM runs over the distinct comparison vectors and their counts: there are thousands of
        // them, not millions, and every pair with the same vector gets the same probability.
        let mut patterns: HashMap<[u8; Field::COUNT], f64> = HashMap::new();
        for comparison in comparisons {
            *patterns.entry(comparison.levels).or_default() += 1.0;
        }
        // Summed in a fixed order: a hash map's order changes from run to run, and with it the
        // last bits of every sum, which can tip a pair across a threshold.
        let mut patterns: Vec<([u8; Field::COUNT], f64)> = patterns.into_iter().collect();
        patterns.sort_unstable_by_key(|p| p.0);
        for _ in 0..MAX_EM_ITERATIONS {
            let mut sums = [[0.0f64; MAX_LEVELS]; Field::COUNT];
            let mut totals = [0.0f64; Field::COUNT];
            let mut probability_sum = 0.0;
            for (levels, count) in &patterns {
                let p = model.match_probability(levels) * count;
                for field in Field::ALL {
                    let level = levels[field as usize];
                    if level != MISSING {
                        sums[field as usize][level as usize] += p;
                        totals[field as usize] += p;
                    }
                }
                probability_sum += p;
            }
            let mut change: f64 = 0.0;
            for field in Field::ALL {
                let f = field as usize;
                for l in 1..field.levels() {
                    // The floor keeps every level possible, so no weight is infinite.
                    let new = ((sums[f][l] + M_PRIOR_PAIRS * m_prior[f][l])
                        / (totals[f] + M_PRIOR_PAIRS))
                        .max(1e-6);
                    change = change.max((new - model.m[f][l]).abs());
                    model.m[f][l] = new;
                }
            }
            let new_prior =
                (probability_sum / comparisons.len().max(1) as f64).clamp(1e-6, 1.0 - 1e-6);
            change = change.max((new_prior - model.prior).abs());
            model.prior = new_prior;
            model.em_iterations += 1;
            model.refresh_weights();
            if change < 1e-4 {
                break;
            }
        }
        let n = records.len() as f64;
        let all_pairs = (n * (n - 1.0) / 2.0).max(1.0);
        model.prior_all_pairs =
            (model.prior * comparisons.len() as f64 / all_pairs).clamp(1e-12, 0.5);
        model
    }

    /// The weight in bits of one field's level, without term-frequency adjustment.
    pub fn level_weight(&self, field: Field, level: u8) -> f64 {
        self.weights[field as usize][level as usize]
    }

    /// Recomputes the weight table from `m` and `u`.
    fn refresh_weights(&mut self) {
        for field in Field::ALL {
            let f = field as usize;
            self.weights[f][0] = 0.0;
            for l in 1..field.levels() {
                self.weights[f][l] = (self.m[f][l] / self.u[f][l]).log2();
            }
        }
        // Names more than one typo apart but alike (Rahimov and Karimov, brothers named after
        // different forefathers) are at best no evidence: EM, counting such pairs among the
        // matches of a family's shared phone, can learn otherwise.
        for field in [Field::Surname, Field::Given] {
            let similar = &mut self.weights[field as usize][SIMILAR_NAME as usize];
            *similar = similar.min(0.0);
        }
    }

    fn match_probability(&self, levels: &[u8; Field::COUNT]) -> f64 {
        let weight: f64 = Field::ALL
            .iter()
            .map(|f| self.level_weight(*f, levels[*f as usize]))
            .sum();
        let odds = (self.prior / (1.0 - self.prior)) * weight.exp2();
        odds / (1.0 + odds)
    }

    /// The weight of each field for a pair, term-frequency adjusted; the prior comes separately.
    pub fn field_weights(
        &self,
        a: &RecordFacts,
        b: &RecordFacts,
        comparison: &Comparison,
    ) -> [f64; Field::COUNT] {
        let mut weights = [0.0; Field::COUNT];
        // The names as the record whose order the comparison took names them.
        let named = match comparison.names {
            NameReading::Straight | NameReading::Swapped => a,
            NameReading::SwappedAsSecond => b,
        };
        // The other record's value of a name part, where the names were read straight.
        let other = (comparison.names == NameReading::Straight).then_some(b);
        for field in Field::ALL {
            let level = comparison.level(field);
            weights[field as usize] = self.level_weight(field, level);
            let (value, other_value, table) = match field {
                Field::Surname => (
                    named.surname.as_deref(),
                    other.and_then(|o| o.surname.as_deref()),
                    &self.surname_tf,
                ),
                Field::Given => (
                    named.given.as_deref(),
                    other.and_then(|o| o.given.as_deref()),
                    &self.given_tf,
                ),
                _ => continue,
            };
            let m = self.m[field as usize][EXACT as usize];
            let exact_weight = |value: Option<&str>| {
                value
                    .and_then(|v| table.get(v))
                    .map(|tf| (m / tf.max(1e-7)).log2())
            };
            match level {
                // Exact name agreement: weigh by how common the name is.
                EXACT => {
                    if let Some(weight) = exact_weight(value) {
                        weights[field as usize] = weight;
                    }
                }
                // One typo from a name tells no more than the name itself: "Elean" against a
                // common "Elena" is not better evidence than "Elena" against "Elena".
                CLOSE_NAME => {
                    for weight in [exact_weight(value), exact_weight(other_value)]
                        .into_iter()
                        .flatten()
                    {
                        weights[field as usize] = weights[field as usize].min(weight);
                    }
                }
                _ => {}
            }
        }
        // Both parts exact (or one typo off): the whole name is at most as telling as its own
        // frequency says.
        let (surname, given) = (Field::Surname as usize, Field::Given as usize);
        let agree = |level: u8| level == EXACT || level == CLOSE_NAME;
        if agree(comparison.levels[surname]) && agree(comparison.levels[given]) {
            let m = self.m[surname][EXACT as usize] * self.m[given][EXACT as usize];
            // Where both parts are exact, the other record's whole name is this one.
            let typo =
                comparison.levels[surname] == CLOSE_NAME || comparison.levels[given] == CLOSE_NAME;
            for record in std::iter::once(named).chain(other.filter(|_| typo)) {
                if let (Some(s), Some(g)) = (&record.surname, &record.given)
                    && let Some(tf) = self.name_pair_tf.get(&name_pair_key(s, g))
                {
                    let whole = (m / tf.max(1e-12)).log2();
                    if whole < weights[surname] + weights[given] {
                        weights[given] = whole - weights[surname];
                    }
                }
            }
        }
        weights
    }

    /// How many of the records the model was learned from are expected to carry this surname
    /// and given name together, if the two were independent: the product of their frequencies
    /// times the record count. A name expected on about one person's records is rare.
    pub(crate) fn expected_name_bearers(&self, surname: &str, given: &str) -> f64 {
        let frequency = |table: &HashMap<String, f64>, value: &str| {
            table.get(value).copied().unwrap_or_default()
        };
        frequency(&self.surname_tf, surname)
            * frequency(&self.given_tf, given)
            * self.records as f64
    }

    /// The prior log-odds that two random records are one person, in bits.
    pub fn prior_weight(&self) -> f64 {
        (self.prior_all_pairs / (1.0 - self.prior_all_pairs)).log2()
    }

    /// A comparison whose name parts were read across, named the way the values say: a pair
    /// whose two values are both commoner as given names than as surnames is the given names. A
    /// sister's report with her parts reversed ("Мария Черных", surname Мария) against her
    /// brother's record agrees on the surname, and her given name differs; a married woman's
    /// reversed record ("Мария Попова") against her new surname agrees on the given name. Which
    /// record was reversed, the comparison alone cannot tell. Other comparisons are returned as
    /// they are; orienting twice changes nothing.
    pub fn orient(&self, a: &RecordFacts, b: &RecordFacts, comparison: &Comparison) -> Comparison {
        if comparison.names != NameReading::Swapped {
            return *comparison;
        }
        // log2 of how much more often the value is a given name than a surname.
        let given_likeness = |value: Option<&str>| {
            value.map_or(0.0, |v| {
                let frequency = |table: &HashMap<String, f64>| {
                    table.get(v).copied().unwrap_or_default().max(1e-7)
                };
                (frequency(&self.given_tf) / frequency(&self.surname_tf)).log2()
            })
        };
        // As `compare` read them: the first pair is named "surname" by the first record. It is
        // taken for the given names only when both its values are given names and the other
        // pair's are not both: a value the registry does not know (a garbled name) decides
        // nothing, and the first record's order stands.
        let given = |value: Option<&str>| given_likeness(value) > 0.0;
        let first_pair = given(a.surname.as_deref()) && given(b.given.as_deref());
        let second_pair = given(a.given.as_deref()) && given(b.surname.as_deref());
        let mut oriented = *comparison;
        if first_pair && !second_pair {
            oriented
                .levels
                .swap(Field::Surname as usize, Field::Given as usize);
            oriented.names = NameReading::SwappedAsSecond;
        }
        oriented
    }

    /// Scores a pair (its comparison oriented first): total weight (prior plus evidence) and veto.
    pub fn score(&self, a: &RecordFacts, b: &RecordFacts, comparison: &Comparison) -> PairScore {
        let comparison = &self.orient(a, b, comparison);
        let weight = self.prior_weight() + self.evidence(a, b, comparison);
        PairScore::new(weight, comparison)
    }

    /// The evidence of a pair in bits, without the prior: positive for, negative against.
    pub fn evidence(&self, a: &RecordFacts, b: &RecordFacts, comparison: &Comparison) -> f64 {
        self.field_weights(a, b, comparison).iter().sum()
    }
}

/// The hard evidence against a pair, if any.
pub fn veto(comparison: &Comparison) -> Option<Veto> {
    // Given names differ unless they are equal or one typo apart: "similar" names such as
    // Nikita and Nikolai, or Dilnoza and Dildora, are twins' names as often as anyone's typo.
    // Beside one employer's personnel number a similar name is a typo ("Шетзод" for "Шерзод",
    // two letters apart once transliterated); a clearly different one is a typo in the number.
    let given_differs = match comparison.level(Field::Given) {
        SIMILAR_NAME => comparison.level(Field::Employer) != 1,
        level => level > SIMILAR_NAME,
    };
    let birth_differs = comparison.level(Field::BirthDate) == 4;
    if comparison.strong_conflict() {
        return Some(Veto::StrongIdConflict);
    }
    if comparison.relative && !comparison.strong_agree() {
        return Some(Veto::NamedAsRelative);
    }
    // An agreeing identifier, or another typed identifier one digit from agreeing, outweighs one
    // clearly different field, never two.
    // A similar given name beside a shared identifier reads as a typo, not a relative's name.
    if comparison.identifier_supports() {
        let given_clearly_differs = comparison.level(Field::Given) == 4;
        return (given_clearly_differs && birth_differs).then_some(Veto::IdentifierCollision);
    }
    if given_differs {
        Some(Veto::GivenNamesDiffer)
    } else if comparison.level(Field::Patronymic) == 3 {
        Some(Veto::PatronymicsDiffer)
    } else if comparison.level(Field::Employer) == 4 {
        Some(Veto::PersonnelNumbersDiffer)
    } else if birth_differs {
        Some(Veto::BirthDatesDiffer)
    } else if comparison.level(Field::Sex) == 2 {
        Some(Veto::SexDiffers)
    } else {
        None
    }
}

/// Counts each field's levels over random pairs: the `u` probabilities.
fn estimate_u(records: &[RecordFacts]) -> [[f64; MAX_LEVELS]; Field::COUNT] {
    type Counts = [[u64; MAX_LEVELS]; Field::COUNT];
    let n = records.len() as u64;
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    if n >= 2 {
        let mut random = SplitMix(0x7E55_E4A0);
        let samples = RANDOM_PAIRS.min((n * (n - 1) / 2) as usize);
        pairs.reserve(samples);
        for _ in 0..samples {
            let i = random.next() % n;
            let mut j = random.next() % n;
            if i == j {
                j = (j + 1) % n;
            }
            pairs.push((i as u32, j as u32));
        }
    }
    // The pairs are drawn in one fixed sequence and compared on every core (random records:
    // the prefetching pass); integer counts add up the same in any order.
    let mut counts: Counts = [[0u64; MAX_LEVELS]; Field::COUNT];
    for comparison in crate::prefetch::compare_pairs(records, &pairs) {
        for field in Field::ALL {
            counts[field as usize][comparison.level(field) as usize] += 1;
        }
    }
    let mut u = [[0.0; MAX_LEVELS]; Field::COUNT];
    for field in Field::ALL {
        let f = field as usize;
        let levels = field.levels();
        let observed: u64 = counts[f][1..levels].iter().sum();
        for l in 1..levels {
            // Add-one smoothing: a level never seen between random records is rare, not impossible.
            u[f][l] = (counts[f][l] as f64 + 1.0) / (observed as f64 + levels as f64);
        }
    }
    u
}
