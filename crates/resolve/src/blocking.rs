//! Blocking: which pairs of records are worth comparing at all.
//!
//! Every record gets several keys (a shared valid strong identifier; surname with birth year;
//! given name with birth date; the two name parts in either order; a shared contact; employer with
//! name; address with surname; a short phonetic prefix with birth date). Records sharing a key are
//! candidates. A key held by more than [`MAX_BLOCK`] records (a common name; one person's phone
//! on fifty weekly reports) is not compared all-to-all: each of its records is paired with the
//! block's first [`HUB_SIZE`] records only, so the candidate count grows linearly with the block,
//! a common name cannot explode it, and a key that repeats because one person repeats (their
//! reports) still joins every copy to a shared hub.

use std::hash::{DefaultHasher, Hash, Hasher};

use rayon::prelude::*;

use crate::features::RecordFacts;

/// The largest block whose pairs are all compared.
pub const MAX_BLOCK: usize = 64;

/// How many records of an oversized block every other record of it is compared with.
pub const HUB_SIZE: usize = 16;

/// What blocking produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockingStats {
    pub keys: u64,
    /// Blocks over [`MAX_BLOCK`], compared only against their first [`HUB_SIZE`] records.
    pub oversized_blocks: u64,
    pub candidate_pairs: u64,
}

fn key(parts: impl Hash) -> u64 {
    // DefaultHasher::new() has fixed keys, so keys are the same on every run.
    let mut hasher = DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
}

fn keys_of(record: &RecordFacts) -> Vec<u64> {
    let mut keys = Vec::with_capacity(12);
    for (kind, value) in &record.strong_ids {
        keys.push(key((0u8, kind, value)));
    }
    let surname = record.surname.as_deref();
    let given = record.given.as_deref();
    let full_birth = record.birth.filter(|d| d.day_value().is_some());
    if let (Some(s), Some(year)) = (surname, record.birth_year()) {
        keys.push(key((1u8, s, year)));
    }
    if let (Some(g), Some(birth)) = (given, full_birth) {
        keys.push(key((2u8, g, birth)));
    }
    if let (Some(s), Some(g)) = (surname, given) {
        let (a, b) = if s <= g { (s, g) } else { (g, s) };
        keys.push(key((3u8, a, b)));
        for employer in &record.employers {
            keys.push(key((5u8, employer, a, b)));
        }
        if let Some(birth) = full_birth {
            let prefix: String = s.chars().take(3).collect();
            keys.push(key((7u8, prefix, g.chars().next(), birth)));
        }
    }
    for contact in &record.contacts {
        keys.push(key((4u8, contact)));
    }
    for staff_number in &record.staff_numbers {
        keys.push(key((8u8, staff_number)));
    }
    if let (Some(address), Some(s)) = (record.address.as_deref(), surname) {
        keys.push(key((6u8, address, s)));
    }
    keys
}

/// Candidate pairs `(i, j)` with `i < j`, sorted and without repeats.
pub fn candidate_pairs(records: &[RecordFacts]) -> (Vec<(u32, u32)>, BlockingStats) {
    let mut entries: Vec<(u64, u32)> = records
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, record)| keys_of(record).into_iter().map(move |k| (k, i as u32)))
        .collect();
    entries.par_sort_unstable();
    entries.dedup();
    let mut stats = BlockingStats {
        keys: entries.len() as u64,
        ..BlockingStats::default()
    };
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for block in entries.chunk_by(|a, b| a.0 == b.0) {
        let hub = if block.len() > MAX_BLOCK {
            stats.oversized_blocks += 1;
            HUB_SIZE
        } else {
            block.len()
        };
        for (x, a) in block[..hub].iter().enumerate() {
            for b in &block[x + 1..] {
                pairs.push((a.1.min(b.1), a.1.max(b.1)));
            }
        }
    }
    pairs.par_sort_unstable();
    pairs.dedup();
    stats.candidate_pairs = pairs.len() as u64;
    (pairs, stats)
}
