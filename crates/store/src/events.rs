//! Change events: the outbox of changes to profiles, and the subscriptions that receive them.
//!
//! A change is written in the transaction that makes it: a resolution run's profile events
//! (created, merged, split) and the record arrivals its caller found eventful
//! ([`crate::ResolutionOutcome::changes`], from [`arrival_changes`]) are stored by
//! [`crate::ResolutionSession::apply`]; changes that come with time (a permit entering its last
//! 30 days, [`announce_expiring_permits`]) by [`crate::ResolutionSession::add_changes`]. Both
//! run while the session holds the one resolution turn, so the outbox's `seq` order is commit
//! order. Each change has an idempotency key; the same key is stored once.
//!
//! Delivery is not here (see the binary's `events` module): [`EventStore`] gives a dispatcher
//! the outbox after a cursor, the subscriptions, a lease per subscription (one dispatcher at a
//! time, across processes) and the cursor to advance once a delivery is acknowledged.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use tessera_model::{Attribute, ChangeKind, ProfileId, expires_soon};

use crate::{ProfileEvent, RecordId, Store, StoreError, StoredRecord};

/// A change about to be written to the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChange {
    pub kind: ChangeKind,
    pub profile: ProfileId,
    /// The other profile of a merge (the one merged in) or a split (the one split off).
    pub other: Option<ProfileId>,
    /// The record version that brought the change.
    pub record: Option<RecordId>,
    /// The idempotency key: the same change announced twice has the same key.
    pub key: String,
}

impl NewChange {
    /// A change brought by a record: keyed by the record version, which brings it once
    /// whatever profile it is on.
    pub fn of_record(kind: ChangeKind, profile: ProfileId, record: RecordId) -> NewChange {
        NewChange {
            key: format!("{}:{}", kind.name(), record.0),
            kind,
            profile,
            other: None,
            record: Some(record),
        }
    }
}

/// The outbox rows of a run's profile events, selected from `profile_event` in the database,
/// so that a first run's million `created` events are not built again in memory. A profile id
/// is created once and merged once, and a split gives out a new id: each event's ids make its
/// key. Each backend puts its parameter for the run in place of `{run}`, and its column of the
/// rows' insertion order (the run's event order) in place of `{order}`, selected as `ord`.
pub(crate) const PROFILE_EVENT_CHANGES: &str = "
    SELECT {order} AS ord,
           CASE kind WHEN 'created' THEN 'profile_created:' || profile_id
                     WHEN 'merged' THEN 'profile_merged:' || other_profile_id || ':' || profile_id
                     ELSE 'profile_split:' || profile_id || ':' || other_profile_id END AS event_key,
           CASE kind WHEN 'created' THEN 'profile_created'
                     WHEN 'merged' THEN 'profile_merged'
                     ELSE 'profile_split' END AS kind,
           CASE kind WHEN 'merged' THEN other_profile_id ELSE profile_id END AS profile_id,
           CASE kind WHEN 'merged' THEN profile_id
                     WHEN 'split' THEN other_profile_id END AS other_profile_id
    FROM profile_event WHERE run = {run}";

/// A change as the outbox holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEvent {
    /// Its place in the outbox: delivered in this order.
    pub seq: u64,
    pub key: String,
    pub kind: ChangeKind,
    pub profile: ProfileId,
    pub other: Option<ProfileId>,
    pub record: Option<RecordId>,
    /// The resolution run that made the change, if one did.
    pub run: Option<u64>,
    pub occurred_at: DateTime<Utc>,
}

/// Where a subscription's events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriptionTarget {
    /// An HTTP(S) URL, POSTed each event signed with HMAC-SHA256 under the subscription's secret.
    Webhook { url: String },
    /// A JetStream subject.
    JetStream { subject: String },
}

impl SubscriptionTarget {
    pub(crate) fn columns(&self) -> (&'static str, &str) {
        match self {
            SubscriptionTarget::Webhook { url } => ("webhook", url),
            SubscriptionTarget::JetStream { subject } => ("jetstream", subject),
        }
    }

