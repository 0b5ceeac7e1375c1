//! Clustering scored pairs into profiles without chaining strangers.
//!
//! Links above the threshold are taken in two tiers, each strongest first: first those that name
//! one person (an agreeing identifier, one employer's personnel number), then those that rest on
//! what a household or a workplace shares (a phone, an address) with names and dates, so that a
//! person's own records come together before a shared phone can pull one of them to a
//! flatmate. A record as like two persons' records (two records of a register, or two holding
//! different passports or SNILS) takes neither, nor any weaker link to a person's record: which
//! of the two it belongs to, the evidence cannot tell, and a steward is asked. A namesake born
//! the same day counts as such a person even below the link threshold.
//!
//! Two clusters merge only if the merged profile stays coherent as a whole: it would not hold two
//! different valid values of one strong identifier kind, no more of the record pairs across the
//! two clusters are vetoed (clearly different given names, birth dates or sex) than not, and the
//! evidence of the other cross pairs (their weights without the prior) is, on average, not
//! against the merge, and the two do not carry only clearly different birth dates, nor records of
//! clearly different ages (a pupil's class against the other's birth years, an employer's report
//! against a child; see `age`). So a family sharing a phone and an address, or a child's record
//! carrying a parent's phone, does not pull two people into one profile through one weak link,
//! nor through an undated record that agrees with both.

use std::collections::HashMap;

use tessera_model::{IdKind, Sex, SourceId};

use crate::age::AgeEvidence;
use crate::compare::{Field, compare, patronymics_differ};
use crate::features::RecordFacts;
use crate::model::{Model, Veto};

/// A scored link between two records: `(weight in bits, i, j)` with `i < j`.
pub(crate) type Link = (f64, u32, u32);

/// A name attaches a profile only if the model expects at most this many records in the whole
/// registry to carry it (surname and given name frequencies times the record count): about one
/// person's. Uniqueness is judged on the records present; for a common name, the namesake whose
/// dated records would make it ambiguous is often just not registered (yet), and a worker
/// whose own dated records are missing joins a stranger.
const RARE_NAME_BEARERS: f64 = 0.7;

/// A name on more records than this is common: it never attaches a profile by itself.
const MAX_NAME_CARRIERS: usize = 4 * crate::blocking::MAX_BLOCK;

/// A source is a register (one record per person) when fewer than 1 in this many of its records
/// link to another record of the same source...
const REGISTER_LINK_RATE_DENOMINATOR: u64 = 200;

/// ...over at least this many records: in a small source, the absence of duplicates says little.
const REGISTER_MIN_RECORDS: u64 = 1_000;

/// The birth-date comparison level "different": not equal, not a swap or one digit apart, not
/// the same year (see [`Field::level_names`]).
const BIRTH_DATES_DIFFERENT: u8 = 4;
/// Birth-date levels up to this one agree: exact, or near (a swap, one digit, less precise).
const BIRTH_DATES_NEAR: u8 = 2;
/// Name levels up to this one agree: exact, or close (one typo).
const CLOSE_NAME: u8 = 2;

/// A record's links to two persons' records (two records of one register, see [`registers`], or
/// two with different valid values of one strong identifier kind) are equally good, and so
/// neither is taken, when their weights lie within this many bits of each other
/// (the better is less than 2^5 = 32 times as likely): a pupil's school record against the
/// health records of two namesakes born on one day. A typo in the right pair's patronymic costs
/// about 3.4 bits, so a near tie says nothing about which is right.
const AMBIGUITY_MARGIN_BITS: f64 = 5.0;

/// A record's strongest links to persons' records checked for such a tie: one per register for
/// its own person, and the namesakes among its candidates.
const AMBIGUITY_PARTNERS: usize = 8;

/// Cross pairs checked per side when two clusters merge; larger clusters are checked on an
/// evenly spread sample of this many members.
const COHERENCE_SAMPLE: usize = 24;

