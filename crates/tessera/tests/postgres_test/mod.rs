//! The PostgreSQL half of the end-to-end tests: a fresh schema per test (or per test server),
//! which the binary reaches through a URL whose `search_path` names it, dropped afterwards.
//!
//! `tessera_store::testing` decides where the database is (`TESSERA_TEST_POSTGRES`) and what
//! happens when it cannot be reached: the test fails if `TESSERA_REQUIRE_POSTGRES` is set (CI
//! sets it), and otherwise its PostgreSQL half is skipped with a line saying why.

use tessera_store::testing::{self, TestPostgres};

/// One schema of the test database, dropped with this value.
pub struct Schema(TestPostgres);

impl Schema {
    /// A new empty schema for `test`, or `None` where PostgreSQL is unreachable and not
    /// required (`tessera_store::testing` has said so).
    pub fn fresh(test: &str) -> Option<Schema> {
        testing::postgres(test).map(Schema)
    }

    /// The URL the binary is given with `--database`.
    pub fn url(&self) -> String {
        self.0.schema_url()
    }

    /// Runs SQL in the schema (for tests that play an intruder); returns the rows changed.
    #[allow(dead_code)]
    pub fn execute(&self, sql: &str) -> u64 {
        self.0.execute(sql).unwrap()
    }
}

/// Says that `test` did not run its PostgreSQL half (for tests sharing one server, whose
/// schema was asked for, and refused, only once).
#[allow(dead_code)]
pub fn say_skipped(test: &str) {
    use std::io::Write;
    // Straight to stderr: the harness captures `eprintln!` of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "skipped PostgreSQL half of {test}: no PostgreSQL (see above)"
    );
}

/// Each test named runs once over SQLite (`super::name(None)`) and once over a fresh PostgreSQL
/// schema (`super::name(Some(schema))`), as `sqlite::name` and `postgres::name`; without
/// PostgreSQL (and not required) the second says why it skips and passes. Declare this module
/// with `#[macro_use]` to use it.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(None);
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                let test = concat!(module_path!(), "::", stringify!($name));
                if let Some(schema) = super::postgres_test::Schema::fresh(test) {
                    super::$name(Some(schema));
                }
            })*
        }
    };
}
