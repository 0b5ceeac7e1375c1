//! The canonical person model shared by every Tessera crate.
//!
//! A [`SourceRecord`] is what one agency said about one person at one time: the source, the
//! source's own record key, when it was observed, and a list of typed [`Attribute`]s. Records are
//! immutable once stored; a changed row becomes a new version, never an edit. Every attribute kind
//! carries a [`Sensitivity`] class through [`AttributeKind::sensitivity`], and special-category
//! payloads are wrapped in [`Special`] so that reading one is always an explicit call.
//!
//! This crate does no IO, reads no clock and knows nothing of files, SQL or HTTP.

mod attribute;
mod change;
mod date;
mod identifier;
mod name;
mod record;
mod sensitivity;

pub use attribute::{
    Address, AddressKind, Attribute, BiometricRef, CountryCode, CriminalRecordNote, Education,
    Employment, HealthNote, Income, Permit, Pet, Relation, RelationRole, Sex, Special,
};
pub use change::{ChangeKind, PERMIT_WARNING_DAYS, arrival_changes, expires_soon};
pub use date::{DateError, DatePrecision, PartialDate};
pub use identifier::{IdKind, Identifier, Validity, inn_is_valid, snils_check_number};
pub use name::{NameOrder, PersonName, Script, parse_full_name};
pub use record::{ModelError, ProfileId, RecordKey, RecordRef, SourceId, SourceRecord};
pub use sensitivity::{AttributeKind, Sensitivity};
