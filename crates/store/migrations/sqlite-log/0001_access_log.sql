-- The access log, in its own database file beside the store's (access-log.sqlite3): append-only,
-- hash-chained (hash = sha256(prev_hash || seq || entry)). `profile_id` repeats the entry's
-- profile so that a person's reads are found by index.
--
-- Its own file because SQLite empties a connection's page cache whenever another connection has
-- committed to the same file: with the log in the store's file, every append (hundreds a second
-- under load) threw away the readers' caches, and each profile read fetched every B-tree page
-- again from the operating system.
CREATE TABLE access_log (
    seq         INTEGER PRIMARY KEY,
    entry       TEXT    NOT NULL,
    profile_id  TEXT,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL
);
CREATE INDEX access_log_by_profile ON access_log (profile_id) WHERE profile_id IS NOT NULL;
