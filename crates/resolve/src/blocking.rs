//! Blocking: which pairs of records are worth comparing at all.
//!
//! Every record gets several keys (a shared valid strong identifier; surname with given initial
//! and birth year; given name with birth date; the two name parts in either order, which pairs
//! only a record with a birth date with one without, and with the birth year; a shared contact;
//! employer with
//! name; address with surname; either name part's first letters with birth date). Records sharing a key are
//! candidates. A block of more than [`MAX_BLOCK`] records is not compared all-to-all: if its key
//! identifies (an identifier, a contact, a personnel number: one person's fifty weekly reports)
//! each record is paired with the block's first [`HUB_SIZE`] records, so every copy meets a
//! shared hub; if its key is a name, it is a common name and yields no pairs, its true matches
//! meeting through tighter keys. Either way the candidate count grows at most linearly.

use std::hash::{BuildHasher, Hash};

use foldhash::fast::FixedState;

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
    /// Identity blocks over [`MAX_BLOCK`], compared only against their first [`HUB_SIZE`] records.
    pub oversized_blocks: u64,
    /// Name blocks over [`MAX_BLOCK`] (common names), not compared.
    pub skipped_blocks: u64,
    /// Pairs each key family proposed, before removing repeats (see [`KEY_FAMILIES`]).
    pub pairs_by_family: [u64; KEY_FAMILIES.len()],
    pub candidate_pairs: u64,
}

/// The key families, by the number in the top byte of every key.
pub const KEY_FAMILIES: [&str; 11] = [
    "strong identifier",
    "surname + given initial + birth year",
    "given name + birth date",
    "one name part + the other's prefix",
    "contact",
    "employer + name",
    "address + surname",
    "name-part prefix + birth date",
    "employer + personnel number",
    "one name part + the other's prefix + birth year",
    "address numbers",
];

/// The family of the name-pair key (surname and given name in either order, no date).
pub(crate) const NAME_PAIR_FAMILY: u64 = 3;

/// Families whose value belongs to one person or household (identifiers, contacts, personnel
/// numbers): a big block of them is one person's many records, joined through a hub. A big block
/// of any other family is a common name and is skipped.
pub(crate) const IDENTITY_FAMILIES: [u64; 3] = [0, 4, 8];

/// Hashes blocking keys: fixed seed, so keys are the same on every run (foldhash: several
/// times faster than SipHash over tens of millions of short keys, and as good a spread).
const KEY_HASHER: FixedState = FixedState::with_seed(0x7465_7373_6572_6121);

fn key<T: Hash>(parts: (u8, T)) -> u64 {
    // The family goes in the top byte so that statistics can be kept per family.
    (u64::from(parts.0) << 56) | (KEY_HASHER.hash_one(parts.1) >> 8)
}

/// The first three letters of a name part, without copying it.
fn prefix(part: &str) -> &str {
    part.char_indices()
        .nth(3)
        .map_or(part, |(end, _)| &part[..end])
}

pub(crate) fn keys_of(record: &RecordFacts) -> Vec<u64> {
    let mut keys = Vec::with_capacity(12);
    for (kind, value) in &record.strong_ids {
        keys.push(key((0, (kind, value))));
    }
    for value in &record.other_ids {
        keys.push(key((0, value)));
    }
    let surname = record.surname.as_deref();
    let given = record.given.as_deref();
    let full_birth = record.birth.filter(|d| d.day_value().is_some());
    if let (Some(s), Some(year)) = (surname, record.birth_year()) {
        keys.push(key((1, (s, given.and_then(|g| g.chars().next()), year))));
    }
    if let (Some(g), Some(birth)) = (given, full_birth) {
        keys.push(key((2, (g, birth))));
    }
    if let (Some(s), Some(g)) = (surname, given) {
        let (a, b) = if s <= g { (s, g) } else { (g, s) };
        // One name part whole and the other's first three letters, both ways round, so that a
        // typo in either part or the parts' order does not hide a dated record's undated copy.
        for (whole, other) in [(s, g), (g, s)] {
            keys.push(key((3, (whole, prefix(other)))));
        }
        // One name part whole, the other's first three letters, with the birth year: meets a
        // duplicate with a typo in either part, in either column.
        if let Some(year) = record.birth_year() {
            for (whole, other) in [(s, g), (g, s)] {
                keys.push(key((9, (whole, prefix(other), year))));
            }
        }
        for employer in &record.employers {
            keys.push(key((5, (employer, a, b))));
        }
    }
    // Either name part's first three letters with the birth date: meets a duplicate whose other
    // name part was replaced, mistyped or written in the other column.
    if let Some(birth) = full_birth {
        for part in [surname, given].into_iter().flatten() {
            keys.push(key((7, (prefix(part), birth))));
        }
    }
    for contact in &record.contacts {
        keys.push(key((4, contact)));
    }
    for staff_number in &record.staff_numbers {
        keys.push(key((8, staff_number)));
    }
    if let (Some(address), Some(s)) = (record.address.as_deref(), surname) {
        keys.push(key((6, (address, s))));
    }
    // The numbers of an address (house, building, flat; a postcode) in order: meets a
    // duplicate whose street or town is mistyped and whose names changed.
    if let Some(address) = record.address.as_deref() {
        let numbers: Vec<&str> = address
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .collect();
        if numbers.len() >= 2 {
            keys.push(key((10, numbers)));
        }
    }
    keys
}

