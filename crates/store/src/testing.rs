//! Test support for every crate whose tests need a store: a [`PgStore`] in a fresh schema of
//! the test database, and the one rule for what happens when PostgreSQL is not there.
//!
//! Compiled only with the `testing` feature, which crates enable in their dev-dependencies:
//! `tessera-store = { workspace = true, features = ["testing"] }`.
//!
//! The database is `TESSERA_TEST_POSTGRES` (default [`DEFAULT_POSTGRES_URL`]). Each call of
//! [`postgres`] creates a schema of its own (so tests run side by side) and drops it when the
//! returned [`TestPostgres`] is dropped. When the database cannot be reached, a test fails if
//! `TESSERA_REQUIRE_POSTGRES` is set (CI sets it) and otherwise prints one line saying that its
//! PostgreSQL half was skipped and why.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{PgStore, StoreError};

/// The variable naming the test database.
pub const POSTGRES_URL_VAR: &str = "TESSERA_TEST_POSTGRES";
/// The variable that turns "PostgreSQL is unreachable" from a skip into a failure.
pub const REQUIRE_POSTGRES_VAR: &str = "TESSERA_REQUIRE_POSTGRES";
/// The test database when `TESSERA_TEST_POSTGRES` is not set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test database's URL.
pub fn postgres_url() -> String {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_string())
}

/// Whether an unreachable PostgreSQL fails the tests: `TESSERA_REQUIRE_POSTGRES` is set to
/// anything but empty or `0`.
pub fn postgres_required() -> bool {
    std::env::var(REQUIRE_POSTGRES_VAR).is_ok_and(|value| !value.is_empty() && value != "0")
}

/// A schema name no other test (in this or another process) uses.
pub fn unique_schema_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "tessera_test_{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The URL with its password, if it has one, replaced by `***`: fit for a log line.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// A store in a fresh schema of the test database; the schema is dropped with it.
pub struct TestPostgres {
    store: PgStore,
    url: String,
    schema: String,
}

impl TestPostgres {
    pub fn store(&self) -> &PgStore {
        &self.store
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Another store on the same schema: a second server process ("node") sharing the database.
    pub fn another_node(&self) -> Result<PgStore, StoreError> {
        PgStore::connect_in_schema(&self.url, &self.schema)
    }

    /// The URL of the schema itself: what a `tessera` process is given with `--database` to
    /// work in it (every connection's `search_path` is the schema).
    pub fn schema_url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-csearch_path%3D{}",
            self.url, self.schema
        )
    }

    /// Runs one SQL statement in the schema, as an intruder with database access could (tests
    /// of tamper detection); returns the rows changed.
    pub fn execute(&self, sql: &str) -> Result<u64, StoreError> {
        self.store.execute(sql.to_string(), vec![])
    }

    /// Whether any row of any table holds `needle`, as text or as bytes.
    pub fn any_row_contains(&self, needle: &str) -> Result<bool, StoreError> {
        self.store.any_row_contains(needle)
    }
}

impl std::ops::Deref for TestPostgres {
    type Target = PgStore;

    fn deref(&self) -> &PgStore {
        &self.store
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Err(error) = self.store.drop_schema() {
            eprintln!(
                "could not drop the test schema {} in {}: {error}",
                self.schema,
                redacted(&self.url)
            );
        }
    }
}

/// Whether `error` means the database could not be reached at all (as opposed to a bug: a
/// migration or a statement that fails).
fn unreachable(error: &StoreError) -> bool {
    matches!(error, StoreError::PostgresPool(_))
}

/// A PostgreSQL store in a fresh schema for the test named `test`, or `None` when PostgreSQL
/// cannot be reached and is not required; then one line on stderr says so. Panics when it is
/// required but unreachable, and whenever connecting fails for another reason.
pub fn postgres(test: &str) -> Option<TestPostgres> {
    let url = postgres_url();
    let schema = unique_schema_name();
    match PgStore::connect_in_schema(&url, &schema) {
        Ok(store) => Some(TestPostgres { store, url, schema }),
        Err(error) if unreachable(&error) && !postgres_required() => {
            // Straight to the process's stderr: the test harness captures `eprintln!`, and a
            // skip that nobody sees is a test that silently stopped testing.
            let _ = writeln!(
                std::io::stderr(),
                "skipped PostgreSQL half of {test}: cannot connect to {}: {error} \
                 (set {POSTGRES_URL_VAR}, or {REQUIRE_POSTGRES_VAR}=1 to fail instead)",
                redacted(&url)
            );
            None
        }
        Err(error) => panic!(
            "{test}: cannot open a PostgreSQL store at {}: {error}",
            redacted(&url)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redacted("postgres://app:secret@db:5432/tessera"),
            "postgres://app:***@db:5432/tessera"
        );
        assert_eq!(
            redacted("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
    }
}
