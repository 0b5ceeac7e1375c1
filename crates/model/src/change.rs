//! Which changes to a profile a subscriber may care about, and how to tell them from a record.
//!
//! A profile changes when a resolution run creates, merges or splits it, and when a record (a
//! new one, or a new version of one) lands on it. [`arrival_changes`] says what such a record
//! changes, judged against what the profile held before it came: an address the profile did not
//! hold, a dismissal its employer reported, a permit that runs out within
//! [`PERMIT_WARNING_DAYS`]. The clock is the caller's: this crate reads none.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{Attribute, AttributeKind, PartialDate};

/// How far ahead a permit's end is announced.
pub const PERMIT_WARNING_DAYS: u64 = 30;

/// What happened to a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A resolution run gave out a new profile id.
    ProfileCreated,
    /// Another profile was merged into this one (its id now redirects here).
    ProfileMerged,
    /// Records of this profile became (part of) another profile.
    ProfileSplit,
    /// A record brought an address the profile did not hold.
    AddressChanged,
    /// An employer reported the end of an employment.
    Dismissed,
    /// A permit to stay or work runs out within [`PERMIT_WARNING_DAYS`].
    PermitExpiring,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 6] = [
        ChangeKind::ProfileCreated,
        ChangeKind::ProfileMerged,
        ChangeKind::ProfileSplit,
        ChangeKind::AddressChanged,
        ChangeKind::Dismissed,
        ChangeKind::PermitExpiring,
    ];

    /// A short stable name, used in the outbox, event payloads and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::ProfileCreated => "profile_created",
            ChangeKind::ProfileMerged => "profile_merged",
            ChangeKind::ProfileSplit => "profile_split",
            ChangeKind::AddressChanged => "address_changed",
            ChangeKind::Dismissed => "dismissed",
            ChangeKind::PermitExpiring => "permit_expiring",
        }
    }

    pub fn from_name(name: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The attribute kind whose values an event of this kind carries (from the record that
    /// brought the change); `None` for the profile events, which carry only ids. A subscriber
    /// receives an event only if its purpose may see this kind.
    pub fn attribute(self) -> Option<AttributeKind> {
        match self {
            ChangeKind::ProfileCreated | ChangeKind::ProfileMerged | ChangeKind::ProfileSplit => {
                None
            }
            ChangeKind::AddressChanged => Some(AttributeKind::Address),
            ChangeKind::Dismissed => Some(AttributeKind::Employment),
            ChangeKind::PermitExpiring => Some(AttributeKind::Permit),
        }
    }
}

/// What a record arriving on a profile changes. `held` are the attributes of the records the
/// profile held before it came (without the record's own earlier version, if any: an address
/// that differs from the version it replaces but that another record of the profile holds is
/// no change). `today` is the day the arrival is judged on.
pub fn arrival_changes(
    held: &[&Attribute],
    arriving: &[Attribute],
    today: NaiveDate,
) -> Vec<ChangeKind> {
    let mut changes = Vec::new();
    let held_addresses: Vec<String> = held
        .iter()
        .filter_map(|attribute| match attribute {
            Attribute::Address(address) => Some(fold_address(&address.text)),
            _ => None,
        })
        .collect();
    let new_address = arriving.iter().any(|attribute| match attribute {
        Attribute::Address(address) => {
            let folded = fold_address(&address.text);
            !folded.is_empty() && !held_addresses.contains(&folded)
        }
        _ => false,
    });
    if new_address {
        changes.push(ChangeKind::AddressChanged);
    }

    let dismissal = arriving.iter().any(|attribute| match attribute {
        Attribute::Employment(employment) if employment.to.is_some() => {
            !held.iter().any(|known| match known {
                Attribute::Employment(known) => {
                    known.to == employment.to
                        && known.employer_inn == employment.employer_inn
                        && known.personnel_number == employment.personnel_number
                }
                _ => false,
            })
        }
        _ => false,
    });
    if dismissal {
        changes.push(ChangeKind::Dismissed);
    }

    let expiring = arriving.iter().any(|attribute| match attribute {
        Attribute::Permit(permit) => {
            permit
                .valid_until
                .is_some_and(|end| expires_soon(end, today))
                && !held.iter().any(|known| {
                    matches!(known, Attribute::Permit(known)
                        if known.number == permit.number && known.valid_until == permit.valid_until)
                })
        }
        _ => false,
    });
    if expiring {
        changes.push(ChangeKind::PermitExpiring);
    }
    changes
}

/// Whether a permit valid until `end` (inclusive; a month or year means its last day) runs out
/// from `today` to [`PERMIT_WARNING_DAYS`] ahead. An expired permit is no longer "expiring".
pub fn expires_soon(end: PartialDate, today: NaiveDate) -> bool {
    let last_day = last_day(end);
    let horizon = today
        .checked_add_days(Days::new(PERMIT_WARNING_DAYS))
        .unwrap_or(NaiveDate::MAX);
    today <= last_day && last_day <= horizon
}

/// The last calendar day a partial date covers.
fn last_day(date: PartialDate) -> NaiveDate {
    let year = date.year_value();
    match (date.month_value(), date.day_value()) {
        (Some(month), Some(day)) => NaiveDate::from_ymd_opt(year, month.into(), day.into()),
        (Some(month), None) => NaiveDate::from_ymd_opt(year, month.into(), 1)
            .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
            .and_then(|next| next.pred_opt()),
        _ => NaiveDate::from_ymd_opt(year, 12, 31),
    }
    .unwrap_or_else(|| NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX))
}

