-- Change events: the outbox. Every change to a profile a subscriber may care about (created,
-- merged, split; an address it did not hold, a dismissal, a permit running out) is written here
-- in the transaction that makes the change. `seq` orders the outbox: writers take turns (the
-- resolution session), so seq order is commit order. `event_key` is the idempotency key: a
-- change announced twice (a permit seen at arrival and again by the daily scan) is kept once.
CREATE TABLE change_event (
    seq               INTEGER PRIMARY KEY,
    event_key         TEXT    NOT NULL UNIQUE,
    kind              TEXT    NOT NULL,
    profile_id        TEXT    NOT NULL,
    other_profile_id  TEXT,
    record_id         INTEGER REFERENCES source_record (id),
    run               INTEGER REFERENCES resolution_run (id),
    occurred_at       TEXT    NOT NULL
);

-- Who receives change events: a client (its role) under a purpose, by webhook (HMAC-signed
-- with `secret`, sealed by the keyring) or on a JetStream subject. `cursor` is the last seq
-- delivered; a dispatcher holds the subscription's lease (`lease_holder` until
-- `lease_until_ms`, Unix milliseconds) while it delivers, so one node delivers it at a time
-- and in order.
CREATE TABLE subscription (
    subscription_id  INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    client_id        TEXT    NOT NULL REFERENCES client (client_id),
    purpose          TEXT    NOT NULL,
    kinds            TEXT    NOT NULL,
    target           TEXT    NOT NULL CHECK (target IN ('webhook', 'jetstream')),
    address          TEXT    NOT NULL,
    secret           BLOB,
    cursor           INTEGER NOT NULL,
    created_at       TEXT    NOT NULL,
    removed_at       TEXT,
    lease_holder     TEXT,
    lease_until_ms   INTEGER NOT NULL DEFAULT 0
);