/// What clustering did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClusterStats {
    pub links_considered: u64,
    /// Links dropped because the record linked as well to another person's record (see
    /// [`unambiguous`]).
    pub ambiguous_links: u64,
    pub merges: u64,
    /// Merges refused because the profile would hold two values of one strong identifier kind.
    pub refused_strong_conflict: u64,
    /// Merges refused because records across the two clusters contradict each other.
    pub refused_incoherent: u64,
    /// Merges refused because both clusters hold a record of one source that keeps one
    /// record per person (see [`registers`]).
    pub refused_one_record_per_source: u64,
    /// Profiles without a birth date attached by a name that exactly one dated profile carries.
    pub attached_by_unique_name: u64,
    /// Merges a steward asked for ("the same person").
    pub steward_merges: u64,
    /// Merges refused because a steward said "not the same person".
    pub refused_by_steward: u64,
}

/// A steward's decisions, as pairs of record positions.
#[derive(Clone, Debug, Default)]
pub(crate) struct StewardPairs {
    pub(crate) same: Vec<(u32, u32)>,
    pub(crate) different: Vec<(u32, u32)>,
}

pub(crate) struct Clusters {
    parent: Vec<u32>,
    members: Vec<Vec<u32>>,
    strong: Vec<Vec<(IdKind, String)>>,
    /// What the cluster's records say about its person's age (whether any has a birth date among
    /// it), combined on every union.
    ages: Vec<AgeEvidence>,
    /// Records a steward said are not this cluster's person.
    apart: Vec<Vec<u32>>,
    /// Sources that keep one record per person: no profile holds two of their records.
    registers: Vec<SourceId>,
}

/// Why two clusters are to be merged: it decides how much contradiction the merge tolerates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grounds {
    /// A steward said "the same", or an earlier run put the records on one profile: no
    /// coherence check, only strong-identifier conflicts and a steward's "not the same" refuse.
    Decided,
    /// A corroborated link: refused when most cross pairs are vetoed (a garbled record is
    /// outvoted by the person's other records) or the other cross pairs' evidence is against.
    Link,
    /// Only a name that one dated profile carries: refused by any vetoed cross pair, since the
    /// name is all the evidence there is.
    UniqueName,
}

pub(crate) enum Merge {
    Done,
    Already,
    StrongConflict,
    Incoherent,
    StewardApart,
    SameRegister,
}

/// Why two profiles would contradict each other as one: the profile-level rules a link must
/// pass before two clusters merge (see [`why_apart`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Apart {
    /// Each holds a different valid value of one strong identifier kind.
    StrongIds {
        kind: IdKind,
        left: String,
        right: String,
    },
    /// Most pairs across the two are vetoed (`example` is one pair's veto).
    MostPairsVetoed {
        vetoed: u32,
        pairs: u32,
        example: Veto,
    },
    /// Every pair across them with two birth dates has clearly different ones.
    BirthDates,
    /// What dates them clearly differs: a pupil's class, an employer's report of someone under
    /// 14, a record observed over a year before the other's birth.
    Ages,
    /// A man's profile, and records whose every surname differs from his, held to it by a
    /// phone or an address alone.
    AnotherMansSurname,
    /// The evidence across them is, on average, against.
    EvidenceAgainst { bits: f64 },
}

impl Apart {
    /// The rule in words, for `tessera explain`.
    pub fn reason(&self) -> String {
        match self {
            Apart::StrongIds { kind, left, right } => format!(
                "two different valid values of {}: {left} on one profile, {right} on the other",
                kind.name()
            ),
            Apart::MostPairsVetoed {
                vetoed,
                pairs,
                example,
            } => format!(
                "{vetoed} of {pairs} pairs of records across the two profiles are vetoed (e.g. {})",
                example.reason()
            ),
            Apart::BirthDates => {
                "every birth date on one profile clearly differs from every one on the other".into()
            }
            Apart::Ages => "their ages clearly differ (a pupil's class, someone under 14 at work, or a record made over a year before the other's birth)".into(),
            Apart::AnotherMansSurname => "one is a man's profile, and every surname on the other differs from his, with only a phone or an address in common".into(),
            Apart::EvidenceAgainst { bits } => format!(
                "the evidence across the two profiles is against, {bits:+.1} bits a pair on average"
            ),
        }
    }
}

