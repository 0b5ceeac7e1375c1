//! [`EventStore`] on PostgreSQL: the change-event outbox and its subscriptions.

use chrono::{DateTime, Utc};
use tessera_model::{ChangeKind, ProfileId};
use tokio_postgres::Row;

use super::PgStore;
use crate::columns::{parse_time, timestamp};
use crate::events::{
    ChangeEvent, EventStore, NewSubscription, Subscription, kinds_column, subscription_from_columns,
};
use crate::{RecordId, StoreError};

const SUBSCRIPTION_COLUMNS: &str = "subscription_id, name, client_id, purpose, kinds, target, \
     address, secret, cursor, created_at";

fn read_subscription(row: &Row) -> Result<Subscription, StoreError> {
    subscription_from_columns(
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
        row.try_get(6)?,
        row.try_get(7)?,
        row.try_get(8)?,
        row.try_get(9)?,
    )
}

fn read_event(row: &Row) -> Result<ChangeEvent, StoreError> {
    let seq: i64 = row.try_get(0)?;
    let kind: &str = row.try_get(2)?;
    Ok(ChangeEvent {
        seq: seq as u64,
        key: row.try_get(1)?,
        kind: ChangeKind::from_name(kind).ok_or_else(|| StoreError::Corrupt {
            id: seq,
            reason: format!("unknown change kind {kind:?}"),
        })?,
        profile: ProfileId::new(row.try_get::<_, String>(3)?),
        other: row.try_get::<_, Option<String>>(4)?.map(ProfileId::new),
        record: row.try_get::<_, Option<i64>>(5)?.map(RecordId),
        run: row.try_get::<_, Option<i64>>(6)?.map(|run| run as u64),
        occurred_at: parse_time(row.try_get(7)?)?,
    })
}

impl EventStore for PgStore {
    fn change_head(&self) -> Result<u64, StoreError> {
        let rows = self.query("SELECT coalesce(max(seq), 0) FROM change_event", vec![])?;
        let head: i64 = rows[0].try_get(0)?;
        Ok(head as u64)
    }

    fn changes_after(&self, seq: u64, limit: usize) -> Result<Vec<ChangeEvent>, StoreError> {
        self.query(
            "SELECT seq, event_key, kind, profile_id, other_profile_id, record_id, run, occurred_at
             FROM change_event WHERE seq > $1 ORDER BY seq LIMIT $2",
            vec![Box::new(seq as i64), Box::new(limit as i64)],
        )?
        .iter()
        .map(read_event)
        .collect()
    }

    fn add_subscription(&self, new: &NewSubscription) -> Result<Option<i64>, StoreError> {
        let (target, address) = new.target.columns();
        let rows = self.query(
            "INSERT INTO subscription
             (subscription_id, name, client_id, purpose, kinds, target, address, secret, cursor,
              created_at)
             SELECT coalesce(max(subscription_id), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8, $9
             FROM subscription
             ON CONFLICT (name) DO NOTHING
             RETURNING subscription_id",
            vec![
                Box::new(new.name.clone()),
                Box::new(new.client_id.clone()),
                Box::new(new.purpose.clone()),
                Box::new(kinds_column(&new.kinds)),
                Box::new(target.to_string()),
                Box::new(address.to_string()),
                Box::new(new.sealed_secret.clone()),
                Box::new(new.cursor as i64),
                Box::new(timestamp(new.created_at)),
            ],
        )?;
        rows.first()
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(StoreError::from)
    }

    fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        self.query(
            format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM subscription WHERE removed_at IS NULL
                 ORDER BY subscription_id"
            ),
            vec![],
        )?
        .iter()
        .map(read_subscription)
        .collect()
    }

    fn remove_subscription(&self, name: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        // The name is freed for a new subscription: the removed one keeps its row, renamed.
        let updated = self.execute(
            "UPDATE subscription SET removed_at = $2, name = name || '#' || subscription_id
             WHERE name = $1 AND removed_at IS NULL",
            vec![Box::new(name.to_string()), Box::new(timestamp(at))],
        )?;
        Ok(updated == 1)
    }

    fn lease_subscription(
        &self,
        id: i64,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<u64>, StoreError> {
        let rows = self.query(
            "UPDATE subscription SET lease_holder = $2, lease_until_ms = $4
             WHERE subscription_id = $1 AND removed_at IS NULL
               AND (lease_holder IS NULL OR lease_holder = $2 OR lease_until_ms < $3)
             RETURNING cursor",
            vec![
                Box::new(id),
                Box::new(holder.to_string()),
                Box::new(now_ms),
                Box::new(until_ms),
            ],
        )?;
        rows.first()
            .map(|row| row.try_get::<_, i64>(0).map(|c| c as u64))
            .transpose()
            .map_err(StoreError::from)
    }

    fn release_subscription(&self, id: i64, holder: &str) -> Result<(), StoreError> {
        self.execute(
            "UPDATE subscription SET lease_holder = NULL, lease_until_ms = 0
             WHERE subscription_id = $1 AND lease_holder = $2",
            vec![Box::new(id), Box::new(holder.to_string())],
        )?;
        Ok(())
    }

    fn advance_subscription(&self, id: i64, holder: &str, seq: u64) -> Result<bool, StoreError> {
        let updated = self.execute(
            "UPDATE subscription SET cursor = greatest(cursor, $3)
             WHERE subscription_id = $1 AND lease_holder = $2",
            vec![
                Box::new(id),
                Box::new(holder.to_string()),
                Box::new(seq as i64),
            ],
        )?;
        Ok(updated == 1)
    }
}
