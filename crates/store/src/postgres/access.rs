//! [`AccessStore`] on PostgreSQL: clients, the access log, consents, corrections, sealed values.
//!
//! The access log is one hash chain per database however many server processes append to it:
//! an append locks the one row of `access_chain_head` (the last seq and hash) for the length of
//! its transaction, chains its entries onto it, and moves it forward, so appenders take turns,
//! seq numbers have no gaps, and every entry's `prev_hash` is the committed entry before it.

use chrono::{DateTime, Utc};
use deadpool_postgres::{Object, Pool};
use tessera_model::ProfileId;
use tokio_postgres::Row;

use super::{PgStore, WRITE_ATTEMPTS, retryable};
use crate::access::{
    AccessRow, AccessStore, ChainFn, ClientRow, ConsentRow, CorrectionRow, NewAccess, SealedBlob,
    SealedRow, correction_status,
};
use crate::columns::{address, hash32, parse_time, timestamp};
use crate::{RecordAddress, RecordId, StoreError};

const CLIENT_COLUMNS: &str =
    "client_id, name, role, anchor_source, anchor_key, token_hash, created_at, revoked_at, sources";

fn read_client(row: &Row) -> Result<ClientRow, StoreError> {
    let anchor_source: Option<String> = row.try_get(3)?;
    let anchor_key: Option<String> = row.try_get(4)?;
    let anchor = match (anchor_source, anchor_key) {
        (Some(source), Some(key)) => Some(address(source, key)?),
        _ => None,
    };
    let revoked: Option<String> = row.try_get(7)?;
    let sources: String = row.try_get(8)?;
    Ok(ClientRow {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        role: row.try_get(2)?,
        anchor,
        sources: sources
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        token_hash: hash32(row.try_get(5)?)?,
        created_at: parse_time(&row.try_get::<_, String>(6)?)?,
        revoked_at: revoked.as_deref().map(parse_time).transpose()?,
    })
}

fn read_access(row: &Row) -> Result<AccessRow, StoreError> {
    Ok(AccessRow {
        seq: row.try_get::<_, i64>(0)? as u64,
        entry: row.try_get(1)?,
        prev_hash: hash32(row.try_get(2)?)?,
        hash: hash32(row.try_get(3)?)?,
    })
}

fn read_consent(row: &Row) -> Result<ConsentRow, StoreError> {
    let withdrawn: Option<String> = row.try_get(6)?;
    Ok(ConsentRow {
        id: row.try_get(0)?,
        anchor: address(row.try_get(1)?, row.try_get(2)?)?,
        purpose: row.try_get(3)?,
        granted_at: parse_time(&row.try_get::<_, String>(4)?)?,
        granted_by: row.try_get(5)?,
        withdrawn_at: withdrawn.as_deref().map(parse_time).transpose()?,
        withdrawn_by: row.try_get(7)?,
    })
}

fn read_sealed(row: &Row) -> Result<SealedRow, StoreError> {
    Ok(SealedRow {
        record: RecordId(row.try_get(0)?),
        address: address(row.try_get(1)?, row.try_get(2)?)?,
        blob: SealedBlob {
            key_id: row.try_get(3)?,
            bytes: row.try_get(4)?,
        },
    })
}

/// Consents whose anchor record's current version belongs to the profile `$1`.
const CONSENT_OF_PROFILE: &str = "FROM consent c
     JOIN record_head h ON h.source = c.anchor_source AND h.record_key = c.anchor_key
     JOIN profile_member pm ON pm.record_id = h.record_id
     WHERE pm.profile_id = $1";

/// Entries ready to append: their JSON and profiles, column by column.
struct Appending {
    entries: Vec<String>,
    profiles: Vec<Option<String>>,
}

async fn append_access(
    pool: Pool,
    appending: Appending,
    chain: ChainFn,
) -> Result<Vec<u64>, StoreError> {
    let mut client = pool.get().await?;
    let mut attempt = 1;
    loop {
        match append_attempt(&mut client, &appending, chain).await {
            Err(error) if attempt < WRITE_ATTEMPTS && retryable(&error) => attempt += 1,
            result => return result,
        }
    }
}