/// Why the records of `left` (one profile) and `right` (another) cannot be one profile by a
/// link between them, as the batch and incremental runs judge it; `None` if no profile-level
/// rule refuses (the two then stay apart for what these rules do not see: a steward's
/// decision, a source that keeps one record per person, a record tied between two such
/// records, or the order in which the links were taken).
pub fn why_apart(model: &Model, left: &[RecordFacts], right: &[RecordFacts]) -> Option<Apart> {
    if left.is_empty() || right.is_empty() {
        return None;
    }
    let records: Vec<RecordFacts> = left.iter().chain(right).cloned().collect();
    let mut clusters = Clusters::new();
    for record in &records {
        clusters.push(record);
    }
    let split = left.len() as u32;
    for i in 1..records.len() as u32 {
        let first = if i < split { 0 } else { split };
        clusters.join(first, i);
    }
    let (ra, rb) = (clusters.find(0), clusters.find(split));
    clusters.refusal(&records, model, ra, rb, Grounds::Link)
}

/// The two name parts in a fixed order, so that swapped orders meet.
pub(crate) fn name_key(record: &RecordFacts) -> Option<(&str, &str)> {
    let (s, g) = (record.surname.as_deref()?, record.given.as_deref()?);
    Some(if s <= g { (s, g) } else { (g, s) })
}

impl Clusters {
    pub(crate) fn new() -> Clusters {
        Clusters {
            parent: Vec::new(),
            members: Vec::new(),
            strong: Vec::new(),
            ages: Vec::new(),
            apart: Vec::new(),
            registers: Vec::new(),
        }
    }

    /// Adds a record as a cluster of its own; returns its position.
    pub(crate) fn push(&mut self, record: &RecordFacts) -> u32 {
        let i = self.parent.len() as u32;
        self.parent.push(i);
        self.members.push(vec![i]);
        self.strong.push(record.strong_ids.clone());
        self.ages.push(AgeEvidence::of(record));
        self.apart.push(Vec::new());
        i
    }

    /// Merges the clusters of `i` and `j` if the result stays coherent; says what happened.
    /// How much contradiction is tolerated depends on the [`Grounds`]; a strong-identifier
    /// conflict or a steward's "not the same" always refuses.
    pub(crate) fn try_merge(
        &mut self,
        records: &[RecordFacts],
        model: &Model,
        i: u32,
        j: u32,
        grounds: Grounds,
    ) -> Merge {
        let (ra, rb) = (self.find(i), self.find(j));
        if ra == rb {
            return Merge::Already;
        }
        let kept_apart = |this: &mut Clusters, from: u32, to: u32| {
            let apart = this.apart[from as usize].clone();
            apart.into_iter().any(|x| this.find(x) == to)
        };
        if kept_apart(self, ra, rb) || kept_apart(self, rb, ra) {
            return Merge::StewardApart;
        }
        if strong_conflict(&self.strong[ra as usize], &self.strong[rb as usize]).is_some() {
            return Merge::StrongConflict;
        }
        if grounds != Grounds::Decided && self.share_a_register(records, ra, rb) {
            return Merge::SameRegister;
        }
        if grounds != Grounds::Decided
            && let Some(apart) = self.incoherent(records, model, ra, rb, grounds)
        {
            return match apart {
                Apart::StrongIds { .. } => Merge::StrongConflict,
                _ => Merge::Incoherent,
            };
        }
        self.merge(ra, rb);
        Merge::Done
    }

