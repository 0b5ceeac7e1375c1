//! What a cluster's records say about its person's age, and the three rules that keep a child's
//! records off an adult's profile when no birth date across the two says so: a school class dates
//! its pupil's birth to within a few years, an employer does not report a child under 14 at
//! work, and no source observes a person (registers them for tax, insures them, lists them)
//! before they are born.
//!
//! Each cluster keeps one [`AgeEvidence`]: a few minima and maxima over its records, combined on
//! every union, so that judging a merge costs the same however large the two clusters are. It
//! deliberately keeps no list of dates. "All of the other cluster's birth years lie outside a
//! pupil's range" is judged on the extremes, which can only refuse fewer merges than a record by
//! record check (birth years on both sides of the range do not count as outside). Whether an
//! identifier overrules the rules is the caller's to decide (`Clusters::incoherent`).

use tessera_model::PartialDate;

use crate::features::RecordFacts;

/// The usual age of a pupil at the start of the school year, less the grade plus one: a pupil in
/// grade `g` in the school year that starts on 1 September `Y` was usually born in `Y − g − 7`
/// (from September) or `Y − g − 6` (to August), since first grade starts in the September after
/// a child turns six and a half to seven and a half.
const CLASS_BIRTH_YEAR_OFFSET: i32 = 7;

/// Years either side of `Y − g − 7` a pupil's birth year may lie. Real classes hold pupils who
/// started at eight or at six, repeated a grade or skipped one; two years either way covers them
/// and still tells a second-grader (born `Y − 9` at the earliest) from any adult.
const CLASS_BIRTH_YEAR_TOLERANCE: i32 = 2;

/// The youngest age at which anyone may be employed: 14, with a parent's consent, for light work
/// outside school hours, under Russia's Labour Code (article 63) and the labour codes of
/// Kazakhstan, Kyrgyzstan, Tajikistan and Uzbekistan (16 is the general rule everywhere, 15 in
/// some). The one exception, children in films, theatre or concerts with the guardianship
/// authority's permission, is too rare in employers' reports to weigh against a child's record
/// glued to a parent's report through the parent's phone; a steward can still say "the same".
const MIN_WORKING_AGE_YEARS: i32 = 14;

/// Years a record may seem observed before its person's birth: a birth date or an observation day
/// with a one-digit typo in the year's last digit is rarely off by more. Beyond that, a record
/// observed before the other's person was born is someone else's: a father's tax registration
/// against his namesake son's school record.
const OBSERVED_BEFORE_BIRTH_TOLERANCE_YEARS: i32 = 1;

/// A day as one sortable number (year, month and day in bit fields), for comparisons and adding
/// whole years only.
type DayKey = i32;

const YEAR_IN_DAY_KEYS: DayKey = 1 << 9;

/// No such day: later than any, so that a minimum ignores it.
const NO_DAY: DayKey = DayKey::MAX;

fn day_key(year: i32, month: u8, day: u8) -> DayKey {
    year * YEAR_IN_DAY_KEYS + (i32::from(month) << 5) + i32::from(day)
}

/// The first day a partial date may be.
fn first_day(date: PartialDate) -> DayKey {
    day_key(
        date.year_value(),
        date.month_value().unwrap_or(1),
        date.day_value().unwrap_or(1),
    )
}

/// The last day a partial date may be (the 31st of any month will do: only order matters).
fn last_day(date: PartialDate) -> DayKey {
    day_key(
        date.year_value(),
        date.month_value().unwrap_or(12),
        date.day_value().unwrap_or(31),
    )
}

/// Birth years a pupil's class allows, `(earliest, latest)`, if the record is a pupil's with a
/// grade and an observation day. The school year starts on 1 September; an observation known
/// only to the year could be in either school year of it. The observation day is the source's
/// when its mapping gives one (a pupil list's date), else the import day: a list imported in a
/// later school year than it describes would make its pupils look a year younger per year.
fn class_birth_years(record: &RecordFacts) -> Option<(i32, i32)> {
    let grade = i32::from(record.school_grade?);
    let observed = record.observed?;
    let year = observed.year_value();
    let (first_school_year, last_school_year) = match observed.month_value() {
        Some(month) if month >= 9 => (year, year),
        Some(_) => (year - 1, year - 1),
        None => (year - 1, year),
    };
    let usual = |school_year: i32| school_year - grade - CLASS_BIRTH_YEAR_OFFSET;
    Some((
        usual(first_school_year) - CLASS_BIRTH_YEAR_TOLERANCE,
        usual(last_school_year) + CLASS_BIRTH_YEAR_TOLERANCE,
    ))
}

/// What a cluster's records say about its person's age.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AgeEvidence {
    /// The earliest day any dated record lets the person be born on; [`NO_DAY`] without one.
    earliest_birth: DayKey,
    /// The latest birth year of a dated record; `i16::MIN` without one.
    latest_birth_year: i16,
    /// The birth years every pupil record's class allows (the intersection of their ranges);
    /// `(i16::MIN, i16::MAX)` without a pupil record.
    class_years: (i16, i16),
    /// The earliest day a record reports the person at work; [`NO_DAY`] without one.
    first_at_work: DayKey,
    /// The earliest day a source observed any of the records; [`NO_DAY`] without one.
    first_observed: DayKey,
}

