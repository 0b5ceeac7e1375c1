//! [`EventStore`] on SQLite: the change-event outbox and its subscriptions.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use tessera_model::{ChangeKind, ProfileId};

use super::SqliteStore;
use crate::columns::{parse_time, timestamp};
use crate::events::{
    ChangeEvent, EventStore, NewSubscription, Subscription, kinds_column, subscription_from_columns,
};
use crate::{RecordId, StoreError};

const SUBSCRIPTION_COLUMNS: &str = "subscription_id, name, client_id, purpose, kinds, target, \
     address, secret, cursor, created_at";

fn read_subscription(row: &Row<'_>) -> Result<Subscription, StoreError> {
    subscription_from_columns(
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        &row.get::<_, String>(4)?,
        &row.get::<_, String>(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        &row.get::<_, String>(9)?,
    )
}

fn read_event(row: &Row<'_>) -> Result<ChangeEvent, StoreError> {
    let seq: i64 = row.get(0)?;
    let kind: String = row.get(2)?;
    Ok(ChangeEvent {
        seq: seq as u64,
        key: row.get(1)?,
        kind: ChangeKind::from_name(&kind).ok_or_else(|| StoreError::Corrupt {
            id: seq,
            reason: format!("unknown change kind {kind:?}"),
        })?,
        profile: ProfileId::new(row.get::<_, String>(3)?),
        other: row.get::<_, Option<String>>(4)?.map(ProfileId::new),
        record: row.get::<_, Option<i64>>(5)?.map(RecordId),
        run: row.get::<_, Option<i64>>(6)?.map(|run| run as u64),
        occurred_at: parse_time(&row.get::<_, String>(7)?)?,
    })
}

impl EventStore for SqliteStore {
    fn change_head(&self) -> Result<u64, StoreError> {
        let head: i64 =
            self.read()
                .query_row("SELECT coalesce(max(seq), 0) FROM change_event", [], |r| {
                    r.get(0)
                })?;
        Ok(head as u64)
    }

    fn changes_after(&self, seq: u64, limit: usize) -> Result<Vec<ChangeEvent>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(
            "SELECT seq, event_key, kind, profile_id, other_profile_id, record_id, run, occurred_at
             FROM change_event WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let mut rows = statement.query(params![seq as i64, limit as i64])?;
        let mut events = Vec::new();
        while let Some(row) = rows.next()? {
            events.push(read_event(row)?);
        }
        Ok(events)
    }

    fn add_subscription(&self, new: &NewSubscription) -> Result<Option<i64>, StoreError> {
        let (target, address) = new.target.columns();
        let inserted = self.lock().execute(
            "INSERT OR IGNORE INTO subscription
             (name, client_id, purpose, kinds, target, address, secret, cursor, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                new.name,
                new.client_id,
                new.purpose,
                kinds_column(&new.kinds),
                target,
                address,
                new.sealed_secret,
                new.cursor as i64,
                timestamp(new.created_at)
            ],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        let id: i64 = self.read().query_row(
            "SELECT subscription_id FROM subscription WHERE name = ?1",
            params![new.name],
            |r| r.get(0),
        )?;
        Ok(Some(id))
    }

    fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscription WHERE removed_at IS NULL
             ORDER BY subscription_id"
        ))?;
        let mut rows = statement.query([])?;
        let mut subscriptions = Vec::new();
        while let Some(row) = rows.next()? {
            subscriptions.push(read_subscription(row)?);
        }
        Ok(subscriptions)
    }

    fn remove_subscription(&self, name: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        // The name is freed for a new subscription: the removed one keeps its row, renamed.
        let updated = self.lock().execute(
            "UPDATE subscription SET removed_at = ?2, name = name || '#' || subscription_id
             WHERE name = ?1 AND removed_at IS NULL",
            params![name, timestamp(at)],
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
        let cursor: Option<i64> = self
            .lock()
            .query_row(
                "UPDATE subscription SET lease_holder = ?2, lease_until_ms = ?4
                 WHERE subscription_id = ?1 AND removed_at IS NULL
                   AND (lease_holder IS NULL OR lease_holder = ?2 OR lease_until_ms < ?3)
                 RETURNING cursor",
                params![id, holder, now_ms, until_ms],
                |r| r.get(0),
            )
            .optional()?;
        Ok(cursor.map(|c| c as u64))
    }

    fn release_subscription(&self, id: i64, holder: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE subscription SET lease_holder = NULL, lease_until_ms = 0
             WHERE subscription_id = ?1 AND lease_holder = ?2",
            params![id, holder],
        )?;
        Ok(())
    }

    fn advance_subscription(&self, id: i64, holder: &str, seq: u64) -> Result<bool, StoreError> {
        let updated = self.lock().execute(
            "UPDATE subscription SET cursor = max(cursor, ?3)
             WHERE subscription_id = ?1 AND lease_holder = ?2",
            params![id, holder, seq as i64],
        )?;
        Ok(updated == 1)
    }
}
