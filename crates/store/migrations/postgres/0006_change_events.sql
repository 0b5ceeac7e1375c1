-- Change events: the outbox. Every change to a profile a subscriber may care about (created,
-- merged, split; an address it did not hold, a dismissal, a permit running out) is written here
-- in the transaction that makes the change. `seq` orders the outbox and is given out as
-- max(seq) + n by writers that hold the `resolution_turn` row, so seq order is commit order (a
-- sequence would not be: a later-committing writer can hold a smaller number). `event_key` is
-- the idempotency key: a change announced twice is kept once.
CREATE TABLE change_event (
    seq               BIGINT  PRIMARY KEY,
    event_key         TEXT    COLLATE "C" NOT NULL UNIQUE,
    kind              TEXT    NOT NULL,
    profile_id        TEXT    COLLATE "C" NOT NULL,
    other_profile_id  TEXT    COLLATE "C",
    record_id         BIGINT  REFERENCES source_record (id),
    run               BIGINT  REFERENCES resolution_run (id),
    occurred_at       TEXT    NOT NULL
);

-- Who receives change events: a client (its role) under a purpose, by webhook (HMAC-signed
-- with `secret`, sealed by the keyring) or on a JetStream subject. `cursor` is the last seq
-- delivered; a dispatcher holds the subscription's lease (`lease_holder` until
-- `lease_until_ms`, Unix milliseconds) while it delivers, so one node delivers it at a time
-- and in order.
CREATE TABLE subscription (
    subscription_id  BIGINT  PRIMARY KEY,
    name             TEXT    COLLATE "C" NOT NULL UNIQUE,
    client_id        TEXT    COLLATE "C" NOT NULL REFERENCES client (client_id),
    purpose          TEXT    NOT NULL,
    kinds            TEXT    NOT NULL,
    target           TEXT    NOT NULL CHECK (target IN ('webhook', 'jetstream')),
    address          TEXT    NOT NULL,
    secret           BYTEA,
    cursor           BIGINT  NOT NULL,
    created_at       TEXT    NOT NULL,
    removed_at       TEXT,
    lease_holder     TEXT,
    lease_until_ms   BIGINT  NOT NULL DEFAULT 0
);