/// Records whose keys are gathered at a time (see [`candidate_pairs`]).
const KEY_CHUNK: usize = 1 << 16;

/// How many of a block's first records are paired with every later one: all of a block of at
/// most [`MAX_BLOCK`], the first [`HUB_SIZE`] of a larger identity block, and none of a larger
/// block of another family (a common name: its true matches meet through tighter keys).
fn hub_of(block: &[(u64, u32)]) -> Option<usize> {
    if block.len() <= MAX_BLOCK {
        Some(block.len())
    } else if IDENTITY_FAMILIES.contains(&(block[0].0 >> 56)) {
        Some(HUB_SIZE)
    } else {
        None
    }
}

/// Candidate pairs `(i, j)` with `i < j`, sorted and without repeats.
///
/// Memory, not time, bounds a run over millions of records here. Collected in one go, the keys
/// (36M at 1M persons, 16 bytes each) would exist twice while rayon joins its pieces, and the
/// pairs would grow by doubling; so the keys are counted first and gathered a chunk of records
/// at a time into a vector of their exact size, and the pairs into one sized by their bound.
pub fn candidate_pairs(records: &[RecordFacts]) -> (Vec<(u32, u32)>, BlockingStats) {
    let total: usize = records.par_iter().map(|r| keys_of(r).len()).sum();
    let mut entries: Vec<(u64, u32)> = Vec::with_capacity(total);
    for (c, chunk) in records.chunks(KEY_CHUNK).enumerate() {
        let offset = c * KEY_CHUNK;
        let keyed: Vec<(u64, u32)> = chunk
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, record)| {
                let position = (offset + i) as u32;
                keys_of(record).into_iter().map(move |k| (k, position))
            })
            .collect();
        entries.extend(keyed);
    }
    entries.par_sort_unstable();
    entries.dedup();
    let mut stats = BlockingStats {
        keys: entries.len() as u64,
        ..BlockingStats::default()
    };
    let bound: usize = entries
        .chunk_by(|a, b| a.0 == b.0)
        .filter_map(|block| hub_of(block).map(|hub| hub * block.len() - hub * (hub + 1) / 2))
        .sum();
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(bound);
    for block in entries.chunk_by(|a, b| a.0 == b.0) {
        let family = block[0].0 >> 56;
        let Some(hub) = hub_of(block) else {
            stats.skipped_blocks += 1;
            continue;
        };
        if hub < block.len() {
            stats.oversized_blocks += 1;
        }
        let before = pairs.len();
        // Names without a date join a record without a birth date (an employer's report) to a
        // dated one; two dated records meet through the dated keys, two reports through the
        // personnel number or a contact.
        let mixed_only = family == NAME_PAIR_FAMILY;
        for (x, a) in block[..hub].iter().enumerate() {
            for b in &block[x + 1..] {
                if mixed_only
                    && records[a.1 as usize].birth.is_some()
                        == records[b.1 as usize].birth.is_some()
                {
                    continue;
                }
                pairs.push((a.1.min(b.1), a.1.max(b.1)));
            }
        }
        stats.pairs_by_family[family as usize] += (pairs.len() - before) as u64;
    }
    drop(entries);
    pairs.par_sort_unstable();
    pairs.dedup();
    stats.candidate_pairs = pairs.len() as u64;
    (pairs, stats)
}