    /// Why clusters `ra` and `rb` cannot merge on `grounds`, by the strong identifiers they
    /// hold and the coherence of their records (not a steward's decisions or registers).
    fn refusal(
        &self,
        records: &[RecordFacts],
        model: &Model,
        ra: u32,
        rb: u32,
        grounds: Grounds,
    ) -> Option<Apart> {
        if let Some((kind, left, right)) =
            strong_conflict(&self.strong[ra as usize], &self.strong[rb as usize])
        {
            return Some(Apart::StrongIds { kind, left, right });
        }
        self.incoherent(records, model, ra, rb, grounds)
    }

    /// Whether clusters `ra` and `rb` both hold a record of one register.
    fn share_a_register(&self, records: &[RecordFacts], ra: u32, rb: u32) -> bool {
        if self.registers.is_empty() {
            return false;
        }
        let registered = |root: u32| {
            self.members[root as usize]
                .iter()
                .map(|&m| &records[m as usize].reference.source)
                .filter(|source| self.registers.contains(source))
        };
        let left: Vec<&SourceId> = registered(ra).collect();
        registered(rb).any(|source| left.contains(&source))
    }

    /// Why merging clusters `ra` and `rb` would make a profile contradict itself, if it would.
    fn incoherent(
        &self,
        records: &[RecordFacts],
        model: &Model,
        ra: u32,
        rb: u32,
        grounds: Grounds,
    ) -> Option<Apart> {
        let ages_apart = self.ages[ra as usize].apart(&self.ages[rb as usize]);
        let (mut weight_sum, mut pairs, mut vetoed) = (0.0, 0u32, 0u32);
        let mut example = None;
        // Cross pairs where both records carry a birth date, how many of them clearly differ,
        // and whether any pair shares an identifier.
        let (mut dated, mut dates_differ, mut shared_identifier) = (0u32, 0u32, false);
        // Whether a record of either side is a man's; cross pairs with both surnames, whether
        // one of them agrees (or is one typo off), and whether a pair names one person (an
        // identifier, one employer's personnel number) or agrees on the birth date.
        let (mut male, mut surnamed, mut surnames_agree, mut identified) =
            (false, 0u32, false, false);
        for a in sample(&self.members[ra as usize]) {
            for b in sample(&self.members[rb as usize]) {
                let (x, y) = (&records[a as usize], &records[b as usize]);
                let comparison = model.orient(x, y, &compare(x, y));
                match comparison.level(Field::BirthDate) {
                    0 => {}
                    level => {
                        dated += 1;
                        dates_differ += u32::from(level == BIRTH_DATES_DIFFERENT);
                        identified |= level <= BIRTH_DATES_NEAR;
                    }
                }
                male |= x.sex == Some(Sex::Male) || y.sex == Some(Sex::Male);
                match comparison.level(Field::Surname) {
                    0 => {}
                    level => {
                        surnamed += 1;
                        surnames_agree |= level <= CLOSE_NAME;
                    }
                }
                identified |= crate::model::identifies(&comparison);
                // As in the veto, such an identifier outweighs a clearly different date.
                shared_identifier |= comparison.identifier_supports();
                match crate::model::veto(&comparison) {
                    Some(Veto::StrongIdConflict) => {
                        let (kind, left, right) = strong_conflict(&x.strong_ids, &y.strong_ids)
                            .expect("the veto found a conflict");
                        return Some(Apart::StrongIds { kind, left, right });
                    }
                    Some(veto) => {
                        vetoed += 1;
                        example.get_or_insert(veto);
                    }
                    None => weight_sum += model.evidence(x, y, &comparison),
                }
                pairs += 1;
            }
        }
        // A record with a garbled or replaced name or date should not keep a person's records
        // apart, but when most of the cross pairs say "different people", they are. Twins and
        // namesakes contradict each other on every record, a garbled record only on its own.
        let agreeing = pairs - vetoed;
        let contradicted = match grounds {
            Grounds::UniqueName => vetoed > 0,
            Grounds::Decided | Grounds::Link => vetoed > agreeing,
        };
        // Two profiles whose birth dates all clearly differ are two persons, however many
        // undated records agree with both: a family's records joined through an undated record
        // that carries the shared address or phone (a child's school record and a parent's
        // health record through the parent's tax record). One date with a typo or a swap is
        // "near", not different, and a shared identifier still decides.
        let dates_apart = dated > 0 && dates_differ == dated && !shared_identifier;
        // The same for what dates a person without a birth date: a second-grader's undated school
        // record and an adult namesake's health record joined through the adult's undated tax
        // record, or an employer's report glued to a child's record by a parent's phone. A
        // shared identifier decides here too.
        let ages_apart = ages_apart && !shared_identifier;
        // A man's profile and records whose every surname differs from his (by more than a
        // typo), held to it by a phone or an address alone, with nothing that names one person
        // and no birth date in common: a flatmate's or a relative's weekly reports, often under
        // the same given name (Azamat Mamytov's phone on Azamat Boobekov's reports). A man's
        // surname does not change on marriage; one garbled report among his own agrees elsewhere.
        let another_mans = male && surnamed > 0 && !surnames_agree && !identified;
        let average = weight_sum / f64::from(agreeing.max(1));
        if contradicted {
            Some(Apart::MostPairsVetoed {
                vetoed,
                pairs,
                example: example.expect("a vetoed pair"),
            })
        } else if dates_apart {
            Some(Apart::BirthDates)
        } else if ages_apart {
            Some(Apart::Ages)
        } else if another_mans {
            Some(Apart::AnotherMansSurname)
        } else if average < 0.0 {
            Some(Apart::EvidenceAgainst { bits: average })
        } else {
            None
        }
    }

