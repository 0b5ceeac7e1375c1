//! The PostgreSQL half of the end-to-end tests: a fresh schema per test server, reached by a URL
//! whose `search_path` names it, dropped when the test process is done with it.
//!
//! The database comes from `TESSERA_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Where it cannot be reached the PostgreSQL half is
//! skipped with a line saying why, unless `TESSERA_REQUIRE_POSTGRES` is set (CI sets it): then
//! the test fails.

use std::sync::OnceLock;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn base_url() -> String {
    std::env::var("TESSERA_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

fn required() -> bool {
    std::env::var_os("TESSERA_REQUIRE_POSTGRES").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Why the PostgreSQL half is skipped, once the first attempt to connect failed.
static UNREACHABLE: OnceLock<String> = OnceLock::new();

/// Says on the terminal that `test` did not run and why. Written to the process's stderr file,
/// not through `eprintln!` or `io::stderr()`, which the test harness captures and throws away
/// for a passing test.
pub fn say_skipped(test: &str) {
    use std::io::Write;
    let why = UNREACHABLE
        .get()
        .map(String::as_str)
        .unwrap_or("PostgreSQL was not tried");
    let line = format!("SKIPPED {test}: {why}\n");
    match std::fs::OpenOptions::new().append(true).open("/dev/stderr") {
        Ok(mut terminal) => {
            let _ = terminal.write_all(line.as_bytes());
        }
        Err(_) => eprint!("{line}"),
    }
}

fn connect() -> Option<postgres::Client> {
    let url = base_url();
    match postgres::Client::connect(&url, postgres::NoTls) {
        Ok(client) => Some(client),
        Err(error) => {
            let why = format!(
                "cannot connect to {url}: {error} (set TESSERA_TEST_POSTGRES, or \
                 TESSERA_REQUIRE_POSTGRES=1 to fail instead)"
            );
            assert!(!required(), "TESSERA_REQUIRE_POSTGRES is set, but {why}");
            let _ = UNREACHABLE.set(why);
            None
        }
    }
}

/// One schema of the test database, dropped with this value.
pub struct Database {
    schema: String,
}

impl Database {
    /// A new empty schema named after `prefix`, or `None` where PostgreSQL is unreachable and
    /// not required.
    pub fn fresh(prefix: &str) -> Option<Database> {
        let mut client = connect()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!("t_{prefix}_{}_{nanos}", std::process::id());
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
        Some(Database { schema })
    }

    /// The URL the binary is given: every connection's search_path is the schema.
    pub fn url(&self) -> String {
        let base = base_url();
        let separator = if base.contains('?') { '&' } else { '?' };
        format!("{base}{separator}options=-csearch_path%3D{}", self.schema)
    }

    /// Runs SQL in the schema (for tests that play an intruder); returns the rows changed.
    #[allow(dead_code)]
    pub fn execute(&self, sql: &str) -> u64 {
        let mut client = postgres::Client::connect(&self.url(), postgres::NoTls).unwrap();
        client.execute(sql, &[]).unwrap()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&base_url(), postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
        }
    }
}
