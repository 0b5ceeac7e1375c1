//! A Zipf-like choice over ranked items: the first is drawn most often, the hundredth rarely.
//!
//! Real cities are skewed: a handful of surnames and given names cover a large share of people,
//! and a few employers hire most of the workforce. Both the name pools and the employer list
//! sample through this one table. It keeps integer weights so that draws are exact and the same
//! on every platform; it does not model any particular measured distribution.

use rand::Rng;

/// Cumulative integer weights `∝ rank^-exponent` over `len` ranked items.
pub(crate) struct Zipf {
    cumulative: Vec<u64>,
}

impl Zipf {
    pub(crate) fn new(len: usize, exponent: f64) -> Zipf {
        let mut total = 0u64;
        let cumulative = (1..=len)
            .map(|rank| {
                // A weight is at most 1_000_000 and at least 1, so the sum cannot overflow.
                total += ((1_000_000.0 * (rank as f64).powf(-exponent)).round() as u64).max(1);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    /// A rank in `0..len`; 0 if the table is empty.
    pub(crate) fn pick(&self, rng: &mut impl Rng) -> usize {
        let Some(&total) = self.cumulative.last() else {
            return 0;
        };
        let ticket = rng.random_range(0..total);
        self.cumulative.partition_point(|&bound| bound <= ticket)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn first_ranks_dominate_and_all_ranks_occur() {
        let zipf = Zipf::new(10, 1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut counts = [0usize; 10];
        for _ in 0..100_000 {
            counts[zipf.pick(&mut rng)] += 1;
        }
        assert!(counts.iter().all(|&count| count > 0), "{counts:?}");
        assert!(counts[0] > 8 * counts[9], "{counts:?}");
        assert_eq!(Zipf::new(0, 1.0).pick(&mut rng), 0);
    }
}
