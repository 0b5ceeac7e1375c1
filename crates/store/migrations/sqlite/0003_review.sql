-- Uncertain pairs left apart by the last resolution run, for a steward; replaced by every run.
CREATE TABLE review_pair (
    a_source  TEXT    NOT NULL,
    a_key     TEXT    NOT NULL,
    b_source  TEXT    NOT NULL,
    b_key     TEXT    NOT NULL,
    weight    REAL    NOT NULL
);

-- A steward's decisions: kept for ever; a reverted one stays with its reverted_at.
CREATE TABLE steward_decision (
    id           INTEGER PRIMARY KEY,
    a_source     TEXT    NOT NULL,
    a_key        TEXT    NOT NULL,
    b_source     TEXT    NOT NULL,
    b_key        TEXT    NOT NULL,
    same         INTEGER NOT NULL,
    decided_at   TEXT    NOT NULL,
    reverted_at  TEXT
);
