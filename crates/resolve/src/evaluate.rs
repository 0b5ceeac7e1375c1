//! Scoring profiles against a known truth: pairwise precision, recall and F1, B-cubed F1, and
//! the counts of over-merged profiles and split persons.
//!
//! Pair counts come from the contingency table of (profile, true person) intersections, never
//! from enumerating pairs, so evaluation is linear in the number of records.

use std::collections::HashMap;
use std::hash::Hash;

/// How well predicted profiles match the truth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    pub records: u64,
    pub true_pairs: u64,
    pub predicted_pairs: u64,
    pub correct_pairs: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub bcubed_precision: f64,
    pub bcubed_recall: f64,
    pub bcubed_f1: f64,
    /// Profiles holding records of two or more persons: the worst error.
    pub over_merged_profiles: u64,
    /// Persons whose records ended in two or more profiles.
    pub split_persons: u64,
    pub profiles: u64,
    pub persons: u64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        1.0
    } else {
        numerator as f64 / denominator as f64
    }
}

fn harmonic(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

/// Evaluates `(predicted profile, true person)` for each record.
pub fn evaluate<P: Hash + Eq, T: Hash + Eq>(
    assignments: impl IntoIterator<Item = (P, T)>,
) -> Evaluation {
    let mut cells: HashMap<(P, T), u64> = HashMap::new();
    for (predicted, truth) in assignments {
        *cells.entry((predicted, truth)).or_default() += 1;
    }
    let mut profile_sizes: HashMap<&P, u64> = HashMap::new();
    let mut person_sizes: HashMap<&T, u64> = HashMap::new();
    let mut profile_persons: HashMap<&P, u64> = HashMap::new();
    let mut person_profiles: HashMap<&T, u64> = HashMap::new();
    for ((predicted, truth), n) in &cells {
        *profile_sizes.entry(predicted).or_default() += n;
        *person_sizes.entry(truth).or_default() += n;
        *profile_persons.entry(predicted).or_default() += 1;
        *person_profiles.entry(truth).or_default() += 1;
    }
    let records: u64 = cells.values().sum();
    let correct_pairs: u64 = cells.values().map(|n| pairs(*n)).sum();
    let predicted_pairs: u64 = profile_sizes.values().map(|n| pairs(*n)).sum();
    let true_pairs: u64 = person_sizes.values().map(|n| pairs(*n)).sum();
    let precision = ratio(correct_pairs, predicted_pairs);
    let recall = ratio(correct_pairs, true_pairs);

    // B-cubed: for each record, the share of its profile that is its person (precision) and the
    // share of its person that is in its profile (recall); summed per cell as n * n / size.
    let (mut bp, mut br) = (0.0, 0.0);
    for ((predicted, truth), n) in &cells {
        let n = *n as f64;
        bp += n * n / profile_sizes[predicted] as f64;
        br += n * n / person_sizes[truth] as f64;
    }
    let (bcubed_precision, bcubed_recall) = if records == 0 {
        (1.0, 1.0)
    } else {
        (bp / records as f64, br / records as f64)
    };

    Evaluation {
        records,
        true_pairs,
        predicted_pairs,
        correct_pairs,
        precision,
        recall,
        f1: harmonic(precision, recall),
        bcubed_precision,
        bcubed_recall,
        bcubed_f1: harmonic(bcubed_precision, bcubed_recall),
        over_merged_profiles: profile_persons.values().filter(|n| **n > 1).count() as u64,
        split_persons: person_profiles.values().filter(|n| **n > 1).count() as u64,
        profiles: profile_sizes.len() as u64,
        persons: person_sizes.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_resolution_scores_one() {
        let e = evaluate([("p1", "a"), ("p1", "a"), ("p2", "b")]);
        assert_eq!(
            (e.precision, e.recall, e.f1, e.bcubed_f1),
            (1.0, 1.0, 1.0, 1.0)
        );
        assert_eq!((e.over_merged_profiles, e.split_persons), (0, 0));
    }

    #[test]
    fn merges_and_splits_are_counted() {
        // Person a: 3 records, split 2 + 1. Profile p1 also holds person b's one record.
        let e = evaluate([("p1", "a"), ("p1", "a"), ("p2", "a"), ("p1", "b")]);
        assert_eq!(
            (e.true_pairs, e.predicted_pairs, e.correct_pairs),
            (3, 3, 1)
        );
        assert!((e.precision - 1.0 / 3.0).abs() < 1e-12);
        assert!((e.recall - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!((e.over_merged_profiles, e.split_persons), (1, 1));
        assert_eq!((e.profiles, e.persons, e.records), (2, 2, 4));
        // B-cubed precision: p1 cells a:2/3, b:1/3 -> (4/3 + 1/3) / 4; p2: 1 -> +1/4.
        assert!((e.bcubed_precision - (5.0 / 3.0 + 1.0) / 4.0).abs() < 1e-12);
    }

    #[test]
    fn singletons_everywhere_have_perfect_precision_and_no_recall() {
        let e = evaluate([("p1", "a"), ("p2", "a")]);
        assert_eq!((e.precision, e.recall, e.f1), (1.0, 0.0, 0.0));
    }
}
