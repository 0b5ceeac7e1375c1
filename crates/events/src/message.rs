//! What a subscriber receives for one change event, and which events it receives at all.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_model::{Attribute, Sensitivity};
use tessera_policy::Grant;
use tessera_store::{ChangeEvent, StoredRecord, Subscription};

/// One delivery's body (JSON). `id` is the idempotency key: a repeated delivery carries the
/// same id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventMessage {
    pub id: String,
    /// The event's place in the outbox: a subscriber receives increasing values.
    pub seq: u64,
    pub kind: String,
    pub profile: String,
    /// The profile merged in (`profile_merged`) or split off (`profile_split`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_profile: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub subscription: String,
    pub purpose: String,
    /// The values the change is about (the new address, the ended employment, the permit), as
    /// the record that brought it holds them; only kinds the purpose may see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Attribute>,
}

/// Whether a subscription receives an event, and what.
#[derive(Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per event, moved once: boxing would buy nothing
pub enum Selection {
    /// Not for this subscriber: another kind than it asked for, or about attributes its
    /// purpose may not see (that an address changed is itself about the address).
    Skip,
    Deliver {
        message: EventMessage,
        /// The attribute kind names released, for the access log.
        kinds: Vec<String>,
    },
}

/// What `subscription` (whose client and purpose `grant` was given to) receives of `event`;
/// `record` is the record version that brought the change, if any.
pub fn select(
    event: &ChangeEvent,
    subscription: &Subscription,
    grant: &Grant,
    record: Option<&StoredRecord>,
) -> Selection {
    if !subscription.kinds.is_empty() && !subscription.kinds.contains(&event.kind) {
        return Selection::Skip;
    }
    let about = event.kind.attribute();
    if about.is_some_and(|kind| !grant.allows(kind)) {
        return Selection::Skip;
    }
    let values: Vec<Attribute> = match (about, record) {
        (Some(kind), Some(record)) => record
            .attributes
            .iter()
            .filter(|a| a.kind() == kind && kind.sensitivity() != Sensitivity::Special)
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    let kinds = about
        .filter(|_| !values.is_empty())
        .map(|kind| vec![kind.name().to_string()])
        .unwrap_or_default();
    Selection::Deliver {
        message: EventMessage {
            id: event.key.clone(),
            seq: event.seq,
            kind: event.kind.name().to_string(),
            profile: event.profile.as_str().to_string(),
            other_profile: event.other.as_ref().map(|p| p.as_str().to_string()),
            occurred_at: event.occurred_at,
            subscription: subscription.name.clone(),
            purpose: subscription.purpose.clone(),
            values,
        },
        kinds,
    }
}
