//! Deciding which source records describe one person, and measuring how well it was decided.
//!
//! Today this is the first, deterministic resolver: records that share a valid strong identifier
//! (SNILS, INN, OMS policy, passport, work patent) are one person, unless joining them would put
//! two different valid values of one strong kind on one profile (a cannot-link). The
//! probabilistic resolver (transliteration-aware comparison, Fellegi–Sunter scoring, coherent
//! clustering) replaces it in a later change, behind the same [`resolve`] entry point.
//!
//! This crate does no IO, reads no clock and does not depend on input order: the same records in
//! any order give the same profiles and the same profile ids.

mod evaluate;
mod strong_ids;

pub use evaluate::{Evaluation, evaluate};
pub use strong_ids::{RecordFacts, Resolution, resolve};
