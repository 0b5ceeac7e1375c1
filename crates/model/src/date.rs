//! Dates that may be known only to the month or the year.
//!
//! Agencies record birth dates with different precision (a migrant's document may carry only the
//! year). A [`PartialDate`] keeps the precision instead of inventing a day, and can only be built
//! from a date that exists on the calendar.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How much of a date is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatePrecision {
    Year,
    Month,
    Day,
}

/// A calendar date known to the year, the month or the day. Serialises as `1990`, `1990-02` or
/// `1990-02-28`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartialDate {
    year: i32,
    month: Option<u8>,
    day: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("no such date: {year:04}-{month:02}-{day:02}")]
    NoSuchDay { year: i32, month: u8, day: u8 },
    #[error("no such month: {month}")]
    NoSuchMonth { month: u8 },
    #[error("year {year} is outside 1800..=2200")]
    YearOutOfRange { year: i32 },
    #[error("not a date: {text:?} (expected YYYY, YYYY-MM or YYYY-MM-DD)")]
    Unparsable { text: String },
}

impl PartialDate {
    pub fn day(year: i32, month: u8, day: u8) -> Result<PartialDate, DateError> {
        check_year(year)?;
        NaiveDate::from_ymd_opt(year, u32::from(month), u32::from(day))
            .ok_or(DateError::NoSuchDay { year, month, day })?;
        Ok(PartialDate {
            year,
            month: Some(month),
            day: Some(day),
        })
    }

    pub fn month(year: i32, month: u8) -> Result<PartialDate, DateError> {
        check_year(year)?;
        if !(1..=12).contains(&month) {
            return Err(DateError::NoSuchMonth { month });
        }
        Ok(PartialDate {
            year,
            month: Some(month),
            day: None,
        })
    }

    pub fn year(year: i32) -> Result<PartialDate, DateError> {
        check_year(year)?;
        Ok(PartialDate {
            year,
            month: None,
            day: None,
        })
    }

    pub fn from_naive(date: NaiveDate) -> Result<PartialDate, DateError> {
        use chrono::Datelike;
        // Month and day from chrono are 1..=12 and 1..=31, so they fit in u8.
        PartialDate::day(date.year(), date.month() as u8, date.day() as u8)
    }

    pub fn precision(&self) -> DatePrecision {
        match (self.month, self.day) {
            (Some(_), Some(_)) => DatePrecision::Day,
            (Some(_), None) => DatePrecision::Month,
            _ => DatePrecision::Year,
        }
    }

    pub fn year_value(&self) -> i32 {
        self.year
    }

    pub fn month_value(&self) -> Option<u8> {
        self.month
    }

    pub fn day_value(&self) -> Option<u8> {
        self.day
    }

    /// Parses the canonical form written by `Display`.
    pub fn parse_canonical(text: &str) -> Result<PartialDate, DateError> {
        let unparsable = || DateError::Unparsable {
            text: text.to_string(),
        };
        let mut parts = text.split('-');
        let year: i32 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(unparsable)?;
        let month: Option<u8> = match parts.next() {
            Some(p) => Some(p.parse().map_err(|_| unparsable())?),
            None => None,
        };
        let day: Option<u8> = match parts.next() {
            Some(p) => Some(p.parse().map_err(|_| unparsable())?),
            None => None,
        };
        if parts.next().is_some() {
            return Err(unparsable());
        }
        match (month, day) {
            (Some(m), Some(d)) => PartialDate::day(year, m, d),
            (Some(m), None) => PartialDate::month(year, m),
            _ => PartialDate::year(year),
        }
    }
}

fn check_year(year: i32) -> Result<(), DateError> {
    if (1800..=2200).contains(&year) {
        Ok(())
    } else {
        Err(DateError::YearOutOfRange { year })
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(month) = self.month {
            write!(f, "-{month:02}")?;
        }
        if let Some(day) = self.day {
            write!(f, "-{day:02}")?;
        }
        Ok(())
    }
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        PartialDate::parse_canonical(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_dates_are_refused() {
        assert_eq!(
            PartialDate::day(1990, 2, 31),
            Err(DateError::NoSuchDay {
                year: 1990,
                month: 2,
                day: 31
            })
        );
        assert!(PartialDate::day(2000, 2, 29).is_ok());
        assert!(PartialDate::day(1900, 2, 29).is_err());
        assert!(PartialDate::month(1990, 13).is_err());
        assert!(PartialDate::year(1066).is_err());
    }

    #[test]
    fn canonical_form_round_trips_with_precision() {
        for (text, precision) in [
            ("1990-02-28", DatePrecision::Day),
            ("1990-02", DatePrecision::Month),
            ("1990", DatePrecision::Year),
        ] {
            let date = PartialDate::parse_canonical(text).unwrap();
            assert_eq!(date.precision(), precision);
            assert_eq!(date.to_string(), text);
            let json = serde_json::to_string(&date).unwrap();
            assert_eq!(serde_json::from_str::<PartialDate>(&json).unwrap(), date);
        }
        assert!(PartialDate::parse_canonical("1990-02-31").is_err());
        assert!(PartialDate::parse_canonical("x").is_err());
    }
}
