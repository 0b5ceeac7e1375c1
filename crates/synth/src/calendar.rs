//! Calendar dates for the synthetic city: birth dates, registration dates, report weeks.
//!
//! The generator needs only a few operations (a random day between two days, a year later, the
//! two written forms agencies use), so it carries its own small proleptic Gregorian date instead of
//! a date library. Every [`Date`] it builds exists on the calendar; it deliberately cannot
//! represent an impossible day, which is what keeps the importer from quarantining our rows.

use std::fmt::Write as _;

use rand::Rng;

/// A day on the proleptic Gregorian calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// The day the city is observed on: ages, school classes and "not in the future" are judged
/// against it, never against the clock, so that output depends only on the seed.
pub(crate) const TODAY: Date = Date {
    year: 2024,
    month: 9,
    day: 1,
};

impl Date {
    /// The date, or `None` if the day does not exist.
    pub(crate) fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let exists = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        exists.then_some(Date { year, month, day })
    }

    /// The first day of `year`.
    pub(crate) const fn first_of_year(year: i32) -> Date {
        Date {
            year,
            month: 1,
            day: 1,
        }
    }

    pub(crate) fn year(self) -> i32 {
        self.year
    }

    pub(crate) fn month(self) -> u8 {
        self.month
    }

    pub(crate) fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before), after Howard Hinnant's `days_from_civil`.
    pub(crate) fn to_days(self) -> i64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(self.month);
        let day_of_year =
            (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The inverse of [`Date::to_days`], after Howard Hinnant's `civil_from_days`.
    pub(crate) fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_index + 2) / 5 + 1;
        let month = if month_index < 10 {
            month_index + 3
        } else {
            month_index - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        // The algorithm yields day 1..=31 and month 1..=12; years stay far inside i32 for the
        // dates this crate builds (1900..2100).
        Date {
            year: year as i32,
            month: month as u8,
            day: day as u8,
        }
    }

    /// A uniformly random day in `from..=to`; `from` if the range is empty.
    pub(crate) fn random_between(rng: &mut impl Rng, from: Date, to: Date) -> Date {
        let (low, high) = (from.to_days(), to.to_days());
        if high <= low {
            return from;
        }
        Date::from_days(rng.random_range(low..=high))
    }

    /// The same day `years` later (earlier if negative); 29 February becomes 28 February.
    pub(crate) fn add_years(self, years: i32) -> Date {
        let year = self.year + years;
        let day = self.day.min(days_in_month(year, self.month));
        Date {
            year,
            month: self.month,
            day,
        }
    }

    pub(crate) fn add_days(self, days: i64) -> Date {
        Date::from_days(self.to_days() + days)
    }

    /// Whole years between `self` (a birth date) and `on`.
    pub(crate) fn age_on(self, on: Date) -> i32 {
        let before_birthday = (on.month, on.day) < (self.month, self.day);
        on.year - self.year - i32::from(before_birthday)
    }

    /// The date with day and month exchanged, if that is also a real date and a different one.
    pub(crate) fn day_month_swapped(self) -> Option<Date> {
        if self.day == self.month || self.day > 12 {
            return None;
        }
        Date::new(self.year, self.day, self.month)
    }

    /// Writes `DD.MM.YYYY`, the Russian form.
    pub(crate) fn write_dmy(self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = write!(out, "{:02}.{:02}.{:04}", self.day, self.month, self.year);
    }

    /// Writes `YYYY-MM-DD`, the ISO form.
    pub(crate) fn write_iso(self, out: &mut String) {
        let _ = write!(out, "{:04}-{:02}-{:02}", self.year, self.month, self.day);
    }
}

pub(crate) fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        for days in -40_000..40_000 {
            let date = Date::from_days(days);
            assert_eq!(date.to_days(), days);
            assert!(
                Date::new(date.year(), date.month(), date.day()).is_some(),
                "{date:?}"
            );
        }
        assert_eq!(Date::first_of_year(1970).to_days(), 0);
        assert_eq!(Date::new(2000, 3, 1).map(Date::to_days), Some(11_017));
    }

    #[test]
    fn impossible_days_do_not_exist() {
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2024, 4, 31).is_none());
        assert!(Date::new(2024, 13, 1).is_none());
    }

    #[test]
    fn swaps_and_ages() {
        let date = Date::new(1990, 3, 7).expect("real date");
        assert_eq!(date.day_month_swapped(), Date::new(1990, 7, 3));
        assert_eq!(
            Date::new(1990, 3, 13).and_then(Date::day_month_swapped),
            None
        );
        assert_eq!(
            Date::new(1990, 5, 5).and_then(Date::day_month_swapped),
            None
        );
        assert_eq!(date.age_on(Date::new(2024, 3, 6).expect("real date")), 33);
        assert_eq!(date.age_on(Date::new(2024, 3, 7).expect("real date")), 34);
        assert_eq!(
            Date::new(2024, 2, 29).map(|d| d.add_years(1)),
            Date::new(2025, 2, 28)
        );
        let mut text = String::new();
        date.write_dmy(&mut text);
        text.push(' ');
        date.write_iso(&mut text);
        assert_eq!(text, "07.03.1990 1990-03-07");
    }
}
