//! Which database a command works on: the embedded SQLite file in the data directory, or a
//! PostgreSQL database named by `--database` / `TESSERA_DATABASE_URL`.

use std::path::Path;

use anyhow::Context;
use tessera_store::{Database, PgStore, SqliteStore};

/// Opens the database (creating the SQLite file, or the PostgreSQL schema, if needed).
pub(crate) fn open(url: Option<&str>, data_dir: &Path) -> anyhow::Result<Box<dyn Database>> {
    match url {
        None => Ok(Box::new(
            SqliteStore::open(data_dir).context("failed to open the store")?,
        )),
        Some(url) if is_postgres(url) => {
            Ok(Box::new(PgStore::connect(url).with_context(|| {
                format!("failed to open the PostgreSQL store at {}", redacted(url))
            })?))
        }
        Some(url) => Err(crate::input_error(format!(
            "--database {:?}: expected a postgres:// or postgresql:// URL; leave it unset for the \
             embedded SQLite store in --data-dir",
            redacted(url)
        ))),
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL without its password, for messages.
pub(crate) fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redacted("postgres://tessera:s3cret@db:5432/reg"),
            "postgres://tessera:***@db:5432/reg"
        );
        assert_eq!(
            redacted("postgres://tessera@db/reg"),
            "postgres://tessera@db/reg"
        );
        assert_eq!(redacted("postgres://db/reg"), "postgres://db/reg");
    }
}