/// An address as compared for change: letters and digits only, lower case, so that a clerk's
/// spacing, punctuation or case is not a move.
fn fold_address(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, AddressKind, Employment, Permit};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn address(text: &str) -> Attribute {
        Attribute::Address(Address {
            kind: AddressKind::Registered,
            text: text.into(),
        })
    }

    #[test]
    fn a_new_address_is_a_change_and_a_respelled_one_is_not() {
        let held = address("г. Казань, ул. Ленина, д. 5");
        let today = day(2026, 12, 1);
        assert_eq!(
            arrival_changes(&[&held], &[address("Г КАЗАНЬ УЛ ЛЕНИНА Д 5")], today),
            vec![]
        );
        assert_eq!(
            arrival_changes(&[&held], &[address("г. Казань, ул. Баумана, д. 1")], today),
            vec![ChangeKind::AddressChanged]
        );
        assert_eq!(
            arrival_changes(&[], &[address("г. Казань")], today),
            vec![ChangeKind::AddressChanged]
        );
    }

    #[test]
    fn a_dismissal_is_announced_once() {
        let employment = |to: Option<PartialDate>| {
            Attribute::Employment(Employment {
                employer_name: Some("ООО Ромашка".into()),
                personnel_number: Some("17".into()),
                to,
                ..Employment::default()
            })
        };
        let today = day(2026, 12, 1);
        let ended = PartialDate::day(2026, 11, 27).ok();
        assert_eq!(
            arrival_changes(&[&employment(None)], &[employment(ended)], today),
            vec![ChangeKind::Dismissed]
        );
        assert_eq!(
            arrival_changes(&[&employment(ended)], &[employment(ended)], today),
            vec![]
        );
        assert_eq!(arrival_changes(&[], &[employment(None)], today), vec![]);
    }

    #[test]
    fn a_permit_is_expiring_within_thirty_days_and_not_after_it_ran_out() {
        let permit = |until: PartialDate| {
            vec![Attribute::Permit(Permit {
                number: Some("77 123456789".into()),
                issued: None,
                valid_until: Some(until),
            })]
        };
        let today = day(2026, 12, 1);
        let at = |y, m, d| PartialDate::day(y, m, d).unwrap();
        assert_eq!(
            arrival_changes(&[], &permit(at(2026, 12, 31)), today),
            vec![ChangeKind::PermitExpiring]
        );
        assert_eq!(arrival_changes(&[], &permit(at(2027, 1, 1)), today), vec![]);
        assert_eq!(
            arrival_changes(&[], &permit(at(2026, 11, 30)), today),
            vec![]
        );
        assert!(expires_soon(at(2026, 12, 1), today));
        // A month means its last day.
        assert!(expires_soon(PartialDate::month(2026, 12).unwrap(), today));
        assert!(!expires_soon(PartialDate::month(2027, 1).unwrap(), today));
        let known = permit(at(2026, 12, 20));
        assert_eq!(
            arrival_changes(&[&known[0]], &permit(at(2026, 12, 20)), today),
            vec![]
        );
    }

    #[test]
    fn names_round_trip() {
        for kind in ChangeKind::ALL {
            assert_eq!(ChangeKind::from_name(kind.name()), Some(kind));
        }
    }
}
