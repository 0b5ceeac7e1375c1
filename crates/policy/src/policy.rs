//! The policy: every purpose, who may use it, for what, and which attribute kinds it may see;
//! read from the policy file and checked completely before use.
//!
//! Loading refuses anything doubtful rather than guessing: an unknown role, operation, attribute
//! or key; a special category without a stated legal basis; a legal basis for special categories
//! that grants none. Each error names the purpose and the offending value. This module does not
//! decide individual requests (see `grant.rs`) and does not know about consent records.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use tessera_model::{AttributeKind, IdKind, Sensitivity};

use crate::{Operation, PolicyError, Purpose, Role};

/// What one purpose allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurposeRule {
    /// What the purpose is for, in words an officer and a data subject understand.
    pub description: String,
    /// The law or article that allows the processing; shown to the person in their access log.
    pub legal_basis: String,
    /// The roles that may use the purpose; never empty.
    pub roles: BTreeSet<Role>,
    /// What the purpose permits on individual profiles; empty for aggregates only.
    pub operations: BTreeSet<Operation>,
    /// The attribute kinds the purpose may see.
    pub kinds: BTreeSet<AttributeKind>,
    /// The legal basis for special categories; present exactly when `kinds` holds one.
    pub special_basis: Option<String>,
    /// Whether a read needs the person's recorded consent to this purpose.
    pub consent_required: bool,
}

/// All purposes of a deployment. Build it with [`Policy::from_toml`] or
/// [`Policy::default_policy`]; a `Policy` value is always fully checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub(crate) purposes: BTreeMap<Purpose, PurposeRule>,
}

impl Policy {
    /// The default policy file: a realistic set of purposes for the demo city, for an operator
    /// to copy and edit.
    pub const DEFAULT_TOML: &'static str = include_str!("../default-policy.toml");

    /// Reads and checks a policy file; see the crate documentation for its keys.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|error| {
            let offset = error
                .span()
                .map(|span| char_boundary_at_or_before(text, span.start));
            PolicyError::Toml {
                line: offset.map(|offset| text[..offset].matches('\n').count() + 1),
                table: offset.and_then(|offset| enclosing_table(text, offset)),
                message: error.message().trim().to_string(),
            }
        })?;
        if file.purpose.is_empty() {
            return Err(PolicyError::NoPurposes);
        }
        let mut purposes = BTreeMap::new();
        for (name, entry) in file.purpose {
            let purpose = Purpose::parse(&name)?;
            let rule = check_rule(&purpose, entry)?;
            purposes.insert(purpose, rule);
        }
        Ok(Policy { purposes })
    }

    /// The embedded default policy ([`Policy::DEFAULT_TOML`]).
    pub fn default_policy() -> Policy {
        // Invariant: DEFAULT_TOML is compiled in and the unit test `the_default_policy_loads`
        // loads it, so this cannot fail in a build whose tests pass.
        Policy::from_toml(Policy::DEFAULT_TOML).expect("the embedded default policy is valid")
    }

    /// Every purpose with its rule, ordered by name.
    pub fn purposes(&self) -> impl Iterator<Item = (&Purpose, &PurposeRule)> {
        self.purposes.iter()
    }

    /// The rule of one purpose, if the policy has it.
    pub fn rule(&self, purpose: &Purpose) -> Option<&PurposeRule> {
        self.purposes.get(purpose)
    }
}

/// The policy file as written, before any check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    purpose: BTreeMap<String, PurposeEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurposeEntry {
    description: String,
    legal_basis: String,
    roles: Vec<String>,
    operations: Vec<String>,
    attributes: Vec<String>,
    #[serde(default)]
    special_basis: Option<String>,
    consent_required: bool,
}

