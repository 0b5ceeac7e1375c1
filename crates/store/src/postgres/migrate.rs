//! Bringing a PostgreSQL schema up to date, safely when several processes start at once.
//!
//! Each file of `migrations/postgres/` is applied once, in its own transaction, and recorded in
//! `tessera_migrations`. The transaction first locks row 0 of that table (which records no
//! migration), so one process applies a migration while the others wait and then find it
//! applied. CockroachDB has neither `pg_advisory_lock` nor `LOCK TABLE`; a row lock it has.

use std::time::Duration;

use chrono::Utc;
use deadpool_postgres::Object;

use crate::StoreError;
use crate::columns::timestamp;

/// The schema migrations, in order; each is applied once, in its own transaction.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_profiles.sql"),
    ),
    (3, include_str!("../../migrations/postgres/0003_review.sql")),
    (
        4,
        include_str!("../../migrations/postgres/0004_serving.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_resolution_feed.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_change_events.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_resolution_model.sql"),
    ),
];

/// Whether an error is what a concurrent `CREATE ... IF NOT EXISTS` of the same object gives:
/// PostgreSQL checks for the object, then creates it, and two creators can both pass the check.
fn created_concurrently(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    error.code().is_some_and(|c| {
        *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_SCHEMA
            || *c == SqlState::DUPLICATE_OBJECT
    })
}

async fn execute_creating(client: &Object, sql: &str) -> Result<(), StoreError> {
    for _ in 0..5 {
        match client.batch_execute(sql).await {
            Err(e) if created_concurrently(&e) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return Ok(other?),
        }
    }
    Ok(client.batch_execute(sql).await?)
}

/// Creates `schema` if it is given and missing, then applies the migrations it lacks.
pub(super) async fn migrate(mut client: Object, schema: Option<String>) -> Result<(), StoreError> {
    if let Some(schema) = &schema {
        execute_creating(&client, &format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await?;
    }
    execute_creating(
        &client,
        "CREATE TABLE IF NOT EXISTS tessera_migrations (
             version     BIGINT PRIMARY KEY,
             applied_at  TEXT   NOT NULL
         )",
    )
    .await?;
    client
        .execute(
            "INSERT INTO tessera_migrations (version, applied_at) VALUES (0, $1)
             ON CONFLICT (version) DO NOTHING",
            &[&timestamp(Utc::now())],
        )
        .await?;
    let known = MIGRATIONS.len() as i64;
    for &(version, sql) in MIGRATIONS {
        let transaction = client.transaction().await?;
        transaction
            .query_one(
                "SELECT version FROM tessera_migrations WHERE version = 0 FOR UPDATE",
                &[],
            )
            .await?;
        let newest: i64 = transaction
            .query_one("SELECT max(version) FROM tessera_migrations", &[])
            .await?
            .try_get(0)?;
        if newest > known {
            return Err(StoreError::PostgresSchemaAhead { newest, known });
        }
        let applied = transaction
            .query_opt(
                "SELECT 1 FROM tessera_migrations WHERE version = $1",
                &[&version],
            )
            .await?
            .is_some();
        if !applied {
            transaction
                .batch_execute(sql)
                .await
                .map_err(|source| StoreError::PostgresMigration { version, source })?;
            transaction
                .execute(
                    "INSERT INTO tessera_migrations (version, applied_at) VALUES ($1, $2)",
                    &[&version, &timestamp(Utc::now())],
                )
                .await?;
        }
        transaction.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order() {
        for (i, (version, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, i as i64 + 1);
        }
    }
}