    /// Puts the records at `i` and `j` in one cluster whatever the evidence says: for profiles
    /// the store already holds, which another process resolved.
    pub(crate) fn join(&mut self, i: u32, j: u32) {
        let (ra, rb) = (self.find(i), self.find(j));
        if ra != rb {
            self.merge(ra, rb);
        }
    }

    fn merge(&mut self, ra: u32, rb: u32) {
        // Merge the smaller cluster into the larger.
        let (root, child) = if self.members[ra as usize].len() >= self.members[rb as usize].len() {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let moved = std::mem::take(&mut self.members[child as usize]);
        self.members[root as usize].extend(moved);
        let moved_ids = std::mem::take(&mut self.strong[child as usize]);
        let root_ids = &mut self.strong[root as usize];
        for id in moved_ids {
            if !root_ids.contains(&id) {
                root_ids.push(id);
            }
        }
        self.ages[root as usize] = self.ages[root as usize].combine(self.ages[child as usize]);
        let moved_apart = std::mem::take(&mut self.apart[child as usize]);
        self.apart[root as usize].extend(moved_apart);
        self.parent[child as usize] = root;
    }

    /// Whether the name-only pair `(i, j)`, one record with a birth date and one without, may
    /// join their profiles by name: they agree on the whole name, patronymic included (surname
    /// and given name alone recur too often: a father's namesake son, a worker whose own dated
    /// records are missing), and among `carriers` (every record under that surname and given
    /// name) the name fits exactly one dated profile and one undated profile, these two. A
    /// carrier fits unless its patronymic clearly differs; a dated profile holding undated
    /// records under the name counts as undated too, since two employers' reports under one
    /// name, or reports already on a dated profile, are two namesakes, and which of them the
    /// dated profile is, the name cannot tell. Names on more than [`MAX_NAME_CARRIERS`]
    /// records, or more common than [`RARE_NAME_BEARERS`], never decide.
    pub(crate) fn named_uniquely(
        &mut self,
        records: &[RecordFacts],
        model: &Model,
        carriers: &[u32],
        (i, j): (u32, u32),
    ) -> bool {
        if let (Some(surname), Some(given)) = (
            records[i as usize].surname.as_deref(),
            records[i as usize].given.as_deref(),
        ) && model.expected_name_bearers(surname, given) > RARE_NAME_BEARERS
        {
            return false;
        }
        let (ri, rj) = (self.find(i), self.find(j));
        let (undated, dated) = match (self.is_dated(ri), self.is_dated(rj)) {
            (false, true) => (ri, rj),
            (true, false) => (rj, ri),
            _ => return false,
        };
        let Some(patronymic) = records[i as usize].patronymic.as_deref() else {
            return false;
        };
        if records[j as usize].patronymic.as_deref() != Some(patronymic)
            || carriers.len() > MAX_NAME_CARRIERS
        {
            return false;
        }
        for &c in carriers {
            let record = &records[c as usize];
            let fits = record
                .patronymic
                .as_deref()
                .is_none_or(|other| !patronymics_differ(other, patronymic));
            if !fits {
                continue;
            }
            let root = self.find(c);
            if self.is_dated(root) && root != dated {
                return false;
            }
            if record.birth.is_none() && root != undated {
                return false;
            }
        }
        true
    }

    /// Whether any record of the cluster rooted at `root` has a birth date.
    pub(crate) fn is_dated(&self, root: u32) -> bool {
        self.ages[root as usize].is_dated()
    }

    pub(crate) fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let grandparent = self.parent[self.parent[i as usize] as usize];
            self.parent[i as usize] = grandparent;
            i = grandparent;
        }
        i
    }
}

