//! [`AccessStore`] on SQLite: clients, the access log, consents, corrections, sealed values.
//!
//! The access log is appended in one transaction per batch: the last entry's hash is read
//! inside the transaction, so appends from several threads (one connection, behind the mutex)
//! always extend one chain.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use tessera_model::ProfileId;

use super::{SqliteStore, write_transaction};
use crate::access::{
    AccessRow, AccessStore, ChainFn, ClientRow, ConsentRow, CorrectionRow, NewAccess, SealedBlob,
    SealedRow, correction_status,
};
use crate::columns::{address, hash32, parse_time, timestamp};
use crate::{RecordAddress, RecordId, StoreError};

fn read_client(row: &Row<'_>) -> Result<ClientRow, StoreError> {
    let anchor_source: Option<String> = row.get(3)?;
    let anchor_key: Option<String> = row.get(4)?;
    let anchor = match (anchor_source, anchor_key) {
        (Some(source), Some(key)) => Some(address(source, key)?),
        _ => None,
    };
    let revoked: Option<String> = row.get(7)?;
    let sources: String = row.get(8)?;
    Ok(ClientRow {
        id: row.get(0)?,
        name: row.get(1)?,
        role: row.get(2)?,
        anchor,
        sources: sources
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        token_hash: hash32(row.get(5)?)?,
        created_at: parse_time(&row.get::<_, String>(6)?)?,
        revoked_at: revoked.as_deref().map(parse_time).transpose()?,
    })
}

const CLIENT_COLUMNS: &str =
    "client_id, name, role, anchor_source, anchor_key, token_hash, created_at, revoked_at, sources";

fn read_access(row: &Row<'_>) -> Result<AccessRow, StoreError> {
    Ok(AccessRow {
        seq: row.get::<_, i64>(0)? as u64,
        entry: row.get(1)?,
        prev_hash: hash32(row.get(2)?)?,
        hash: hash32(row.get(3)?)?,
    })
}

fn read_consent(row: &Row<'_>) -> Result<ConsentRow, StoreError> {
    let withdrawn: Option<String> = row.get(6)?;
    Ok(ConsentRow {
        id: row.get(0)?,
        anchor: address(row.get(1)?, row.get(2)?)?,
        purpose: row.get(3)?,
        granted_at: parse_time(&row.get::<_, String>(4)?)?,
        granted_by: row.get(5)?,
        withdrawn_at: withdrawn.as_deref().map(parse_time).transpose()?,
        withdrawn_by: row.get(7)?,
    })
}

fn read_sealed(row: &Row<'_>) -> Result<SealedRow, StoreError> {
    Ok(SealedRow {
        record: RecordId(row.get(0)?),
        address: address(row.get(1)?, row.get(2)?)?,
        blob: SealedBlob {
            key_id: row.get(3)?,
            // As bytes whatever the column holds: a value rewritten as text by someone editing
            // the file is then refused by its integrity check, like any other tampering.
            bytes: row
                .get_ref(4)?
                .as_bytes()
                .map_err(rusqlite::Error::from)?
                .to_vec(),
        },
    })
}

fn collect<T>(
    rows: &mut rusqlite::Rows<'_>,
    read: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(row)?);
    }
    Ok(out)
}

/// Consents whose anchor record's current version belongs to the profile `?1`.
const CONSENT_OF_PROFILE: &str = "FROM consent c
     JOIN record_head h ON h.source = c.anchor_source AND h.record_key = c.anchor_key
     JOIN profile_member pm ON pm.record_id = h.record_id
     WHERE pm.profile_id = ?1";

impl AccessStore for SqliteStore {
    fn add_client(&self, client: &ClientRow) -> Result<(), StoreError> {
        let (anchor_source, anchor_key) = match &client.anchor {
            Some((source, key)) => (Some(source.as_str()), Some(key.as_str())),
            None => (None, None),
        };
        self.lock().execute(
            &format!(
                "INSERT INTO client ({CLIENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                client.id,
                client.name,
                client.role,
                anchor_source,
                anchor_key,
                &client.token_hash[..],
                timestamp(client.created_at),
                client.revoked_at.map(timestamp),
                client.sources.join(","),
            ],
        )?;
        Ok(())
    }