async fn append_attempt(
    client: &mut Object,
    appending: &Appending,
    chain: ChainFn,
) -> Result<Vec<u64>, StoreError> {
    let transaction = client.transaction().await?;
    let lock = transaction
        .prepare_cached("SELECT seq, hash FROM access_chain_head WHERE id = 1 FOR UPDATE")
        .await?;
    let head = transaction.query_one(&lock, &[]).await?;
    let mut seq = head.try_get::<_, i64>(0)? as u64;
    let mut prev = hash32(head.try_get(1)?)?;
    let count = appending.entries.len();
    let mut seqs = Vec::with_capacity(count);
    let mut prev_hashes = Vec::with_capacity(count);
    let mut hashes = Vec::with_capacity(count);
    for entry in &appending.entries {
        seq += 1;
        let hash = chain(&prev, seq, entry);
        seqs.push(seq as i64);
        prev_hashes.push(prev.to_vec());
        hashes.push(hash.to_vec());
        prev = hash;
    }
    let insert = transaction
        .prepare_cached(
            "INSERT INTO access_log (seq, entry, profile_id, prev_hash, hash)
             SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::bytea[], $5::bytea[])",
        )
        .await?;
    transaction
        .execute(
            &insert,
            &[
                &seqs,
                &appending.entries,
                &appending.profiles,
                &prev_hashes,
                &hashes,
            ],
        )
        .await?;
    let advance = transaction
        .prepare_cached("UPDATE access_chain_head SET seq = $1, hash = $2 WHERE id = 1")
        .await?;
    transaction
        .execute(&advance, &[&(seq as i64), &prev.to_vec()])
        .await?;
    transaction.commit().await?;
    Ok(seqs.into_iter().map(|s| s as u64).collect())
}

/// Records a consent unless an active one for the anchor and purpose exists; returns its id.
/// The partial unique index `consent_active` makes two concurrent grants end with one row.
async fn grant_consent(
    client: Object,
    source: String,
    key: String,
    purpose: String,
    by: String,
    at: String,
) -> Result<i64, StoreError> {
    let insert = client
        .prepare_cached(
            "INSERT INTO consent (anchor_source, anchor_key, purpose, granted_at, granted_by)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (anchor_source, anchor_key, purpose) WHERE withdrawn_at IS NULL
             DO NOTHING RETURNING id",
        )
        .await?;
    let existing = client
        .prepare_cached(
            "SELECT id FROM consent WHERE anchor_source = $1 AND anchor_key = $2 AND purpose = $3
             AND withdrawn_at IS NULL",
        )
        .await?;
    // The active consent that blocked the insert may be withdrawn before it is read; then try
    // again (a withdrawal cannot race with us more than a few times in a row in practice).
    for _ in 0..WRITE_ATTEMPTS {
        if let Some(row) = client
            .query_opt(&insert, &[&source, &key, &purpose, &at, &by])
            .await?
        {
            return Ok(row.try_get(0)?);
        }
        if let Some(row) = client
            .query_opt(&existing, &[&source, &key, &purpose])
            .await?
        {
            return Ok(row.try_get(0)?);
        }
    }
    Err(StoreError::Corrupt {
        id: 0,
        reason: "a consent kept appearing and disappearing while it was granted".into(),
    })
}

impl PgStore {
    fn collect<T>(
        &self,
        sql: impl Into<std::borrow::Cow<'static, str>>,
        params: Vec<super::Param>,
        read: fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.query(sql, params)?.iter().map(read).collect()
    }
}

impl AccessStore for PgStore {
    fn add_client(&self, client: &ClientRow) -> Result<(), StoreError> {
        let (anchor_source, anchor_key) = match &client.anchor {
            Some((source, key)) => (
                Some(source.as_str().to_string()),
                Some(key.as_str().to_string()),
            ),
            None => (None, None),
        };
        self.execute(
            format!(
                "INSERT INTO client ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ),
            vec![
                Box::new(client.id.clone()),
                Box::new(client.name.clone()),
                Box::new(client.role.clone()),
                Box::new(anchor_source),
                Box::new(anchor_key),
                Box::new(client.token_hash.to_vec()),
                Box::new(timestamp(client.created_at)),
                Box::new(client.revoked_at.map(timestamp)),
                Box::new(client.sources.join(",")),
            ],
        )?;
        Ok(())
    }

    fn client_by_token_hash(&self, hash: &[u8; 32]) -> Result<Option<ClientRow>, StoreError> {
        Ok(self
            .collect(
                format!("SELECT {CLIENT_COLUMNS} FROM client WHERE token_hash = $1"),
                vec![Box::new(hash.to_vec())],
                read_client,
            )?
            .pop())
    }

    fn clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        self.collect(
            format!("SELECT {CLIENT_COLUMNS} FROM client ORDER BY created_at, client_id"),
            vec![],
            read_client,
        )
    }

