//! Purpose-bound access: roles, purposes, the policy file, field filtering, and the
//! hash-chained access log.
//!
//! Every access to personal data names a purpose. [`Policy::authorize`] decides whether a
//! client's [`Role`] may use that purpose for an [`Operation`] and returns a [`Grant`] (the
//! attribute kinds the purpose may see, and whether the person's consent is needed) or a
//! [`Refusal`] with a stable code. [`filter`] keeps only the granted attributes. Every access is
//! then written to the access log as an [`AccessEntry`]; [`chain_hash`] links each entry to the
//! one before, and [`verify_chain`] finds the first entry that was altered, removed or reordered.
//!
//! ```
//! use tessera_policy::{Operation, Policy, Role};
//!
//! let policy = Policy::default_policy();
//! let grant = policy.authorize(Role::Inspector, Some("police_check"), Operation::Lookup)?;
//! assert!(grant.allows(tessera_model::AttributeKind::Name) && !grant.allows_special());
//! let refusal = policy
//!     .authorize(Role::Inspector, Some("benefits"), Operation::Lookup)
//!     .unwrap_err();
//! assert_eq!(refusal.code(), "purpose_not_for_role");
//! # Ok::<(), tessera_policy::Refusal>(())
//! ```
//!
//! # The policy file
//!
//! TOML with one table per purpose; [`Policy::DEFAULT_TOML`] is a complete example
//! ([`Policy::default_policy`] loads it).
//!
//! ```toml
//! [purpose.benefits]                 # the purpose name: a-z, 0-9, _ and -, 1 to 64 characters
//! description = "Deciding a social-benefit application"   # required, not blank
//! legal_basis = "152-FZ art. 6(1)(2); benefit law"        # required, not blank
//! roles = ["agency"]                 # required, at least one of: agency, employer, inspector,
//!                                    #   steward, analyst, person
//! operations = ["read", "lookup", "search"]   # required; read = a profile by id, lookup = by
//!                                    #   identifier, search = by name and birth date;
//!                                    #   [] = no individual profiles (aggregates only)
//! attributes = ["name", "birth_date", "snils"]  # required; see below
//! # special_basis = "…"              # required exactly when attributes hold a special kind
//! consent_required = false           # required; true = the person's recorded consent to this
//!                                    #   purpose is needed as well
//! ```
//!
//! Attribute names are those of [`tessera_model::AttributeKind::name`]: `name`, `birth_date`,
//! `sex`, `citizenship`, `address`, `employment`, `education`, `relation`, `income`, `pet`, the
//! special kinds `health`, `biometric` and `criminal_record`, and the identifier kinds by
//! [`tessera_model::IdKind::name`]: `snils`, `inn`, `oms`, `passport_rf`, `passport_foreign`,
//! `work_patent`, `phone`, `car_plate`, `transport_card`, `other`. The shorthand `identifiers`
//! stands for every identifier kind.
//!
//! Loading checks everything before the policy is used and refuses: an unknown key anywhere, an
//! unknown role, operation or attribute, empty `roles`, a blank description or legal basis, a
//! special kind without `special_basis`, a `special_basis` with no special kind, and a file with
//! no purpose. Errors name the purpose and the offending value (or the line, for TOML errors).
//!
//! # What this crate does not do
//!
//! It authenticates no one, reads no consent records, binds no person to their profile, keeps no
//! log rows and reads no clock: the serving layer and the store do those, using these types.

mod access_log;
mod grant;
mod policy;
mod purpose;
mod role;

pub use access_log::{
    AccessEntry, Action, ChainBreak, ChainSummary, GENESIS, StoredEntry, chain_hash, verify_chain,
};
pub use grant::{Grant, Refusal, filter};
pub use policy::{Policy, PurposeRule, all_kinds, kind_from_name};
pub use purpose::{Operation, PURPOSE_MAX_LEN, Purpose};
pub use role::Role;

/// Why a policy file, or a purpose name, was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid purpose name {0:?}: use 1 to 64 characters from a-z, 0-9, _ and -")]
    InvalidPurposeName(String),
    #[error("policy file{}: {message}", toml_location(line, table))]
    Toml {
        line: Option<usize>,
        /// The `[table]` header the error is under, when there is one.
        table: Option<String>,
        message: String,
    },
    #[error("the policy file defines no purpose")]
    NoPurposes,
    #[error("purpose {purpose}: {field} is blank")]
    EmptyField {
        purpose: String,
        field: &'static str,
    },
    #[error("purpose {purpose}: unknown role {value:?}")]
    UnknownRole { purpose: String, value: String },
    #[error("purpose {purpose}: roles is empty, so nobody could use it")]
    NoRoles { purpose: String },
    #[error("purpose {purpose}: unknown operation {value:?} (read, lookup or search)")]
    UnknownOperation { purpose: String, value: String },
    #[error("purpose {purpose}: unknown attribute {value:?}")]
    UnknownAttribute { purpose: String, value: String },
    #[error("purpose {purpose}: special categories ({kinds}) need a special_basis")]
    SpecialWithoutBasis { purpose: String, kinds: String },
    #[error("purpose {purpose}: special_basis is given but no special category is listed")]
    BasisWithoutSpecial { purpose: String },
}

/// `" line 12 in [purpose.tax]"`, or as much of it as is known.
fn toml_location(line: &Option<usize>, table: &Option<String>) -> String {
    let mut location = String::new();
    if let Some(line) = line {
        location.push_str(&format!(" line {line}"));
    }
    if let Some(table) = table {
        location.push_str(&format!(" in {table}"));
    }
    location
}

#[cfg(test)]
mod tests;