    fn from_columns(target: &str, address: String) -> Result<SubscriptionTarget, String> {
        match target {
            "webhook" => Ok(SubscriptionTarget::Webhook { url: address }),
            "jetstream" => Ok(SubscriptionTarget::JetStream { subject: address }),
            other => Err(format!("unknown subscription target {other:?}")),
        }
    }
}

/// A subscription to be added.
#[derive(Clone, Debug)]
pub struct NewSubscription {
    pub name: String,
    /// The client whose role the subscription reads under.
    pub client_id: String,
    pub purpose: String,
    /// The kinds of change wanted; empty means every kind the purpose may see.
    pub kinds: Vec<ChangeKind>,
    pub target: SubscriptionTarget,
    /// The webhook's signing secret, sealed by the caller (the store never sees it open).
    pub sealed_secret: Option<Vec<u8>>,
    /// Deliver only events after this seq (usually the outbox head when subscribing).
    pub cursor: u64,
    pub created_at: DateTime<Utc>,
}

/// A subscription as stored.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub id: i64,
    pub name: String,
    pub client_id: String,
    pub purpose: String,
    pub kinds: Vec<ChangeKind>,
    pub target: SubscriptionTarget,
    pub sealed_secret: Option<Vec<u8>>,
    /// The last seq delivered and acknowledged.
    pub cursor: u64,
    pub created_at: DateTime<Utc>,
}

pub(crate) fn kinds_column(kinds: &[ChangeKind]) -> String {
    kinds
        .iter()
        .map(|kind| kind.name())
        .collect::<Vec<_>>()
        .join(",")
}

/// A subscription from its stored columns.
#[allow(clippy::too_many_arguments)]
pub(crate) fn subscription_from_columns(
    id: i64,
    name: String,
    client_id: String,
    purpose: String,
    kinds: &str,
    target: &str,
    address: String,
    sealed_secret: Option<Vec<u8>>,
    cursor: i64,
    created_at: &str,
) -> Result<Subscription, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { id, reason };
    let kinds = kinds
        .split(',')
        .filter(|k| !k.is_empty())
        .map(|k| ChangeKind::from_name(k).ok_or_else(|| corrupt(format!("unknown kind {k:?}"))))
        .collect::<Result<_, _>>()?;
    Ok(Subscription {
        id,
        name,
        client_id,
        purpose,
        kinds,
        target: SubscriptionTarget::from_columns(target, address).map_err(corrupt)?,
        sealed_secret,
        cursor: cursor as u64,
        created_at: crate::columns::parse_time(created_at)?,
    })
}

/// The outbox and the subscriptions, for the dispatchers that deliver events.
pub trait EventStore: Send + Sync {
    /// The newest seq in the outbox (0 when empty).
    fn change_head(&self) -> Result<u64, StoreError>;

    /// Up to `limit` events after `seq`, in order.
    fn changes_after(&self, seq: u64, limit: usize) -> Result<Vec<ChangeEvent>, StoreError>;

    /// Adds a subscription; `Ok(None)` when one of that name exists.
    fn add_subscription(&self, new: &NewSubscription) -> Result<Option<i64>, StoreError>;

    /// The subscriptions in force, oldest first.
    fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError>;

