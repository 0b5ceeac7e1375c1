//! Deciding one request: may this role use this purpose for this operation, and if so which
//! attribute kinds it may see ([`Grant`]), or why not ([`Refusal`]); and filtering attributes to
//! a grant.
//!
//! A decision depends on the policy and the request only. This module does not check consent
//! (the serving layer reads consent records when [`Grant::consent_required`] is set), does not
//! bind a person to their own profile, and does not write the access log.

use std::collections::BTreeSet;

use tessera_model::{Attribute, AttributeKind, Sensitivity};

use crate::{Operation, Policy, Purpose, Role};

/// What an authorised request may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub purpose: Purpose,
    pub kinds: BTreeSet<AttributeKind>,
    /// The person's recorded consent to `purpose` is needed before anything is released.
    pub consent_required: bool,
}

impl Grant {
    pub fn allows(&self, kind: AttributeKind) -> bool {
        self.kinds.contains(&kind)
    }

    /// Whether any special-category kind (health, biometric, criminal record) is granted.
    pub fn allows_special(&self) -> bool {
        self.kinds
            .iter()
            .any(|kind| kind.sensitivity() == Sensitivity::Special)
    }

    /// The granted kinds' names, as the access log records them.
    pub fn kind_names(&self) -> Vec<String> {
        self.kinds
            .iter()
            .map(|kind| kind.name().to_string())
            .collect()
    }
}

/// Why a request was refused. Each has a stable [`Refusal::code`] for API errors.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no purpose given: every access to personal data must name one")]
    NoPurpose,
    /// The text the client sent, cut to 65 characters.
    #[error("unknown purpose {0:?}")]
    UnknownPurpose(String),
    #[error("role {role} may not use purpose {purpose}")]
    RoleMayNotUse { role: Role, purpose: Purpose },
    #[error("purpose {purpose} does not permit {operation}")]
    OperationNotAllowed {
        purpose: Purpose,
        operation: Operation,
    },
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoPurpose => "purpose_missing",
            Refusal::UnknownPurpose(_) => "purpose_unknown",
            Refusal::RoleMayNotUse { .. } => "purpose_not_for_role",
            Refusal::OperationNotAllowed { .. } => "operation_not_allowed",
        }
    }
}

impl Policy {
    /// Decides whether `role` may use `purpose` for `operation`. `purpose` is the raw text the
    /// client sent (`None` when it sent none; blank counts as none). The checks run in this
    /// order, so a role learns nothing about the operations of a purpose it may not use: a
    /// purpose is given, it exists, the role may use it, it permits the operation.
    pub fn authorize(
        &self,
        role: Role,
        purpose: Option<&str>,
        operation: Operation,
    ) -> Result<Grant, Refusal> {
        let Some(text) = purpose.filter(|text| !text.trim().is_empty()) else {
            return Err(Refusal::NoPurpose);
        };
        let known = Purpose::parse(text)
            .ok()
            .and_then(|purpose| self.purposes.get_key_value(&purpose));
        let Some((purpose, rule)) = known else {
            return Err(Refusal::UnknownPurpose(
                text.chars().take(crate::PURPOSE_MAX_LEN + 1).collect(),
            ));
        };
        if !rule.roles.contains(&role) {
            return Err(Refusal::RoleMayNotUse {
                role,
                purpose: purpose.clone(),
            });
        }
        if !rule.operations.contains(&operation) {
            return Err(Refusal::OperationNotAllowed {
                purpose: purpose.clone(),
                operation,
            });
        }
        Ok(Grant {
            purpose: purpose.clone(),
            kinds: rule.kinds.clone(),
            consent_required: rule.consent_required,
        })
    }
}

/// Keeps only the attributes whose kind the grant allows, in their order.
pub fn filter<'a>(
    grant: &Grant,
    attributes: impl IntoIterator<Item = &'a Attribute>,
) -> Vec<&'a Attribute> {
    attributes
        .into_iter()
        .filter(|attribute| grant.allows(attribute.kind()))
        .collect()
}
