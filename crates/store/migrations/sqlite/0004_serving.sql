-- Serving: who may call the API, what they read (the access log), the persons' consents and
-- correction requests, and the sealed special-category values of records.

-- API clients. Only a keyed hash of each token is kept; the token itself is shown once.
-- `sources` lists (comma-separated) the sources the client may send records to.
-- A person's client is bound to one of their records (anchor), not to a profile id, so that it
-- follows the person through merges and splits.
CREATE TABLE client (
    client_id      TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    anchor_source  TEXT,
    anchor_key     TEXT,
    sources        TEXT    NOT NULL DEFAULT '',
    token_hash     BLOB    NOT NULL UNIQUE,
    created_at     TEXT    NOT NULL,
    revoked_at     TEXT
) WITHOUT ROWID;

-- The access log: append-only, hash-chained (hash = sha256(prev_hash || seq || entry)).
-- `profile_id` repeats the entry's profile so that a person's reads are found by index.
CREATE TABLE access_log (
    seq         INTEGER PRIMARY KEY,
    entry       TEXT    NOT NULL,
    profile_id  TEXT,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL
);
CREATE INDEX access_log_by_profile ON access_log (profile_id) WHERE profile_id IS NOT NULL;

-- Consent of a person for a purpose, anchored on one of their records like a person's client.
CREATE TABLE consent (
    id             INTEGER PRIMARY KEY,
    anchor_source  TEXT    NOT NULL,
    anchor_key     TEXT    NOT NULL,
    purpose        TEXT    NOT NULL,
    granted_at     TEXT    NOT NULL,
    granted_by     TEXT    NOT NULL,
    withdrawn_at   TEXT,
    withdrawn_by   TEXT
);
CREATE INDEX consent_by_anchor ON consent (anchor_source, anchor_key, purpose);

-- A person's request to correct their profile, for a steward.
CREATE TABLE correction_request (
    id             INTEGER PRIMARY KEY,
    anchor_source  TEXT    NOT NULL,
    anchor_key     TEXT    NOT NULL,
    profile_id     TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    text           TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('open', 'done', 'rejected')),
    resolved_at    TEXT
);

-- Special-category attributes of one record version, sealed (envelope encryption): the
-- `attributes` column of source_record never holds them.
CREATE TABLE sealed_value (
    record_id  INTEGER PRIMARY KEY REFERENCES source_record (id),
    key_id     TEXT    NOT NULL,
    sealed     BLOB    NOT NULL
);
CREATE INDEX sealed_value_by_key ON sealed_value (key_id);
