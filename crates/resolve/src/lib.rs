//! Deciding which source records describe one person, and measuring how well it was decided.
//!
//! The pipeline, all in memory: facts are extracted from each record ([`RecordFacts`]: names as
//! transliteration-proof skeletons, dates, identifiers, phones, employers, addresses); blocking
//! picks candidate pairs by several bounded keys; each pair is compared into levels per field; a
//! Fellegi–Sunter [`Model`] learned from the data (u from random pairs, m by EM, term-frequency
//! adjusted names) weighs the levels; vetoes mark pairs that are different people whatever the
//! weights; clustering merges the strongest links first and only while each profile stays
//! coherent as a whole. [`evaluate`] scores profiles against a known truth.
//!
//! This crate does no IO and reads no clock, and its output does not depend on input order.

mod age;
mod batch;
mod blocking;
mod cluster;
mod compare;
mod evaluate;
mod explain;
mod features;
mod incremental;
mod model;
mod normalise;
mod online;
mod prefetch;
mod stable_ids;

pub use batch::{
    History, LINK_THRESHOLD_BITS, MAX_REVIEW_PAIRS, PhaseTimings, REVIEW_FLOOR_BITS, Resolution,
    ResolveStats, ReviewPair, StewardDecision, apply_order, learn, resolve, resolve_with_history,
};
pub use blocking::{BlockingStats, KEY_FAMILIES, MAX_BLOCK};
pub use cluster::{Apart, ClusterStats, why_apart};
pub use compare::{Comparison, Field, NameReading, compare};
pub use evaluate::{Evaluation, evaluate};
pub use explain::{FieldEvidence, PairExplanation, explain_pair};
pub use features::RecordFacts;
pub use incremental::{Incremental, Placement};
pub use model::{Model, PairScore, Veto, corroborated, veto};
pub use normalise::{address_key, name_skeleton};
pub use online::{Online, OnlinePlacement, SearchHit};
pub use stable_ids::{ProfileChange, assign_stable_ids};

#[cfg(test)]
mod tests;