/// A year as the evidence keeps it. Partial dates are 1800..=2200, and a class range lies within
/// a few years of an observation day, so the clamp never bites on real data.
fn short_year(year: i32) -> i16 {
    year.clamp(i32::from(i16::MIN) + 1, i32::from(i16::MAX) - 1) as i16
}

impl AgeEvidence {
    pub(crate) fn of(record: &RecordFacts) -> AgeEvidence {
        // A pupil record whose own birth date lies outside what its class allows dates no one
        // by its class: the class, the date or the school year (a list dated, or imported, in
        // another year than it describes) is wrong, and which one, the record cannot tell.
        let class_years = match class_birth_years(record) {
            Some((earliest, latest))
                if record
                    .birth_year()
                    .is_none_or(|year| (earliest..=latest).contains(&year)) =>
            {
                (short_year(earliest), short_year(latest))
            }
            _ => (i16::MIN, i16::MAX),
        };
        let at_work = record.employment.then_some(record.observed).flatten();
        AgeEvidence {
            earliest_birth: record.birth.map_or(NO_DAY, first_day),
            latest_birth_year: record
                .birth
                .map_or(i16::MIN, |birth| short_year(birth.year_value())),
            class_years,
            // An employment observed on a day known only to the year or month: the last day it
            // may be, so that the person is taken at their oldest.
            first_at_work: at_work.map_or(NO_DAY, last_day),
            // Known only to the year or month: the last day it may be, as for work.
            first_observed: record.observed.map_or(NO_DAY, last_day),
        }
    }

    /// The evidence of the union of two clusters.
    pub(crate) fn combine(self, other: AgeEvidence) -> AgeEvidence {
        AgeEvidence {
            earliest_birth: self.earliest_birth.min(other.earliest_birth),
            latest_birth_year: self.latest_birth_year.max(other.latest_birth_year),
            class_years: (
                self.class_years.0.max(other.class_years.0),
                self.class_years.1.min(other.class_years.1),
            ),
            first_at_work: self.first_at_work.min(other.first_at_work),
            first_observed: self.first_observed.min(other.first_observed),
        }
    }

    /// Whether any record carries a birth date.
    pub(crate) fn is_dated(&self) -> bool {
        self.earliest_birth != NO_DAY
    }

    /// Whether a pupil record dates the person. Pupil records whose classes contradict each other
    /// (possible only on a profile a steward or an earlier run decided) date no one.
    fn has_pupil(&self) -> bool {
        self.class_years.0 != i16::MIN && self.class_years.0 <= self.class_years.1
    }

    /// Whether the two clusters' records clearly describe two persons of different ages: a
    /// pupil's class against the other's birth dates or class, or a report of work against a
    /// person under [`MIN_WORKING_AGE_YEARS`] on that day.
    pub(crate) fn apart(&self, other: &AgeEvidence) -> bool {
        self.class_excludes(other)
            || other.class_excludes(self)
            || self.works_as_a_child(other)
            || other.works_as_a_child(self)
            || self.seen_before_birth(other)
            || other.seen_before_birth(self)
    }

    /// Whether a record here was observed more than [`OBSERVED_BEFORE_BIRTH_TOLERANCE_YEARS`]
    /// before the other cluster's person was born, by every dated record (the earliest birth is
    /// still too late) or by a pupil's class (the earliest year it allows is).
    fn seen_before_birth(&self, other: &AgeEvidence) -> bool {
        if self.first_observed == NO_DAY {
            return false;
        }
        let born_by =
            self.first_observed + OBSERVED_BEFORE_BIRTH_TOLERANCE_YEARS * YEAR_IN_DAY_KEYS;
        let dates_say_later = other.is_dated() && other.earliest_birth > born_by;
        let class_says_later =
            other.has_pupil() && day_key(i32::from(other.class_years.0), 1, 1) > born_by;
        dates_say_later || class_says_later
    }

    /// Whether a pupil's class here rules out every birth year the other cluster's dated records
    /// give, or the years the other's own pupil record allows. An undated pupil record is judged
    /// by its class alone: it is the only age evidence it carries.
    fn class_excludes(&self, other: &AgeEvidence) -> bool {
        if !self.has_pupil() {
            return false;
        }
        let (earliest, latest) = self.class_years;
        let dates_outside = other.is_dated()
            && (other.latest_birth_year < earliest
                || short_year(other.earliest_birth / YEAR_IN_DAY_KEYS) > latest);
        let classes_apart =
            other.has_pupil() && (other.class_years.1 < earliest || other.class_years.0 > latest);
        dates_outside || classes_apart
    }

    /// Whether this cluster reports its person at work on a day the other cluster's records put
    /// its person under the minimum working age: every dated record (the earliest birth is
    /// still too late), or a pupil's class (the earliest year it allows is too late).
    fn works_as_a_child(&self, other: &AgeEvidence) -> bool {
        if self.first_at_work == NO_DAY {
            return false;
        }
        let too_young_if_born_from = self.first_at_work - MIN_WORKING_AGE_YEARS * YEAR_IN_DAY_KEYS;
        let dates_say_child = other.is_dated() && other.earliest_birth > too_young_if_born_from;
        let class_says_child = other.has_pupil()
            && day_key(i32::from(other.class_years.0), 1, 1) > too_young_if_born_from;
        dates_say_child || class_says_child
    }
}
