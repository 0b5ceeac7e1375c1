-- Every run of `tessera resolve`.
CREATE TABLE resolution_run (
    id           INTEGER PRIMARY KEY,
    finished_at  TEXT    NOT NULL,
    records      INTEGER NOT NULL,
    profiles     INTEGER NOT NULL
);

-- Every profile id ever given out. A merged profile keeps its row and points at its survivor,
-- so an old id always says where its person went.
CREATE TABLE profile (
    profile_id   TEXT    PRIMARY KEY,
    created_run  INTEGER NOT NULL REFERENCES resolution_run (id),
    merged_into  TEXT,
    merged_run   INTEGER REFERENCES resolution_run (id)
) WITHOUT ROWID;

-- What each run did to profiles: created, merged (profile into other), split (other split off
-- from profile).
CREATE TABLE profile_event (
    run               INTEGER NOT NULL REFERENCES resolution_run (id),
    kind              TEXT    NOT NULL CHECK (kind IN ('created', 'merged', 'split')),
    profile_id        TEXT    NOT NULL,
    other_profile_id  TEXT
);
CREATE INDEX profile_event_by_profile ON profile_event (profile_id);
CREATE INDEX profile_event_by_other ON profile_event (other_profile_id);