    fn client_by_token_hash(&self, hash: &[u8; 32]) -> Result<Option<ClientRow>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {CLIENT_COLUMNS} FROM client WHERE token_hash = ?1"
        ))?;
        let mut rows = statement.query(params![&hash[..]])?;
        Ok(collect(&mut rows, read_client)?.pop())
    }

    fn clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {CLIENT_COLUMNS} FROM client ORDER BY created_at, client_id"
        ))?;
        let mut rows = statement.query([])?;
        collect(&mut rows, read_client)
    }

    fn revoke_client(&self, id: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let updated = self.lock().execute(
            "UPDATE client SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL",
            params![id, timestamp(at)],
        )?;
        Ok(updated > 0)
    }

    fn append_access(&self, entries: &[NewAccess], chain: ChainFn) -> Result<Vec<u64>, StoreError> {
        let mut connection = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let transaction = write_transaction(&mut connection)?;
        let mut sequence = Vec::with_capacity(entries.len());
        {
            let last: Option<(i64, Vec<u8>)> = transaction
                .query_row(
                    "SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (mut seq, mut prev) = match last {
                Some((seq, hash)) => (seq as u64, hash32(hash)?),
                None => (0, [0u8; 32]),
            };
            let mut insert = transaction.prepare_cached(
                "INSERT INTO access_log (seq, entry, profile_id, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for entry in entries {
                seq += 1;
                let hash = chain(&prev, seq, &entry.entry);
                insert.execute(params![
                    seq as i64,
                    entry.entry,
                    entry.profile.as_ref().map(|p| p.as_str()),
                    &prev[..],
                    &hash[..],
                ])?;
                prev = hash;
                sequence.push(seq);
            }
        }
        transaction.commit()?;
        drop(connection);
        // The WAL is checkpointed off the writer's path (see sqlite.rs); without a nudge a
        // server that only appends to the log would grow it without end.
        if let Some(checkpointer) = &self.log_checkpointer {
            checkpointer.nudge();
        }
        Ok(sequence)
    }

    fn access_rows(&self, after: u64, limit: usize) -> Result<Vec<AccessRow>, StoreError> {
        let connection = self.log_reader.lock().unwrap_or_else(|p| p.into_inner());
        let mut statement = connection.prepare_cached(
            "SELECT seq, entry, prev_hash, hash FROM access_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let mut rows = statement.query(params![after as i64, limit as i64])?;
        collect(&mut rows, read_access)
    }

    fn access_head(&self) -> Result<Option<AccessRow>, StoreError> {
        let connection = self.log_reader.lock().unwrap_or_else(|p| p.into_inner());
        let mut statement = connection.prepare_cached(
            "SELECT seq, entry, prev_hash, hash FROM access_log ORDER BY seq DESC LIMIT 1",
        )?;
        let mut rows = statement.query([])?;
        Ok(collect(&mut rows, read_access)?.pop())
    }

    fn access_rows_for(
        &self,
        profiles: &[ProfileId],
        limit: usize,
    ) -> Result<Vec<AccessRow>, StoreError> {
        if profiles.is_empty() {
            return Ok(Vec::new());
        }
        let connection = self.log_reader.lock().unwrap_or_else(|p| p.into_inner());
        let placeholders = vec!["?"; profiles.len()].join(", ");
        let mut statement = connection.prepare(&format!(
            "SELECT seq, entry, prev_hash, hash FROM access_log WHERE profile_id IN ({placeholders})
             ORDER BY seq DESC LIMIT {limit}"
        ))?;
        let mut rows = statement.query(rusqlite::params_from_iter(
            profiles.iter().map(|p| p.as_str()),
        ))?;
        collect(&mut rows, read_access)
    }

    fn profile_of_record(&self, address: &RecordAddress) -> Result<Option<ProfileId>, StoreError> {
        let (source, key) = address;
        Ok(self
            .lock()
            .query_row(
                "SELECT pm.profile_id FROM record_head h JOIN profile_member pm ON pm.record_id = h.record_id
                 WHERE h.source = ?1 AND h.record_key = ?2",
                params![source.as_str(), key.as_str()],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(ProfileId::new))
    }

    fn profile_aliases(&self, profile: &ProfileId) -> Result<Vec<ProfileId>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(
            "WITH RECURSIVE alias(id) AS (
                 SELECT ?1
                 UNION SELECT p.profile_id FROM profile p JOIN alias a ON p.merged_into = a.id
             )
             SELECT id FROM alias ORDER BY id",
        )?;
        let ids = statement
            .query_map(params![profile.as_str()], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids.into_iter().map(ProfileId::new).collect())
    }

    fn grant_consent(
        &self,
        anchor: &RecordAddress,
        purpose: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let mut connection = self.lock();
        let transaction = write_transaction(&mut connection)?;
        let (source, key) = anchor;
        let existing: Option<i64> = transaction
            .query_row(
                "SELECT id FROM consent WHERE anchor_source = ?1 AND anchor_key = ?2 AND purpose = ?3
                 AND withdrawn_at IS NULL",
                params![source.as_str(), key.as_str(), purpose],
                |r| r.get(0),
            )
            .optional()?;
        let id = match existing {
            Some(id) => id,
            None => {
                transaction.execute(
                    "INSERT INTO consent (anchor_source, anchor_key, purpose, granted_at, granted_by)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![source.as_str(), key.as_str(), purpose, timestamp(at), by],
                )?;
                transaction.last_insert_rowid()
            }
        };
        transaction.commit()?;
        Ok(id)
    }

    fn withdraw_consent(
        &self,
        profile: &ProfileId,
        purpose: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let updated = self.lock().execute(
            &format!(
                "UPDATE consent SET withdrawn_at = ?3, withdrawn_by = ?4 WHERE withdrawn_at IS NULL
                 AND purpose = ?2 AND id IN (SELECT c.id {CONSENT_OF_PROFILE})"
            ),
            params![profile.as_str(), purpose, timestamp(at), by],
        )?;
        Ok(updated as u64)
    }

    fn has_consent(&self, profile: &ProfileId, purpose: &str) -> Result<bool, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 {CONSENT_OF_PROFILE} AND c.purpose = ?2 AND c.withdrawn_at IS NULL)"
        ))?;
        Ok(statement.query_row(params![profile.as_str(), purpose], |r| r.get(0))?)
    }

    fn consents(&self, profile: &ProfileId) -> Result<Vec<ConsentRow>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT c.id, c.anchor_source, c.anchor_key, c.purpose, c.granted_at, c.granted_by,
                    c.withdrawn_at, c.withdrawn_by {CONSENT_OF_PROFILE} ORDER BY c.id"
        ))?;
        let mut rows = statement.query(params![profile.as_str()])?;
        collect(&mut rows, read_consent)
    }

    fn add_correction(
        &self,
        anchor: &RecordAddress,
        profile: &ProfileId,
        client: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let connection = self.lock();
        let (source, key) = anchor;
        connection.execute(
            "INSERT INTO correction_request (anchor_source, anchor_key, profile_id, client_id, text, created_at, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open')",
            params![source.as_str(), key.as_str(), profile.as_str(), client, text, timestamp(at)],
        )?;
        Ok(connection.last_insert_rowid())
    }

    fn corrections(&self, open_only: bool) -> Result<Vec<CorrectionRow>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(
            "SELECT id, anchor_source, anchor_key, profile_id, client_id, text, created_at, status
             FROM correction_request WHERE (?1 = 0 OR status = 'open') ORDER BY id",
        )?;
        let mut rows = statement.query(params![open_only as i64])?;
        collect(&mut rows, |row| {
            Ok(CorrectionRow {
                id: row.get(0)?,
                anchor: address(row.get(1)?, row.get(2)?)?,
                profile: ProfileId::new(row.get::<_, String>(3)?),
                client: row.get(4)?,
                text: row.get(5)?,
                created_at: parse_time(&row.get::<_, String>(6)?)?,
                status: correction_status(&row.get::<_, String>(7)?)?,
            })
        })
    }

    fn sealed_values(&self, records: &[RecordId]) -> Result<Vec<SealedRow>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(
            "SELECT s.record_id, r.source, r.record_key, s.key_id, s.sealed
             FROM sealed_value s JOIN source_record r ON r.id = s.record_id WHERE s.record_id = ?1",
        )?;
        let mut out = Vec::new();
        for record in records {
            let mut rows = statement.query(params![record.0])?;
            out.extend(collect(&mut rows, read_sealed)?);
        }
        Ok(out)
    }

    fn sealed_not_under(&self, key_id: &str, limit: usize) -> Result<Vec<SealedRow>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(
            "SELECT s.record_id, r.source, r.record_key, s.key_id, s.sealed
             FROM sealed_value s JOIN source_record r ON r.id = s.record_id
             WHERE s.key_id <> ?1 ORDER BY s.record_id LIMIT ?2",
        )?;
        let mut rows = statement.query(params![key_id, limit as i64])?;
        collect(&mut rows, read_sealed)
    }

    fn replace_sealed(&self, rows: &[SealedRow]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = write_transaction(&mut connection)?;
        {
            let mut update = transaction.prepare_cached(
                "UPDATE sealed_value SET key_id = ?2, sealed = ?3 WHERE record_id = ?1",
            )?;
            for row in rows {
                update.execute(params![row.record.0, row.blob.key_id, row.blob.bytes])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    fn sealed_key_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let connection = self.read();
        let mut statement = connection.prepare_cached(
            "SELECT key_id, count(*) FROM sealed_value GROUP BY key_id ORDER BY key_id",
        )?;
        let counts = statement
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(counts)
    }
}