    fn revoke_client(&self, id: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let updated = self.execute(
            "UPDATE client SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL",
            vec![Box::new(id.to_string()), Box::new(timestamp(at))],
        )?;
        Ok(updated > 0)
    }

    fn append_access(&self, entries: &[NewAccess], chain: ChainFn) -> Result<Vec<u64>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let appending = Appending {
            entries: entries.iter().map(|e| e.entry.clone()).collect(),
            profiles: entries
                .iter()
                .map(|e| e.profile.as_ref().map(|p| p.as_str().to_string()))
                .collect(),
        };
        self.run(append_access(self.pool.clone(), appending, chain))
    }

    fn access_rows(&self, after: u64, limit: usize) -> Result<Vec<AccessRow>, StoreError> {
        self.collect(
            "SELECT seq, entry, prev_hash, hash FROM access_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            vec![Box::new(after as i64), Box::new(limit as i64)],
            read_access,
        )
    }

    fn access_head(&self) -> Result<Option<AccessRow>, StoreError> {
        Ok(self
            .collect(
                "SELECT seq, entry, prev_hash, hash FROM access_log ORDER BY seq DESC LIMIT 1",
                vec![],
                read_access,
            )?
            .pop())
    }

    fn access_rows_for(
        &self,
        profiles: &[ProfileId],
        limit: usize,
    ) -> Result<Vec<AccessRow>, StoreError> {
        if profiles.is_empty() {
            return Ok(Vec::new());
        }
        let profiles: Vec<String> = profiles.iter().map(|p| p.as_str().to_string()).collect();
        self.collect(
            "SELECT seq, entry, prev_hash, hash FROM access_log WHERE profile_id = ANY($1::text[])
             ORDER BY seq DESC LIMIT $2",
            vec![Box::new(profiles), Box::new(limit as i64)],
            read_access,
        )
    }

    fn profile_of_record(&self, address: &RecordAddress) -> Result<Option<ProfileId>, StoreError> {
        let (source, key) = address;
        let rows = self.query(
            "SELECT pm.profile_id FROM record_head h JOIN profile_member pm ON pm.record_id = h.record_id
             WHERE h.source = $1 AND h.record_key = $2",
            vec![
                Box::new(source.as_str().to_string()),
                Box::new(key.as_str().to_string()),
            ],
        )?;
        rows.first()
            .map(|row| Ok(ProfileId::new(row.try_get(0)?)))
            .transpose()
    }

    fn profile_aliases(&self, profile: &ProfileId) -> Result<Vec<ProfileId>, StoreError> {
        self.collect(
            "WITH RECURSIVE alias(id) AS (
                 SELECT $1::text COLLATE \"C\"
                 UNION SELECT p.profile_id FROM profile p JOIN alias a ON p.merged_into = a.id
             )
             SELECT id FROM alias ORDER BY id",
            vec![Box::new(profile.as_str().to_string())],
            |row| Ok(ProfileId::new(row.try_get(0)?)),
        )
    }

    fn grant_consent(
        &self,
        anchor: &RecordAddress,
        purpose: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let (source, key) = (anchor.0.as_str().to_string(), anchor.1.as_str().to_string());
        let (purpose, by, at) = (purpose.to_string(), by.to_string(), timestamp(at));
        self.with_client(move |client| grant_consent(client, source, key, purpose, by, at))
    }

    fn withdraw_consent(
        &self,
        profile: &ProfileId,
        purpose: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.execute(
            format!(
                "UPDATE consent SET withdrawn_at = $3, withdrawn_by = $4 WHERE withdrawn_at IS NULL
                 AND purpose = $2 AND id IN (SELECT c.id {CONSENT_OF_PROFILE})"
            ),
            vec![
                Box::new(profile.as_str().to_string()),
                Box::new(purpose.to_string()),
                Box::new(timestamp(at)),
                Box::new(by.to_string()),
            ],
        )
    }

    fn has_consent(&self, profile: &ProfileId, purpose: &str) -> Result<bool, StoreError> {
        let rows = self.query(
            format!(
                "SELECT EXISTS (SELECT 1 {CONSENT_OF_PROFILE} AND c.purpose = $2 AND c.withdrawn_at IS NULL)"
            ),
            vec![
                Box::new(profile.as_str().to_string()),
                Box::new(purpose.to_string()),
            ],
        )?;
        Ok(super::first(&rows)?.try_get(0)?)
    }

    fn consents(&self, profile: &ProfileId) -> Result<Vec<ConsentRow>, StoreError> {
        self.collect(
            format!(
                "SELECT c.id, c.anchor_source, c.anchor_key, c.purpose, c.granted_at, c.granted_by,
                        c.withdrawn_at, c.withdrawn_by {CONSENT_OF_PROFILE} ORDER BY c.id"
            ),
            vec![Box::new(profile.as_str().to_string())],
            read_consent,
        )
    }

    fn add_correction(
        &self,
        anchor: &RecordAddress,
        profile: &ProfileId,
        client: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let (source, key) = anchor;
        let rows = self.query(
            "INSERT INTO correction_request (anchor_source, anchor_key, profile_id, client_id, text,
                                             created_at, status)
             VALUES ($1, $2, $3, $4, $5, $6, 'open') RETURNING id",
            vec![
                Box::new(source.as_str().to_string()),
                Box::new(key.as_str().to_string()),
                Box::new(profile.as_str().to_string()),
                Box::new(client.to_string()),
                Box::new(text.to_string()),
                Box::new(timestamp(at)),
            ],
        )?;
        Ok(super::first(&rows)?.try_get(0)?)
    }

    fn corrections(&self, open_only: bool) -> Result<Vec<CorrectionRow>, StoreError> {
        self.collect(
            "SELECT id, anchor_source, anchor_key, profile_id, client_id, text, created_at, status
             FROM correction_request WHERE (NOT $1 OR status = 'open') ORDER BY id",
            vec![Box::new(open_only)],
            |row| {
                Ok(CorrectionRow {
                    id: row.try_get(0)?,
                    anchor: address(row.try_get(1)?, row.try_get(2)?)?,
                    profile: ProfileId::new(row.try_get(3)?),
                    client: row.try_get(4)?,
                    text: row.try_get(5)?,
                    created_at: parse_time(&row.try_get::<_, String>(6)?)?,
                    status: correction_status(&row.try_get::<_, String>(7)?)?,
                })
            },
        )
    }

    fn sealed_values(&self, records: &[RecordId]) -> Result<Vec<SealedRow>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        // In the order asked, once per id asked, as the SQLite store answers.
        let ids: Vec<i64> = records.iter().map(|r| r.0).collect();
        self.collect(
            "SELECT s.record_id, r.source, r.record_key, s.key_id, s.sealed
             FROM unnest($1::int8[]) WITH ORDINALITY AS asked(record_id, ord)
             JOIN sealed_value s ON s.record_id = asked.record_id
             JOIN source_record r ON r.id = s.record_id
             ORDER BY asked.ord",
            vec![Box::new(ids)],
            read_sealed,
        )
    }

    fn sealed_not_under(&self, key_id: &str, limit: usize) -> Result<Vec<SealedRow>, StoreError> {
        self.collect(
            "SELECT s.record_id, r.source, r.record_key, s.key_id, s.sealed
             FROM sealed_value s JOIN source_record r ON r.id = s.record_id
             WHERE s.key_id <> $1 ORDER BY s.record_id LIMIT $2",
            vec![Box::new(key_id.to_string()), Box::new(limit as i64)],
            read_sealed,
        )
    }

    fn replace_sealed(&self, rows: &[SealedRow]) -> Result<(), StoreError> {
        // The last row for a record wins, as when SQLite updates them one after another.
        let mut latest = std::collections::HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            latest.insert(row.record.0, i);
        }
        let kept: Vec<&SealedRow> = rows
            .iter()
            .enumerate()
            .filter(|(i, row)| latest.get(&row.record.0) == Some(i))
            .map(|(_, row)| row)
            .collect();
        if kept.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = kept.iter().map(|r| r.record.0).collect();
        let keys: Vec<String> = kept.iter().map(|r| r.blob.key_id.clone()).collect();
        let blobs: Vec<Vec<u8>> = kept.iter().map(|r| r.blob.bytes.clone()).collect();
        self.execute(
            "UPDATE sealed_value s SET key_id = u.key_id, sealed = u.sealed
             FROM unnest($1::int8[], $2::text[], $3::bytea[]) AS u(record_id, key_id, sealed)
             WHERE s.record_id = u.record_id",
            vec![Box::new(ids), Box::new(keys), Box::new(blobs)],
        )?;
        Ok(())
    }

    fn sealed_key_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.collect(
            "SELECT key_id, count(*) FROM sealed_value GROUP BY key_id ORDER BY key_id",
            vec![],
            |row| Ok((row.try_get(0)?, row.try_get::<_, i64>(1)? as u64)),
        )
    }
}
