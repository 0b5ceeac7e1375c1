-- One row per run of `tessera import` over one file.
CREATE TABLE import_run (
    id              INTEGER PRIMARY KEY,
    source          TEXT    NOT NULL,
    file            TEXT    NOT NULL,
    started_at      TEXT    NOT NULL,
    finished_at     TEXT,
    status          TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    status_detail   TEXT,
    rows_read       INTEGER NOT NULL DEFAULT 0,
    new_records     INTEGER NOT NULL DEFAULT 0,
    changed_records INTEGER NOT NULL DEFAULT 0,
    unchanged       INTEGER NOT NULL DEFAULT 0,
    quarantined     INTEGER NOT NULL DEFAULT 0,
    quarantine_path TEXT
);

-- Every version of every source record; rows are never updated except `is_current`.
CREATE TABLE source_record (
    id            INTEGER PRIMARY KEY,
    source        TEXT    NOT NULL,
    record_key    TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    previous_id   INTEGER REFERENCES source_record (id),
    is_current    INTEGER NOT NULL,
    observed_at   TEXT    NOT NULL,
    import_id     INTEGER NOT NULL REFERENCES import_run (id),
    content_hash  BLOB    NOT NULL,
    attributes    TEXT    NOT NULL
);

-- The current version of each (source, key); the unique key that makes re-imports idempotent.
CREATE TABLE record_head (
    source        TEXT    NOT NULL,
    record_key    TEXT    NOT NULL,
    record_id     INTEGER NOT NULL REFERENCES source_record (id),
    version       INTEGER NOT NULL,
    content_hash  BLOB    NOT NULL,
    PRIMARY KEY (source, record_key)
) WITHOUT ROWID;

-- Written by resolution, not by import: the profile each resolved record version belongs to,
-- and the identifier values of resolved records for lookups by `kind:value`. Import only appends
-- facts; keeping these indexes out of its path keeps it fast (random index inserts would dirty a
-- page per row), and resolution rebuilds them in bulk.
CREATE TABLE profile_member (
    record_id   INTEGER PRIMARY KEY REFERENCES source_record (id),
    profile_id  TEXT    NOT NULL
);
CREATE INDEX profile_member_by_profile ON profile_member (profile_id);

CREATE TABLE resolved_identifier (
    kind       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    record_id  INTEGER NOT NULL REFERENCES source_record (id)
);
CREATE INDEX resolved_identifier_by_value ON resolved_identifier (kind, value);