fn check_rule(purpose: &Purpose, entry: PurposeEntry) -> Result<PurposeRule, PolicyError> {
    let empty = |field: &'static str| PolicyError::EmptyField {
        purpose: purpose.to_string(),
        field,
    };
    if entry.description.trim().is_empty() {
        return Err(empty("description"));
    }
    if entry.legal_basis.trim().is_empty() {
        return Err(empty("legal_basis"));
    }

    let mut roles = BTreeSet::new();
    for name in &entry.roles {
        let role = Role::from_name(name).ok_or_else(|| PolicyError::UnknownRole {
            purpose: purpose.to_string(),
            value: name.clone(),
        })?;
        roles.insert(role);
    }
    if roles.is_empty() {
        return Err(PolicyError::NoRoles {
            purpose: purpose.to_string(),
        });
    }

    let mut operations = BTreeSet::new();
    for name in &entry.operations {
        let operation =
            Operation::from_name(name).ok_or_else(|| PolicyError::UnknownOperation {
                purpose: purpose.to_string(),
                value: name.clone(),
            })?;
        operations.insert(operation);
    }

    let mut kinds = BTreeSet::new();
    for name in &entry.attributes {
        let named = kinds_named(name).ok_or_else(|| PolicyError::UnknownAttribute {
            purpose: purpose.to_string(),
            value: name.clone(),
        })?;
        kinds.extend(named);
    }

    let special: Vec<&'static str> = kinds
        .iter()
        .filter(|kind| kind.sensitivity() == Sensitivity::Special)
        .map(|kind| kind.name())
        .collect();
    let special_basis = entry.special_basis.filter(|basis| !basis.trim().is_empty());
    match (&special_basis, special.is_empty()) {
        (None, false) => {
            return Err(PolicyError::SpecialWithoutBasis {
                purpose: purpose.to_string(),
                kinds: special.join(", "),
            });
        }
        (Some(_), true) => {
            return Err(PolicyError::BasisWithoutSpecial {
                purpose: purpose.to_string(),
            });
        }
        _ => {}
    }

    Ok(PurposeRule {
        description: entry.description,
        legal_basis: entry.legal_basis,
        roles,
        operations,
        kinds,
        special_basis,
        consent_required: entry.consent_required,
    })
}

/// Every attribute kind other than identifiers, in the model's order.
const PLAIN_KINDS: [AttributeKind; 14] = [
    AttributeKind::Name,
    AttributeKind::BirthDate,
    AttributeKind::Sex,
    AttributeKind::Citizenship,
    AttributeKind::Address,
    AttributeKind::Employment,
    AttributeKind::Education,
    AttributeKind::Relation,
    AttributeKind::Income,
    AttributeKind::Pet,
    AttributeKind::Permit,
    AttributeKind::Health,
    AttributeKind::Biometric,
    AttributeKind::CriminalRecord,
];

/// Fails to compile when the model gains a kind, as a reminder to add it to [`PLAIN_KINDS`]
/// (identifier kinds come from [`IdKind::ALL`] and need no change here).
const fn _plain_kinds_cover_the_model(kind: AttributeKind) {
    match kind {
        AttributeKind::Name
        | AttributeKind::BirthDate
        | AttributeKind::Sex
        | AttributeKind::Citizenship
        | AttributeKind::Identifier(_)
        | AttributeKind::Address
        | AttributeKind::Employment
        | AttributeKind::Education
        | AttributeKind::Relation
        | AttributeKind::Income
        | AttributeKind::Pet
        | AttributeKind::Permit
        | AttributeKind::Health
        | AttributeKind::Biometric
        | AttributeKind::CriminalRecord => {}
    }
}

/// Every attribute kind the model has: the plain kinds, then one per identifier kind.
pub fn all_kinds() -> impl Iterator<Item = AttributeKind> {
    PLAIN_KINDS
        .into_iter()
        .chain(IdKind::ALL.into_iter().map(AttributeKind::Identifier))
}

/// The kind with this policy-file name ([`AttributeKind::name`], identifier kinds by
/// [`IdKind::name`]). The shorthand `identifiers` is not a single kind and is not accepted here.
pub fn kind_from_name(name: &str) -> Option<AttributeKind> {
    all_kinds().find(|kind| kind.name() == name)
}

/// The kinds one `attributes` entry stands for: one kind, or every identifier kind for the
/// shorthand `identifiers`.
fn kinds_named(name: &str) -> Option<Vec<AttributeKind>> {
    if name == "identifiers" {
        return Some(
            IdKind::ALL
                .into_iter()
                .map(AttributeKind::Identifier)
                .collect(),
        );
    }
    kind_from_name(name).map(|kind| vec![kind])
}

/// The largest char boundary of `text` not after `offset` (parser spans should be boundaries;
/// this keeps slicing safe if one is not).
fn char_boundary_at_or_before(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The `[table]` header in force at byte `offset` of a TOML text, for error messages.
fn enclosing_table(text: &str, offset: usize) -> Option<String> {
    text[..offset]
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with('['))
        .map(|line| line.split('#').next().unwrap_or(line).trim().to_string())
}