    /// Ends a subscription; false when there is none in force of that name.
    fn remove_subscription(&self, name: &str, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Takes (or renews) the lease on a subscription for `holder` until `until_ms` (Unix
    /// milliseconds) and returns its cursor as it stands; `None` when another holder's lease
    /// runs past `now_ms` (or the subscription ended).
    fn lease_subscription(
        &self,
        id: i64,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<u64>, StoreError>;

    /// Gives up `holder`'s lease, so that another process may deliver at once.
    fn release_subscription(&self, id: i64, holder: &str) -> Result<(), StoreError>;

    /// Moves a subscription's cursor forward to `seq`, if `holder` still holds its lease; false
    /// when it does not (another dispatcher took over, and delivers from the stored cursor).
    fn advance_subscription(&self, id: i64, holder: &str, seq: u64) -> Result<bool, StoreError>;
}

/// The changes a run's arrivals bring, judged on `today`. `arrived` pairs each record the run
/// placed that no run had placed before (a new record, or a new version of one) with the
/// profile it landed on; `events` are the run's profile events. Each arrival is judged against
/// what its profile held before the run (read from `store`, whose resolution turn the caller
/// holds or is about to take: memberships cannot move meanwhile): the profile's records'
/// current versions and, for a new version, the version it replaces. A profile the run
/// created held nothing, and its first address is no change of address.
pub fn arrival_changes(
    store: &dyn Store,
    arrived: &[(&StoredRecord, &ProfileId)],
    events: &[ProfileEvent],
    today: NaiveDate,
) -> Result<Vec<NewChange>, StoreError> {
    let created: HashSet<&ProfileId> = events
        .iter()
        .filter_map(|event| match event {
            ProfileEvent::Created { profile } => Some(profile),
            _ => None,
        })
        .collect();
    let mut held: HashMap<&ProfileId, Vec<Attribute>> = HashMap::new();
    let mut changes = Vec::new();
    for &(record, profile) in arrived {
        let new_profile = created.contains(profile);
        if !new_profile && !held.contains_key(profile) {
            let attributes = store
                .profile_records(profile)?
                .into_iter()
                .flat_map(|record| record.attributes)
                .collect();
            held.insert(profile, attributes);
        }
        let mut before: Vec<&Attribute> = held
            .get(profile)
            .map(|attributes| attributes.iter().collect())
            .unwrap_or_default();
        let reference = &record.reference;
        let replaced = if reference.version > 1 {
            store
                .record_versions(&reference.source, reference.key.as_str())?
                .into_iter()
                .filter(|version| version.reference.version < reference.version)
                .max_by_key(|version| version.reference.version)
        } else {
            None
        };
        before.extend(replaced.iter().flat_map(|version| &version.attributes));
        for kind in tessera_model::arrival_changes(&before, &record.attributes, today) {
            if new_profile && kind == ChangeKind::AddressChanged {
                continue;
            }
            changes.push(NewChange::of_record(kind, profile.clone(), record.id));
        }
    }
    Ok(changes)
}

/// Whether a record's attributes could bring a change on arrival judged on `today` (see
/// [`tessera_model::arrival_changes`]): lets a caller keep only those records' attributes.
/// `with_addresses` counts an address (not worth keeping when every profile is new).
pub fn may_change_on_arrival(
    attributes: &[Attribute],
    with_addresses: bool,
    today: NaiveDate,
) -> bool {
    attributes.iter().any(|attribute| match attribute {
        Attribute::Address(_) => with_addresses,
        Attribute::Employment(employment) => employment.to.is_some(),
        Attribute::Permit(permit) => permit
            .valid_until
            .is_some_and(|end| expires_soon(end, today)),
        _ => false,
    })
}

/// Writes a `permit_expiring` change for every permit on a profile that runs out from `today`
/// to 30 days ahead and was not announced yet; returns how many it wrote. Reads every current
/// record, then takes the resolution turn only to write.
pub fn announce_expiring_permits(store: &dyn Store, today: NaiveDate) -> Result<u64, StoreError> {
    let mut changes = Vec::new();
    store.scan_current(&mut |record| {
        let Some(profile) = &record.profile else {
            return;
        };
        let expiring = record.attributes.iter().any(|attribute| {
            matches!(attribute, Attribute::Permit(permit)
                if permit.valid_until.is_some_and(|end| expires_soon(end, today)))
        });
        if expiring {
            changes.push(NewChange::of_record(
                ChangeKind::PermitExpiring,
                profile.clone(),
                record.id,
            ));
        }
    })?;
    if changes.is_empty() {
        return Ok(0);
    }
    let mut session = store.begin_resolution()?;
    let written = session.add_changes(&changes, Utc::now())?;
    session.commit()?;
    Ok(written)
}
