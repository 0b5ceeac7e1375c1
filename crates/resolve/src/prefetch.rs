//! Comparing every candidate pair, with the records a few pairs ahead fetched into cache.
//!
//! Comparing tens of millions of candidate pairs is bound by memory, not arithmetic: the second
//! record of a pair is any one of millions, and its fields (names, identifiers, contacts,
//! employers) live in separate heap allocations, each a cache miss. perf put about 70% of
//! `compare`'s own time on the first loads of them. Telling the processor which records come
//! next, a few pairs ahead, overlaps those misses with the comparisons before them. A prefetch is
//! a hint: it changes no result.

use rayon::prelude::*;

use crate::compare::{Comparison, compare};
use crate::features::RecordFacts;

/// How many pairs ahead a record's own bytes are fetched. Its fields' heap data is fetched half as
/// far ahead, when the addresses in it are (most likely) in cache.
const AHEAD: usize = 16;

/// Pairs compared by one task, in order.
const CHUNK: usize = 1 << 14;

/// Asks the processor to bring the cache line at `address` closer.
#[inline(always)]
fn touch<T: ?Sized>(address: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing the program sees, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(address.cast())
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// The cache lines of the record itself.
#[inline(always)]
fn touch_record(record: &RecordFacts) {
    let start = (record as *const RecordFacts).cast::<u8>();
    for offset in (0..size_of::<RecordFacts>()).step_by(64) {
        touch(start.wrapping_add(offset));
    }
}

/// The first cache line of each field `compare` reads from the heap.
#[inline(always)]
fn touch_fields(record: &RecordFacts) {
    for text in [
        &record.surname,
        &record.given,
        &record.patronymic,
        &record.address,
    ]
    .into_iter()
    .flatten()
    {
        touch(text.as_ptr());
    }
    touch(record.strong_ids.as_ptr());
    touch(record.other_ids.as_ptr());
    touch(record.contacts.as_ptr());
    touch(record.employers.as_ptr());
    touch(record.staff_numbers.as_ptr());
}

/// The comparison of each pair `(i, j)` of `records`, in the order of `pairs`.
pub(crate) fn compare_pairs(records: &[RecordFacts], pairs: &[(u32, u32)]) -> Vec<Comparison> {
    let mut comparisons = vec![Comparison::default(); pairs.len()];
    comparisons
        .par_chunks_mut(CHUNK)
        .zip(pairs.par_chunks(CHUNK))
        .for_each(|(out, pairs)| {
            let second = |k: usize| pairs.get(k).map(|&(_, j)| &records[j as usize]);
            for k in 0..pairs.len() {
                if let Some(record) = second(k + AHEAD) {
                    touch_record(record);
                }
                if let Some(record) = second(k + AHEAD / 2) {
                    touch_fields(record);
                }
                let (i, j) = pairs[k];
                out[k] = compare(&records[i as usize], &records[j as usize]);
            }
        });
    comparisons
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_model::{RecordKey, RecordRef, SourceId};

    #[test]
    fn every_pair_is_compared_in_order() {
        let record = |key: &str, surname: &str| {
            let mut facts = RecordFacts::empty(RecordRef {
                source: SourceId::new("s").unwrap(),
                key: RecordKey::new(key).unwrap(),
                version: 1,
            });
            facts.surname = Some(surname.to_string());
            facts
        };
        let records: Vec<RecordFacts> = (0..50)
            .map(|k| record(&k.to_string(), ["ivanov", "petrov", "ivanova"][k % 3]))
            .collect();
        let pairs: Vec<(u32, u32)> = (0..50u32)
            .flat_map(|i| (i + 1..50).map(move |j| (i, j)))
            .collect();
        let expected: Vec<Comparison> = pairs
            .iter()
            .map(|&(i, j)| compare(&records[i as usize], &records[j as usize]))
            .collect();
        assert_eq!(compare_pairs(&records, &pairs), expected);
        assert!(compare_pairs(&records, &[]).is_empty());
    }
}