fn sample(members: &[u32]) -> impl Iterator<Item = u32> + '_ {
    let step = members.len().div_ceil(COHERENCE_SAMPLE).max(1);
    members.iter().step_by(step).copied()
}

/// The first kind of which `a` and `b` hold two different valid values (two documents), with
/// the two values.
fn strong_conflict(
    a: &[(IdKind, String)],
    b: &[(IdKind, String)],
) -> Option<(IdKind, String, String)> {
    a.iter().find_map(|(kind, value)| {
        b.iter()
            .find(|(k, v)| k == kind && crate::compare::strong_values_conflict(*kind, value, v))
            .map(|(_, v)| (*kind, value.clone(), v.clone()))
    })
}

/// The sources that keep one record per person, judged from the links: a tax or health fund's
/// roll, a school's pupil list, one side of a linkage between deduplicated files. Their records
/// almost never link to each other, while a source of events (weekly reports, repeated
/// registrations) links within itself all the time. Two records of a register are two persons,
/// so no profile holds two of them: the links that would join them are namesakes with the same
/// (or a one-digit-apart) birth date, or a family's members under one name and address.
fn registers(records: &[RecordFacts], links: &[Link]) -> Vec<SourceId> {
    let mut counts: HashMap<&SourceId, (u64, u64)> = HashMap::new();
    for record in records {
        counts.entry(&record.reference.source).or_default().0 += 1;
    }
    for &(_, i, j) in links {
        let source = &records[i as usize].reference.source;
        if *source == records[j as usize].reference.source {
            counts.entry(source).or_default().1 += 1;
        }
    }
    let mut registers: Vec<SourceId> = counts
        .into_iter()
        .filter(|(_, (records, within))| {
            *records >= REGISTER_MIN_RECORDS && within * REGISTER_LINK_RATE_DENOMINATOR < *records
        })
        .map(|(source, _)| source.clone())
        .collect();
    registers.sort();
    registers
}

/// Every record's links to persons' records (a register's, or one with a strong identifier),
/// strongest first, in one flat array: `(weight, partner)`.
struct Partners {
    start: Vec<u32>,
    partners: Vec<(f32, u32)>,
}

