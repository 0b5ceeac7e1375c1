//! The one resolution in progress on a PostgreSQL database ([`crate::ResolutionSession`]).
//!
//! A task on the store's runtime takes a pooled connection, opens a transaction, takes the
//! `resolution_turn` row (so other processes' resolutions wait), and then carries out the
//! caller's requests one at a time: what changed since a run, store a run, commit. The caller
//! talks to it over channels, since the trait is synchronous and a transaction cannot be carried
//! from one spawned future to the next. Dropping the session closes the channel: the task ends,
//! the transaction rolls back and the turn is free.

use std::sync::mpsc::{SyncSender, sync_channel};

use deadpool_postgres::GenericClient;
use deadpool_postgres::Pool;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use chrono::{DateTime, Utc};

use super::staging::Table;
use super::write::{self, Resolution};
use super::{RECORD_COLUMNS, event_from_row, raw_record};
use crate::columns::{decode_record, timestamp};
use crate::{NewChange, ResolutionChanges, ResolutionOutcome, ResolutionSession, StoreError};

type Reply<T> = SyncSender<Result<T, StoreError>>;

enum Request {
    ChangesSince(u64, Reply<ResolutionChanges>),
    Apply(Box<Resolution>, Reply<u64>),
    AddChanges(Box<Table>, String, Reply<u64>),
    Commit(Reply<()>),
}

pub(crate) struct PgSession {
    requests: UnboundedSender<Request>,
}

/// Starts the session's task and waits until it holds the turn.
pub(crate) fn begin(
    runtime: &tokio::runtime::Runtime,
    pool: Pool,
) -> Result<PgSession, StoreError> {
    let (requests, mut incoming) = unbounded_channel::<Request>();
    let (ready, is_ready) = sync_channel::<Result<(), StoreError>>(1);
    runtime.spawn(async move {
        let mut client = match pool.get().await {
            Ok(client) => client,
            Err(error) => {
                let _ = ready.send(Err(error.into()));
                return;
            }
        };
        let transaction = match client.transaction().await {
            Ok(transaction) => transaction,
            Err(error) => {
                let _ = ready.send(Err(error.into()));
                return;
            }
        };
        if let Err(error) = write::take_turn(&transaction).await {
            let _ = ready.send(Err(error));
            return;
        }
        let _ = ready.send(Ok(()));
        while let Some(request) = incoming.recv().await {
            match request {
                Request::ChangesSince(run, reply) => {
                    let _ = reply.send(changes_since(&transaction, run).await);
                }
                Request::Apply(resolution, reply) => {
                    let _ = reply.send(write::apply_in(&transaction, &resolution).await);
                }
                Request::AddChanges(changes, at, reply) => {
                    let written = write::insert_changes(&transaction, &changes, None, &at).await;
                    let _ = reply.send(written);
                }
                Request::Commit(reply) => {
                    let _ = reply.send(transaction.commit().await.map_err(StoreError::from));
                    return;
                }
            }
        }
        // The caller dropped the session: the transaction rolls back as it is dropped here.
    });
    is_ready
        .recv()
        .map_err(|_| StoreError::PostgresWorkerGone)??;
    Ok(PgSession { requests })
}

impl PgSession {
    fn ask<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T, StoreError> {
        let (reply, answer) = sync_channel(1);
        self.requests
            .send(request(reply))
            .map_err(|_| StoreError::PostgresWorkerGone)?;
        answer.recv().map_err(|_| StoreError::PostgresWorkerGone)?
    }
}

impl ResolutionSession for PgSession {
    fn changes_since(&mut self, run: u64) -> Result<ResolutionChanges, StoreError> {
        self.ask(|reply| Request::ChangesSince(run, reply))
    }

    fn apply(&mut self, outcome: &ResolutionOutcome) -> Result<u64, StoreError> {
        let resolution = Box::new(Resolution::new(outcome));
        self.ask(|reply| Request::Apply(resolution, reply))
    }

    fn add_changes(&mut self, changes: &[NewChange], at: DateTime<Utc>) -> Result<u64, StoreError> {
        let table = Box::new(write::change_table(changes));
        self.ask(|reply| Request::AddChanges(table, timestamp(at), reply))
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.ask(Request::Commit)
    }
}

/// The newest resolution run (0 before the first).
pub(crate) async fn head(client: &impl GenericClient) -> Result<u64, StoreError> {
    let head: i64 = client
        .query_one("SELECT coalesce(max(id), 0) FROM resolution_run", &[])
        .await?
        .try_get(0)?;
    Ok(head as u64)
}

/// What runs after `run` stored (see [`ResolutionChanges`]).
pub(crate) async fn changes_since(
    client: &impl GenericClient,
    run: u64,
) -> Result<ResolutionChanges, StoreError> {
    let since = run as i64;
    let rebuild: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM resolution_run WHERE id > $1 AND kind = 'batch')",
            &[&since],
        )
        .await?
        .try_get(0)?;
    let mut changes = ResolutionChanges {
        head: head(client).await?,
        rebuild,
        ..ResolutionChanges::default()
    };
    if rebuild {
        return Ok(changes);
    }
    let rows = client
        .query(
            &format!(
                "SELECT {RECORD_COLUMNS}, pm.run FROM profile_member pm
                 JOIN source_record r ON r.id = pm.record_id
                 WHERE pm.run > $1 ORDER BY pm.run, pm.record_id"
            ),
            &[&since],
        )
        .await?;
    for row in &rows {
        let stamped: i64 = row.try_get(7)?;
        changes
            .records
            .push((stamped as u64, decode_record(raw_record(row)?)?));
    }
    let rows = client
        .query(
            "SELECT run, kind, profile_id, other_profile_id FROM profile_event
             WHERE run > $1 ORDER BY run, id",
            &[&since],
        )
        .await?;
    changes.events = rows.iter().map(event_from_row).collect::<Result<_, _>>()?;
    Ok(changes)
}