impl Partners {
    /// Each record's partners among `links` and `rivals` (pairs that lean towards one person
    /// without being linked).
    fn new(
        records: &[RecordFacts],
        registers: &[SourceId],
        links: &[Link],
        rivals: &[Link],
    ) -> Partners {
        // A register's record is one person's; so is a record with a strong identifier, against
        // another that holds a different valid value of its kind.
        let a_persons = |p: u32| {
            let record = &records[p as usize];
            !record.strong_ids.is_empty() || registers.contains(&record.reference.source)
        };
        let n = records.len();
        let mut start = vec![0u32; n + 1];
        for &(_, i, j) in links.iter().chain(rivals) {
            for (r, p) in [(i, j), (j, i)] {
                if a_persons(p) {
                    start[r as usize + 1] += 1;
                }
            }
        }
        for r in 0..n {
            start[r + 1] += start[r];
        }
        let mut fill = start.clone();
        let mut partners = vec![(0.0f32, 0u32); start[n] as usize];
        for &(w, i, j) in links.iter().chain(rivals) {
            for (r, p) in [(i, j), (j, i)] {
                if a_persons(p) {
                    partners[fill[r as usize] as usize] = (w as f32, p);
                    fill[r as usize] += 1;
                }
            }
        }
        // Links come in tiers (see `batch`), so each record's partners are put strongest first.
        for r in 0..n {
            partners[start[r] as usize..start[r + 1] as usize]
                .sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        }
        Partners { start, partners }
    }

    fn of(&self, record: u32) -> &[(f32, u32)] {
        &self.partners
            [self.start[record as usize] as usize..self.start[record as usize + 1] as usize]
    }
}

/// The links left once every ambiguous pair of links is dropped: a record linked to two persons'
/// records (two of one register, or two holding different passports or SNILS), with weights
/// within [`AMBIGUITY_MARGIN_BITS`], could be either person's, and taking the stronger would give
/// one person's record to the other as often as not. Both links go, and so do the record's weaker
/// links to persons' records (through another of its records, the namesake's profile would take
/// it all the same); the record keeps its stronger links, and the pairs stay in the review queue
/// for a steward. A namesake born the same day whose pair stays under the threshold (a `rival`)
/// is such a person too: the record's link to the other is then no better than a guess. The
/// links keep their order. (Two records with clearly different birth dates
/// are not "two persons" here: one of a person's records may carry a garbled date, and the
/// person's other records would lose their links to both; on the demo city at 100,000 persons
/// that cost 1,000 correct pairs to undo one over-merge.)
fn unambiguous(
    records: &[RecordFacts],
    registers: &[SourceId],
    partners: &Partners,
    links: &[Link],
) -> (Vec<Link>, Vec<Link>) {
    use rayon::prelude::*;
    let mut dropped: Vec<(u32, u32)> = (0..records.len() as u32)
        .into_par_iter()
        .flat_map_iter(|r| {
            let all = partners.of(r);
            let mine = &all[..all.len().min(AMBIGUITY_PARTNERS)];
            let mut out = Vec::new();
            let tied = mine.iter().enumerate().find_map(|(k, &(wx, x))| {
                mine[k + 1..]
                    .iter()
                    .take_while(|&&(wy, _)| f64::from(wx - wy) < AMBIGUITY_MARGIN_BITS)
                    .any(|&(_, y)| {
                        // Two records of one register are two persons, and so are two records
                        // holding different valid values of one strong identifier kind.
                        let (rx, ry) = (&records[x as usize], &records[y as usize]);
                        let one_register = rx.reference.source == ry.reference.source
                            && registers.contains(&rx.reference.source);
                        one_register || strong_conflict(&rx.strong_ids, &ry.strong_ids).is_some()
                    })
                    .then_some(k)
            });
            // From the tie down, the record's links to persons' records go: the weaker ones
            // would only take it to one of the two by another of their records.
            if let Some(k) = tied {
                out.extend(all[k..].iter().map(|&(_, p)| (r.min(p), r.max(p))));
            }
            out
        })
        .collect();
    if dropped.is_empty() {
        return (links.to_vec(), Vec::new());
    }
    dropped.par_sort_unstable();
    dropped.dedup();
    links
        .iter()
        .partition(|&&(_, i, j)| dropped.binary_search(&(i, j)).is_err())
}

/// Clusters records given their links `(weight, i, j)`, in the order they are to be taken (the
/// tiers above, each strongest first): `links` are
/// corroborated, `name_links` agree on names alone, `rivals` are pairs under the threshold that
/// agree on the whole name and the birth date (see [`unambiguous`]). Returns the cluster root of
/// every record, and the links left out as ambiguous, for the review queue.
///
/// Phase one merges along `links`. Phase two attaches a profile with no birth date (typically an
/// employer's weekly reports) along a name-only link to a dated profile, but only when the two
/// records agree on the whole name, patronymic included; that dated profile is the one and only
/// dated profile in the whole registry the name fits, and the undated profile the only one
/// without a date (see [`Clusters::named_uniquely`]); and no record across the two contradicts
/// another: a whole name that is unique among dated profiles identifies its person.
pub(crate) fn cluster(
    records: &[RecordFacts],
    model: &Model,
    links: &[Link],
    name_links: &[Link],
    rivals: &[Link],
    steward: &StewardPairs,
) -> (Vec<u32>, ClusterStats, Vec<Link>) {
    let n = records.len();
    let registers = registers(records, links);
    let (links, ambiguous) = if registers.is_empty() {
        (links.to_vec(), Vec::new())
    } else {
        let partners = Partners::new(records, &registers, links, rivals);
        unambiguous(records, &registers, &partners, links)
    };
    let mut clusters = Clusters {
        parent: (0..n as u32).collect(),
        members: (0..n as u32).map(|i| vec![i]).collect(),
        strong: records.iter().map(|r| r.strong_ids.clone()).collect(),
        ages: records.iter().map(AgeEvidence::of).collect(),
        apart: vec![Vec::new(); n],
        registers,
    };
    let mut stats = ClusterStats {
        ambiguous_links: ambiguous.len() as u64,
        ..ClusterStats::default()
    };
    // A steward's decisions come first: "not the same" binds every later merge, and "the same"
    // merges before any link is looked at.
    for &(i, j) in &steward.different {
        clusters.apart[i as usize].push(j);
        clusters.apart[j as usize].push(i);
    }
    for &(i, j) in &steward.same {
        match clusters.try_merge(records, model, i, j, Grounds::Decided) {
            Merge::Done => stats.steward_merges += 1,
            Merge::StewardApart => stats.refused_by_steward += 1,
            Merge::StrongConflict => stats.refused_strong_conflict += 1,
            Merge::Already | Merge::Incoherent | Merge::SameRegister => {}
        }
    }
    for &(_, i, j) in &links {
        stats.links_considered += 1;
        match clusters.try_merge(records, model, i, j, Grounds::Link) {
            Merge::Done => stats.merges += 1,
            Merge::Already => {}
            Merge::StrongConflict => stats.refused_strong_conflict += 1,
            Merge::Incoherent => stats.refused_incoherent += 1,
            Merge::StewardApart => stats.refused_by_steward += 1,
            Merge::SameRegister => stats.refused_one_record_per_source += 1,
        }
    }

    // The records under each name, over every record, not only candidates: blocking skips the
    // pairs of common names, so links alone would undercount the namesakes.
    let mut by_name: HashMap<(&str, &str), Vec<u32>> = HashMap::new();
    for (i, record) in records.iter().enumerate() {
        if let Some(key) = name_key(record) {
            by_name.entry(key).or_default().push(i as u32);
        }
    }
    for &(_, i, j) in name_links {
        let Some(carriers) = name_key(&records[i as usize]).and_then(|key| by_name.get(&key))
        else {
            continue;
        };
        if clusters.named_uniquely(records, model, carriers, (i, j))
            && matches!(
                clusters.try_merge(records, model, i, j, Grounds::UniqueName),
                Merge::Done
            )
        {
            stats.attached_by_unique_name += 1;
        }
    }
    let roots = (0..n as u32).map(|i| clusters.find(i)).collect();
    (roots, stats, ambiguous)
}
